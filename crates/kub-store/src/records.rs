//! Reading stored records back from the file, by [`Location`]: the index in memory says where
//! a record is, the file (and the kernel's page cache over it) holds what it is.

use std::{fs::File, io, marker::PhantomData, os::unix::fs::FileExt, path::Path, sync::Arc};

use serde::de::DeserializeOwned;

use crate::Location;

/// A read-only handle on the store's file. `read_at` never moves a shared cursor, so any
/// number of threads read through one handle while the writer appends through its own.
pub struct StoredRecords<R> {
    file: Arc<File>,
    record: PhantomData<fn() -> R>,
}

impl<R> Clone for StoredRecords<R> {
    fn clone(&self) -> Self {
        Self {
            file: self.file.clone(),
            record: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> StoredRecords<R> {
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            file: Arc::new(File::open(path)?),
            record: PhantomData,
        })
    }

    /// The record at `at`.
    pub fn get(&self, at: Location) -> io::Result<R> {
        self.get_all(&[at]).map(|mut records| records.remove(0))
    }

    /// The records at `locations`, in their order.
    pub fn get_all(&self, locations: &[Location]) -> io::Result<Vec<R>> {
        self.with_lines(locations, |lines| {
            lines
                .iter()
                .zip(locations)
                .map(|(line, at)| parse(line, *at))
                .collect()
        })?
    }

    /// Calls `read` with the lines at `locations` (without their newlines), in their order.
    /// Lines close together in the file (one user's tasks written in a row, typically) are
    /// read with one `pread`.
    pub fn with_lines<T>(
        &self,
        locations: &[Location],
        read: impl FnOnce(&[&[u8]]) -> T,
    ) -> io::Result<T> {
        let mut bytes = Vec::new();
        let mut ranges = Vec::with_capacity(locations.len());
        for run in runs(locations) {
            let start = run[0].offset();
            let end = run
                .iter()
                .map(|at| at.offset() + at.len())
                .max()
                .unwrap_or(start);
            let base = bytes.len();
            bytes.resize(
                base + usize::try_from(end - start).map_err(io::Error::other)?,
                0,
            );
            self.file.read_exact_at(&mut bytes[base..], start)?;
            for at in run {
                let from = base + (at.offset() - start) as usize;
                ranges.push(from..from + at.len() as usize);
            }
        }
        let lines: Vec<&[u8]> = ranges.into_iter().map(|range| &bytes[range]).collect();
        Ok(read(&lines))
    }
}

/// `line`, the record at `at`, parsed.
fn parse<R: DeserializeOwned>(line: &[u8], at: Location) -> io::Result<R> {
    serde_json::from_slice(line).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the record at byte {} does not parse: {error}", at.offset()),
        )
    })
}

/// Reading a gap this small costs less than another system call.
const MAX_GAP: u64 = 4096;
/// One read never spans more than this.
const MAX_SPAN: u64 = 256 * 1024;

/// `locations` cut into runs of lines in increasing file order, each with small gaps and a
/// bounded span: one read each.
fn runs(locations: &[Location]) -> impl Iterator<Item = &[Location]> {
    let mut rest = locations;
    std::iter::from_fn(move || {
        let first = *rest.first()?;
        let mut end = first.offset() + first.len();
        let mut taken = 1;
        for at in &rest[1..] {
            let follows = at.offset() >= end && at.offset() - end <= MAX_GAP;
            if !follows || at.offset() + at.len() - first.offset() > MAX_SPAN {
                break;
            }
            end = at.offset() + at.len();
            taken += 1;
        }
        let (run, later) = rest.split_at(taken);
        rest = later;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearby_lines_in_file_order_share_a_read_and_others_do_not() {
        let at = |offset, len| Location::new(offset, len).unwrap();
        let locations = [
            at(0, 10),
            at(11, 10),
            at(21 + MAX_GAP, 10),
            at(30_000, 5),
            at(0, 10),
            at(300_000, MAX_SPAN),
            at(300_000 + MAX_SPAN + 1, 1),
        ];
        let lengths: Vec<usize> = runs(&locations).map(<[Location]>::len).collect();
        assert_eq!(lengths, [3, 1, 1, 1, 1]);
        assert_eq!(runs(&[]).count(), 0);
    }
}
