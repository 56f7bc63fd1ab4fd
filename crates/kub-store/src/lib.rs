//! The fsync'd, append-only JSON-lines store behind users-api and tasks-api: one line per
//! record, appends made durable in groups by one writer thread.
//!
//! Concurrent appends queue up, are written together and made durable by one `fsync` (group
//! commit), and only then are they visible to readers and acknowledged to callers. A failed
//! write is cut back off the file, so the file is always a sequence of whole lines. At start-up
//! the file is read back into memory, dropping a torn tail a crash may have left (see `load.rs`).
//! What a record is, and the rules it must pass, belong to a [`Collection`].

mod load;
mod writer;

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::{mpsc, oneshot};

use writer::{Append, Writer};

/// Appends waiting for the writer; beyond this, callers wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;

/// The in-memory side of a store: how records are indexed, and the rules a new record must
/// pass (unique email, next id) before it is written.
pub trait Collection: Default + Send + Sync + 'static {
    type Record: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// What a caller asks to store; the collection turns it into a record.
    type Draft: Send + 'static;
    type Conflict: Send + 'static;

    /// Builds the record for `draft`, or refuses it. `pending` holds the records accepted
    /// ahead of it in the batch being written, which are not yet inserted.
    fn admit(
        &self,
        draft: Self::Draft,
        pending: &[Self::Record],
    ) -> Result<Self::Record, Self::Conflict>;

    /// Indexes a record that is durably stored.
    fn insert(&mut self, record: Self::Record);
}

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
    fn io(path: &Path, source: io::Error) -> Self {
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

/// What kind of storage trouble stopped an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFailure {
    /// The volume has no room left.
    DiskFull,
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

pub struct JsonLinesStore<C: Collection> {
    collection: Arc<RwLock<C>>,
    appends: mpsc::Sender<Append<C>>,
    path: PathBuf,
    /// Set when a failed write could not be cut back off the file; the writer then refuses
    /// every append until a restart repairs the tail.
    poisoned: Arc<AtomicBool>,
}

impl<C: Collection> Clone for JsonLinesStore<C> {
    fn clone(&self) -> Self {
        Self {
            collection: self.collection.clone(),
            appends: self.appends.clone(),
            path: self.path.clone(),
            poisoned: self.poisoned.clone(),
        }
    }
}

impl<C: Collection> JsonLinesStore<C> {
    /// Opens (creating if needed) `folder/file_name`, loads it, and starts the writer.
    pub async fn open(folder: &Path, file_name: &str) -> Result<Self, StoreError> {
        let folder = folder.to_owned();
        let path = folder.join(file_name);
        tokio::task::spawn_blocking(move || Self::open_blocking(&folder, path))
            .await
            .map_err(|error| StoreError::Io {
                path: PathBuf::from(file_name),
                source: io::Error::other(error),
            })?
    }

    fn open_blocking(folder: &Path, path: PathBuf) -> Result<Self, StoreError> {
        fs::create_dir_all(folder).map_err(|error| StoreError::io(folder, error))?;
        let loaded = load::read_records::<C::Record>(&path)?;
        let file = load::open_for_append(&path, loaded.valid_len, loaded.dropped_bytes > 0)?;
        let mut collection = C::default();
        let count = loaded.records.len();
        for record in loaded.records {
            collection.insert(record);
        }
        tracing::info!(path = %path.display(), records = count, "store loaded");

        let collection = Arc::new(RwLock::new(collection));
        let poisoned = Arc::new(AtomicBool::new(false));
        let (appends, queue) = mpsc::channel(QUEUE_DEPTH);
        let writer = Writer::new(
            file,
            loaded.valid_len,
            collection.clone(),
            poisoned.clone(),
            path.clone(),
        );
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|error| StoreError::io(&path, error))?;
        Ok(Self {
            collection,
            appends,
            path,
            poisoned,
        })
    }

    /// Stores a record built from `draft`; returns once it is durably on disk.
    pub async fn append(&self, draft: C::Draft) -> Result<C::Record, AppendError<C::Conflict>> {
        let (reply, answer) = oneshot::channel();
        let stopped = || AppendError::Storage(StorageFailure::Unavailable);
        self.appends
            .send(Append { draft, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Reads the in-memory collection (only durable records are in it).
    pub fn read<T>(&self, reader: impl FnOnce(&C) -> T) -> T {
        reader(
            &self
                .collection
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `Ok` when [`Self::is_writable`], else why not: what `/readyz` reports.
    pub async fn readiness(&self) -> Result<(), String> {
        if self.is_writable().await {
            Ok(())
        } else {
            Err(format!("{} is not writable", self.path.display()))
        }
    }

    /// Readiness: can this folder take a durable write right now? Writes, syncs and removes
    /// a small probe file beside the data file (a full disk or read-only mount fails here).
    pub async fn is_writable(&self) -> bool {
        if self.poisoned.load(Ordering::Relaxed) {
            return false;
        }
        let probe = self.path.with_extension("probe");
        tokio::task::spawn_blocking(move || {
            let written = fs::File::create(&probe)
                .and_then(|mut file| file.write_all(b"ok").and_then(|()| file.sync_data()));
            let _ = fs::remove_file(&probe);
            written.is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests;
