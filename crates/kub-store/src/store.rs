//! [`JsonLinesStore`]: opening a store, appending to it, and reading it.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    AppendError, Collection, FILE_MODE, FOLDER_MODE, Location, StorageFailure, StoreError,
    StoredRecords, load,
    writer::{Append, Writer},
};

/// Appends waiting for the writer; beyond this, callers wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;

pub struct JsonLinesStore<C: Collection> {
    collection: Arc<RwLock<C>>,
    appends: mpsc::Sender<Append<C>>,
    stored: StoredRecords<C::Record>,
    path: PathBuf,
    used: Arc<AtomicU64>,
    budget: Option<u64>,
    /// Set when a failed write could not be cut back off the file; the writer then refuses
    /// every append until a restart repairs the tail.
    poisoned: Arc<AtomicBool>,
}

impl<C: Collection> Clone for JsonLinesStore<C> {
    fn clone(&self) -> Self {
        Self {
            collection: self.collection.clone(),
            appends: self.appends.clone(),
            stored: self.stored.clone(),
            path: self.path.clone(),
            used: self.used.clone(),
            budget: self.budget,
            poisoned: self.poisoned.clone(),
        }
    }
}

/// How much of its budget a store's file takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub budget: Option<u64>,
}

impl<C: Collection> JsonLinesStore<C> {
    /// Opens (creating if needed) `folder/file_name`, indexes it into `empty`, and starts the
    /// writer. With a `budget`, appends that would take the file past that many bytes are
    /// refused with [`StorageFailure::BudgetReached`]; set it below the volume's limit.
    pub async fn open(
        folder: &Path,
        file_name: &str,
        empty: C,
        budget: Option<u64>,
    ) -> Result<Self, StoreError> {
        let folder = folder.to_owned();
        let path = folder.join(file_name);
        tokio::task::spawn_blocking(move || Self::open_blocking(&folder, path, &empty, budget))
            .await
            .map_err(|error| StoreError::Io {
                path: PathBuf::from(file_name),
                source: io::Error::other(error),
            })?
    }

    fn open_blocking(
        folder: &Path,
        path: PathBuf,
        empty: &C,
        budget: Option<u64>,
    ) -> Result<Self, StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(FOLDER_MODE)
            .create(folder)
            .map_err(|error| StoreError::io(folder, error))?;
        let file = load::open_locked(&path)?;
        let loaded = load::index_file(&path, empty)?;
        if loaded.dropped_bytes > 0 {
            load::cut_back(&file, &path, loaded.valid_len)?;
        }
        tracing::info!(path = %path.display(), records = loaded.records, bytes = loaded.valid_len, budget, "store loaded");
        if budget.is_some_and(|budget| loaded.valid_len >= budget) {
            tracing::warn!(path = %path.display(), "the store is at its budget: reads only");
        }

        let stored = StoredRecords::open(&path).map_err(|error| StoreError::io(&path, error))?;
        let collection = Arc::new(RwLock::new(loaded.collection));
        let poisoned = Arc::new(AtomicBool::new(false));
        let used = Arc::new(AtomicU64::new(loaded.valid_len));
        let (appends, queue) = mpsc::channel(QUEUE_DEPTH);
        let writer = Writer {
            file,
            len: loaded.valid_len,
            budget,
            used: used.clone(),
            collection: collection.clone(),
            stored: stored.clone(),
            poisoned: poisoned.clone(),
            path: path.clone(),
        };
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|error| StoreError::io(&path, error))?;
        Ok(Self {
            collection,
            appends,
            stored,
            path,
            used,
            budget,
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

    /// Looks something up in the index (only durable records are in it).
    pub fn read<T>(&self, reader: impl FnOnce(&C) -> T) -> T {
        reader(
            &self
                .collection
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The records at `locations` (from [`Self::read`]), read from the file. An I/O error is
    /// logged here and answered as [`StorageFailure::Unavailable`].
    ///
    /// The read happens on the calling thread, an async worker included: a caller asks for a
    /// page at most (up to 100 short lines, most often one `pread` served by the kernel's page
    /// cache). That costs a few microseconds; the hop to tokio's blocking pool cost ~20 µs of
    /// CPU per request and a fifth of GET /tasks' throughput (docs/performance.md).
    pub fn fetch(&self, locations: &[Location]) -> Result<Vec<C::Record>, StorageFailure> {
        self.reading(self.stored.get_all(locations))
    }

    /// Calls `read` with the lines at `locations`, as [`Self::fetch`] reads them: for a caller
    /// that parses them into views borrowing from the lines, without copying their strings.
    pub fn with_lines<T>(
        &self,
        locations: &[Location],
        read: impl FnOnce(&[&[u8]]) -> T,
    ) -> Result<T, StorageFailure> {
        self.reading(self.stored.with_lines(locations, read))
    }

    fn reading<T>(&self, read: io::Result<T>) -> Result<T, StorageFailure> {
        read.map_err(|error| {
            tracing::error!(path = %self.path.display(), %error, "reading stored records failed");
            StorageFailure::Unavailable
        })
    }

    pub fn usage(&self) -> Usage {
        Usage {
            bytes: self.used.load(Ordering::Relaxed),
            budget: self.budget,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `Ok` when [`Self::is_writable`], else why not: what `/readyz` reports. A store at its
    /// budget stays ready: its records can still be read.
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
            let written = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(FILE_MODE)
                .open(&probe)
                .and_then(|mut file| file.write_all(b"ok").and_then(|()| file.sync_data()));
            let _ = fs::remove_file(&probe);
            written.is_ok()
        })
        .await
        .unwrap_or(false)
    }
}
