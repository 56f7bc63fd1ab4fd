use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::*;

/// A tiny collection with both rules the real ones have: sequential ids, unique names.
#[derive(Default)]
struct Names {
    names: HashSet<String>,
    last_id: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Named {
    id: u64,
    name: String,
}

impl Collection for Names {
    type Record = Named;
    type Draft = String;
    type Conflict = String;

    fn admit(&self, name: String, pending: &[Named]) -> Result<Named, String> {
        if self.names.contains(&name) || pending.iter().any(|record| record.name == name) {
            return Err(name);
        }
        let id = pending.last().map_or(self.last_id, |record| record.id) + 1;
        Ok(Named { id, name })
    }

    fn insert(&mut self, record: Named) {
        self.last_id = record.id;
        self.names.insert(record.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_each_stored_once_as_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonLinesStore::<Names>::open(dir.path(), "names.jsonl")
        .await
        .unwrap();
    let writers = (0..200).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append(format!("name-{n}"))
                .await
                .map_err(|_| ())
                .unwrap()
        })
    });
    let mut ids: Vec<u64> = futures_ids(writers).await;
    ids.sort_unstable();
    assert_eq!(ids, (1..=200).collect::<Vec<_>>());

    let text = fs::read_to_string(store.path()).unwrap();
    let lines: Vec<Named> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 200);
    assert!(text.ends_with('\n'));
    let file_ids: Vec<u64> = lines.iter().map(|record| record.id).collect();
    assert_eq!(
        file_ids,
        (1..=200).collect::<Vec<_>>(),
        "ids follow file order"
    );
}

async fn futures_ids(tasks: impl Iterator<Item = tokio::task::JoinHandle<Named>>) -> Vec<u64> {
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().id);
    }
    ids
}

#[tokio::test]
async fn conflicts_are_refused_within_a_batch_and_against_stored_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonLinesStore::<Names>::open(dir.path(), "names.jsonl")
        .await
        .unwrap();
    let (first, second) = tokio::join!(store.append("ana".into()), store.append("ana".into()));
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly one of two racing appends wins"
    );
    assert!(
        matches!(store.append("ana".into()).await, Err(AppendError::Conflict(name)) if name == "ana")
    );
    assert_eq!(fs::read_to_string(store.path()).unwrap().lines().count(), 1);
}

#[tokio::test]
async fn reopening_loads_what_was_stored_and_continues_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = JsonLinesStore::<Names>::open(dir.path(), "names.jsonl")
            .await
            .unwrap();
        store.append("ana".into()).await.map_err(|_| ()).unwrap();
        store.append("bob".into()).await.map_err(|_| ()).unwrap();
    }
    // The writer thread releases the file lock once the last handle is gone.
    let store = reopen(dir.path()).await;
    assert_eq!(store.read(|names| names.names.len()), 2);
    let next = store.append("cy".into()).await.map_err(|_| ()).unwrap();
    assert_eq!(next.id, 3);
}

async fn reopen(folder: &Path) -> JsonLinesStore<Names> {
    for _ in 0..100 {
        match JsonLinesStore::<Names>::open(folder, "names.jsonl").await {
            Ok(store) => return store,
            Err(StoreError::Locked(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            Err(other) => panic!("{other}"),
        }
    }
    panic!("the store stayed locked");
}

#[tokio::test]
async fn a_torn_tail_is_dropped_and_the_next_append_starts_a_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.jsonl");
    fs::write(&path, "{\"id\":1,\"name\":\"ana\"}\n{\"id\":2,\"na").unwrap();
    let store = JsonLinesStore::<Names>::open(dir.path(), "names.jsonl")
        .await
        .unwrap();
    assert_eq!(store.read(|names| names.names.len()), 1);
    let record = store.append("bob".into()).await.map_err(|_| ()).unwrap();
    assert_eq!(record.id, 2);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\"id\":1,\"name\":\"ana\"}\n{\"id\":2,\"name\":\"bob\"}\n"
    );
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let _first = JsonLinesStore::<Names>::open(dir.path(), "names.jsonl")
        .await
        .unwrap();
    let second = JsonLinesStore::<Names>::open(dir.path(), "names.jsonl").await;
    assert!(matches!(second, Err(StoreError::Locked(_))));
}

#[tokio::test]
async fn readiness_probe_sees_a_writable_folder_and_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonLinesStore::<Names>::open(dir.path(), "names.jsonl")
        .await
        .unwrap();
    assert!(store.is_writable().await);
    let entries: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["names.jsonl"]);
}
