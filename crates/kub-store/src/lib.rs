//! The fsync'd, append-only JSON-lines store behind users-api and tasks-api, in the manner of
//! Bitcask: the file is the data, memory holds only an index of where each record is.
//!
//! Concurrent appends queue up, are written together and made durable by one `fsync` (group
//! commit), and only then are they indexed and acknowledged to callers (see `writer.rs`). A
//! failed write is cut back off the file, so the file is always a sequence of whole lines. A
//! byte budget keeps the file under its volume's limit. At start-up the file is streamed once
//! to rebuild the index, dropping a torn tail a crash may have left (see `load.rs`). Reads look
//! up [`Location`]s in the index and read those lines back from the file (`records.rs`).
//!
//! What a record is, its index and the rules a new one must pass belong to a [`Collection`].

mod errors;
mod load;
mod location;
mod records;
mod store;
mod writer;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use errors::{AppendError, StorageFailure, StoreError};
pub use location::{Location, MAX_LINE_BYTES};
pub use records::StoredRecords;
pub use store::{JsonLinesStore, Usage};

/// The mode of every file a store creates (its data, the readiness probe): the service's own
/// user alone reads and writes them (users' password hashes, everyone's tasks).
pub const FILE_MODE: u32 = 0o600;
/// The mode of a store's folder when the store creates it (an existing one is left as it is).
pub const FOLDER_MODE: u32 = 0o700;

/// A kind of record and its in-memory index: what is looked up, where each record is, and
/// the rules a new record must pass (unique email, next id, a per-owner cap) before it is
/// written.
pub trait Collection: Clone + Send + Sync + 'static {
    type Record: Serialize + DeserializeOwned + Send + 'static;
    /// The fields of a stored line the index needs, borrowed from the line where possible:
    /// start-up parses only these, never whole records.
    type Key<'line>: Deserialize<'line>;
    /// What a caller asks to store; the collection turns it into a record.
    type Draft: Send + 'static;
    type Conflict: Send + 'static;

    fn key(record: &Self::Record) -> Self::Key<'_>;

    /// Builds the record for `draft`, or refuses it. `pending` holds the records accepted
    /// ahead of it in the batch being written, which are not yet indexed; `stored` reads
    /// indexed records back when the index alone cannot decide.
    fn admit(
        &self,
        draft: Self::Draft,
        pending: &[Self::Record],
        stored: &StoredRecords<Self::Record>,
    ) -> Result<Self::Record, AppendError<Self::Conflict>>;

    /// Indexes a durably stored record whose line is at `at`.
    fn index(&mut self, key: Self::Key<'_>, at: Location);

    /// Appends the index of a later stretch of the file: start-up indexes stretches in
    /// parallel, each into a clone of the empty collection, then joins them in file order.
    fn absorb(&mut self, later: Self);

    /// Called once start-up has indexed the whole file: a chance to drop spare capacity.
    fn shrink_to_fit(&mut self) {}
}

#[cfg(test)]
mod tests;
