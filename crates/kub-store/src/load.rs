//! Reading a JSON-lines file back at start-up, and repairing a torn tail.

use std::{
    fs::{self, File, OpenOptions},
    io,
    path::Path,
};

use serde::de::DeserializeOwned;

use super::StoreError;

/// What was read: the records, and the length of the file once any torn tail is cut off.
pub(super) struct Loaded<R> {
    pub records: Vec<R>,
    pub valid_len: u64,
    pub dropped_bytes: u64,
}

/// Parses every line of `path` (a missing file is an empty store).
///
/// Only a crash in the middle of an append can leave bad bytes, and only at the end of the
/// file: a last line without its newline, or a run of unparseable lines with nothing valid
/// after them (a filesystem may also leave zeros there). That tail was never acknowledged
/// to anyone, so it is dropped with a warning. A bad line with valid lines after it is
/// damage of another kind, and we refuse to start rather than silently lose data.
pub(super) fn read_records<R: DeserializeOwned + Send>(
    path: &Path,
) -> Result<Loaded<R>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(StoreError::io(path, error)),
    };
    // Parsing dominates start-up for a large store; every core takes a slice of whole lines.
    let parsed: Vec<ChunkParse<R>> = std::thread::scope(|scope| {
        let workers: Vec<_> = chunks(&bytes)
            .into_iter()
            .map(|(start, chunk)| scope.spawn(move || parse_chunk(chunk, start)))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a parser thread panicked"))
            .collect()
    });

    let corrupt = |line: usize, reason: &str| StoreError::Corrupt {
        path: path.to_owned(),
        line,
        reason: format!("{reason}; valid lines follow it, so this is not a torn write"),
    };
    let mut records = Vec::with_capacity(parsed.iter().map(|chunk| chunk.records.len()).sum());
    let mut lines_before = 0;
    let mut first_bad: Option<(usize, usize, String)> = None; // (byte offset, line number, reason)
    for chunk in parsed {
        if let Some((_, line, reason)) = &first_bad {
            if !chunk.records.is_empty() || chunk.valid_after_bad {
                return Err(corrupt(*line, reason));
            }
        } else {
            records.extend(chunk.records);
            if let Some(bad) = chunk.first_bad {
                let line = lines_before + bad.line + 1;
                if chunk.valid_after_bad {
                    return Err(corrupt(line, &bad.reason));
                }
                first_bad = Some((bad.offset, line, bad.reason));
            }
        }
        lines_before += chunk.lines;
    }
    let valid_len = first_bad
        .as_ref()
        .map_or(bytes.len(), |(start, _, _)| *start);
    if let Some((_, line, reason)) = &first_bad {
        tracing::warn!(
            path = %path.display(),
            line,
            reason,
            dropped_bytes = bytes.len() - valid_len,
            "dropping a torn tail left by an interrupted write"
        );
    }
    Ok(Loaded {
        records,
        valid_len: valid_len as u64,
        dropped_bytes: (bytes.len() - valid_len) as u64,
    })
}

/// One slice of the file, parsed: its records up to its first bad line, if any.
struct ChunkParse<R> {
    records: Vec<R>,
    lines: usize,
    first_bad: Option<BadLine>,
    /// A valid line follows the bad one inside this slice.
    valid_after_bad: bool,
}

struct BadLine {
    /// Byte offset in the whole file.
    offset: usize,
    /// Line index inside the slice, from 0.
    line: usize,
    reason: String,
}

fn parse_chunk<R: DeserializeOwned>(bytes: &[u8], start: usize) -> ChunkParse<R> {
    let mut parse = ChunkParse {
        records: Vec::new(),
        lines: 0,
        first_bad: None,
        valid_after_bad: false,
    };
    let mut offset = start;
    for (index, line) in bytes.split_inclusive(|byte| *byte == b'\n').enumerate() {
        parse.lines += 1;
        let parsed = match line.strip_suffix(b"\n") {
            Some(json) => serde_json::from_slice::<R>(json).map_err(|error| error.to_string()),
            None => Err("the line has no trailing newline".to_owned()),
        };
        match (parsed, &parse.first_bad) {
            (Ok(record), None) => parse.records.push(record),
            (Ok(_), Some(_)) => {
                parse.valid_after_bad = true;
                return parse;
            }
            (Err(reason), None) => {
                parse.first_bad = Some(BadLine {
                    offset,
                    line: index,
                    reason,
                });
            }
            (Err(_), Some(_)) => {}
        }
        offset += line.len();
    }
    parse
}

/// Whole-line slices of `bytes`, one per core for a large file, each with its byte offset.
fn chunks(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    const SMALL: usize = 1 << 20;
    let parts = if bytes.len() < SMALL {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    let mut slices = Vec::with_capacity(parts);
    let mut start = 0;
    for part in 1..=parts {
        let mut end = (bytes.len() * part / parts).max(start);
        if part < parts {
            end = bytes[end..]
                .iter()
                .position(|byte| *byte == b'\n')
                .map_or(bytes.len(), |newline| end + newline + 1);
        } else {
            end = bytes.len();
        }
        slices.push((start, &bytes[start..end]));
        start = end;
    }
    slices
}

/// Opens the file for appending, cut back to `valid_len` and flushed, so the next line
/// starts on a clean boundary.
pub(super) fn open_for_append(
    path: &Path,
    valid_len: u64,
    truncate: bool,
) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| StoreError::io(path, error))?;
    file.try_lock()
        .map_err(|_| StoreError::Locked(path.to_owned()))?;
    if truncate {
        file.set_len(valid_len)
            .and_then(|()| file.sync_all())
            .map_err(|error| StoreError::io(path, error))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        n: u32,
    }

    fn load(content: &[u8]) -> Result<Loaded<Row>, StoreError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.jsonl");
        File::create(&path).unwrap().write_all(content).unwrap();
        read_records(&path)
    }

    fn numbers(loaded: &Loaded<Row>) -> Vec<u32> {
        loaded.records.iter().map(|row| row.n).collect()
    }

    #[test]
    fn a_missing_file_is_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let loaded: Loaded<Row> = read_records(&dir.path().join("absent.jsonl")).unwrap();
        assert!(loaded.records.is_empty());
        assert_eq!(loaded.valid_len, 0);
    }

    #[test]
    fn whole_lines_load_in_order() {
        let loaded = load(b"{\"n\":1}\n{\"n\":2}\n").unwrap();
        assert_eq!(numbers(&loaded), [1, 2]);
        assert_eq!(loaded.valid_len, 16);
        assert_eq!(loaded.dropped_bytes, 0);
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
    fn slices_cover_the_file_on_line_boundaries() {
        let content: Vec<u8> = (0..200_000)
            .flat_map(|n| format!("{{\"n\":{n}}}\n").into_bytes())
            .collect();
        let slices = chunks(&content);
        assert_eq!(
            slices.iter().map(|(_, slice)| slice.len()).sum::<usize>(),
            content.len()
        );
        for (start, slice) in &slices {
            assert!(*start == 0 || content[start - 1] == b'\n');
            assert_eq!(&content[*start..*start + slice.len()], *slice);
        }
        let loaded = load(&content).unwrap();
        assert_eq!(numbers(&loaded), (0..200_000).collect::<Vec<u32>>());
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
    fn truncation_cuts_the_file_back_to_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.jsonl");
        fs::write(&path, b"{\"n\":1}\n{\"n\"").unwrap();
        let loaded: Loaded<Row> = read_records(&path).unwrap();
        drop(open_for_append(&path, loaded.valid_len, true).unwrap());
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
}
