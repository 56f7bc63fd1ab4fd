//! Each service as its own role, made as the database's first start makes them
//! (`scripts/postgres-service-roles.sh`), on a real server: its own schema and nothing else.

use kub_postgres::{ConnectError, Database, DatabaseSettings};
use sqlx::{Connection, PgConnection, migrate::Migrator};
use test_support::postgres::shared;

static USERS: Migrator = sqlx::migrate!("../users-api/migrations");
static TASKS: Migrator = sqlx::migrate!("../tasks-api/migrations");

async fn start(url: &str, schema: &'static str) -> Result<Database, ConnectError> {
    let (service, migrator) = match schema {
        "users" => ("users-api", &USERS),
        _ => ("tasks-api", &TASKS),
    };
    Database::connect(
        &DatabaseSettings::at(url).unwrap(),
        service,
        schema,
        migrator,
    )
    .await
}

/// The SQLSTATE `sql` fails with, run by whoever `url` names.
async fn refusal(url: &str, sql: &str) -> String {
    let mut connection = PgConnection::connect(url).await.unwrap();
    let error = sqlx::query(sql)
        .execute(&mut connection)
        .await
        .err()
        .unwrap_or_else(|| panic!("{sql:?} was allowed"));
    let code = error.as_database_error().and_then(|error| error.code());
    code.map(|code| code.into_owned()).unwrap_or_default()
}

const INSUFFICIENT_PRIVILEGE: &str = "42501";

#[tokio::test]
async fn each_service_starts_as_its_role_and_cannot_reach_the_other_schema() {
    let database = shared().create_service_database();
    let users = start(&database.users_url, "users")
        .await
        .expect("users-api starts");
    let tasks = start(&database.tasks_url, "tasks")
        .await
        .expect("tasks-api starts");
    assert_eq!(users.role_warnings(), [] as [String; 0]);
    assert_eq!(tasks.role_warnings(), [] as [String; 0]);
    sqlx::query(
        "INSERT INTO users (id, email, password_hash) VALUES (gen_random_uuid(), 'a@b.c', 'h')",
    )
    .execute(users.pool())
    .await
    .unwrap();

    for sql in [
        "SELECT count(*) FROM users.users",
        "INSERT INTO users.users (id, email, password_hash) VALUES (gen_random_uuid(), 'x@y.z', 'h')",
        "DELETE FROM users.users",
        "CREATE TABLE users.planted (id int)",
        "ALTER SCHEMA users OWNER TO tasks_api",
        "SET ROLE users_api",
        "CREATE SCHEMA elsewhere",
        "CREATE TABLE public.planted (id int)",
        "ALTER ROLE tasks_api SUPERUSER",
    ] {
        assert_eq!(
            refusal(&database.tasks_url, sql).await,
            INSUFFICIENT_PRIVILEGE,
            "as tasks_api: {sql}"
        );
    }
    for sql in ["SELECT count(*) FROM tasks.tasks", "SET ROLE tasks_api"] {
        assert_eq!(
            refusal(&database.users_url, sql).await,
            INSUFFICIENT_PRIVILEGE,
            "as users_api: {sql}"
        );
    }
    let roles = shared().psql(
        &database.name,
        "SELECT rolname FROM pg_roles WHERE rolname IN ('users_api', 'tasks_api') \
         AND NOT (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls) \
         ORDER BY rolname",
    );
    assert_eq!(
        roles,
        ["tasks_api", "users_api"],
        "neither may more than log in"
    );

    // Started again, on the schema it owns but may not create: the creation is skipped.
    drop(users);
    let again = start(&database.users_url, "users")
        .await
        .expect("starts again");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_superuser_or_a_role_that_can_use_another_schema_is_warned_about() {
    let superuser = start(&shared().create_database(), "users").await.unwrap();
    let warnings = superuser.role_warnings().join("\n");
    assert!(warnings.contains("postgres is a superuser"), "{warnings}");

    let database = shared().create_service_database();
    shared().psql(&database.name, "GRANT USAGE ON SCHEMA users TO tasks_api");
    let tasks = start(&database.tasks_url, "tasks").await.unwrap();
    let warnings = tasks.role_warnings().join("\n");
    assert!(warnings.contains("can also use schema users"), "{warnings}");
}

#[tokio::test]
async fn a_schema_owned_by_another_role_or_missing_is_refused() {
    let database = shared().create_service_database();
    let error = start(&database.tasks_url, "users")
        .await
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(matches!(error, ConnectError::Role { .. }), "{message}");
    assert!(message.contains("owned by role users_api"), "{message}");
    assert!(!message.contains(database.tasks_url.split(['@', ':']).nth(2).unwrap()));

    // A superuser would create tables in it that its owner could not use.
    let superuser_url = shared().url(&database.name);
    let error = start(&superuser_url, "users").await.err().expect("refused");
    assert!(
        error.to_string().contains("owned by role users_api"),
        "{error}"
    );

    shared().psql(&database.name, "DROP SCHEMA tasks CASCADE");
    let error = start(&database.tasks_url, "tasks")
        .await
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(message.contains("may not create it"), "{message}");
}

#[tokio::test]
async fn the_role_script_hands_an_older_superusers_schemas_to_the_roles() {
    let server = shared();
    let superuser_url = server.create_database();
    let name = superuser_url.rsplit('/').next().unwrap().to_owned();
    let users = start(&superuser_url, "users").await.unwrap();
    start(&superuser_url, "tasks").await.unwrap();
    sqlx::query(
        "INSERT INTO users (id, email, password_hash) VALUES (gen_random_uuid(), 'old@b.c', 'h')",
    )
    .execute(users.pool())
    .await
    .unwrap();
    drop(users);

    let database = server.run_service_roles(&name);
    let users = start(&database.users_url, "users")
        .await
        .expect("users_api takes over");
    start(&database.tasks_url, "tasks")
        .await
        .expect("tasks_api takes over");
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
        .fetch_all(users.pool())
        .await
        .unwrap();
    assert_eq!(emails, ["old@b.c"], "the data is kept");
    let owners = server.psql(
        &name,
        "SELECT DISTINCT n.nspname || ' ' || pg_get_userbyid(c.relowner) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('users', 'tasks') \
         ORDER BY 1",
    );
    assert_eq!(owners, ["tasks tasks_api", "users users_api"]);
}
