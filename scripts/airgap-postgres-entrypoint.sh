#!/usr/bin/env bash
# /usr/local/bin/docker-entrypoint.sh of the local stand-in for `postgres:15-bookworm` that
# scripts/airgap-images.sh builds when the official image can be neither found nor pulled.
# It behaves like the official entrypoint for what this project uses:
#
#   POSTGRES_PASSWORD (required on first start; or POSTGRES_PASSWORD_FILE)
#   POSTGRES_USER     (default postgres; or POSTGRES_USER_FILE): the superuser
#   POSTGRES_DB       (default $POSTGRES_USER; or POSTGRES_DB_FILE): created on first start
#   PGDATA            (default /var/lib/postgresql/data); a subfolder of a mounted volume, e.g.
#                     /var/lib/postgresql/data/pgdata, is created if missing
#   POSTGRES_INITDB_ARGS  extra initdb arguments
#   /docker-entrypoint-initdb.d/*.sql, *.sh  run once, after the database is created
#
# - Started as root: PGDATA and /var/run/postgresql are handed to `postgres` (uid/gid 999, as
#   in the official image), then this script re-runs itself as that user (setpriv).
#   Started as uid 999 directly (compose `user: "999:999"`, Kubernetes runAsUser: 999 with
#   fsGroup: 999): runs as is; PGDATA (or its parent, for a subfolder) must be writable.
# - On an empty PGDATA: initdb (UTF-8, locale C.UTF-8, password encryption scram-sha-256,
#   `trust` only on the local socket, scram-sha-256 for every TCP connection including
#   loopback, listen_addresses = '*'), then the database, on a temporary server that listens
#   on no TCP port. A PGDATA that is already initialised is used as it is.
# - Then `postgres` in the foreground, as that user. This script stays as PID 1 only to turn
#   SIGTERM into PostgreSQL's *fast* shutdown (SIGINT: roll back open transactions, close the
#   sessions, checkpoint, exit 0). Sent straight to postgres, SIGTERM would be a *smart*
#   shutdown, which waits for every client to disconnect: a connection pool never does. The
#   image's STOPSIGNAL is SIGINT as in the official image; SIGQUIT and SIGHUP are passed on.
# - Any other command (`psql`, `bash`, `pg_isready`) is run as given; arguments starting with
#   `-` are arguments to postgres (`docker run … postgres:15-bookworm -c max_connections=200`).
set -Eeuo pipefail

log() { printf '[postgres-entrypoint] %s\n' "$*" >&2; }
die() { printf '[postgres-entrypoint] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi
[[ "${1:-}" == postgres ]] || exec "$@"
for arg in "${@:2}"; do   # postgres --version, --help, -C setting: no data folder needed
  case "$arg" in -'?'|--help|--describe-config|-V|--version|-C) exec "$@" ;; esac
done

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
SOCKET_DIR=/var/run/postgresql

# VAR or VAR_FILE (a mounted secret), not both.
file_env() {
  local var=$1 default=${2:-} file_var="${1}_FILE" value
  if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then die "both $var and $file_var are set"; fi
  value=$default
  if [[ -n "${!var:-}" ]]; then value=${!var}
  elif [[ -n "${!file_var:-}" ]]; then value=$(<"${!file_var}")
  fi
  export "$var"="$value"
  unset "$file_var"
}

if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" "$SOCKET_DIR"
  chmod 00700 "$PGDATA" || :
  find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
  chown postgres: "$SOCKET_DIR"; chmod 03777 "$SOCKET_DIR"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# From here on: the postgres user (999), or whatever uid the container was started with.
WHO="uid $(id -u), gid $(id -g), groups $(id -G | tr ' ' ,)"
if ! mkdir -p "$PGDATA" 2>/dev/null || [[ ! -w "$PGDATA" || ! -x "$PGDATA" ]]; then
  die "PGDATA=$PGDATA cannot be created or written as $WHO: the volume must be writable by it (Kubernetes: fsGroup: 999) and its parents searchable; or set PGDATA to a subfolder of the volume"
fi
chmod 00700 "$PGDATA" 2>/dev/null || :
[[ -w "$SOCKET_DIR" ]] || die "$SOCKET_DIR is not writable as $WHO (with a read-only root filesystem: mount an emptyDir or tmpfs there)"

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  [[ -n "$POSTGRES_PASSWORD" ]] || die "the database is uninitialized and POSTGRES_PASSWORD is not set: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) for the superuser"
  local present
  present="$(find "$PGDATA" -mindepth 1 -maxdepth 1 -printf '%f ' | head -c 200)"
  if [[ -n "$present" ]]; then
    die "PGDATA=$PGDATA is not empty but holds no database (${present% }): a volume's root often holds lost+found; set PGDATA to a subfolder, e.g. /var/lib/postgresql/data/pgdata"
  fi

  log "initializing $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
         --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
         ${POSTGRES_INITDB_ARGS:-} >/dev/null
  printf "\nlisten_addresses = '*'\npassword_encryption = 'scram-sha-256'\n" >>"$PGDATA/postgresql.conf"
  printf '\n# any address, with a password (the official image does the same)\nhost all all all scram-sha-256\n' \
    >>"$PGDATA/pg_hba.conf"

  # A temporary server on the local socket only: nothing can connect over TCP before the
  # database exists.
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -t 60 start >/dev/null
  local psql=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --quiet --username "$POSTGRES_USER")
  if [[ "$POSTGRES_DB" != postgres ]]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "$f" ]] || continue
    case "$f" in
      *.sh)  log "running $f"; PGUSER=$POSTGRES_USER PGDATABASE=$POSTGRES_DB bash "$f" ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *)     log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  unset POSTGRES_PASSWORD
  log "init complete; starting PostgreSQL"
}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  init_database
else
  log "PGDATA=$PGDATA holds a PostgreSQL $(<"$PGDATA/PG_VERSION") database; initialization skipped"
fi
unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE

"$@" &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null || :' TERM INT
trap 'kill -QUIT "$pid" 2>/dev/null || :' QUIT
trap 'kill -HUP "$pid" 2>/dev/null || :' HUP
rc=0
while :; do
  rc=0; wait "$pid" || rc=$?
  kill -0 "$pid" 2>/dev/null || break   # a trapped signal ended `wait`, postgres still runs
done
log "postgres exited with code $rc"
exit "$rc"
