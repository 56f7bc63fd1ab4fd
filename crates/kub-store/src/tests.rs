use std::{borrow::Cow, collections::HashMap, fs, path::Path};

use serde::{Deserialize, Serialize};

use super::*;

/// A tiny collection with both rules the real ones have: sequential ids, unique names.
#[derive(Clone, Default)]
struct Names {
    by_name: HashMap<String, Location>,
    last_id: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Named {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct NamedKey<'line> {
    id: u64,
    #[serde(borrow)]
    name: Cow<'line, str>,
}

impl Collection for Names {
    type Record = Named;
    type Key<'line> = NamedKey<'line>;
    type Draft = String;
    type Conflict = String;

    fn key(record: &Named) -> NamedKey<'_> {
        NamedKey {
            id: record.id,
            name: Cow::Borrowed(&record.name),
        }
    }

    fn admit(
        &self,
        name: String,
        pending: &[Named],
        _stored: &StoredRecords<Named>,
    ) -> Result<Named, AppendError<String>> {
        if self.by_name.contains_key(&name) || pending.iter().any(|record| record.name == name) {
            return Err(AppendError::Conflict(name));
        }
        let id = pending.last().map_or(self.last_id, |record| record.id) + 1;
        Ok(Named { id, name })
    }

    fn index(&mut self, key: NamedKey<'_>, at: Location) {
        self.last_id = key.id;
        self.by_name.insert(key.name.into_owned(), at);
    }

    fn absorb(&mut self, later: Self) {
        self.last_id = later.last_id.max(self.last_id);
        self.by_name.extend(later.by_name);
    }
}

async fn open(folder: &Path) -> Result<JsonLinesStore<Names>, StoreError> {
    JsonLinesStore::open(folder, "names.jsonl", Names::default(), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_each_stored_once_as_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await.unwrap();
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
    let store = open(dir.path()).await.unwrap();
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
        let store = open(dir.path()).await.unwrap();
        store.append("ana".into()).await.map_err(|_| ()).unwrap();
        store.append("bob".into()).await.map_err(|_| ()).unwrap();
    }
    // The writer thread releases the file lock once the last handle is gone.
    let store = reopen(dir.path()).await;
    assert_eq!(store.read(|names| names.by_name.len()), 2);
    let next = store.append("cy".into()).await.map_err(|_| ()).unwrap();
    assert_eq!(next.id, 3);
}

async fn reopen(folder: &Path) -> JsonLinesStore<Names> {
    for _ in 0..100 {
        match open(folder).await {
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
    let store = open(dir.path()).await.unwrap();
    assert_eq!(store.read(|names| names.by_name.len()), 1);
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
    let _first = open(dir.path()).await.unwrap();
    let second = open(dir.path()).await;
    assert!(matches!(second, Err(StoreError::Locked(_))));
}

#[tokio::test]
async fn readiness_probe_sees_a_writable_folder_and_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await.unwrap();
    assert!(store.is_writable().await);
    let entries: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["names.jsonl"]);
}

#[tokio::test]
async fn records_are_read_back_from_the_file_by_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await.unwrap();
    for name in ["ana", "bob", "cy"] {
        store.append(name.into()).await.map_err(|_| ()).unwrap();
    }
    let wanted = store.read(|names| vec![names.by_name["cy"], names.by_name["ana"]]);
    let records = store.fetch(&wanted).unwrap();
    let names: Vec<&str> = records.iter().map(|record| record.name.as_str()).collect();
    assert_eq!(names, ["cy", "ana"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_at_its_budget_refuses_appends_and_keeps_every_stored_record() {
    const BUDGET: u64 = 1000;
    let dir = tempfile::tempdir().unwrap();
    let store = JsonLinesStore::open(dir.path(), "names.jsonl", Names::default(), Some(BUDGET))
        .await
        .unwrap();
    let writers: Vec<_> = (0..100)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { (n, store.append(format!("name-{n:03}")).await) })
        })
        .collect();
    let mut stored = Vec::new();
    let mut refused = 0;
    for writer in writers {
        match writer.await.unwrap() {
            (_, Ok(record)) => stored.push(record.name),
            (_, Err(AppendError::Storage(StorageFailure::BudgetReached))) => refused += 1,
            (n, Err(other)) => panic!("append {n}: {other:?}"),
        }
    }
    assert!(refused > 0 && !stored.is_empty(), "{refused} refused");
    let file_len = fs::metadata(store.path()).unwrap().len();
    assert!(file_len <= BUDGET, "the file has {file_len} bytes");
    assert!(
        file_len > BUDGET - 40,
        "the budget is used up to the last whole record"
    );
    assert_eq!(
        store.usage(),
        Usage {
            bytes: file_len,
            budget: Some(BUDGET)
        }
    );
    drop(store);

    let reopened = reopen(dir.path()).await;
    let all: Vec<Location> = reopened.read(|names| names.by_name.values().copied().collect());
    let mut names: Vec<String> = reopened
        .fetch(&all)
        .unwrap()
        .into_iter()
        .map(|record| record.name)
        .collect();
    names.sort();
    stored.sort();
    assert_eq!(names, stored, "every acknowledged record, intact");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn the_file_and_a_folder_the_store_creates_are_the_services_alone() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("users");
    let store = open(&folder).await.unwrap();
    store.append("ana".into()).await.map_err(|_| ()).unwrap();
    assert_eq!(mode(store.path()), FILE_MODE, "{:o}", mode(store.path()));
    assert_eq!(mode(&folder), FOLDER_MODE, "{:o}", mode(&folder));
}

#[tokio::test]
async fn an_older_file_others_may_read_is_tightened_and_keeps_its_records() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.jsonl");
    fs::write(&path, "{\"id\":1,\"name\":\"ana\"}\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let store = open(dir.path()).await.unwrap();
    assert_eq!(mode(&path), 0o600, "{:o}", mode(&path));
    assert_eq!(
        mode(dir.path()),
        0o755,
        "an existing folder is left as it is"
    );
    assert_eq!(store.read(|names| names.by_name.len()), 1);
}
