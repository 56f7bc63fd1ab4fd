//! auth-api's settings: each a flag with its environment variable (`auth-api --help`).

use std::time::Duration;

use clap::{Args, Parser};
use kub_http::settings::{Command, ServeSettings, parse_count, parse_duration, parse_port};

use crate::{DEFAULT_PORT, DEFAULT_TOKEN_TTL, TokenKeys, callers::CallerSettings};

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
    pub callers: CallerSettings,
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

/// How tokens are signed. No `Debug`: the secrets must never reach a log line.
#[derive(Clone, Args)]
pub struct TokenSettings {
    /// HMAC key tokens are signed with, at least 32 bytes (`openssl rand -hex 32`). Required.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The key `JWT_SECRET` had before a rotation, at least 32 bytes: tokens signed with it
    /// are still accepted (until they expire); none is signed with it.
    #[arg(long, env = "JWT_PREVIOUS_SECRET", hide_env_values = true)]
    pub jwt_previous_secret: Option<String>,
    /// Token lifetime: seconds, or `90s`, `15m`, `1h`.
    #[arg(long, env = "TOKEN_TTL", default_value = "1h", value_parser = parse_duration)]
    pub token_ttl: Duration,
}

impl TokenSettings {
    /// A secret and the default lifetime: how dev-stack and the tests configure auth.
    pub fn with_secret(secret: impl Into<String>) -> Self {
        Self {
            jwt_secret: Some(secret.into()),
            jwt_previous_secret: None,
            token_ttl: DEFAULT_TOKEN_TTL,
        }
    }

    /// The signing key, checked. Never echoes the value: it is a secret.
    pub fn secret(&self) -> Result<&str, SecretError> {
        let secret = set(&self.jwt_secret).ok_or(SecretError::Missing)?;
        check_length("JWT_SECRET", secret)
    }

    /// The previous signing key, if set, checked.
    pub fn previous_secret(&self) -> Result<Option<&str>, SecretError> {
        set(&self.jwt_previous_secret)
            .map(|secret| check_length("JWT_PREVIOUS_SECRET", secret))
            .transpose()
    }

    /// The keys tokens are signed and verified with.
    pub fn keys(&self) -> Result<TokenKeys, SecretError> {
        let keys = TokenKeys::new(self.secret()?.as_bytes(), self.token_ttl);
        Ok(match self.previous_secret()? {
            Some(previous) => keys.also_verifying(previous.as_bytes()),
            None => keys,
        })
    }
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.trim().is_empty())
}

fn check_length<'a>(var: &'static str, secret: &'a str) -> Result<&'a str, SecretError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(SecretError::TooShort {
            var,
            bytes: secret.len(),
        });
    }
    Ok(secret)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "JWT_SECRET is required and must not be empty (generate one with `openssl rand -hex 32`)"
    )]
    Missing,
    #[error(
        "{var} is invalid: it is {bytes} bytes; HS256 needs at least {MIN_SECRET_BYTES} (try `openssl rand -hex 32`)"
    )]
    TooShort { var: &'static str, bytes: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    fn settings(secret: Option<&str>, previous: Option<&str>) -> TokenSettings {
        TokenSettings {
            jwt_secret: secret.map(Into::into),
            jwt_previous_secret: previous.map(Into::into),
            token_ttl: DEFAULT_TOKEN_TTL,
        }
    }

    #[test]
    fn the_secret_must_be_set_and_long_enough() {
        assert_eq!(settings(None, None).secret(), Err(SecretError::Missing));
        assert_eq!(
            settings(Some("  "), None).secret(),
            Err(SecretError::Missing)
        );
        let short = SecretError::TooShort {
            var: "JWT_SECRET",
            bytes: 5,
        };
        assert!(!short.to_string().contains("short"));
        assert_eq!(settings(Some("short"), None).secret(), Err(short));
        assert_eq!(settings(Some(LONG), None).secret(), Ok(LONG));
    }

    #[test]
    fn the_previous_secret_is_optional_but_long_enough_when_set() {
        assert_eq!(settings(Some(LONG), None).previous_secret(), Ok(None));
        assert_eq!(settings(Some(LONG), Some(" ")).previous_secret(), Ok(None));
        assert_eq!(
            settings(Some(LONG), Some("short")).previous_secret(),
            Err(SecretError::TooShort {
                var: "JWT_PREVIOUS_SECRET",
                bytes: 5
            })
        );
        let keys = settings(Some(LONG), Some(&LONG.to_uppercase()))
            .keys()
            .ok()
            .unwrap();
        assert_eq!(keys.verifying_kids().len(), 2);
        assert!(settings(Some(LONG), Some("short")).keys().is_err());
    }
}
