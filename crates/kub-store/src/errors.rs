//! Why a store cannot open, and why an append or a read did not happen.

use std::{
    io,
    path::{Path, PathBuf},
};

/// Why a store cannot open.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} line {line} is damaged ({reason}); refusing to start so nothing is silently lost", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{} is in use by another process", .0.display())]
    Locked(PathBuf),
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why an append was not stored.
#[derive(Debug)]
pub enum AppendError<C> {
    /// The collection refused the draft (e.g. the email exists).
    Conflict(C),
    /// Nothing was stored. The I/O error itself is logged by the store, not returned: it is
    /// for operators, not for clients.
    Storage(StorageFailure),
}

/// What kind of storage trouble stopped an append or a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFailure {
    /// The volume has no room left.
    DiskFull,
    /// The record would take the file past its byte budget (see `JsonLinesStore::open`).
    BudgetReached,
    /// Anything else: a read-only folder, an I/O error, a writer that stopped.
    Unavailable,
}

impl From<&io::Error> for StorageFailure {
    fn from(error: &io::Error) -> Self {
        if error.kind() == io::ErrorKind::StorageFull {
            Self::DiskFull
        } else {
            Self::Unavailable
        }
    }
}
