//! tasks-api: the lesson's `GET /tasks` and `POST /tasks`. Every request carries a bearer
//! token that auth-api verifies; tasks belong to the token's user and live in an
//! append-only JSON-lines file in `TASKS_FOLDER`.

mod bearer;
mod error;
mod routes;
mod tasks;

use kub_common::{
    auth_client::AuthClient,
    config::{ConfigError, Lookup, PodIdentity, ServiceConfig},
    metrics::Metrics,
    network::NetworkInfo,
    store::{JsonLinesStore, StoreError},
};

pub use bearer::CurrentUser;
pub use error::TasksError;
pub use routes::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, router};
pub use tasks::{NewTask, Task, Tasks};

pub const SERVICE: &str = "tasks-api";
pub const DEFAULT_PORT: u16 = 8000;
pub const DEFAULT_FOLDER: &str = "tasks";
pub const TASKS_FILE: &str = "tasks.jsonl";

pub type Config = ServiceConfig;

/// `AUTH_ADDRESS` / `AUTH_SERVICE_SERVICE_HOST`, and `TASKS_FOLDER`.
pub fn config_from_env(env: Lookup) -> Result<Config, ConfigError> {
    ServiceConfig::from_env(env, "TASKS_FOLDER", DEFAULT_FOLDER)
}

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthClient,
    pub metrics: Metrics,
    pub pod: PodIdentity,
    pub tasks: JsonLinesStore<Tasks>,
}

impl AppState {
    pub async fn open(config: &Config) -> Result<Self, StoreError> {
        let metrics = Metrics::new();
        let tasks = JsonLinesStore::<Tasks>::open(&config.folder, TASKS_FILE).await?;
        let counted = tasks.clone();
        metrics.track_stored("tasks", move || counted.read(|tasks| tasks.len()));
        Ok(Self {
            auth: AuthClient::new(&config.auth, metrics.clone()),
            metrics,
            pod: config.pod.clone(),
            tasks,
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
