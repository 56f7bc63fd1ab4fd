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

use crate::DatabaseSettings;

/// How long start-up keeps trying to reach a database that is not up yet (in a fresh cluster
/// or compose project the services often start first) before it gives up and exits.
const STARTUP_WAIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    timeout: Duration,
}

/// Why a service cannot start on its database.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL is not set")]
    NoUrl,
    #[error("the database at {url} cannot be used: {source}")]
    Unusable { url: String, source: sqlx::Error },
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
        let database = Self { pool, timeout };
        let started = Instant::now();
        loop {
            match database.prepare(schema, migrator).await {
                Ok(()) => break,
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
                Err(Unprepared::Migration(source)) => {
                    let schema = schema.to_owned();
                    return Err(ConnectError::Migration { schema, source });
                }
            }
        }
        tracing::info!(%url, schema, pool_size = settings.database_pool_size, ?timeout, "database ready");
        Ok(database)
    }

    /// Creates the schema and applies the migrations. Replicas starting together take turns:
    /// the schema under a transaction-scoped advisory lock (`CREATE SCHEMA IF NOT EXISTS` alone
    /// races), the migrations under the lock sqlx's migrator takes.
    async fn prepare(&self, schema: &str, migrator: &Migrator) -> Result<(), Unprepared> {
        // One statement (one implicit transaction): nothing stays open if it is cut short.
        let create_schema = format!(
            "DO $$ BEGIN \
               PERFORM pg_advisory_xact_lock(hashtext('kub-network schemas')); \
               CREATE SCHEMA IF NOT EXISTS \"{schema}\"; \
             END $$"
        );
        sqlx::query(&create_schema)
            .execute(&self.pool)
            .await
            .map_err(Unprepared::Sql)?;
        migrator.run(&self.pool).await.map_err(|error| match error {
            MigrateError::Execute(source) if is_unreachable(&source) => Unprepared::Sql(source),
            other => Unprepared::Migration(other),
        })
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

/// Errors worth retrying at start-up: the server is not there, or not accepting yet.
fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code == "57P03"),
        _ => false,
    }
}
