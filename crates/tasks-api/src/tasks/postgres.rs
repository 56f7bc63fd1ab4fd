//! The tasks in PostgreSQL, tables `tasks.tasks` and `tasks.task_counts` (`migrations/`).
//!
//! An insert first bumps its owner's count and bytes, in the same statement: the count's row
//! stays locked until the insert commits, so one owner's inserts take turns. That gives the file
//! store's two promises across replicas: the per-owner quota is exact, and an owner's ids are
//! committed in increasing order (an id is drawn under the lock), so a reader's cursor never
//! passes a task that commits later. Different owners never wait for each other.

use std::borrow::Cow;

use kub_postgres::{Database, DatabaseSettings, rfc3339_millis};
use kub_store::{AppendError, StorageFailure};
use sqlx::migrate::Migrator;

use super::{NewTask, Quota, QuotaReached, Task, TaskView, counted_bytes_of};
use crate::SERVICE;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct PostgresTasks {
    database: Database,
    quota: Quota,
}

/// Bumps the owner's count and bytes (by $5, the task's) unless that passes the cap ($2) or the
/// byte quota ($6), and only then inserts the task: no row back means a limit. One statement,
/// so one implicit transaction: a request cut short (its client gone, `DATABASE_TIMEOUT`) can
/// never leave a transaction open holding the owner's row. The count's row is locked from the
/// upsert to the commit, and the task's id is drawn after it: one owner's inserts commit in id
/// order.
const INSERT_UNDER_THE_OWNERS_COUNT: &str = "\
    WITH counted AS ( \
        INSERT INTO task_counts AS counts (owner, count, bytes) \
        SELECT $1, 1, $5 WHERE $5 <= $6 \
        ON CONFLICT (owner) DO UPDATE SET count = counts.count + 1, bytes = counts.bytes + $5 \
        WHERE counts.count < $2 AND counts.bytes + $5 <= $6 \
        RETURNING owner \
    ) \
    INSERT INTO tasks (owner, title, text) SELECT owner, $3, $4 FROM counted \
    RETURNING id, (extract(epoch FROM created_at) * 1000)::int8";

/// A task row: id, title, text, created_at in ms since the epoch.
type Row = (i64, String, String, i64);

impl PostgresTasks {
    pub async fn connect(
        settings: &DatabaseSettings,
        quota: Quota,
    ) -> Result<Self, kub_postgres::ConnectError> {
        let database = Database::connect(settings, SERVICE, "tasks", &MIGRATIONS).await?;
        Ok(Self { database, quota })
    }

    pub async fn create(&self, new: NewTask) -> Result<Task, AppendError<QuotaReached>> {
        let as_if_in_the_file = Task {
            id: 0,
            owner: new.owner,
            title: new.title,
            text: new.text,
            created_at: rfc3339_millis(0),
        };
        let needed = counted_bytes_of(&as_if_in_the_file);
        let Task {
            owner, title, text, ..
        } = as_if_in_the_file;
        let insert = sqlx::query_as::<_, (i64, i64)>(INSERT_UNDER_THE_OWNERS_COUNT)
            .bind(&owner)
            .bind(as_i64(self.quota.max_tasks as u64))
            .bind(&title)
            .bind(&text)
            .bind(as_i64(needed))
            .bind(as_i64(self.quota.max_bytes))
            .fetch_optional(self.database.pool());
        match self.database.run("create task", insert).await {
            Ok(Some((id, created_ms))) => Ok(Task {
                id: id.unsigned_abs(),
                owner,
                title,
                text,
                created_at: rfc3339_millis(created_ms),
            }),
            Ok(None) => Err(self.which_limit(&owner, needed).await),
            Err(error) => Err(AppendError::Storage(error.into())),
        }
    }

    /// Which limit refused a task of `needed` bytes, read after the refusal (what the message
    /// says; a racing insert may have moved it a little since).
    async fn which_limit(&self, owner: &str, needed: u64) -> AppendError<QuotaReached> {
        let query = sqlx::query_as::<_, (i64, i64)>(
            "SELECT count, bytes FROM task_counts WHERE owner = $1",
        )
        .bind(owner)
        .fetch_optional(self.database.pool());
        let (count, used) = match self.database.run("read task counts", query).await {
            Ok(counts) => counts.unwrap_or((0, 0)),
            Err(error) => return AppendError::Storage(error.into()),
        };
        if count.unsigned_abs() >= self.quota.max_tasks as u64 {
            return AppendError::Conflict(QuotaReached::Tasks {
                limit: self.quota.max_tasks,
            });
        }
        AppendError::Conflict(QuotaReached::Bytes {
            used: used.unsigned_abs(),
            needed,
            limit: self.quota.max_bytes,
        })
    }

    pub async fn page<T>(
        &self,
        owner: &str,
        after: Option<u64>,
        limit: usize,
        write: impl FnOnce(&[TaskView<'_>], Option<u64>) -> T,
    ) -> Result<T, StorageFailure> {
        let after = after.map_or(0, |after| i64::try_from(after).unwrap_or(i64::MAX));
        // One row more than the page: whether there is a next page.
        let query = sqlx::query_as::<_, Row>(
            "SELECT id, title, text, (extract(epoch FROM created_at) * 1000)::int8 FROM tasks \
             WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(owner)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1))
        .fetch_all(self.database.pool());
        let mut rows = self
            .database
            .run("list tasks", query)
            .await
            .map_err(StorageFailure::from)?;
        let next_after = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            rows.last().map(|(id, ..)| id.unsigned_abs())
        });
        let views: Vec<TaskView> = rows
            .iter()
            .map(|(id, title, text, created_ms)| TaskView {
                id: id.unsigned_abs(),
                title: Cow::Borrowed(title),
                text: Cow::Borrowed(text),
                created_at: Cow::Owned(rfc3339_millis(*created_ms)),
            })
            .collect();
        Ok(write(&views, next_after.flatten()))
    }

    pub async fn readiness(&self) -> Result<(), String> {
        self.database.readiness().await
    }
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
