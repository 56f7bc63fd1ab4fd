//! The one thread that writes: it takes every append waiting in the queue, checks each
//! against the collection and the byte budget, writes the batch and makes it durable with one
//! `fsync`, and only then indexes the records and answers their callers.

use std::{
    fs,
    io::Write,
    path::PathBuf,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot};

use crate::{AppendError, Collection, Location, StorageFailure, StoredRecords};

/// Most records made durable by one `fsync`.
const MAX_BATCH: usize = 1024;

type Reply<C> =
    oneshot::Sender<Result<<C as Collection>::Record, AppendError<<C as Collection>::Conflict>>>;

pub(crate) struct Append<C: Collection> {
    pub draft: C::Draft,
    pub reply: Reply<C>,
}

pub(crate) struct Writer<C: Collection> {
    pub file: fs::File,
    /// Length of the file in whole lines: where a failed write is cut back to.
    pub len: u64,
    /// The file never grows past this many bytes.
    pub budget: Option<u64>,
    /// `len` as readers see it (for `/metrics`), updated once a batch is durable.
    pub used: Arc<AtomicU64>,
    pub collection: Arc<RwLock<C>>,
    pub stored: StoredRecords<C::Record>,
    pub poisoned: Arc<AtomicBool>,
    pub path: PathBuf,
}

/// The records of a batch that the collection admitted, encoded, with their callers.
struct Encoded<C: Collection> {
    records: Vec<C::Record>,
    locations: Vec<Location>,
    replies: Vec<Reply<C>>,
    lines: Vec<u8>,
}

impl<C: Collection> Writer<C> {
    pub fn run(mut self, mut queue: mpsc::Receiver<Append<C>>) {
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
                refuse::<C>(append.reply, StorageFailure::Unavailable);
            }
            return;
        }
        let encoded = self.admit_and_encode(batch);
        if encoded.records.is_empty() {
            return;
        }
        match self
            .file
            .write_all(&encoded.lines)
            .and_then(|()| self.file.sync_data())
        {
            Ok(()) => self.publish(encoded),
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, records = encoded.records.len(), "append failed");
                self.cut_back();
                let failure = StorageFailure::from(&error);
                for reply in encoded.replies {
                    refuse::<C>(reply, failure);
                }
            }
        }
    }

    /// Runs each draft past the collection (answering conflicts at once), encodes the
    /// admitted records as JSON lines, and refuses those that would pass the budget.
    fn admit_and_encode(&self, batch: Vec<Append<C>>) -> Encoded<C> {
        let mut encoded = Encoded {
            records: Vec::with_capacity(batch.len()),
            locations: Vec::with_capacity(batch.len()),
            replies: Vec::with_capacity(batch.len()),
            lines: Vec::new(),
        };
        let collection = self
            .collection
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for Append { draft, reply } in batch {
            let record = match collection.admit(draft, &encoded.records, &self.stored) {
                Ok(record) => record,
                Err(refused) => {
                    let _ = reply.send(Err(refused));
                    continue;
                }
            };
            let start = encoded.lines.len();
            match self.encode(&record, &mut encoded.lines) {
                Ok(at) => {
                    encoded.records.push(record);
                    encoded.locations.push(at);
                    encoded.replies.push(reply);
                }
                Err(failure) => {
                    encoded.lines.truncate(start);
                    refuse::<C>(reply, failure);
                }
            }
        }
        encoded
    }

    /// Appends `record`'s line to `lines`; where it will be in the file once written.
    fn encode(&self, record: &C::Record, lines: &mut Vec<u8>) -> Result<Location, StorageFailure> {
        let offset = self.len + lines.len() as u64;
        serde_json::to_writer(&mut *lines, record).map_err(|error| {
            tracing::error!(%error, "a record cannot be encoded");
            StorageFailure::Unavailable
        })?;
        let line_len = self.len + lines.len() as u64 - offset;
        lines.push(b'\n');
        if self
            .budget
            .is_some_and(|budget| self.len + lines.len() as u64 > budget)
        {
            return Err(StorageFailure::BudgetReached);
        }
        Location::new(offset, line_len).ok_or_else(|| {
            tracing::error!(line_len, offset, "a record is too long to index");
            StorageFailure::Unavailable
        })
    }

    /// The batch is durable: index it, then tell its callers.
    fn publish(&mut self, encoded: Encoded<C>) {
        self.len += encoded.lines.len() as u64;
        let mut collection = self
            .collection
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (record, at) in encoded.records.iter().zip(&encoded.locations) {
            collection.index(C::key(record), *at);
        }
        drop(collection);
        self.used.store(self.len, Ordering::Relaxed);
        for (record, reply) in encoded.records.into_iter().zip(encoded.replies) {
            let _ = reply.send(Ok(record));
        }
    }

    /// Cuts a failed write back off the file, so it keeps only whole lines; if even that
    /// fails, refuses every later write until a restart repairs the tail.
    fn cut_back(&mut self) {
        if let Err(error) = self
            .file
            .set_len(self.len)
            .and_then(|()| self.file.sync_all())
        {
            tracing::error!(%error, "cannot cut the failed write back off; refusing writes until restart");
            self.poisoned.store(true, Ordering::Relaxed);
        }
    }
}

fn refuse<C: Collection>(reply: Reply<C>, failure: StorageFailure) {
    let _ = reply.send(Err(AppendError::Storage(failure)));
}
