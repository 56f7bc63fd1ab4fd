//! The tasks collection: one JSON line per task; in memory, each owner's tasks in id order,
//! so a page is a binary search and a slice whatever the store's size.

use std::{collections::HashMap, convert::Infallible};

use kub_store::Collection;
use serde::{Deserialize, Serialize};

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

pub struct NewTask {
    pub owner: String,
    pub title: String,
    pub text: String,
}

#[derive(Default)]
pub struct Tasks {
    by_owner: HashMap<String, Vec<Task>>,
    last_id: u64,
    count: usize,
}

/// Up to `limit` of one owner's tasks after the cursor, oldest first.
pub struct Page {
    pub tasks: Vec<Task>,
    /// The cursor for the next page, when there is one.
    pub next_after: Option<u64>,
}

impl Tasks {
    pub fn page(&self, owner: &str, after: Option<u64>, limit: usize) -> Page {
        let owned = self.by_owner.get(owner).map_or(&[][..], Vec::as_slice);
        let start = after.map_or(0, |after| owned.partition_point(|task| task.id <= after));
        let tasks: Vec<Task> = owned[start..].iter().take(limit).cloned().collect();
        let next_after = (start + tasks.len() < owned.len())
            .then(|| tasks.last().map(|task| task.id))
            .flatten();
        Page { tasks, next_after }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl Collection for Tasks {
    type Record = Task;
    type Draft = NewTask;
    /// Tasks never conflict.
    type Conflict = Infallible;

    fn admit(&self, draft: NewTask, pending: &[Task]) -> Result<Task, Infallible> {
        let id = pending.last().map_or(self.last_id, |task| task.id) + 1;
        Ok(Task {
            id,
            owner: draft.owner,
            title: draft.title,
            text: draft.text,
            created_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        })
    }

    fn insert(&mut self, task: Task) {
        self.last_id = self.last_id.max(task.id);
        self.count += 1;
        // `entry` would need an owned key: an allocation per task even for a known owner.
        match self.by_owner.get_mut(&task.owner) {
            Some(owned) => owned.push(task),
            None => {
                self.by_owner.insert(task.owner.clone(), vec![task]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_of(owners: &[&str]) -> Tasks {
        let mut tasks = Tasks::default();
        for owner in owners {
            let task = tasks
                .admit(
                    NewTask {
                        owner: (*owner).into(),
                        title: "t".into(),
                        text: "x".into(),
                    },
                    &[],
                )
                .unwrap();
            tasks.insert(task);
        }
        tasks
    }

    fn ids(page: &Page) -> Vec<u64> {
        page.tasks.iter().map(|task| task.id).collect()
    }

    #[test]
    fn pages_walk_one_owners_tasks_in_order() {
        let tasks = store_of(&["a", "b", "a", "a", "b", "a"]);
        let first = tasks.page("a", None, 2);
        assert_eq!(ids(&first), [1, 3]);
        assert_eq!(first.next_after, Some(3));
        let second = tasks.page("a", first.next_after, 2);
        assert_eq!(ids(&second), [4, 6]);
        assert_eq!(second.next_after, None);
        assert_eq!(ids(&tasks.page("b", None, 10)), [2, 5]);
        assert!(tasks.page("nobody", None, 10).tasks.is_empty());
        assert!(tasks.page("a", Some(6), 10).tasks.is_empty());
        assert_eq!(
            ids(&tasks.page("a", Some(2), 10)),
            [3, 4, 6],
            "a cursor from another owner still works"
        );
    }
}
