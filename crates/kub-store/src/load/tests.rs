use std::io::Write;

use serde::Deserialize;

use super::*;
use crate::{AppendError, StoredRecords};

/// Indexes `{"n": …}` lines: the numbers in file order, and where each line is.
#[derive(Clone, Default)]
struct Rows {
    numbers: Vec<u32>,
    locations: Vec<Location>,
}

#[derive(Debug, serde::Serialize, Deserialize, PartialEq)]
struct Row {
    n: u32,
}

impl Collection for Rows {
    type Record = Row;
    type Key<'line> = Row;
    type Draft = Row;
    type Conflict = ();

    fn key(record: &Row) -> Row {
        Row { n: record.n }
    }

    fn admit(
        &self,
        draft: Row,
        _pending: &[Row],
        _stored: &StoredRecords<Row>,
    ) -> Result<Row, AppendError<()>> {
        Ok(draft)
    }

    fn index(&mut self, key: Row, at: Location) {
        self.numbers.push(key.n);
        self.locations.push(at);
    }

    fn absorb(&mut self, later: Self) {
        self.numbers.extend(later.numbers);
        self.locations.extend(later.locations);
    }
}

fn load(content: &[u8]) -> Result<Loaded<Rows>, StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    File::create(&path).unwrap().write_all(content).unwrap();
    index_file(&path, &Rows::default())
}

fn numbers(loaded: &Loaded<Rows>) -> Vec<u32> {
    loaded.collection.numbers.clone()
}

#[test]
fn a_missing_file_is_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = index_file(&dir.path().join("absent.jsonl"), &Rows::default()).unwrap();
    assert!(loaded.collection.numbers.is_empty());
    assert_eq!(loaded.valid_len, 0);
}

#[test]
fn whole_lines_are_indexed_in_order_with_their_locations() {
    let loaded = load(b"{\"n\":1}\n{\"n\":22}\n").unwrap();
    assert_eq!(numbers(&loaded), [1, 22]);
    assert_eq!(loaded.records, 2);
    assert_eq!(loaded.valid_len, 17);
    assert_eq!(loaded.dropped_bytes, 0);
    let spans: Vec<(u64, u64)> = loaded
        .collection
        .locations
        .iter()
        .map(|at| (at.offset(), at.len()))
        .collect();
    assert_eq!(spans, [(0, 7), (8, 8)]);
}

#[test]
fn a_last_line_without_newline_is_dropped_even_if_it_parses() {
    let loaded = load(b"{\"n\":1}\n{\"n\":2}").unwrap();
    assert_eq!(numbers(&loaded), [1]);
    assert_eq!(loaded.valid_len, 8);
    assert_eq!(loaded.dropped_bytes, 7);
}

#[test]
fn a_torn_tail_of_garbage_or_zeros_is_dropped() {
    for tail in [
        &b"{\"n\":"[..],
        b"\0\0\0\0",
        b"{\"n\":2\n\0\0",
        b"garbage\n",
    ] {
        let mut content = b"{\"n\":1}\n".to_vec();
        content.extend_from_slice(tail);
        let loaded = load(&content).unwrap();
        assert_eq!(numbers(&loaded), [1], "tail {tail:?}");
        assert_eq!(loaded.valid_len, 8);
    }
}

#[test]
fn damage_followed_by_valid_lines_refuses_to_load() {
    let error = load(b"{\"n\":1}\nnot json\n{\"n\":3}\n").err().unwrap();
    match error {
        StoreError::Corrupt { line, .. } => assert_eq!(line, 2),
        other => panic!("expected Corrupt, got {other}"),
    }
}

#[test]
fn a_large_file_is_indexed_in_stretches_on_line_boundaries() {
    let content: Vec<u8> = (0..200_000)
        .flat_map(|n| format!("{{\"n\":{n}}}\n").into_bytes())
        .collect();
    assert!(content.len() as u64 > PARALLEL_FROM);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    fs::write(&path, &content).unwrap();
    let ranges = stretches(&path, content.len() as u64).unwrap();
    assert_eq!(ranges.first().map(|range| range.0), Some(0));
    assert_eq!(
        ranges.last().map(|range| range.1),
        Some(content.len() as u64)
    );
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "stretches are contiguous");
    }
    for (start, _) in &ranges {
        assert!(*start == 0 || content[*start as usize - 1] == b'\n');
    }

    let loaded = load(&content).unwrap();
    assert_eq!(numbers(&loaded), (0..200_000).collect::<Vec<u32>>());
    let records = StoredRecords::<Row>::open(&path).unwrap();
    let last = *loaded.collection.locations.last().unwrap();
    assert_eq!(records.get(last).unwrap(), Row { n: 199_999 });

    let mut damaged = content.clone();
    damaged[content.len() / 2] = b'#';
    let error = load(&damaged)
        .err()
        .expect("damage in the middle of a large file");
    assert!(
        matches!(error, StoreError::Corrupt { line, .. } if line > 1000),
        "{error}"
    );
}

#[test]
fn cut_back_leaves_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    fs::write(&path, b"{\"n\":1}\n{\"n\"").unwrap();
    let loaded = index_file(&path, &Rows::default()).unwrap();
    let file = open_locked(&path).unwrap();
    cut_back(&file, &path, loaded.valid_len).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"{\"n\":1}\n");
}

use proptest::prelude::*;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn arbitrary_bytes_never_panic(content in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = load(&content);
    }

    #[test]
    fn whole_lines_then_a_torn_tail_load_exactly_the_whole_lines(
        written in proptest::collection::vec(0u32..1000, 0..20),
        tail in proptest::collection::vec(proptest::num::u8::ANY.prop_filter("no newline", |b| *b != b'\n'), 0..64),
    ) {
        let mut content: Vec<u8> = written.iter().flat_map(|n| format!("{{\"n\":{n}}}\n").into_bytes()).collect();
        let whole = content.len() as u64;
        content.extend_from_slice(&tail);
        let loaded = load(&content).unwrap();
        prop_assert_eq!(numbers(&loaded), written.clone());
        prop_assert_eq!(loaded.valid_len, whole);
        prop_assert_eq!(loaded.dropped_bytes, tail.len() as u64);
    }
}
