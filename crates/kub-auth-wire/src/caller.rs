//! Who calls auth-api, and how each one proves it: its own random key, given to it on purpose
//! (a Kubernetes Secret, compose's `.env`), sent on every call as `Authorization: Bearer <key>`.
//!
//! How auth answers a caller it will not serve:
//! - no key, or one it does not know: 401 with `WWW-Authenticate: Bearer realm="auth-api"`
//!   ([`CALLER_CHALLENGE`]);
//! - a known caller on a route that is not its own: 403.
//!
//! Auth's other 401s (a wrong password at `/token`, a token it does not accept at
//! `/verify-token`) never carry a `WWW-Authenticate` header. So a caller tells "auth does not
//! accept *my* key" (a deployment mistake: an outage for its users) from "*the user's*
//! password or token is wrong" by that header alone, as HTTP means it: a challenge is about
//! the request's own credentials.

use std::{fmt, sync::OnceLock};

/// A service that may call auth-api.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    UsersApi,
    TasksApi,
}

impl Caller {
    pub const ALL: [Caller; 2] = [Caller::UsersApi, Caller::TasksApi];

    /// The service's name, as logs show it (never its key).
    pub fn name(self) -> &'static str {
        match self {
            Caller::UsersApi => "users-api",
            Caller::TasksApi => "tasks-api",
        }
    }
}

/// The `WWW-Authenticate` value of auth's 401 for a missing or unknown caller key.
pub const CALLER_CHALLENGE: &str = r#"Bearer realm="auth-api""#;

/// A caller key is an HMAC-strength secret: at least 32 bytes (`openssl rand -hex 32` gives 64).
pub const MIN_API_KEY_BYTES: usize = 32;

/// Why a configured key cannot be used. Never carries the value: it is a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiKeyError {
    #[error(
        "{var} is invalid: it is {bytes} bytes; a caller key needs at least {MIN_API_KEY_BYTES} (try `openssl rand -hex 32`)"
    )]
    TooShort { var: &'static str, bytes: usize },
    #[error(
        "{var} is invalid: a caller key travels in a header, so only printable ASCII without spaces (try `openssl rand -hex 32`)"
    )]
    NotHeaderSafe { var: &'static str },
}

/// Checks a key read from `var`, the same way on both sides: a key that one side accepts and
/// the other could never send or match would fail only at the first call.
pub fn check_api_key(var: &'static str, key: &str) -> Result<(), ApiKeyError> {
    if !key.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(ApiKeyError::NotHeaderSafe { var });
    }
    if key.len() < MIN_API_KEY_BYTES {
        return Err(ApiKeyError::TooShort {
            var,
            bytes: key.len(),
        });
    }
    Ok(())
}

/// A caller's key. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The value, to send or compare; never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        Self(key.to_owned())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// `caller`'s key when services are wired together in one process (`Config::wired`, the
/// tests' in-process auth): random, made once per process, so no key that works anywhere is
/// ever written down where it could be deployed by mistake.
pub fn wired_api_key(caller: Caller) -> &'static str {
    static KEYS: OnceLock<[String; 2]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| [random_key(), random_key()]);
    match caller {
        Caller::UsersApi => &keys[0],
        Caller::TasksApi => &keys[1],
    }
}

/// 32 random bytes, hex-encoded: what `openssl rand -hex 32` gives.
fn random_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_enough_and_header_safe_and_errors_never_echo_them() {
        let good = "0123456789abcdef0123456789abcdef";
        assert_eq!(check_api_key("K", good), Ok(()));
        let short = check_api_key("K", "tiny-key").unwrap_err();
        assert_eq!(short, ApiKeyError::TooShort { var: "K", bytes: 8 });
        assert!(!short.to_string().contains("tiny-key"));
        for unsafe_key in [format!("{good} "), format!("{good}\n"), format!("é{good}")] {
            assert_eq!(
                check_api_key("K", &unsafe_key),
                Err(ApiKeyError::NotHeaderSafe { var: "K" })
            );
        }
    }

    #[test]
    fn wired_keys_differ_per_caller_and_pass_the_check() {
        let users = wired_api_key(Caller::UsersApi);
        let tasks = wired_api_key(Caller::TasksApi);
        assert_ne!(users, tasks);
        assert_eq!(users, wired_api_key(Caller::UsersApi), "made once");
        assert_eq!(check_api_key("K", users), Ok(()));
    }
}
