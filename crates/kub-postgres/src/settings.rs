//! The database settings users-api and tasks-api share, each a flag with its environment
//! variable.

use std::time::Duration;

use clap::Args;
use kub_http::settings::parse_duration;
use sqlx::postgres::PgPoolOptions;

use crate::{DatabaseUrl, DatabaseUrlParser};

/// An idle connection is closed after this; the pool opens new ones as needed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the data lives when it is not in a file.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseSettings {
    /// PostgreSQL to keep the data in, `postgres://user:password@host:5432/database`, with
    /// `?sslmode=verify-full&sslrootcert=<CA file>` beyond a trusted network; the service
    /// creates its own schema and tables. Unset: the JSON-lines file in the folder.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = DatabaseUrlParser)]
    pub database_url: Option<DatabaseUrl>,
    /// Most connections this process opens to the database (each replica has its own pool).
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,
    /// Longest a database operation may take, waiting for a connection included; past it the
    /// client gets 503. Also the server-side `statement_timeout`.
    #[arg(long, env = "DATABASE_TIMEOUT", default_value = DEFAULT_TIMEOUT, value_parser = parse_duration)]
    pub database_timeout: Duration,
}

/// Three replicas of each of two services: 60 connections, under PostgreSQL's default 100.
pub const DEFAULT_POOL_SIZE: u32 = 10;
const DEFAULT_TIMEOUT: &str = "2s";

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            database_url: None,
            database_pool_size: DEFAULT_POOL_SIZE,
            database_timeout: parse_duration(DEFAULT_TIMEOUT).expect("a valid default"),
        }
    }
}

impl DatabaseSettings {
    /// The services' pool: at most `DATABASE_POOL_SIZE` connections, none kept open when idle
    /// for a minute, `DATABASE_TIMEOUT` to wait for one. (The benchmark's ceiling uses it too.)
    pub fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.database_pool_size)
            .min_connections(0)
            .acquire_timeout(self.database_timeout)
            .idle_timeout(IDLE_TIMEOUT)
    }

    /// These settings with the database at `url` (the tests' and dev-stack's way in).
    pub fn at(url: &str) -> Result<Self, String> {
        Ok(Self {
            database_url: Some(DatabaseUrl::parse(url)?),
            ..Self::default()
        })
    }
}
