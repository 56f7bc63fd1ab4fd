//! The append-only JSON-lines store behind both users and tasks.
//!
//! One line per record, appended by a single writer thread: concurrent appends queue up,
//! are written together and made durable by one `fsync` (group commit), and only then are
//! they visible to readers and acknowledged to callers. A failed write is cut back off the
//! file, so the file is always a sequence of whole lines. At start-up the file is read back
//! into memory, dropping a torn tail a crash may have left (see [`load`]).

mod load;

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::http::StatusCode;
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::{mpsc, oneshot};

/// Appends waiting for the writer; beyond this, callers wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;
/// Most records made durable by one `fsync`.
const MAX_BATCH: usize = 1024;

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
    /// Nothing was stored: the disk is full, the folder is read-only, the writer stopped.
    Storage(StorageFailure),
}

#[derive(Debug, Clone)]
pub struct StorageFailure {
    pub kind: io::ErrorKind,
    pub detail: String,
}

impl StorageFailure {
    fn writer_stopped() -> Self {
        Self {
            kind: io::ErrorKind::BrokenPipe,
            detail: "the store is not accepting writes".into(),
        }
    }

    /// 507 when the disk is full, 503 for any other storage trouble.
    pub fn status(&self) -> StatusCode {
        if self.kind == io::ErrorKind::StorageFull {
            StatusCode::INSUFFICIENT_STORAGE
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

struct Append<C: Collection> {
    draft: C::Draft,
    reply: oneshot::Sender<Result<C::Record, AppendError<C::Conflict>>>,
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
        let writer = Writer {
            file,
            len: loaded.valid_len,
            collection: collection.clone(),
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
            path,
            poisoned,
        })
    }

    /// Stores a record built from `draft`; returns once it is durably on disk.
    pub async fn append(&self, draft: C::Draft) -> Result<C::Record, AppendError<C::Conflict>> {
        let (reply, answer) = oneshot::channel();
        let stopped = || AppendError::Storage(StorageFailure::writer_stopped());
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

struct Writer<C: Collection> {
    file: fs::File,
    /// Length of the file in whole lines: where a failed write is cut back to.
    len: u64,
    collection: Arc<RwLock<C>>,
    poisoned: Arc<AtomicBool>,
    path: PathBuf,
}

impl<C: Collection> Writer<C> {
    fn run(mut self, mut queue: mpsc::Receiver<Append<C>>) {
        while let Some(first) = queue.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(append) => batch.push(append),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Append<C>>) {
        if self.poisoned.load(Ordering::Relaxed) {
            for append in batch {
                let _ = append
                    .reply
                    .send(Err(AppendError::Storage(StorageFailure::writer_stopped())));
            }
            return;
        }
        let mut pending = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        let mut lines = Vec::new();
        {
            let collection = self
                .collection
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for Append { draft, reply } in batch {
                match collection.admit(draft, &pending) {
                    Ok(record) => {
                        let start = lines.len();
                        if let Err(error) = serde_json::to_writer(&mut lines, &record) {
                            lines.truncate(start);
                            let failure = StorageFailure {
                                kind: io::ErrorKind::InvalidData,
                                detail: error.to_string(),
                            };
                            let _ = reply.send(Err(AppendError::Storage(failure)));
                            continue;
                        }
                        lines.push(b'\n');
                        pending.push(record);
                        replies.push(reply);
                    }
                    Err(conflict) => {
                        let _ = reply.send(Err(AppendError::Conflict(conflict)));
                    }
                }
            }
        }
        if pending.is_empty() {
            return;
        }
        match self
            .file
            .write_all(&lines)
            .and_then(|()| self.file.sync_data())
        {
            Ok(()) => {
                self.len += lines.len() as u64;
                let mut collection = self
                    .collection
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                for record in &pending {
                    collection.insert(record.clone());
                }
                drop(collection);
                for (record, reply) in pending.into_iter().zip(replies) {
                    let _ = reply.send(Ok(record));
                }
            }
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, records = pending.len(), "append failed");
                if let Err(rollback) = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_all())
                {
                    tracing::error!(%rollback, "cannot cut the failed write back off; refusing writes until restart");
                    self.poisoned.store(true, Ordering::Relaxed);
                }
                let failure = StorageFailure {
                    kind: error.kind(),
                    detail: error.to_string(),
                };
                for reply in replies {
                    let _ = reply.send(Err(AppendError::Storage(failure.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
