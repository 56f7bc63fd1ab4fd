//! tasks-api: the lesson's `GET /tasks` and `POST /tasks`, each user's own tasks, behind a
//! bearer token that auth-api verifies.
//!
//! Tasks live in an append-only JSON-lines file in `TASKS_FOLDER`.
//!
//! A route's handler is in `src/routes.rs`, its error answers in `src/error.rs`, its tests in
//! `src/routes/tests.rs`.

mod bearer;
mod config;
mod error;
mod routes;
mod tasks;

use std::error::Error;

use kub_http::metrics::Metrics;
use kub_public::{auth_client::AuthClient, network::NetworkInfo};
use kub_store::JsonLinesStore;

pub use bearer::CurrentUser;
pub use config::Config;
pub use error::TasksError;
pub use routes::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_TEXT_CHARS, MAX_TITLE_CHARS, router};
pub use tasks::{NewTask, Task, Tasks};

pub const SERVICE: &str = "tasks-api";
pub const DEFAULT_PORT: u16 = 8000;
pub const DEFAULT_FOLDER: &str = "tasks";
pub const TASKS_FILE: &str = "tasks.jsonl";

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthClient,
    pub metrics: Metrics,
    pub network: NetworkInfo,
    pub tasks: JsonLinesStore<Tasks>,
}

impl AppState {
    /// Finds auth (one clear error if it cannot) and opens the store.
    pub async fn open(config: &Config) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let address = config.auth.resolve()?;
        let metrics = Metrics::new();
        let tasks = JsonLinesStore::<Tasks>::open(&config.folder, TASKS_FILE).await?;
        let counted = tasks.clone();
        metrics.track_stored("tasks", move || counted.read(|tasks| tasks.len()));
        let auth = AuthClient::new(SERVICE, &address, metrics.clone());
        let network = NetworkInfo {
            service: SERVICE,
            auth: auth.clone(),
            pod: config.serve.pod.clone(),
        };
        Ok(Self {
            auth,
            metrics,
            network,
            tasks,
        })
    }
}
