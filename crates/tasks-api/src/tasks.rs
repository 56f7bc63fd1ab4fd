//! Where tasks are kept: a [`TaskStore`], either the JSON-lines file (`tasks/file.rs`, the
//! default) or PostgreSQL when `DATABASE_URL` is set (`tasks/postgres.rs`). The handlers see
//! only this interface, and both keep the same promises: a task answered 201 is stored
//! durably, each owner has at most `MAX_TASKS_PER_USER` tasks taking at most
//! `MAX_BYTES_PER_USER` ([`counted_bytes`]), and ids grow in the order an owner's tasks are
//! stored, so a page read `after` an id never misses a later one.

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

/// What one owner may store.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub max_tasks: usize,
    pub max_bytes: u64,
}

/// The task would take its owner past their [`Quota`].
#[derive(Debug)]
pub enum QuotaReached {
    /// They already have `limit` tasks.
    Tasks { limit: usize },
    /// They have `used` bytes of `limit`, and this task takes `needed` more.
    Bytes { used: u64, needed: u64, limit: u64 },
}

/// The id counts as this many digits, its widest (`u64::MAX`), whatever it is.
const COUNTED_ID_DIGITS: u64 = 20;

/// What a task counts against `MAX_BYTES_PER_USER`: its line in tasks.jsonl, as stored, newline
/// included, JSON escaping and all (a control character takes 6 bytes, `\u0001`). The id is
/// counted at its widest, because PostgreSQL, which keeps the same count, draws it only after
/// the quota is checked. `line_len` is the line's length without its newline.
pub fn counted_bytes(line_len: u64, id: u64) -> u64 {
    let digits = id.checked_ilog10().map_or(1, |log| u64::from(log) + 1);
    line_len + 1 + COUNTED_ID_DIGITS - digits
}

/// [`counted_bytes`] of a task not yet written.
pub fn counted_bytes_of(task: &Task) -> u64 {
    let mut line = ByteCount(0);
    serde_json::to_writer(&mut line, task).expect("a task always serializes");
    counted_bytes(line.0, task.id)
}

/// Counts what is written to it.
struct ByteCount(u64);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone)]
pub enum TaskStore {
    File(JsonLinesStore<Tasks>),
    Postgres(PostgresTasks),
}

impl TaskStore {
    /// PostgreSQL when `DATABASE_URL` is set, else `TASKS_FOLDER/tasks.jsonl`.
    pub async fn open(config: &Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let quota = Quota {
            max_tasks: usize::try_from(config.max_tasks_per_user).unwrap_or(usize::MAX),
            max_bytes: config.max_bytes_per_user,
        };
        if config.database.database_url.is_some() {
            let tasks = PostgresTasks::connect(&config.database, quota).await?;
            return Ok(Self::Postgres(tasks));
        }
        let empty = Tasks::new(quota);
        let store =
            JsonLinesStore::open(&config.folder, TASKS_FILE, empty, config.store_budget).await?;
        Ok(Self::File(store))
    }

    /// Stores a task; answers once it is durable.
    pub async fn create(&self, new: NewTask) -> Result<Task, AppendError<QuotaReached>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: u64, text: &str) -> Task {
        Task {
            id,
            owner: "u".into(),
            title: "t".into(),
            text: text.into(),
            created_at: "2025-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_task_counts_its_stored_line_with_the_id_at_20_digits() {
        let line = serde_json::to_vec(&task(7, "x")).unwrap();
        assert_eq!(counted_bytes_of(&task(7, "x")), line.len() as u64 + 1 + 19);
        assert_eq!(
            counted_bytes_of(&task(7, "x")),
            counted_bytes_of(&task(12_345_678, "x")),
            "whatever the id"
        );
        // Control characters are stored escaped: `\u0001`, 6 bytes each.
        let escaped = counted_bytes_of(&task(7, &"\u{1}".repeat(100)));
        assert_eq!(escaped - counted_bytes_of(&task(7, "")), 600);
    }

    /// migrations/0002 counts the tasks stored before it as 93 bytes plus their JSON strings.
    #[test]
    fn a_line_is_93_bytes_around_its_json_strings() {
        let strings = r#""u""t""\u0001\u0001\u0001""#.len() as u64;
        assert_eq!(counted_bytes_of(&task(1, "\u{1}\u{1}\u{1}")), 93 + strings);
    }
}
