//! Indexing the file at start-up, and repairing a torn tail.
//!
//! Only each line's key (the fields the index needs) is parsed, and the file is streamed
//! through a small buffer, so start-up memory is the index, never the file. Every core indexes
//! its own stretch of whole lines; the stretches' indexes are then joined in file order.

use std::{
    fs::{self, File, OpenOptions, Permissions},
    io::{self, BufRead, BufReader, Read, Seek, SeekFrom},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use crate::{Collection, FILE_MODE, Location, StoreError, location::MAX_LINE_BYTES};

const READ_BUFFER: usize = 1 << 20;
/// Below this, one thread indexes the whole file.
const PARALLEL_FROM: u64 = 1 << 20;

/// The file's index, and the length of the file once any torn tail is cut off.
pub(crate) struct Loaded<C> {
    pub collection: C,
    pub records: usize,
    pub valid_len: u64,
    pub dropped_bytes: u64,
}

/// Indexes every line of `path` into a clone of `empty` (a missing file is an empty store).
///
/// Only a crash in the middle of an append can leave bad bytes, and only at the end of the
/// file: a last line without its newline, or a run of unparseable lines with nothing valid
/// after them (a filesystem may also leave zeros there). That tail was never acknowledged
/// to anyone, so it is dropped with a warning. A bad line with valid lines after it is
/// damage of another kind, and we refuse to start rather than silently lose data.
pub(crate) fn index_file<C: Collection>(path: &Path, empty: &C) -> Result<Loaded<C>, StoreError> {
    let len = match fs::metadata(path) {
        Ok(metadata) => metadata.len(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
        Err(error) => return Err(StoreError::io(path, error)),
    };
    if len == 0 {
        return Ok(Loaded {
            collection: empty.clone(),
            records: 0,
            valid_len: 0,
            dropped_bytes: 0,
        });
    }
    let stretches = stretches(path, len).map_err(|error| StoreError::io(path, error))?;
    let parts: Vec<io::Result<Part<C>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = stretches
            .iter()
            .map(|&(start, end)| {
                let empty = empty.clone();
                scope.spawn(move || index_stretch(path, start, end, empty))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("an indexing thread panicked"))
            .collect()
    });

    let corrupt = |line: usize, reason: &str| StoreError::Corrupt {
        path: path.to_owned(),
        line,
        reason: format!("{reason}; valid lines follow it, so this is not a torn write"),
    };
    let mut loaded = Loaded {
        collection: empty.clone(),
        records: 0,
        valid_len: len,
        dropped_bytes: 0,
    };
    let mut lines_before = 0;
    let mut first_bad: Option<(usize, String)> = None; // (line number, reason)
    for part in parts {
        let part = part.map_err(|error| StoreError::io(path, error))?;
        if let Some((line, reason)) = &first_bad {
            if part.records > 0 || part.valid_after_bad {
                return Err(corrupt(*line, reason));
            }
        } else {
            loaded.collection.absorb(part.collection);
            loaded.records += part.records;
            if let Some(bad) = part.first_bad {
                let line = lines_before + bad.line + 1;
                if part.valid_after_bad {
                    return Err(corrupt(line, &bad.reason));
                }
                loaded.valid_len = bad.offset;
                first_bad = Some((line, bad.reason));
            }
        }
        lines_before += part.lines;
    }
    loaded.collection.shrink_to_fit();
    loaded.dropped_bytes = len - loaded.valid_len;
    if let Some((line, reason)) = &first_bad {
        tracing::warn!(
            path = %path.display(),
            line,
            reason,
            dropped_bytes = loaded.dropped_bytes,
            "dropping a torn tail left by an interrupted write"
        );
    }
    Ok(loaded)
}

/// One stretch of the file, indexed up to its first bad line, if any.
struct Part<C> {
    collection: C,
    records: usize,
    lines: usize,
    first_bad: Option<BadLine>,
    /// A valid line follows the bad one inside this stretch.
    valid_after_bad: bool,
}

struct BadLine {
    /// Byte offset in the whole file.
    offset: u64,
    /// Line index inside the stretch, from 0.
    line: usize,
    reason: String,
}

fn index_stretch<C: Collection>(
    path: &Path,
    start: u64,
    end: u64,
    collection: C,
) -> io::Result<Part<C>> {
    let mut part = Part {
        collection,
        records: 0,
        lines: 0,
        first_bad: None,
        valid_after_bad: false,
    };
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut reader = BufReader::with_capacity(READ_BUFFER, file.take(end - start));
    let mut line = Vec::new();
    let mut offset = start;
    loop {
        line.clear();
        // A line longer than any record is read in pieces, each one bad.
        let read = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(part);
        }
        part.lines += 1;
        let parsed = match line.strip_suffix(b"\n") {
            Some(json) => Location::new(offset, json.len() as u64)
                .ok_or_else(|| "the line is too long".to_owned())
                .and_then(|at| {
                    serde_json::from_slice::<C::Key<'_>>(json)
                        .map(|key| (key, at))
                        .map_err(|error| error.to_string())
                }),
            None => Err("the line has no trailing newline".to_owned()),
        };
        match (parsed, &part.first_bad) {
            (Ok((key, at)), None) => {
                part.collection.index(key, at);
                part.records += 1;
            }
            (Ok(_), Some(_)) => {
                part.valid_after_bad = true;
                return Ok(part);
            }
            (Err(reason), None) => {
                part.first_bad = Some(BadLine {
                    offset,
                    line: part.lines - 1,
                    reason,
                });
            }
            (Err(_), Some(_)) => {}
        }
        offset += read as u64;
    }
}

