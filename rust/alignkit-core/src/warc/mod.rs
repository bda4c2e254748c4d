//! Streaming WARC 1.0/1.1 reader (API contract; implementation in progress).
//!
//! Handles uncompressed files, gzip with one member per record (as Common Crawl ships) and a
//! single whole-file gzip stream. Faults are counted, never fatal: the reader resynchronises at the
//! next record and keeps every good one.

use std::path::Path;

/// WARC-Type values. `Other` covers unknown types (counted, still returned if not filtered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    Warcinfo,
    Response,
    Resource,
    Request,
    Metadata,
    Revisit,
    Conversion,
    Continuation,
    Other,
}

impl RecordType {
    pub fn parse(s: &str) -> RecordType {
        todo!("{s}")
    }
    pub fn as_str(self) -> &'static str {
        todo!()
    }
}

/// A set of record types (bit set) used to push the type filter down into the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTypeSet(pub u16);

impl RecordTypeSet {
    pub const ALL: RecordTypeSet = RecordTypeSet(u16::MAX);
    pub fn of(types: &[RecordType]) -> Self {
        todo!("{types:?}")
    }
    pub fn contains(self, t: RecordType) -> bool {
        todo!("{t:?}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Sniff from the first bytes (gzip magic or not); members vs. one stream decided on the fly.
    Auto,
    None,
    Gzip,
}

#[derive(Debug, Clone)]
pub struct ReaderOptions {
    pub record_types: RecordTypeSet,
    /// Records whose block is larger than this are skipped (counted as `oversize`), body not kept.
    pub max_block_bytes: u64,
    pub compression: Compression,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            record_types: RecordTypeSet::ALL,
            max_block_bytes: 64 << 20,
            compression: Compression::Auto,
        }
    }
}

/// One WARC record: its header fields (in file order, names as written) and its block.
#[derive(Debug, Clone)]
pub struct Record {
    pub record_type: RecordType,
    /// "WARC/1.0" or "WARC/1.1".
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub block: Vec<u8>,
    /// Byte offset of the record in the file: of its gzip member when compressed per record,
    /// of its uncompressed start otherwise (so `seek(offset)` + a fresh reader finds it again).
    pub offset: u64,
}

impl Record {
    /// Case-insensitive header lookup (first match).
    pub fn header(&self, name: &str) -> Option<&str> {
        todo!("{name}")
    }
    pub fn target_uri(&self) -> Option<&str> {
        todo!()
    }
    pub fn date(&self) -> Option<&str> {
        todo!()
    }
    /// WARC-Record-ID without the surrounding `<` `>`.
    pub fn record_id(&self) -> Option<&str> {
        todo!()
    }
}

/// Counters of everything the reader saw, including each kind of fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReadStats {
    pub records_read: u64,
    pub records_returned: u64,
    pub records_filtered: u64,
    pub bytes_in: u64,
    pub bytes_decompressed: u64,
    pub faults: FaultCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultCounts {
    /// File ended in the middle of a record.
    pub truncated: u64,
    /// A gzip member failed to inflate (bad data or bad CRC).
    pub corrupt_gzip: u64,
    /// Content-Length did not match where the next record actually starts.
    pub bad_content_length: u64,
    /// Bytes skipped between records while resynchronising.
    pub garbage_bytes: u64,
    /// Records skipped because their block exceeded `max_block_bytes`.
    pub oversize: u64,
    /// Header block that could not be parsed (missing version line, no Content-Length, ...).
    pub bad_header: u64,
}

/// Streaming reader. Non-generic and `Send` so bindings and thread pools can hold it.
pub struct WarcReader {
    stats: ReadStats,
}

impl WarcReader {
    /// Open a file (memory-mapped fast path where possible).
    pub fn open(path: &Path, opts: ReaderOptions) -> crate::Result<WarcReader> {
        todo!("{path:?} {opts:?}")
    }
    /// Read from bytes already in memory.
    pub fn from_bytes(data: Vec<u8>, opts: ReaderOptions) -> WarcReader {
        todo!("{} {opts:?}", data.len())
    }
    /// Read from any stream (pipes, stdin); slower than `open`.
    pub fn from_read(src: Box<dyn std::io::Read + Send>, opts: ReaderOptions) -> WarcReader {
        let _ = src;
        todo!("{opts:?}")
    }
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }
}

impl Iterator for WarcReader {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        todo!()
    }
}
