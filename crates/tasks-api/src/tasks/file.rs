//! The tasks as a JSON-lines file: one line per task. In memory only an index: each owner's
//! task ids in order with where each line is (16 bytes a task), so a page is a binary search
//! and a few reads from the file whatever the store's size.

use std::{borrow::Cow, collections::HashMap};

use kub_store::{AppendError, Collection, JsonLinesStore, Location, StorageFailure, StoredRecords};
use serde::{Deserialize, de::IgnoredAny};

use super::{NewTask, Task, TaskLimitReached, TaskView};

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

#[derive(Clone)]
pub struct Tasks {
    by_owner: HashMap<Box<str>, Vec<Entry>>,
    last_id: u64,
    count: usize,
    max_per_owner: usize,
}

/// Where up to `limit` of one owner's tasks after the cursor are, oldest first.
pub struct Page {
    pub locations: Vec<Location>,
    /// The cursor for the next page, when there is one.
    pub next_after: Option<u64>,
}

impl Tasks {
    /// An empty index whose owners may each store up to `max_per_owner` tasks.
    pub fn new(max_per_owner: usize) -> Self {
        Self {
            by_owner: HashMap::new(),
            last_id: 0,
            count: 0,
            max_per_owner,
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
        self.by_owner.get(owner).map_or(&[][..], Vec::as_slice)
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
    type Conflict = TaskLimitReached;

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
    ) -> Result<Task, AppendError<TaskLimitReached>> {
        let owned = self.owned(&draft.owner).len()
            + pending
                .iter()
                .filter(|task| task.owner == draft.owner)
                .count();
        if owned >= self.max_per_owner {
            return Err(AppendError::Conflict(TaskLimitReached {
                limit: self.max_per_owner,
            }));
        }
        Ok(Task {
            id: pending.last().map_or(self.last_id, |task| task.id) + 1,
            owner: draft.owner,
            title: draft.title,
            text: draft.text,
            created_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        })
    }

    fn index(&mut self, key: TaskKey<'_>, at: Location) {
        self.last_id = self.last_id.max(key.id);
        self.count += 1;
        let entry = Entry { id: key.id, at };
        // `entry()` would need an owned key: an allocation per task even for a known owner.
        match self.by_owner.get_mut(&*key.owner) {
            Some(owned) => owned.push(entry),
            None => {
                self.by_owner.insert(key.owner.into(), vec![entry]);
            }
        }
    }

    fn absorb(&mut self, later: Self) {
        self.last_id = self.last_id.max(later.last_id);
        self.count += later.count;
        for (owner, entries) in later.by_owner {
            match self.by_owner.get_mut(&owner) {
                Some(owned) => owned.extend(entries),
                None => {
                    self.by_owner.insert(owner, entries);
                }
            }
        }
    }

    fn shrink_to_fit(&mut self) {
        self.by_owner.values_mut().for_each(Vec::shrink_to_fit);
        self.by_owner.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use kub_store::JsonLinesStore;

    use super::*;

    /// An index of tasks 1, 2, … owned in turn by `owners`; task n's line is at byte 100 n.
    fn index_of(owners: &[&str]) -> Tasks {
        let mut tasks = Tasks::new(usize::MAX);
        for (id, owner) in (1..).zip(owners) {
            let key = TaskKey {
                id,
                owner: Cow::Borrowed(owner),
                title: IgnoredAny,
                text: IgnoredAny,
                created_at: IgnoredAny,
            };
            tasks.index(key, Location::new(100 * id, 10).unwrap());
        }
        tasks
    }

    fn ids(page: &Page) -> Vec<u64> {
        page.locations.iter().map(|at| at.offset() / 100).collect()
    }

    #[test]
    fn pages_walk_one_owners_tasks_in_order() {
        let tasks = index_of(&["a", "b", "a", "a", "b", "a"]);
        let first = tasks.page("a", None, 2);
        assert_eq!(ids(&first), [1, 3]);
        assert_eq!(first.next_after, Some(3));
        let second = tasks.page("a", first.next_after, 2);
        assert_eq!(ids(&second), [4, 6]);
        assert_eq!(second.next_after, None);
        assert_eq!(ids(&tasks.page("b", None, 10)), [2, 5]);
        assert!(tasks.page("nobody", None, 10).locations.is_empty());
        assert!(tasks.page("a", Some(6), 10).locations.is_empty());
        assert_eq!(
            ids(&tasks.page("a", Some(2), 10)),
            [3, 4, 6],
            "a cursor from another owner still works"
        );
    }

    fn draft(owner: &str) -> NewTask {
        NewTask {
            owner: owner.into(),
            title: "t".into(),
            text: "x".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_owner_stores_at_most_the_limit_even_when_appends_race_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let open = || JsonLinesStore::open(dir.path(), "tasks.jsonl", Tasks::new(3), None);
        let store = open().await.unwrap();
        let racing: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.append(draft("a")).await })
            })
            .collect();
        let mut stored = 0;
        for append in racing {
            match append.await.unwrap() {
                Ok(_) => stored += 1,
                Err(AppendError::Conflict(TaskLimitReached { limit })) => assert_eq!(limit, 3),
                Err(AppendError::Storage(failure)) => panic!("{failure:?}"),
            }
        }
        assert_eq!(stored, 3);
        assert!(
            store.append(draft("b")).await.is_ok(),
            "others are not held back"
        );
        drop(store);

        let reopened = loop {
            match open().await {
                Ok(store) => break store,
                Err(kub_store::StoreError::Locked(_)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(other) => panic!("{other}"),
            }
        };
        assert_eq!(reopened.read(Tasks::len), 4);
        assert!(matches!(
            reopened.append(draft("a")).await,
            Err(AppendError::Conflict(_))
        ));
        let page = reopened.read(|tasks| tasks.page("a", None, 10));
        let owners: Vec<String> = reopened
            .fetch(&page.locations)
            .unwrap()
            .into_iter()
            .map(|task| task.owner)
            .collect();
        assert_eq!(owners, ["a", "a", "a"]);
    }
}
