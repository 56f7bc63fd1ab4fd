//! auth-api: the lesson's internal service, reached only by users-api and tasks-api.
//! It hashes passwords (argon2id), checks them to issue JWTs, and verifies tokens.
//!
//! Stateless, and never published. Who may call which route is in `src/callers.rs`; a route's
//! handler is in `src/routes.rs`, its error answers in `src/error.rs`, its tests in
//! `src/routes/tests.rs` and `src/routes/callers_tests.rs`.

mod callers;
mod config;
mod error;
mod password;
mod routes;
mod token;

use std::{sync::Arc, time::Duration};

use kub_http::metrics::Metrics;

pub use callers::{CallerKeyError, CallerSettings, Callers};
pub use config::{Config, HashingSettings, MIN_SECRET_BYTES, SecretError, TokenSettings};
pub use error::AuthApiError;
pub use password::PasswordHasher;
pub use routes::router;
pub use token::{AUDIENCE, Claims, ISSUER, TokenKeys, key_id};

pub const SERVICE: &str = "auth-api";
pub const DEFAULT_PORT: u16 = 80;
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct AppState {
    pub hasher: PasswordHasher,
    pub tokens: Arc<TokenKeys>,
    pub callers: Arc<Callers>,
    pub metrics: Metrics,
}

impl AppState {
    /// The signing keys are checked here, before the listener opens: a missing or short
    /// `JWT_SECRET` (or `JWT_PREVIOUS_SECRET`) stops start-up. No caller is let in until
    /// [`AppState::with_callers`].
    pub fn new(tokens: &TokenSettings, hashing: &HashingSettings) -> Result<Self, SecretError> {
        let keys = tokens.keys()?;
        tracing::info!(
            token_ttl = ?tokens.token_ttl,
            signing_kid = keys.signing_kid(),
            verifying_kids = ?keys.verifying_kids(),
            ?hashing,
            "auth ready: signing key loaded"
        );
        Ok(Self {
            hasher: PasswordHasher::new(hashing),
            tokens: Arc::new(keys),
            callers: Arc::new(Callers::none()),
            metrics: Metrics::new(),
        })
    }

    /// Serves `callers`, each on its own routes.
    pub fn with_callers(self, callers: Callers) -> Self {
        tracing::info!(callers = ?callers.names(), "callers loaded");
        Self {
            callers: Arc::new(callers),
            ..self
        }
    }
}
