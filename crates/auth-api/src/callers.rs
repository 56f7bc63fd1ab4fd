//! Who may call auth-api, and which routes each caller may use. Every caller has its own key
//! (`USERS_API_KEY`, `TASKS_API_KEY`, and during a rotation a `*_PREVIOUS` of each), sent as
//! `Authorization: Bearer <key>`; [`authorize`] checks it before a body is read or a password
//! hashed. How the refusals look, and why: `kub_auth_wire::caller`.

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::Response,
};
use clap::Args;
use kub_auth_wire::{
    HASHED_PASSWORD_ROUTE, TOKEN_ROUTE, VERIFY_TOKEN_ROUTE,
    caller::{ApiKeyError, Caller, check_api_key},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::{AppState, AuthApiError};

/// The whole authorization policy: which callers each route answers. A route missing here
/// answers no one.
fn allowed_callers(route: &str) -> &'static [Caller] {
    match route {
        HASHED_PASSWORD_ROUTE | TOKEN_ROUTE => &[Caller::UsersApi],
        VERIFY_TOKEN_ROUTE => &[Caller::TasksApi],
        _ => &[],
    }
}

/// The callers' keys. A caller whose key is unset does not exist (stage 2 of the lesson has no
/// tasks-api). No `Debug`: the keys are secrets.
#[derive(Clone, Default, Args)]
#[command(next_help_heading = "Callers (at least one)")]
pub struct CallerSettings {
    /// users-api's key (its `AUTH_API_KEY`), at least 32 bytes: lets it hash passwords and get
    /// tokens.
    #[arg(long, env = "USERS_API_KEY", hide_env_values = true)]
    pub users_api_key: Option<String>,
    /// users-api's previous key, still accepted while a new one is rolled out.
    #[arg(long, env = "USERS_API_KEY_PREVIOUS", hide_env_values = true)]
    pub users_api_key_previous: Option<String>,
    /// tasks-api's key (its `AUTH_API_KEY`), at least 32 bytes: lets it verify tokens.
    #[arg(long, env = "TASKS_API_KEY", hide_env_values = true)]
    pub tasks_api_key: Option<String>,
    /// tasks-api's previous key, still accepted while a new one is rolled out.
    #[arg(long, env = "TASKS_API_KEY_PREVIOUS", hide_env_values = true)]
    pub tasks_api_key_previous: Option<String>,
}

impl CallerSettings {
    /// Both callers, each with one key: how dev-stack and the tests configure auth.
    pub fn with_keys(users_api: impl Into<String>, tasks_api: impl Into<String>) -> Self {
        Self {
            users_api_key: Some(users_api.into()),
            tasks_api_key: Some(tasks_api.into()),
            ..Self::default()
        }
    }

    /// The callers, their keys checked. Never echoes a key.
    pub fn callers(&self) -> Result<Callers, CallerKeyError> {
        let configured = [
            (
                Caller::UsersApi,
                ("USERS_API_KEY", &self.users_api_key),
                ("USERS_API_KEY_PREVIOUS", &self.users_api_key_previous),
            ),
            (
                Caller::TasksApi,
                ("TASKS_API_KEY", &self.tasks_api_key),
                ("TASKS_API_KEY_PREVIOUS", &self.tasks_api_key_previous),
            ),
        ];
        let set = |value: &Option<String>| {
            value
                .as_deref()
                .filter(|value| !value.trim().is_empty())
                .map(str::to_owned)
        };
        let mut keys = Vec::new();
        for (caller, (var, key), (previous_var, previous)) in configured {
            match (set(key), set(previous)) {
                (None, None) => {}
                (None, Some(_)) => {
                    return Err(CallerKeyError::PreviousWithoutCurrent {
                        previous: previous_var,
                        current: var,
                    });
                }
                (Some(key), previous) => {
                    keys.push(CallerKey::new(caller, var, &key)?);
                    if let Some(previous) = previous {
                        keys.push(CallerKey::new(caller, previous_var, &previous)?);
                    }
                }
            }
        }
        if keys.is_empty() {
            return Err(CallerKeyError::NoCaller);
        }
        // A key two callers share would let either act as the other.
        for (n, key) in keys.iter().enumerate() {
            if let Some(other) = keys[n + 1..]
                .iter()
                .find(|other| other.caller != key.caller && other.digest == key.digest)
            {
                return Err(CallerKeyError::Shared(key.var, other.var));
            }
        }
        Ok(Callers { keys })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallerKeyError {
    #[error(
        "no caller is configured: set USERS_API_KEY and/or TASKS_API_KEY to the AUTH_API_KEY of users-api and tasks-api (generate each with `openssl rand -hex 32`)"
    )]
    NoCaller,
    #[error("{previous} is set but {current} is not: a previous key only overlaps a current one")]
    PreviousWithoutCurrent {
        previous: &'static str,
        current: &'static str,
    },
    #[error("{0} and {1} hold the same key: each caller needs its own")]
    Shared(&'static str, &'static str),
    #[error(transparent)]
    Key(#[from] ApiKeyError),
}

struct CallerKey {
    caller: Caller,
    /// Where the key came from, for error messages.
    var: &'static str,
    digest: [u8; 32],
}

impl CallerKey {
    fn new(caller: Caller, var: &'static str, key: &str) -> Result<Self, ApiKeyError> {
        check_api_key(var, key)?;
        Ok(Self {
            caller,
            var,
            digest: digest(key),
        })
    }
}

/// Comparing fixed-length digests, not the keys, so a key's length cannot show in the timing.
fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The callers auth serves, by their keys' digests.
pub struct Callers {
    keys: Vec<CallerKey>,
}

impl Callers {
    /// No caller at all: every caller route answers 401. What [`AppState::new`] starts with.
    pub fn none() -> Self {
        Self { keys: Vec::new() }
    }

    /// The caller whose key `presented` is. Every configured key is compared, each in
    /// constant time, whatever matched before.
    pub fn identify(&self, presented: &str) -> Option<Caller> {
        let presented = digest(presented);
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.digest.ct_eq(&presented)) {
                found.get_or_insert(key.caller);
            }
        }
        found
    }

    /// The names of the callers that exist, for the start-up log.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.keys.iter().map(|key| key.caller.name()).collect();
        names.dedup();
        names
    }
}

/// Lets a request reach its route only from a caller allowed there; runs before the body is
/// read or anything hashed. The caller's name (never its key) is on the route's log lines.
pub async fn authorize(
    State(state): State<AppState>,
    route: MatchedPath,
    request: Request,
    next: Next,
) -> Result<Response, AuthApiError> {
    let route = route.as_str();
    let caller = presented_key(&request).and_then(|key| state.callers.identify(key));
    let Some(caller) = caller else {
        tracing::warn!(route, "caller refused: no key, or one auth does not know");
        return Err(AuthApiError::UnknownCaller);
    };
    if !allowed_callers(route).contains(&caller) {
        tracing::warn!(
            caller = caller.name(),
            route,
            "caller refused: not one of its routes"
        );
        return Err(AuthApiError::CallerNotAllowed {
            caller,
            route: route.to_owned(),
        });
    }
    // The route's own lines (a token refused, a hashing error) carry the caller's name.
    let span = tracing::info_span!("caller", caller = caller.name());
    tracing::debug!(parent: &span, "caller let in");
    Ok(next.run(request).instrument(span).await)
}

/// The key of `Authorization: Bearer <key>` (the scheme in any case).
fn presented_key(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

#[cfg(test)]
mod tests;
