//! Where a record's line is in the file, packed into one `u64` so an index entry stays small.

/// Bits for the line's length; the remaining 40 address the offset.
const LEN_BITS: u32 = 24;
/// The longest line a [`Location`] can point at (16 MiB): far above any record the services
/// accept (their request bodies are capped at 64 KiB).
pub const MAX_LINE_BYTES: u64 = (1 << LEN_BITS) - 1;
/// The largest file a [`Location`] can address (1 TiB).
pub const MAX_FILE_BYTES: u64 = 1 << (64 - LEN_BITS);

/// The byte offset and length (without its newline) of one record's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location(u64);

impl Location {
    /// `None` when the line is too long or starts too far into the file to be packed.
    pub fn new(offset: u64, len: u64) -> Option<Self> {
        (len <= MAX_LINE_BYTES && offset < MAX_FILE_BYTES).then_some(Self(offset << LEN_BITS | len))
    }

    pub fn offset(self) -> u64 {
        self.0 >> LEN_BITS
    }

    pub fn len(self) -> u64 {
        self.0 & MAX_LINE_BYTES
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_and_length_round_trip_up_to_their_limits() {
        for (offset, len) in [
            (0, 0),
            (0, 1),
            (12_345, 678),
            (MAX_FILE_BYTES - 1, MAX_LINE_BYTES),
        ] {
            let at = Location::new(offset, len).unwrap();
            assert_eq!((at.offset(), at.len()), (offset, len));
        }
        assert_eq!(Location::new(0, MAX_LINE_BYTES + 1), None);
        assert_eq!(Location::new(MAX_FILE_BYTES, 1), None);
        assert_eq!(std::mem::size_of::<Location>(), 8);
    }
}
