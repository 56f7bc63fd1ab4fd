//! [`Database`]: a service's pool, made ready at start-up and used under a timeout.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use kub_store::StorageFailure;
use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
};

use crate::{DatabaseSettings, roles};

/// How long start-up keeps trying to reach a database that is not up yet (in a fresh cluster
/// or compose project the services often start first) before it gives up and exits.
const STARTUP_WAIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    timeout: Duration,
    warnings: Vec<String>,
}

/// Why a service cannot start on its database.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL is not set")]
    NoUrl,
    #[error("the database at {url} cannot be used: {source}")]
    Unusable { url: String, source: sqlx::Error },
    /// The role in `DATABASE_URL` may not have the service's schema (docs/operations.md).
    #[error("the database at {url} cannot be used as {role}: {problem}")]
    Role {
        url: String,
        role: String,
        problem: String,
    },
    #[error("the migrations of schema {schema} failed: {source}")]
    Migration {
        schema: String,
        source: MigrateError,
    },
}

/// Why [`Database::prepare`] failed; [`Database::connect`] retries an unreachable server and
/// names the URL or schema in what it returns.
enum Unprepared {
    Sql(sqlx::Error),
    Role { role: String, problem: String },
    Migration(MigrateError),
}

/// Why an operation did not happen, as far as a client is concerned. The database's own
/// error is logged by [`Database::run`], not returned: it is for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// A unique constraint refused the row (another replica stored the same key first).
    UniqueViolation,
    Storage(StorageFailure),
}

impl Database {
    /// A pool on `settings.database_url` whose connections see only `schema`, which is created
    /// if missing and brought up to date with `migrator`. Waits up to a minute for a database
    /// that refuses connections; wrong credentials or a failed migration fail at once.
    pub async fn connect(
        settings: &DatabaseSettings,
        service: &str,
        schema: &'static str,
        migrator: &'static Migrator,
    ) -> Result<Self, ConnectError> {
        let url = settings.database_url.as_ref().ok_or(ConnectError::NoUrl)?;
        let timeout = settings.database_timeout;
        let options = url.options.clone().application_name(service).options([
            ("search_path", schema.to_owned()),
            ("statement_timeout", format!("{}ms", timeout.as_millis())),
        ]);
        let pool = settings.pool_options().connect_lazy_with(options);
        let mut database = Self {
            pool,
            timeout,
            warnings: Vec::new(),
        };
        let started = Instant::now();
        loop {
            match database.prepare(schema, migrator).await {
                Ok(warnings) => {
                    database.warnings = warnings;
                    break;
                }
                Err(Unprepared::Sql(source))
                    if is_unreachable(&source) && started.elapsed() < STARTUP_WAIT =>
                {
                    tracing::warn!(%url, error = %source, "the database is not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(Unprepared::Sql(source)) => {
                    let url = url.to_string();
                    return Err(ConnectError::Unusable { url, source });
                }
                Err(Unprepared::Role { role, problem }) => {
                    let url = url.to_string();
                    return Err(ConnectError::Role { url, role, problem });
                }
                Err(Unprepared::Migration(source)) => {
                    let schema = schema.to_owned();
                    return Err(ConnectError::Migration { schema, source });
                }
            }
        }
        for warning in &database.warnings {
            tracing::warn!(%url, schema, "{warning}");
        }
        let tls = database.is_encrypted().await.unwrap_or(false);
        let sslmode = url.ssl_mode();
        tracing::info!(%url, schema, sslmode, tls, pool_size = settings.database_pool_size, ?timeout, "database ready");
        Ok(database)
    }

    /// What start-up found the role in `DATABASE_URL` allowed to do beyond its own schema
    /// (each also logged at WARN): empty for a role made as docs/operations.md says.
    pub fn role_warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether this process's connections to the server are TLS-encrypted.
    pub async fn is_encrypted(&self) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&self.pool)
            .await
    }

    /// Creates the schema unless it exists, checks the role may have it (see [`roles`]), and
    /// applies the migrations; returns the role's warnings. Replicas starting together take
    /// turns: the schema under a transaction-scoped advisory lock (`CREATE SCHEMA IF NOT EXISTS`
    /// alone races), the migrations under the lock sqlx's migrator takes.
    async fn prepare(&self, schema: &str, migrator: &Migrator) -> Result<Vec<String>, Unprepared> {
        // One statement (one implicit transaction): nothing stays open if it is cut short.
        // `CREATE SCHEMA` is not even tried when the schema exists: it needs the CREATE privilege
        // on the database, which a role that the database's initialisation gave its schema to
        // does not have (`IF NOT EXISTS` checks the privilege first).
        let create_schema = format!(
            "DO $$ BEGIN \
               PERFORM pg_advisory_xact_lock(hashtext('kub-network schemas')); \
               IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = '{schema}') THEN \
                 CREATE SCHEMA \"{schema}\"; \
               END IF; \
             END $$"
        );
        let schema_there = match sqlx::query(&create_schema).execute(&self.pool).await {
            Ok(_) => true,
            Err(error) if roles::is_refused(&error) => false,
            Err(error) => return Err(Unprepared::Sql(error)),
        };
        let (role, verdict) = roles::check(&self.pool, schema)
            .await
            .map_err(Unprepared::Sql)?;
        if !schema_there {
            let problem = format!(
                "schema {schema} does not exist and this role may not create it: the \
                 database's initialisation creates it (docs/operations.md)"
            );
            return Err(Unprepared::Role { role, problem });
        }
        let warnings = verdict.map_err(|problem| Unprepared::Role { role, problem })?;
        migrator
            .run(&self.pool)
            .await
            .map_err(|error| match error {
                MigrateError::Execute(source) if is_unreachable(&source) => Unprepared::Sql(source),
                other => Unprepared::Migration(other),
            })?;
        Ok(warnings)
    }

    /// Runs `operation` (named `what` in the logs) under `DATABASE_TIMEOUT`.
    pub async fn run<T>(
        &self,
        what: &'static str,
        operation: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, QueryError> {
        let error = match tokio::time::timeout(self.timeout, operation).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error,
            Err(_elapsed) => {
                tracing::error!(operation = what, timeout = ?self.timeout, "database operation timed out");
                return Err(QueryError::Storage(StorageFailure::Unavailable));
            }
        };
        let code = error.as_database_error().and_then(|error| error.code());
        match code.as_deref() {
            Some("23505") => Err(QueryError::UniqueViolation),
            Some("53100") => {
                tracing::error!(operation = what, %error, "the database's disk is full");
                Err(QueryError::Storage(StorageFailure::DiskFull))
            }
            _ => {
                tracing::error!(operation = what, %error, "database operation failed");
                Err(QueryError::Storage(StorageFailure::Unavailable))
            }
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// What `/readyz` reports: can a query run right now?
    pub async fn readiness(&self) -> Result<(), String> {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        match self.run("readiness", ping).await {
            Ok(_) => Ok(()),
            Err(_) => Err("the database does not answer".into()),
        }
    }
}

impl From<QueryError> for StorageFailure {
    /// For a table with no unique key a client can collide on.
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Storage(failure) => failure,
            QueryError::UniqueViolation => StorageFailure::Unavailable,
        }
    }
}

/// Errors worth retrying at start-up: the server is not there, or not accepting yet. Not a
/// TLS handshake that failed (rustls reports it as `InvalidData`): a certificate that does
/// not verify will not start verifying.
fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(error) => error.kind() != std::io::ErrorKind::InvalidData,
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code == "57P03"),
        _ => false,
    }
}
