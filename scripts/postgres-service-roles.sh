#!/usr/bin/env bash
# One PostgreSQL role per service, each owning its own schema and nothing else: users-api logs in
# as users_api, which owns schema `users`; tasks-api as tasks_api, which owns `tasks`. Neither is
# a superuser, may create roles, databases or schemas, or use the other's schema; nobody else may
# connect to the database but the superuser (docs/operations.md, "Roles").
#
# The postgres image runs it once, on its first start, from /docker-entrypoint-initdb.d, as
# POSTGRES_USER on POSTGRES_DB. Safe to run again: it creates what is missing, sets each role's
# password from the environment and hands each schema, with its tables, to its role. So it also
# brings an older database, whose schemas a shared superuser made, to this layout.
#
#   USERS_DB_PASSWORD, TASKS_DB_PASSWORD   the roles' passwords (required; read by psql from the
#                                          environment, never put on a command line)
#   POSTGRES_USER, POSTGRES_DB             who runs it, and in which database (as the image sets)
#   PGHOST, PGPORT, ...                    psql's own (in the image: its local socket)
#
# Copies: the ConfigMaps kubernetes/stages/5-scale-out/postgres-init-configmap.yaml and
# charts/kub-network/templates/postgres-init-configmap.yaml (manifest-check's tests keep them
# identical to this file); docker-compose.postgres.yaml mounts this file itself.
#
# All in a subshell: the image sources a *.sh that is not executable (a checkout without the
# mode bit), and its shell options and `exit` must not leak into the entrypoint's shell.
(
set -Eeuo pipefail

for var in USERS_DB_PASSWORD TASKS_DB_PASSWORD; do
  [[ -n "${!var:-}" ]] || { echo "postgres-service-roles: $var is not set" >&2; exit 1; }
done
superuser="${POSTGRES_USER:-postgres}"
psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$superuser"
      --dbname "${POSTGRES_DB:-$superuser}")

# The default lets every role connect and make temporary tables, and (before PostgreSQL 15)
# create tables in `public`.
"${psql[@]}" <<'SQL'
SELECT current_database() AS database \gset
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL

service_role() { # service_role <role> <schema> <variable holding its password>
  "${psql[@]}" --set role="$1" --set schema="$2" --set password_variable="$3" <<'SQL'
SET client_min_messages = warning;
\getenv password :password_variable
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
\gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'password';
SELECT current_database() AS database \gset
GRANT CONNECT ON DATABASE :"database" TO :"role";
CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION :"role";
ALTER SCHEMA :"schema" OWNER TO :"role";
-- Tables an older layout made as another role; their indexes and sequences follow them.
SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND pg_get_userbyid(c.relowner) <> :'role'
\gexec
SQL
  echo "postgres-service-roles: role $1 owns schema $2" >&2
}

service_role users_api users USERS_DB_PASSWORD
service_role tasks_api tasks TASKS_DB_PASSWORD
)
