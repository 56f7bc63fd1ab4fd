//! users-api: the lesson's `POST /signup` and `POST /login`. Passwords are hashed and
//! checked by auth-api, found through `AUTH_ADDRESS` or Kubernetes' service variables;
//! users live in an append-only JSON-lines file in `USERS_FOLDER`.

mod domain;
mod error;
mod routes;
mod users;

use kub_common::{
    auth_client::AuthClient,
    config::{ConfigError, Lookup, PodIdentity, ServiceConfig},
    metrics::Metrics,
    network::NetworkInfo,
    store::{JsonLinesStore, StoreError},
};

pub use domain::{Credentials, Email, Password};
pub use error::UsersError;
pub use routes::router;
pub use users::{User, Users};

pub const SERVICE: &str = "users-api";
pub const DEFAULT_PORT: u16 = 8080;
pub const DEFAULT_FOLDER: &str = "users";
pub const USERS_FILE: &str = "users.jsonl";

pub type Config = ServiceConfig;

/// `AUTH_ADDRESS` / `AUTH_SERVICE_SERVICE_HOST`, and `USERS_FOLDER`.
pub fn config_from_env(env: Lookup) -> Result<Config, ConfigError> {
    ServiceConfig::from_env(env, "USERS_FOLDER", DEFAULT_FOLDER)
}

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthClient,
    pub metrics: Metrics,
    pub pod: PodIdentity,
    pub users: JsonLinesStore<Users>,
}

impl AppState {
    pub async fn open(config: &Config) -> Result<Self, StoreError> {
        let metrics = Metrics::new();
        let users = JsonLinesStore::<Users>::open(&config.folder, USERS_FILE).await?;
        let counted = users.clone();
        metrics.track_stored("users", move || counted.read(|users| users.len()));
        Ok(Self {
            auth: AuthClient::new(&config.auth, metrics.clone()),
            metrics,
            pod: config.pod.clone(),
            users,
        })
    }

    /// What `GET /network` shows.
    pub fn network(&self) -> NetworkInfo {
        NetworkInfo {
            service: SERVICE,
            auth: self.auth.clone(),
            pod: self.pod.clone(),
        }
    }
}
