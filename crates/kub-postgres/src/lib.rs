//! PostgreSQL for users-api and tasks-api, chosen by `DATABASE_URL`; without it they keep their
//! JSON-lines files (`kub-store`).
//!
//! - [`DatabaseSettings`]: `DATABASE_URL` (a [`DatabaseUrl`]: its `sslmode` checked, its
//!   passwords never shown), `DATABASE_POOL_SIZE`, `DATABASE_TIMEOUT`.
//! - [`Database::connect`]: a bounded pool, each service in its own schema, the service's
//!   migrations (embedded in its binary) applied once at start-up under a lock, since several
//!   replicas start together; the role it connects as is checked (`roles.rs`): a schema owned
//!   by another role is refused, a role that can do more than its own schema is warned about.
//! - [`Database::run`]: one operation under the timeout, its error turned into what a client
//!   is told ([`QueryError`]: the store's [`kub_store::StorageFailure`]s, or a unique violation).
//!
//! The SQL of each table lives with its service (`crates/<service>/migrations/`).

mod database;
mod database_url;
mod roles;
mod settings;

pub use database::{ConnectError, Database, QueryError};
pub use database_url::{DatabaseUrl, DatabaseUrlParser};
pub use settings::DatabaseSettings;

use std::time::{Duration, SystemTime};

/// A timestamp the database gives as milliseconds since the epoch
/// (`(extract(epoch FROM created_at) * 1000)::int8`), written as the file store writes its own:
/// RFC 3339 in UTC with milliseconds, `2026-11-26T11:31:56.123Z`.
pub fn rfc3339_millis(epoch_millis: i64) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(epoch_millis.max(0).unsigned_abs());
    humantime::format_rfc3339_millis(at).to_string()
}
