//! A real auth-api, in-process on a free loopback port: what users-api and tasks-api call in
//! their tests (no mock: the same router the binary serves). It knows both callers by the keys
//! `Config::wired` gives them; a test starting a binary passes the same key as `AUTH_API_KEY`.

use std::time::Duration;

use auth_api::{AppState, CallerSettings, HashingSettings, TokenSettings};
use kub_auth_wire::caller::{Caller, wired_api_key};
use kub_http::serve::RunningServer;

pub const TEST_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// users-api's `AUTH_API_KEY` for the auth of [`spawn_auth`] (random, made once per process).
pub fn users_api_key() -> &'static str {
    wired_api_key(Caller::UsersApi)
}

/// tasks-api's `AUTH_API_KEY` for the auth of [`spawn_auth`].
pub fn tasks_api_key() -> &'static str {
    wired_api_key(Caller::TasksApi)
}

/// auth-api on `127.0.0.1:<free port>`, and its state (to issue tokens directly).
pub async fn spawn_auth() -> (RunningServer, AppState) {
    spawn_auth_with(&HashingSettings::default()).await
}

/// [`spawn_auth`], with its hashing queue set by `hashing`.
pub async fn spawn_auth_with(hashing: &HashingSettings) -> (RunningServer, AppState) {
    let settings = TokenSettings {
        token_ttl: Duration::from_secs(600),
        ..TokenSettings::with_secret(TEST_SECRET)
    };
    let callers = CallerSettings::with_keys(users_api_key(), tasks_api_key())
        .callers()
        .expect("the wired keys are valid");
    let state = AppState::new(&settings, hashing)
        .expect("a valid secret")
        .with_callers(callers);
    let server = RunningServer::start(
        "127.0.0.1:0".parse().expect("an address"),
        auth_api::router(state.clone()),
    )
    .await
    .expect("auth-api starts");
    (server, state)
}
