use kub_store::JsonLinesStore;

use super::*;
use crate::tasks::COUNTED_ID_DIGITS;

/// An index of tasks 1, 2, … owned in turn by `owners`; task n's line is at byte 100 n.
fn index_of(owners: &[&str]) -> Tasks {
    let mut tasks = Tasks::new(Quota {
        max_tasks: usize::MAX,
        max_bytes: u64::MAX,
    });
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
    let quota = Quota {
        max_tasks: 3,
        max_bytes: u64::MAX,
    };
    let open = || JsonLinesStore::open(dir.path(), "tasks.jsonl", Tasks::new(quota), None);
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
            Err(AppendError::Conflict(QuotaReached::Tasks { limit })) => assert_eq!(limit, 3),
            Err(AppendError::Conflict(other)) => panic!("{other:?}"),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_bytes_are_held_to_the_quota_even_when_appends_race_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let one = counted_bytes_of(&Task {
        id: 1,
        owner: "a".into(),
        title: "t".into(),
        text: "x".into(),
        created_at: "2025-01-01T00:00:00.000Z".into(),
    });
    let quota = Quota {
        max_tasks: usize::MAX,
        max_bytes: 3 * one + one / 2,
    };
    let open = || JsonLinesStore::open(dir.path(), "tasks.jsonl", Tasks::new(quota), None);
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
            Err(AppendError::Conflict(QuotaReached::Bytes {
                used,
                needed,
                limit,
            })) => assert_eq!((used, needed, limit), (3 * one, one, quota.max_bytes)),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(stored, 3);
    assert_eq!(store.read(|tasks| tasks.owned_bytes("a")), 3 * one);
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
    assert_eq!(reopened.read(|tasks| tasks.owned_bytes("a")), 3 * one);
    let file = std::fs::metadata(dir.path().join("tasks.jsonl"))
        .unwrap()
        .len();
    let ids_widened = 4 * (COUNTED_ID_DIGITS - 1);
    assert_eq!(
        file + ids_widened,
        4 * one,
        "the lines on disk, ids counted at 20 digits"
    );
    assert!(matches!(
        reopened.append(draft("a")).await,
        Err(AppendError::Conflict(QuotaReached::Bytes { .. }))
    ));
}
