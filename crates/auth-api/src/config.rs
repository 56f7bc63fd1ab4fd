//! auth-api's settings: each a flag with its environment variable (`auth-api --help`).

use std::time::Duration;

use clap::{Args, Parser};
use kub_http::settings::{Command, ServeSettings, parse_count, parse_duration, parse_port};

use crate::{DEFAULT_PORT, DEFAULT_TOKEN_TTL};

/// HS256 is only as strong as its key; 32 bytes is the RFC 7518 minimum.
pub const MIN_SECRET_BYTES: usize = 32;

/// auth-api: the lesson's internal service. Hashes passwords (argon2id), checks them and
/// issues JWTs, and verifies tokens, for users-api and tasks-api only.
#[derive(Parser)]
#[command(name = "auth-api", version)]
pub struct Config {
    /// Port to listen on, on all interfaces.
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT, value_parser = parse_port)]
    pub port: u16,
    #[command(flatten)]
    pub tokens: TokenSettings,
    #[command(flatten)]
    pub hashing: HashingSettings,
    #[command(flatten)]
    pub serve: ServeSettings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How much argon2 work may wait. Hashing takes ~40 ms of a core per password; beyond what the
/// cores can do, waiting only turns into the caller's timeout.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Hashing")]
pub struct HashingSettings {
    /// Most hashing jobs waiting for a core; when full, a request is answered 503 with
    /// `Retry-After` at once.
    #[arg(long = "hash-queue-size", env = "HASH_QUEUE_SIZE", default_value_t = DEFAULT_HASH_QUEUE_SIZE, value_parser = parse_count)]
    pub queue_size: usize,
    /// A job that waited longer than this is dropped undone (answered 503): keep it under the
    /// callers' timeout (users-api waits 2.5 s).
    #[arg(long = "hash-max-wait", env = "HASH_MAX_WAIT", default_value = DEFAULT_HASH_MAX_WAIT, value_parser = parse_duration)]
    pub max_wait: Duration,
}

pub const DEFAULT_HASH_QUEUE_SIZE: usize = 16;
const DEFAULT_HASH_MAX_WAIT: &str = "2s";

impl Default for HashingSettings {
    fn default() -> Self {
        Self {
            queue_size: DEFAULT_HASH_QUEUE_SIZE,
            max_wait: parse_duration(DEFAULT_HASH_MAX_WAIT).expect("a duration"),
        }
    }
}

/// How tokens are signed. No `Debug`: the secret must never reach a log line.
#[derive(Clone, Args)]
pub struct TokenSettings {
    /// HMAC key tokens are signed with, at least 32 bytes (`openssl rand -hex 32`). Required.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Token lifetime: seconds, or `90s`, `15m`, `1h`.
    #[arg(long, env = "TOKEN_TTL", default_value = "1h", value_parser = parse_duration)]
    pub token_ttl: Duration,
}

impl TokenSettings {
    /// A secret and the default lifetime: how dev-stack and the tests configure auth.
    pub fn with_secret(secret: impl Into<String>) -> Self {
        Self {
            jwt_secret: Some(secret.into()),
            token_ttl: DEFAULT_TOKEN_TTL,
        }
    }

    /// The signing key, checked. Never echoes the value: it is a secret.
    pub fn secret(&self) -> Result<&str, SecretError> {
        let secret = self
            .jwt_secret
            .as_deref()
            .filter(|secret| !secret.trim().is_empty())
            .ok_or(SecretError::Missing)?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort(secret.len()));
        }
        Ok(secret)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "JWT_SECRET is required and must not be empty (generate one with `openssl rand -hex 32`)"
    )]
    Missing,
    #[error(
        "JWT_SECRET is invalid: it is {0} bytes; HS256 needs at least {MIN_SECRET_BYTES} (try `openssl rand -hex 32`)"
    )]
    TooShort(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_must_be_set_and_long_enough() {
        let settings = |secret: Option<&str>| TokenSettings {
            jwt_secret: secret.map(Into::into),
            token_ttl: DEFAULT_TOKEN_TTL,
        };
        assert_eq!(settings(None).secret(), Err(SecretError::Missing));
        assert_eq!(settings(Some("  ")).secret(), Err(SecretError::Missing));
        assert_eq!(
            settings(Some("short")).secret(),
            Err(SecretError::TooShort(5))
        );
        assert!(!SecretError::TooShort(5).to_string().contains("short"));
        let long = "0123456789abcdef0123456789abcdef";
        assert_eq!(settings(Some(long)).secret(), Ok(long));
    }
}
