//! auth-api: the lesson's internal service, reached only by users-api and tasks-api.
//! It hashes passwords (argon2id), checks them to issue JWTs, and verifies tokens.
//!
//! Stateless, and never published. A route's handler is in `src/routes.rs`, its error answers in
//! `src/error.rs`, its tests in `src/routes/tests.rs`.

mod config;
mod error;
mod password;
mod routes;
mod token;

use std::{sync::Arc, time::Duration};

use kub_http::metrics::Metrics;

pub use config::{Config, HashingSettings, MIN_SECRET_BYTES, SecretError, TokenSettings};
pub use error::AuthApiError;
pub use password::PasswordHasher;
pub use routes::router;
pub use token::{Claims, ISSUER, TokenKeys};

pub const SERVICE: &str = "auth-api";
pub const DEFAULT_PORT: u16 = 80;
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct AppState {
    pub hasher: PasswordHasher,
    pub tokens: Arc<TokenKeys>,
    pub metrics: Metrics,
}

impl AppState {
    /// The signing key is checked here, before the listener opens: a missing or short
    /// `JWT_SECRET` stops start-up.
    pub fn new(tokens: &TokenSettings, hashing: &HashingSettings) -> Result<Self, SecretError> {
        let secret = tokens.secret()?;
        tracing::info!(token_ttl = ?tokens.token_ttl, ?hashing, "auth ready: signing key loaded");
        Ok(Self {
            hasher: PasswordHasher::new(hashing),
            tokens: Arc::new(TokenKeys::new(secret.as_bytes(), tokens.token_ttl)),
            metrics: Metrics::new(),
        })
    }
}
