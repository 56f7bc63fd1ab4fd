//! The tasks in PostgreSQL, table `tasks.tasks` (`migrations/`).
//!
//! One owner's inserts take turns under a transaction-scoped advisory lock on that owner, which
//! gives the file store's two promises across replicas: the per-owner cap is counted with no
//! insert racing it, and an owner's ids are committed in increasing order (an id is drawn
//! under the lock), so a reader's cursor never passes a task that commits later.

use std::borrow::Cow;

use kub_postgres::{Database, DatabaseSettings, rfc3339_millis};
use kub_store::{AppendError, StorageFailure};
use sqlx::migrate::Migrator;

use super::{NewTask, Task, TaskLimitReached, TaskView};
use crate::SERVICE;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The first key of the owners' advisory locks (two-key locks never collide with one-key
/// ones, such as the schema lock of `kub_postgres`): "task" in ASCII.
const OWNER_LOCKS: i32 = 0x7461_736b;

#[derive(Clone)]
pub struct PostgresTasks {
    database: Database,
    max_per_owner: usize,
}

/// A task row: id, title, text, created_at in ms since the epoch.
type Row = (i64, String, String, i64);

impl PostgresTasks {
    pub async fn connect(
        settings: &DatabaseSettings,
        max_per_owner: usize,
    ) -> Result<Self, kub_postgres::ConnectError> {
        let database = Database::connect(settings, SERVICE, "tasks", &MIGRATIONS).await?;
        Ok(Self {
            database,
            max_per_owner,
        })
    }

    pub async fn create(&self, new: NewTask) -> Result<Task, AppendError<TaskLimitReached>> {
        let stored = self
            .database
            .run("create task", self.insert_under_owner_lock(new))
            .await;
        match stored {
            Ok(Ok(task)) => Ok(task),
            Ok(Err(limit)) => Err(AppendError::Conflict(limit)),
            Err(error) => Err(AppendError::Storage(error.into())),
        }
    }

    async fn insert_under_owner_lock(
        &self,
        new: NewTask,
    ) -> Result<Result<Task, TaskLimitReached>, sqlx::Error> {
        let mut transaction = self.database.pool().begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(OWNER_LOCKS)
            .bind(&new.owner)
            .execute(&mut *transaction)
            .await?;
        let owned: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE owner = $1")
            .bind(&new.owner)
            .fetch_one(&mut *transaction)
            .await?;
        if usize::try_from(owned).unwrap_or(usize::MAX) >= self.max_per_owner {
            return Ok(Err(TaskLimitReached {
                limit: self.max_per_owner,
            }));
        }
        let (id, created_ms): (i64, i64) = sqlx::query_as(
            "INSERT INTO tasks (owner, title, text) VALUES ($1, $2, $3) \
             RETURNING id, (extract(epoch FROM created_at) * 1000)::int8",
        )
        .bind(&new.owner)
        .bind(&new.title)
        .bind(&new.text)
        .fetch_one(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(Ok(Task {
            id: id.unsigned_abs(),
            owner: new.owner,
            title: new.title,
            text: new.text,
            created_at: rfc3339_millis(created_ms),
        }))
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
