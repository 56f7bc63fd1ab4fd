//! The database settings users-api and tasks-api share, each a flag with its environment
//! variable.

use std::{fmt, str::FromStr, time::Duration};

use clap::Args;
use kub_http::settings::parse_duration;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// An idle connection is closed after this; the pool opens new ones as needed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the data lives when it is not in a file.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseSettings {
    /// PostgreSQL to keep the data in, `postgres://user:password@host:5432/database`; the
    /// service creates its own schema and tables. Unset: the JSON-lines file in the folder.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = DatabaseUrl::parse)]
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

/// A parsed PostgreSQL URL. Its `Debug` and `Display` hide the password, so settings can be
/// logged.
#[derive(Clone)]
pub struct DatabaseUrl {
    pub(crate) options: PgConnectOptions,
    shown: String,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("expected postgres://user:password@host:5432/database".into());
        }
        let options = PgConnectOptions::from_str(url).map_err(|error| error.to_string())?;
        Ok(Self {
            options,
            shown: without_password(url),
        })
    }
}

/// `url` with the password of its user info, if any, replaced by `***`.
fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_never_shown_with_their_password() {
        let url = DatabaseUrl::parse("postgres://kub:s3cr%40t@db.default:5432/kub").unwrap();
        assert_eq!(url.to_string(), "postgres://kub:***@db.default:5432/kub");
        assert_eq!(format!("{url:?}"), "postgres://kub:***@db.default:5432/kub");
        assert_eq!(
            DatabaseUrl::parse("postgresql://kub@db/kub")
                .unwrap()
                .to_string(),
            "postgresql://kub@db/kub"
        );
        for wrong in [
            "",
            "mysql://a@b/c",
            "db:5432",
            "postgres://kub:x@db:port/kub",
        ] {
            assert!(DatabaseUrl::parse(wrong).is_err(), "{wrong:?}");
        }
    }
}
