//! auth-api: the lesson's internal service. Stateless: it hashes passwords (argon2id),
//! checks a password against a stored hash and issues a JWT, and verifies tokens. Only
//! users-api and tasks-api talk to it; it is never published.

mod error;
mod password;
mod routes;
mod token;

use std::{sync::Arc, time::Duration};

use kub_common::{
    config::{ConfigError, Lookup, parse_duration, read},
    metrics::Metrics,
};

pub use error::AuthApiError;
pub use password::PasswordHasher;
pub use routes::router;
pub use token::{Claims, ISSUER, TokenKeys};

pub const SERVICE: &str = "auth-api";
pub const DEFAULT_PORT: u16 = 80;
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// HS256 is only as strong as its key; 32 bytes is the RFC 7518 minimum.
pub const MIN_SECRET_BYTES: usize = 32;

pub struct Config {
    pub jwt_secret: String,
    pub token_ttl: Duration,
}

impl Config {
    pub fn from_env(env: Lookup) -> Result<Self, ConfigError> {
        let jwt_secret = read(env, "JWT_SECRET").ok_or(ConfigError::Missing {
            var: "JWT_SECRET",
            hint: " (generate one with `openssl rand -hex 32`)",
        })?;
        if jwt_secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                var: "JWT_SECRET",
                value: "<hidden>".into(),
                reason: format!(
                    "it is {} bytes; HS256 needs at least {MIN_SECRET_BYTES} (try `openssl rand -hex 32`)",
                    jwt_secret.len()
                ),
            });
        }
        let token_ttl = match read(env, "TOKEN_TTL") {
            Some(value) => parse_duration("TOKEN_TTL", &value)?,
            None => DEFAULT_TOKEN_TTL,
        };
        Ok(Self {
            jwt_secret,
            token_ttl,
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub hasher: PasswordHasher,
    pub tokens: Arc<TokenKeys>,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(config: &Config) -> Self {
        tracing::info!(token_ttl = ?config.token_ttl, "auth ready: signing key loaded");
        Self {
            hasher: PasswordHasher::new(),
            tokens: Arc::new(TokenKeys::new(
                config.jwt_secret.as_bytes(),
                config.token_ttl,
            )),
            metrics: Metrics::new(),
        }
    }
}
