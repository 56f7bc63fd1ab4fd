//! tasks-api: the lesson's `GET /tasks` and `POST /tasks`, each user's own tasks, behind a
//! bearer token that auth-api verifies.
//!
//! Tasks live in an append-only JSON-lines file in `TASKS_FOLDER`, under a byte budget
//! (`STORE_BUDGET`; memory holds only an index), or in PostgreSQL when `DATABASE_URL` is set
//! (`src/tasks.rs`); either way under a per-user cap (`MAX_TASKS_PER_USER`).
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
use kub_public::{auth_client::AuthClient, cors::CorsSettings, network::NetworkInfo};

pub use bearer::CurrentUser;
pub use config::Config;
pub use error::TasksError;
pub use routes::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_TEXT_CHARS, MAX_TITLE_CHARS, router};
pub use tasks::{NewTask, Task, TaskLimitReached, TaskStore, TaskView, Tasks};

pub const SERVICE: &str = "tasks-api";
pub const DEFAULT_PORT: u16 = 8000;
pub const DEFAULT_FOLDER: &str = "tasks";
pub const TASKS_FILE: &str = "tasks.jsonl";
/// Enough for any person's list; at the largest task the API accepts (about 60 KB as a
/// stored line), 1,000 of them are 60 MB, well under the manifest's 200Mi budget.
pub const DEFAULT_MAX_TASKS_PER_USER: u64 = 1000;

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthClient,
    pub metrics: Metrics,
    pub network: NetworkInfo,
    /// The origins whose pages may call from a browser (`CORS_ORIGINS`).
    pub cors: CorsSettings,
    pub tasks: TaskStore,
}

impl AppState {
    /// Finds auth (one clear error if it cannot) and opens the store (the file, or the
    /// database when `DATABASE_URL` is set).
    pub async fn open(config: &Config) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let address = config.auth.resolve()?;
        let metrics = Metrics::new();
        let tasks = TaskStore::open(config).await?;
        tasks.track(&metrics);
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
            cors: config.cors.clone(),
            tasks,
        })
    }
}
