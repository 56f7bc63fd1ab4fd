//! Where tasks are kept: a [`TaskStore`], either the JSON-lines file (`tasks/file.rs`, the
//! default) or PostgreSQL when `DATABASE_URL` is set (`tasks/postgres.rs`). The handlers see
//! only this interface, and both keep the same promises: a task answered 201 is stored
//! durably, each owner has at most `MAX_TASKS_PER_USER`, and ids grow in the order an owner's
//! tasks are stored, so a page read `after` an id never misses a later one.

mod file;
mod postgres;

use std::borrow::Cow;

use kub_http::metrics::Metrics;
use kub_public::track_store;
use kub_store::{AppendError, JsonLinesStore, StorageFailure};
use serde::{Deserialize, Serialize};

use crate::{Config, TASKS_FILE};
pub use file::Tasks;
use postgres::PostgresTasks;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Increasing across the whole store: the pagination cursor.
    pub id: u64,
    /// The user id from the token; never sent back to clients.
    #[serde(default)]
    pub owner: String,
    pub title: String,
    pub text: String,
    pub created_at: String,
}

/// A task as clients see it (the owner is implied by the token). A page's tasks borrow their
/// strings from what they are read from.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView<'line> {
    pub id: u64,
    #[serde(borrow)]
    pub title: Cow<'line, str>,
    #[serde(borrow)]
    pub text: Cow<'line, str>,
    #[serde(borrow)]
    pub created_at: Cow<'line, str>,
}

impl From<Task> for TaskView<'static> {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            title: task.title.into(),
            text: task.text.into(),
            created_at: task.created_at.into(),
        }
    }
}

pub struct NewTask {
    pub owner: String,
    pub title: String,
    pub text: String,
}

/// The owner already has the most tasks one user may store.
#[derive(Debug)]
pub struct TaskLimitReached {
    pub limit: usize,
}

#[derive(Clone)]
pub enum TaskStore {
    File(JsonLinesStore<Tasks>),
    Postgres(PostgresTasks),
}

impl TaskStore {
    /// PostgreSQL when `DATABASE_URL` is set, else `TASKS_FOLDER/tasks.jsonl`.
    pub async fn open(config: &Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let max_per_owner = usize::try_from(config.max_tasks_per_user).unwrap_or(usize::MAX);
        if config.database.database_url.is_some() {
            let tasks = PostgresTasks::connect(&config.database, max_per_owner).await?;
            return Ok(Self::Postgres(tasks));
        }
        let empty = Tasks::new(max_per_owner);
        let store =
            JsonLinesStore::open(&config.folder, TASKS_FILE, empty, config.store_budget).await?;
        Ok(Self::File(store))
    }

    /// Stores a task; answers once it is durable.
    pub async fn create(&self, new: NewTask) -> Result<Task, AppendError<TaskLimitReached>> {
        match self {
            Self::File(store) => store.append(new).await,
            Self::Postgres(tasks) => tasks.create(new).await,
        }
    }

    /// Calls `write` with up to `limit` of `owner`'s tasks after the id `after`, oldest first,
    /// and the cursor of the next page when there is one.
    pub async fn page<T>(
        &self,
        owner: &str,
        after: Option<u64>,
        limit: usize,
        write: impl FnOnce(&[TaskView<'_>], Option<u64>) -> T,
    ) -> Result<T, StorageFailure> {
        match self {
            Self::File(store) => file::page_of(store, owner, after, limit, write),
            Self::Postgres(tasks) => tasks.page(owner, after, limit, write).await,
        }
    }

    /// What `/readyz` reports: can a task be stored right now?
    pub async fn readiness(&self) -> Result<(), String> {
        match self {
            Self::File(store) => store.readiness().await,
            Self::Postgres(tasks) => tasks.readiness().await,
        }
    }

    /// Reports the file's records, bytes and budget in `/metrics`. A database is measured by
    /// its own exporter; counting its rows at every scrape would cost a table scan.
    pub fn track(&self, metrics: &Metrics) {
        if let Self::File(store) = self {
            track_store(metrics, "tasks", store, Tasks::len);
        }
    }
}
