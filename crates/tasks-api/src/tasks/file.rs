//! The tasks as a JSON-lines file: one line per task. In memory only an index: each owner's
//! task ids in order with where each line is (16 bytes a task), so a page is a binary search
//! and a few reads from the file whatever the store's size, and the bytes their lines take
//! (for `MAX_BYTES_PER_USER`).

use std::{borrow::Cow, collections::HashMap};

use kub_store::{AppendError, Collection, JsonLinesStore, Location, StorageFailure, StoredRecords};
use serde::{Deserialize, de::IgnoredAny};

use super::{NewTask, Quota, QuotaReached, Task, TaskView, counted_bytes, counted_bytes_of};

/// What start-up reads of each line: the fields the index needs, and the others only
/// checked to be there.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "the ignored fields are there to be required")]
pub struct TaskKey<'line> {
    id: u64,
    #[serde(borrow, default)]
    owner: Cow<'line, str>,
    title: IgnoredAny,
    text: IgnoredAny,
    created_at: IgnoredAny,
}

#[derive(Clone, Copy)]
struct Entry {
    id: u64,
    at: Location,
}

/// One owner's tasks, oldest first, and what they count against the byte quota.
#[derive(Clone)]
struct Owned {
    entries: Vec<Entry>,
    bytes: u64,
}

#[derive(Clone)]
pub struct Tasks {
    by_owner: HashMap<Box<str>, Owned>,
    last_id: u64,
    count: usize,
    quota: Quota,
}

/// Where up to `limit` of one owner's tasks after the cursor are, oldest first.
pub struct Page {
    pub locations: Vec<Location>,
    /// The cursor for the next page, when there is one.
    pub next_after: Option<u64>,
}

impl Tasks {
    /// An empty index whose owners may each store up to their `quota`.
    pub fn new(quota: Quota) -> Self {
        Self {
            by_owner: HashMap::new(),
            last_id: 0,
            count: 0,
            quota,
        }
    }

    pub fn page(&self, owner: &str, after: Option<u64>, limit: usize) -> Page {
        let owned = self.owned(owner);
        let start = after.map_or(0, |after| owned.partition_point(|task| task.id <= after));
        let page = &owned[start..owned.len().min(start.saturating_add(limit))];
        let next_after = (start + page.len() < owned.len())
            .then(|| page.last().map(|task| task.id))
            .flatten();
        Page {
            locations: page.iter().map(|task| task.at).collect(),
            next_after,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn owned(&self, owner: &str) -> &[Entry] {
        self.by_owner
            .get(owner)
            .map_or(&[][..], |owned| owned.entries.as_slice())
    }

    fn owned_bytes(&self, owner: &str) -> u64 {
        self.by_owner.get(owner).map_or(0, |owned| owned.bytes)
    }
}

/// Calls `write` with one page of `owner`'s tasks, read as views borrowing from the stored
/// lines: no copy of a task's strings (a fifth of GET /tasks' CPU time when they were copied;
/// docs/performance.md).
pub fn page_of<T>(
    store: &JsonLinesStore<Tasks>,
    owner: &str,
    after: Option<u64>,
    limit: usize,
    write: impl FnOnce(&[TaskView<'_>], Option<u64>) -> T,
) -> Result<T, StorageFailure> {
    let page = store.read(|tasks| tasks.page(owner, after, limit));
    store
        .with_lines(&page.locations, |lines| {
            let views = lines
                .iter()
                .map(|line| serde_json::from_slice(line))
                .collect::<serde_json::Result<Vec<TaskView>>>()?;
            Ok(write(&views, page.next_after))
        })?
        .map_err(|error: serde_json::Error| {
            tracing::error!(%error, "a stored task does not parse");
            StorageFailure::Unavailable
        })
}

impl Collection for Tasks {
    type Record = Task;
    type Key<'line> = TaskKey<'line>;
    type Draft = NewTask;
    type Conflict = QuotaReached;

    fn key(task: &Task) -> TaskKey<'_> {
        TaskKey {
            id: task.id,
            owner: Cow::Borrowed(&task.owner),
            title: IgnoredAny,
            text: IgnoredAny,
            created_at: IgnoredAny,
        }
    }

    fn admit(
        &self,
        draft: NewTask,
        pending: &[Task],
        _stored: &StoredRecords<Task>,
    ) -> Result<Task, AppendError<QuotaReached>> {
        let pending_owned = || pending.iter().filter(|task| task.owner == draft.owner);
        let owned = self.owned(&draft.owner).len() + pending_owned().count();
        let used =
            self.owned_bytes(&draft.owner) + pending_owned().map(counted_bytes_of).sum::<u64>();
        if owned >= self.quota.max_tasks {
            return Err(AppendError::Conflict(QuotaReached::Tasks {
                limit: self.quota.max_tasks,
            }));
        }
        let task = Task {
            id: pending.last().map_or(self.last_id, |task| task.id) + 1,
            owner: draft.owner,
            title: draft.title,
            text: draft.text,
            created_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        };
        let needed = counted_bytes_of(&task);
        if used + needed > self.quota.max_bytes {
            return Err(AppendError::Conflict(QuotaReached::Bytes {
                used,
                needed,
                limit: self.quota.max_bytes,
            }));
        }
        Ok(task)
    }

    fn index(&mut self, key: TaskKey<'_>, at: Location) {
        self.last_id = self.last_id.max(key.id);
        self.count += 1;
        let entry = Entry { id: key.id, at };
        let bytes = counted_bytes(at.len(), key.id);
        // `entry()` would need an owned key: an allocation per task even for a known owner.
        match self.by_owner.get_mut(&*key.owner) {
            Some(owned) => {
                owned.entries.push(entry);
                owned.bytes += bytes;
            }
            None => {
                let entries = vec![entry];
                self.by_owner
                    .insert(key.owner.into(), Owned { entries, bytes });
            }
        }
    }

    fn absorb(&mut self, later: Self) {
        self.last_id = self.last_id.max(later.last_id);
        self.count += later.count;
        for (owner, later) in later.by_owner {
            match self.by_owner.get_mut(&owner) {
                Some(owned) => {
                    owned.entries.extend(later.entries);
                    owned.bytes += later.bytes;
                }
                None => {
                    self.by_owner.insert(owner, later);
                }
            }
        }
    }

    fn shrink_to_fit(&mut self) {
        self.by_owner
            .values_mut()
            .for_each(|owned| owned.entries.shrink_to_fit());
        self.by_owner.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests;