/// `(start, end)` byte ranges of whole lines covering the file, one per core when it is large.
fn stretches(path: &Path, len: u64) -> io::Result<Vec<(u64, u64)>> {
    let parts = if len < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from) as u64
    };
    let mut file = File::open(path)?;
    let mut ranges = Vec::new();
    let mut start = 0;
    for part in 1..=parts {
        let end = if part < parts {
            line_end_after(&mut file, (len * part / parts).max(start), len)?
        } else {
            len
        };
        ranges.push((start, end));
        start = end;
    }
    Ok(ranges)
}

/// The offset just past the first newline at or after `from` (or `len`).
fn line_end_after(file: &mut File, from: u64, len: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::new(file);
    let mut skipped = Vec::new();
    let read = reader.read_until(b'\n', &mut skipped)?;
    Ok((from + read as u64).min(len))
}

/// Opens the file for appending (creating it, readable by the service's user alone), locked so
/// no second process writes to it. An older file that others may read is tightened.
pub(crate) fn open_locked(path: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|error| StoreError::io(path, error))?;
    file.try_lock()
        .map_err(|_| StoreError::Locked(path.to_owned()))?;
    keep_private(&file, path);
    Ok(file)
}

/// Takes the group's and others' permissions off a file made before stores were created 0600
/// (or copied in by hand). One the service may not change (not its own) is left as it is,
/// with a warning: a file it can read and write still works.
fn keep_private(file: &File, path: &Path) {
    let Ok(mode) = file
        .metadata()
        .map(|metadata| metadata.permissions().mode() & 0o7777)
    else {
        return;
    };
    if mode & 0o077 == 0 {
        return;
    }
    let private = mode & 0o700;
    let from = format!("{mode:04o}");
    match file.set_permissions(Permissions::from_mode(private)) {
        Ok(()) => {
            tracing::info!(path = %path.display(), from, to = format!("{private:04o}"), "the store file was readable by others: tightened");
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), mode = from, %error, "the store file is readable by others and cannot be tightened");
        }
    }
}

/// Cuts the file back to `valid_len` and flushes, so the next line starts on a clean boundary.
pub(crate) fn cut_back(file: &File, path: &Path, valid_len: u64) -> Result<(), StoreError> {
    file.set_len(valid_len)
        .and_then(|()| file.sync_all())
        .map_err(|error| StoreError::io(path, error))
}

#[cfg(test)]
mod tests;
