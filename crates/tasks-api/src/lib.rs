//! tasks-api: the lesson's `GET /tasks` and `POST /tasks`, each user's own tasks, behind a
//! bearer token that auth-api verifies.
//!
//! Tasks live in an append-only JSON-lines file in `TASKS_FOLDER`, under a byte budget
//! (`STORE_BUDGET`; memory holds only an index), or in PostgreSQL when `DATABASE_URL` is set
//! (`src/tasks.rs`); either way under a per-user cap and byte quota (`MAX_TASKS_PER_USER`,
//! `MAX_BYTES_PER_USER`), new tasks under a per-user rate limit (`TASK_LIMIT_PER_USER`).
//!
//! A route's handler is in `src/routes.rs`, its error answers in `src/error.rs`, its tests in
//! `src/routes/tests.rs`.

mod bearer;
mod config;
mod error;
mod routes;
mod tasks;
mod throttle;

use std::{error::Error, sync::Arc};

use kub_http::metrics::Metrics;
use kub_public::{auth_client::AuthClient, cors::CorsSettings, network::NetworkInfo};

pub use bearer::CurrentUser;
pub use config::Config;
pub use error::TasksError;
pub use routes::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_TEXT_CHARS, MAX_TITLE_CHARS, router};
pub use tasks::{NewTask, Quota, QuotaReached, Task, TaskStore, TaskView, Tasks, counted_bytes};
pub use throttle::{RateLimit, TaskThrottle};

pub const SERVICE: &str = "tasks-api";
pub const DEFAULT_PORT: u16 = 8000;
pub const DEFAULT_FOLDER: &str = "tasks";
pub const TASKS_FILE: &str = "tasks.jsonl";
/// Enough for any person's list.
pub const DEFAULT_MAX_TASKS_PER_USER: u64 = 1000;
/// 1,000 tasks of 4 KB each, or 4,000 ordinary ones (~1 KB): more than a person's list needs,
/// yet the largest tasks the API accepts (10,000 control characters, ~60 KB as a stored line)
/// fill it after ~70, and it takes 50 accounts to fill the manifests' 200Mi `STORE_BUDGET`.
pub const DEFAULT_MAX_BYTES_PER_USER: &str = "4Mi";
/// A person adds a task every few seconds at most; a script filling its quota waits.
pub const DEFAULT_TASK_LIMIT_PER_USER: &str = "30/min";

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthClient,
    pub metrics: Metrics,
    pub network: NetworkInfo,
    /// The origins whose pages may call from a browser (`CORS_ORIGINS`).
    pub cors: CorsSettings,
    pub tasks: TaskStore,
    pub throttle: Arc<TaskThrottle>,
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
            served: config.network.network_route,
        };
        Ok(Self {
            auth,
            metrics,
            network,
            cors: config.cors.clone(),
            tasks,
            throttle: Arc::new(TaskThrottle::new(config.task_limit_per_user)),
        })
    }
}
