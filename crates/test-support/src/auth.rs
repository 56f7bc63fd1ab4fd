//! A real auth-api, in-process on a free loopback port: what users-api and tasks-api call in
//! their tests (no mock: the same router the binary serves).

use std::time::Duration;

use auth_api::{AppState, HashingSettings, TokenSettings};
use kub_http::serve::RunningServer;

pub const TEST_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// auth-api on `127.0.0.1:<free port>`, and its state (to issue tokens directly).
pub async fn spawn_auth() -> (RunningServer, AppState) {
    spawn_auth_with(&HashingSettings::default()).await
}

/// [`spawn_auth`], with its hashing queue set by `hashing`.
pub async fn spawn_auth_with(hashing: &HashingSettings) -> (RunningServer, AppState) {
    let settings = TokenSettings {
        jwt_secret: Some(TEST_SECRET.into()),
        token_ttl: Duration::from_secs(600),
    };
    let state = AppState::new(&settings, hashing).expect("a valid secret");
    let server = RunningServer::start(
        "127.0.0.1:0".parse().expect("an address"),
        auth_api::router(state.clone()),
    )
    .await
    .expect("auth-api starts");
    (server, state)
}
