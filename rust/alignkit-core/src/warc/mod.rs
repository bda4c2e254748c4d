//! Streaming WARC 1.0/1.1 reader.
//!
//! Handles uncompressed files, gzip with one member per record (as Common Crawl ships) and a
//! single whole-file gzip stream. Faults are counted, never fatal: the reader resynchronises at the
//! next record and keeps every good one.
//!
//! Paths:
//! * in memory (`open` memory-maps gzip files; `from_bytes`): uncompressed records are sliced
//!   straight out of the buffer; gzip members are inflated one at a time with libdeflate into one
//!   reusable scratch buffer. Pages of a mapped file are dropped from the process every 8 MiB
//!   read past, so resident memory does not grow with the file (they stay in the page cache). A member whose output would exceed `max_block_bytes` + 256 KiB (a whole-file
//!   gzip stream, say) is streamed through flate2 instead, without holding it in memory.
//! * streams (`from_read`, and `open` for uncompressed files): a sliding window buffer, with a
//!   resynchronising multi-member flate2 decoder in front for gzip.
//!
//! Offsets: for gzip, a record that starts a member gets the member's compressed offset; a record
//! in the middle of a member (several records in one member, whole-file gzip) gets its offset in
//! the uncompressed stream. Uncompressed files: the record's own offset.
//!
//! Recovery: each fault costs at most the damaged record. A declared Content-Length is trusted
//! only where the next record starts (after at most a few line breaks, blank line or not) or the
//! input ends; otherwise the block is cut at the next line-start `WARC/1.` and counted in
//! `bad_content_length` (an oversize record is skipped and counted `oversize` only when its length
//! checks out). A damaged gzip member gives back the records decoded before the damage and the
//! search for the next member starts just past its start (on streams, within 4 MiB of it), so a
//! damaged header cannot swallow the members after it; on streams the damaged member's output ends
//! with a break so the record it cut is not glued to the next member's data. A file that shrinks
//! while read ends the iteration with an [`WarcReader::io_error`] instead of SIGBUS: uncompressed
//! files are read, not mapped; for a mapped gzip file the size is checked before each member (a
//! shrink between that check and the inflate can still fault).
//!
//! Fault accounting (see [`FaultCounts`]): `garbage_bytes` counts every byte skipped while
//! resynchronising (for gzip this includes the compressed bytes of a corrupt member and junk
//! between members); `corrupt_gzip` counts corrupt regions (a run of unusable members counts once;
//! a record a damaged member cut off counts there, not as `truncated`); a header block without a
//! parsable Content-Length is skipped whole and counted in `bad_header`, as is a header block with
//! no end within 256 KiB (those bytes also count as garbage); a file (or gzip member) that ends
//! inside a record counts as `truncated` and the partial record is dropped.
//!
//! Known limits: a whole-file gzip stream is unreadable after its first damaged byte (deflate
//! cannot restart without the lost history), so only the records before the damage (and any
//! later gzip members) come back. Through a stream, a declared length longer than the block
//! limit plus 256 KiB cannot be checked and is trusted. `from_read` buffers filtered records'
//! blocks (bounded by `max_block_bytes`) to check their ends, where the in-memory path never
//! copies them.

mod gz;
#[cfg(test)]
mod oracle;
mod parse;
mod payload;
mod source;
mod summary;

pub use summary::{summarise_file, summarise_files, FileSummary};

use gz::{GzStream, Libdeflate, MemberResult, PartialEnd, GZ_MAGIC};
use parse::{Parser, Step, HEADER_CAP};
use source::{BufSrc, SliceSrc, Src};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Every WARC-Type the standard defines.
const KNOWN_RECORD_TYPES: [RecordType; 8] = [
    RecordType::Warcinfo,
    RecordType::Response,
    RecordType::Resource,
    RecordType::Request,
    RecordType::Metadata,
    RecordType::Revisit,
    RecordType::Conversion,
    RecordType::Continuation,
];

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
        let s = s.trim();
        KNOWN_RECORD_TYPES
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .unwrap_or(RecordType::Other)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Warcinfo => "warcinfo",
            RecordType::Response => "response",
            RecordType::Resource => "resource",
            RecordType::Request => "request",
            RecordType::Metadata => "metadata",
            RecordType::Revisit => "revisit",
            RecordType::Conversion => "conversion",
            RecordType::Continuation => "continuation",
            RecordType::Other => "other",
        }
    }
    fn bit(self) -> u16 {
        1u16 << (self as u16)
    }
}

/// A set of record types (bit set) used to push the type filter down into the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTypeSet(pub u16);

impl RecordTypeSet {
    pub const ALL: RecordTypeSet = RecordTypeSet(u16::MAX);
    pub fn of(types: &[RecordType]) -> Self {
        RecordTypeSet(types.iter().fold(0, |m, t| m | t.bit()))
    }
    pub fn contains(self, t: RecordType) -> bool {
        self.0 & t.bit() != 0
    }

    /// The set of the named types (case-insensitive); an unknown name is an error.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> crate::Result<Self> {
        let known: Vec<&str> = KNOWN_RECORD_TYPES.iter().map(|t| t.as_str()).collect();
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            match RecordType::parse(name) {
                RecordType::Other => {
                    return Err(crate::Error::InvalidArgument(format!(
                        "unknown WARC record type {name:?}; expected one of {known:?}"
                    )))
                }
                t => types.push(t),
            }
        }
        Ok(Self::of(&types))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Sniff from the first bytes (gzip magic or not); members vs. one stream decided on the fly.
    Auto,
    None,
    Gzip,
}

impl Compression {
    pub fn parse(name: &str) -> crate::Result<Self> {
        match name {
            "auto" => Ok(Compression::Auto),
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            other => Err(crate::Error::InvalidArgument(format!(
                "compression must be 'auto', 'none' or 'gzip', not {other:?}"
            ))),
        }
    }
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

/// WARC header fields, in file order with names as written, kept as one string plus spans so a
/// record costs two allocations for its headers rather than two per field.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    text: String,
    /// (name start, name end, value start, value end) byte offsets into `text`.
    spans: Vec<(u32, u32, u32, u32)>,
}

impl Headers {
    /// Build from owned pieces (continuation lines already joined into their values).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut headers = Headers::default();
        for (name, value) in pairs {
            headers.push(name, value);
        }
        headers
    }

    fn push(&mut self, name: &str, value: &str) {
        let n0 = self.text.len() as u32;
        self.text.push_str(name);
        let n1 = self.text.len() as u32;
        self.text.push_str(value);
        let v1 = self.text.len() as u32;
        self.spans.push((n0, n1, n1, v1));
    }

    /// Headers whose names and values are spans of `text` (no copying of pieces).
    pub(crate) fn from_spans(text: String, spans: Vec<(u32, u32, u32, u32)>) -> Self {
        Headers { text, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// `(name, value)` pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(move |&(n0, n1, v0, v1)| {
            (
                &self.text[n0 as usize..n1 as usize],
                &self.text[v0 as usize..v1 as usize],
            )
        })
    }

    /// Case-insensitive lookup (first match).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

/// One WARC record: its header fields (in file order, names as written) and its block.
#[derive(Debug, Clone)]
pub struct Record {
    pub record_type: RecordType,
    /// "WARC/1.0" or "WARC/1.1".
    pub version: String,
    pub headers: Headers,
    pub block: Vec<u8>,
    /// Byte offset of the record in the file: of its gzip member when compressed per record,
    /// of its uncompressed start otherwise (so `seek(offset)` + a fresh reader finds it again).
    pub offset: u64,
}

impl Record {
    /// Case-insensitive header lookup (first match).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
    pub fn target_uri(&self) -> Option<&str> {
        // WARC 1.0 examples wrap the URI in angle brackets; WARC 1.1 does not.
        self.header("WARC-Target-URI").map(|v| {
            v.strip_prefix('<')
                .and_then(|x| x.strip_suffix('>'))
                .unwrap_or(v)
        })
    }
    pub fn date(&self) -> Option<&str> {
        self.header("WARC-Date")
    }
    /// WARC-Record-ID without the surrounding `<` `>`.
    pub fn record_id(&self) -> Option<&str> {
        self.header("WARC-Record-ID").map(|v| {
            v.strip_prefix('<')
                .and_then(|x| x.strip_suffix('>'))
                .unwrap_or(v)
        })
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
    /// Records skipped because their block exceeded `max_block_bytes` (declared length checked).
    pub oversize: u64,
    /// Header block that could not be parsed (missing version line, no Content-Length, ...).
    pub bad_header: u64,
}

/// How many bytes of a mapped input are read past before their pages are dropped from the
/// process (see [`Backing::release_before`]).
const RELEASE_STEP: usize = 8 << 20;

/// The bytes of an in-memory input.
enum Backing {
    /// A mapped file, with the file kept to check that it did not shrink under the map, and the
    /// offset below which its pages were released.
    Mmap(memmap2::Mmap, std::fs::File, AtomicUsize),
    Vec(Vec<u8>),
}

impl Backing {
    fn mapped(map: memmap2::Mmap, file: std::fs::File) -> Backing {
        Backing::Mmap(map, file, AtomicUsize::new(0))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m, _, _) => m,
            Backing::Vec(v) => v,
        }
    }

    /// Drop the mapped pages before `pos` from this process once [`RELEASE_STEP`] bytes have
    /// been read past. Every page touched in a map counts in the resident set until unmapped, so
    /// without this a reader's memory grows with the file; the pages stay in the page cache.
    fn release_before(&self, pos: usize) {
        let Backing::Mmap(map, _, released) = self else {
            return;
        };
        let done = released.load(Ordering::Relaxed);
        let end = pos.min(map.len());
        if end < done.saturating_add(RELEASE_STEP) {
            return;
        }
        // SAFETY: the map is read-only and file-backed: a dropped page that is touched again is
        // read back from the file with the same bytes, so no live borrow sees a change.
        #[cfg(unix)]
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, done, end - done)
        };
        released.store(end, Ordering::Relaxed);
    }

    /// An error if a mapped file became shorter than its map: touching the pages past its new
    /// end would kill the process (SIGBUS), so reading stops before that.
    fn check(&self) -> std::io::Result<()> {
        let Backing::Mmap(map, file, _) = self else {
            return Ok(());
        };
        let now = file.metadata()?.len();
        if now < map.len() as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the file shrank from {} to {now} bytes while it was being read",
                    map.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Whether a file holds gzip: the given compression, or sniffed from its first bytes.
fn file_is_gzip(file: &std::fs::File, compression: Compression) -> std::io::Result<bool> {
    match compression {
        Compression::Gzip => Ok(true),
        Compression::None => Ok(false),
        Compression::Auto => {
            use std::io::{Seek, SeekFrom};
            let mut head = Vec::with_capacity(SNIFF_BYTES);
            let mut f = file;
            f.take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
            f.seek(SeekFrom::Start(0))?;
            Ok(looks_gzip(&head))
        }
    }
}

/// A regular file read to the size it had when opened: ending before that (it shrank while
/// being read) is an error rather than a quiet end of input.
struct SizedFile {
    file: std::fs::File,
    size: u64,
    left: u64,
}

impl Read for SizedFile {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(out)?;
        if n == 0 && self.left > 0 && !out.is_empty() {
            let now = self.file.metadata()?.len();
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the file shrank from {} to {now} bytes while it was being read",
                    self.size
                ),
            ));
        }
        self.left = self.left.saturating_sub(n as u64);
        Ok(n)
    }
}

/// `Read` over a shared in-memory input, from some position on.
struct ArcReader {
    data: Arc<Backing>,
    pos: usize,
}

impl Read for ArcReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.data.check()?;
        self.data.release_before(self.pos);
        let d = self.data.bytes();
        let rest = &d[self.pos.min(d.len())..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

type DynRead = Box<dyn Read + Send>;
type GzOver<R> = BufSrc<GzStream<BufSrc<R>>>;

/// One inflated member being parsed out of the scratch buffer.
struct Cur {
    comp_off: u64,
    ubase: u64,
    len: usize,
    pos: usize,
    steps: u32,
    /// The output of a damaged member up to the damage: a record cut at its end is lost.
    damaged: bool,
}

/// A member too big for the scratch buffer, streamed through flate2.
struct BigMember {
    start: usize,
    stream: GzOver<ArcReader>,
}

struct Members {
    pos: usize,
    inflater: Libdeflate,
    scratch: Vec<u8>,
    cap: usize,
    cur: Option<Cur>,
    big: Option<Box<BigMember>>,
    resyncing: bool,
    uncomp: u64,
}

enum Mode {
    Plain { pos: usize },
    Members(Box<Members>),
    PlainStream(Box<BufSrc<DynRead>>),
    GzipStream(Box<GzOver<DynRead>>),
    Done,
}

/// Streaming reader. Non-generic and `Send` so bindings and thread pools can hold it.
pub struct WarcReader {
    stats: ReadStats,
    /// Counters owned by the parser and the member path (gzip stream counters are added on top).
    base: ReadStats,
    parser: Parser,
    data: Arc<Backing>,
    mode: Mode,
    /// An I/O error that ended a stream early (kept after the stream is dropped).
    io_error: Option<std::io::Error>,
}

/// How far `Compression::Auto` looks for the first gzip member or record when the input does
/// not start with one (junk before the first record).
const SNIFF_BYTES: usize = 64 << 10;

/// Gzip if the input starts with the gzip magic, or (junk first) if a gzip member header shows up
/// before any line-start `WARC/1.` within the first [`SNIFF_BYTES`].
fn looks_gzip(b: &[u8]) -> bool {
    if b.starts_with(&GZ_MAGIC[..2]) {
        return true;
    }
    if b.starts_with(b"WARC/") {
        return false;
    }
    let b = &b[..b.len().min(SNIFF_BYTES)];
    let warc = memchr::memmem::find(b, b"\nWARC/1.");
    match memchr::memmem::find(b, GZ_MAGIC) {
        Some(g) => !matches!(warc, Some(w) if w < g),
        None => false,
    }
}

fn clamp_max_block(v: u64) -> u64 {
    v.min(1 << 40)
}

fn scratch_cap(max_block: u64) -> usize {
    usize::try_from(max_block)
        .unwrap_or(usize::MAX)
        .saturating_add(HEADER_CAP + 4096)
}

impl WarcReader {
    fn with_mode(data: Arc<Backing>, mode: Mode, opts: &ReaderOptions) -> WarcReader {
        let max_block = clamp_max_block(opts.max_block_bytes);
        WarcReader {
            stats: ReadStats::default(),
            base: ReadStats::default(),
            parser: Parser::new(opts.record_types, max_block),
            data,
            mode,
            io_error: None,
        }
    }

    fn in_memory(data: Backing, opts: ReaderOptions) -> WarcReader {
        let data = Arc::new(data);
        let gzip = match opts.compression {
            Compression::Gzip => true,
            Compression::None => false,
            Compression::Auto => looks_gzip(data.bytes()),
        };
        let mode = if !gzip {
            Mode::Plain { pos: 0 }
        } else {
            match Libdeflate::new() {
                Some(inflater) => Mode::Members(Box::new(Members {
                    pos: 0,
                    inflater,
                    scratch: Vec::new(),
                    cap: scratch_cap(clamp_max_block(opts.max_block_bytes)),
                    cur: None,
                    big: None,
                    resyncing: false,
                    uncomp: 0,
                })),
                None => {
                    // No memory for the decompressor: fall back to the streaming decoder.
                    let r: DynRead = Box::new(ArcReader {
                        data: Arc::clone(&data),
                        pos: 0,
                    });
                    Mode::GzipStream(Box::new(BufSrc::new(GzStream::new(BufSrc::new(r), 0))))
                }
            }
        };
        WarcReader::with_mode(data, mode, &opts)
    }

    /// Open a file (memory-mapped fast path where possible).
    pub fn open(path: &Path, opts: ReaderOptions) -> crate::Result<WarcReader> {
        let file = std::fs::File::open(path).map_err(|e| crate::Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| crate::Error::io(path, e))?;
        if meta.is_dir() {
            let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a directory");
            return Err(crate::Error::io(path, e));
        }
        if meta.is_file() {
            if meta.len() == 0 {
                return Ok(WarcReader::from_bytes(Vec::new(), opts));
            }
            if !file_is_gzip(&file, opts.compression).map_err(|e| crate::Error::io(path, e))? {
                // Uncompressed: buffered reads cost about as much as a map here (the parser
                // copies blocks either way) and a file that shrinks just reads short, where a
                // map would need a size check per record to avoid SIGBUS.
                let src = SizedFile {
                    file,
                    size: meta.len(),
                    left: meta.len(),
                };
                let opts = ReaderOptions {
                    compression: Compression::None,
                    ..opts
                };
                return Ok(WarcReader::from_read(Box::new(src), opts));
            }
            // SAFETY: the map is read-only; a file that shrinks under it is caught by
            // `Backing::check` before each member is touched (see the module notes).
            if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
                #[cfg(unix)]
                let _ = map.advise(memmap2::Advice::Sequential);
                return Ok(WarcReader::in_memory(Backing::mapped(map, file), opts));
            }
        }
        Ok(WarcReader::from_read(Box::new(file), opts))
    }
    /// Read from bytes already in memory.
    pub fn from_bytes(data: Vec<u8>, opts: ReaderOptions) -> WarcReader {
        WarcReader::in_memory(Backing::Vec(data), opts)
    }
    /// Read from any stream (pipes, stdin); slower than `open`.
    pub fn from_read(mut src: Box<dyn std::io::Read + Send>, opts: ReaderOptions) -> WarcReader {
        // Sniff the first bytes, then put them back in front of the stream.
        let mut head = Vec::new();
        if opts.compression == Compression::Auto {
            let mut buf = [0u8; 4096];
            while head.len() < SNIFF_BYTES {
                match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n.min(buf.len())]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
                if head.len() >= 2
                    && (head.starts_with(&GZ_MAGIC[..2]) || head.starts_with(b"WARC/"))
                {
                    break;
                }
            }
        }
        let gzip = match opts.compression {
            Compression::Gzip => true,
            Compression::None => false,
            Compression::Auto => looks_gzip(&head),
        };
        let r: DynRead = Box::new(std::io::Cursor::new(head).chain(src));
        let mode = if gzip {
            Mode::GzipStream(Box::new(BufSrc::new(GzStream::new(BufSrc::new(r), 0))))
        } else {
            Mode::PlainStream(Box::new(BufSrc::new(r)))
        };
        WarcReader::with_mode(Arc::new(Backing::Vec(Vec::new())), mode, &opts)
    }
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// The I/O error that ended a `from_read` stream early, if any. Such an error ends the
    /// iteration like end of input does (the record being read is counted as `truncated`);
    /// callers that must tell the two apart check this after iterating.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match &self.mode {
            Mode::PlainStream(b) => b.io_error.as_ref(),
            Mode::GzipStream(b) => b.inner.src.io_error.as_ref(),
            _ => self.io_error.as_ref(),
        }
    }

    /// Recompute the public stats from the parser's counters and any live gzip stream.
    fn sync_stats(&mut self) {
        let mut s = self.base.clone();
        let data_len = self.data.bytes().len() as u64;
        match &self.mode {
            Mode::Plain { pos } => {
                s.bytes_in = *pos as u64;
            }
            Mode::Members(m) => {
                s.bytes_in = m.pos as u64;
                s.bytes_decompressed = m.uncomp;
                if let Some(b) = &m.big {
                    let c = &b.stream.inner.counters;
                    s.faults.corrupt_gzip += c.corrupt;
                    s.faults.garbage_bytes += c.garbage;
                    s.bytes_in += c.bytes_in;
                    s.bytes_decompressed += c.bytes_out;
                }
            }
            Mode::PlainStream(b) => {
                s.bytes_in = b.pos() + b.avail().len() as u64;
            }
            Mode::GzipStream(b) => {
                let c = &b.inner.counters;
                s.faults.corrupt_gzip += c.corrupt;
                s.faults.garbage_bytes += c.garbage;
                s.bytes_in = c.bytes_in + c.garbage;
                s.bytes_decompressed = c.bytes_out;
            }
            Mode::Done => {
                s.bytes_in = s.bytes_in.max(data_len);
            }
        }
        if matches!(self.mode, Mode::Plain { .. }) {
            s.bytes_decompressed = s.bytes_in;
        }
        self.stats = s;
    }

    fn next_inner(&mut self) -> Option<Record> {
        let data = Arc::clone(&self.data);
        let bytes = data.bytes();
        let st = &mut self.base;
        let parser = &mut self.parser;
        match &mut self.mode {
            Mode::Done => None,
            Mode::Plain { pos } => loop {
                let mut s = SliceSrc {
                    data: bytes,
                    pos: *pos,
                    base: 0,
                };
                let step = parser.next(&mut s, st);
                *pos = s.pos;
                match step {
                    Step::Rec(r) => return Some(r),
                    Step::Skip => {}
                    Step::Eof => return None,
                }
            },
            Mode::PlainStream(b) => loop {
                match parser.next(&mut **b, st) {
                    Step::Rec(r) => return Some(r),
                    Step::Skip => {}
                    Step::Eof => return None,
                }
            },
            Mode::GzipStream(b) => loop {
                match next_over_gz(parser, b, st) {
                    Step::Rec(mut r) => {
                        if let Some(c) = b.inner.map_offset(r.offset) {
                            r.offset = c;
                        }
                        return Some(r);
                    }
                    Step::Skip => {}
                    Step::Eof => return None,
                }
            },
            Mode::Members(m) => match next_member_record(m, bytes, &data, parser, st) {
                Ok(r) => r,
                Err(e) => {
                    self.io_error = Some(e);
                    None
                }
            },
        }
    }
}

/// The next parser step over a gzip stream, reading on past the breaks a damaged member leaves.
fn next_over_gz<R: Read>(parser: &mut Parser, b: &mut GzOver<R>, st: &mut ReadStats) -> Step {
    loop {
        let truncated = st.faults.truncated;
        match parser.next(b, st) {
            Step::Eof if b.inner.at_break() => {
                // A record the damage cut off is counted with the damage, not as truncation.
                st.faults.truncated = truncated;
                b.inner.at_break = false;
                b.resume();
            }
            step => return step,
        }
    }
}

/// The per-member gzip path (in-memory input).
fn next_member_record(
    m: &mut Members,
    bytes: &[u8],
    data: &Arc<Backing>,
    parser: &mut Parser,
    st: &mut ReadStats,
) -> std::io::Result<Option<Record>> {
    loop {
        if let Some(big) = &mut m.big {
            match next_over_gz(parser, &mut big.stream, st) {
                Step::Rec(mut r) => {
                    if let Some(c) = big.stream.inner.map_offset(r.offset) {
                        r.offset = big.start as u64 + c;
                    }
                    return Ok(Some(r));
                }
                Step::Skip => continue,
                Step::Eof => {
                    if let Some(e) = big.stream.inner.src.io_error.take() {
                        return Err(e);
                    }
                    let g = &big.stream.inner;
                    st.faults.corrupt_gzip += g.counters.corrupt;
                    st.faults.garbage_bytes += g.counters.garbage;
                    m.uncomp += g.counters.bytes_out;
                    m.pos = big
                        .start
                        .saturating_add(g.src.pos() as usize)
                        .max(big.start + 1)
                        .min(bytes.len());
                    m.big = None;
                    continue;
                }
            }
        }
        if let Some(cur) = &mut m.cur {
            let mut s = SliceSrc {
                data: &m.scratch[..cur.len],
                pos: cur.pos,
                base: cur.ubase,
            };
            let truncated_before = st.faults.truncated;
            let pos_before = cur.pos;
            let step = parser.next(&mut s, st);
            cur.pos = s.pos;
            if matches!(step, Step::Eof) && cur.damaged {
                // The record the damage cut off is counted with the damage.
                st.faults.truncated = truncated_before;
            } else if matches!(step, Step::Eof)
                && st.faults.truncated > truncated_before
                && m.pos < bytes.len()
            {
                // A record runs past the end of its member and more members follow: the
                // members split the stream at arbitrary points (BGZF-style, or a whole-file
                // stream flushed in pieces). Re-read from this member on as one continuous
                // stream, resuming at the cut record.
                st.faults.truncated = truncated_before;
                let r = ArcReader {
                    data: Arc::clone(data),
                    pos: cur.comp_off as usize,
                };
                let gz = GzStream::new(BufSrc::new(r), cur.ubase);
                let mut stream = BufSrc::with_pos(gz, cur.ubase);
                stream.skip(pos_before as u64);
                m.uncomp = cur.ubase;
                m.big = Some(Box::new(BigMember {
                    start: cur.comp_off as usize,
                    stream,
                }));
                m.cur = None;
                continue;
            }
            let first = cur.steps == 0;
            cur.steps = cur.steps.saturating_add(1);
            match step {
                Step::Rec(mut r) => {
                    let rest = &m.scratch[cur.pos.min(cur.len)..cur.len];
                    if first && rest.iter().all(|b| b.is_ascii_whitespace()) {
                        r.offset = cur.comp_off;
                    }
                    return Ok(Some(r));
                }
                Step::Skip => continue,
                Step::Eof => {
                    m.cur = None;
                    continue;
                }
            }
        }
        // Next member.
        data.check()?;
        data.release_before(m.pos);
        let rest = &bytes[m.pos.min(bytes.len())..];
        if rest.is_empty() {
            return Ok(None);
        }
        if !rest.starts_with(GZ_MAGIC) {
            match memchr::memmem::find(rest, GZ_MAGIC) {
                Some(i) => {
                    st.faults.garbage_bytes += i as u64;
                    m.pos += i;
                }
                None => {
                    st.faults.garbage_bytes += rest.len() as u64;
                    m.pos = bytes.len();
                    return Ok(None);
                }
            }
            continue;
        }
        match m.inflater.member(rest, &mut m.scratch, m.cap) {
            MemberResult::Ok(used, n) => {
                m.cur = Some(Cur {
                    comp_off: m.pos as u64,
                    ubase: m.uncomp,
                    len: n,
                    pos: 0,
                    steps: 0,
                    damaged: false,
                });
                m.uncomp += n as u64;
                m.pos += used;
                m.resyncing = false;
            }
            MemberResult::TooBig => {
                m.big = Some(Box::new(big_member(data, m.pos, m.uncomp)));
                m.resyncing = false;
            }
            MemberResult::Bad => {
                let partial = gz::inflate_partial(rest, &mut m.scratch, m.cap);
                if matches!(partial.end, PartialEnd::TooBig) {
                    // Too much intact output to hold: stream the member (it ends at the damage).
                    m.big = Some(Box::new(big_member(data, m.pos, m.uncomp)));
                    continue;
                }
                // Input cut off inside a member can only be truncation when no member follows
                // (damage to a header can make the decoder read on to the end).
                let truncated = matches!(partial.end, PartialEnd::Truncated)
                    && memchr::memmem::find(&rest[1..], GZ_MAGIC).is_none();
                if truncated && partial.produced == 0 {
                    st.faults.truncated += 1;
                    m.pos = bytes.len();
                    return Ok(None);
                }
                if !truncated && !m.resyncing {
                    st.faults.corrupt_gzip += 1;
                }
                if partial.produced > 0 {
                    m.cur = Some(Cur {
                        comp_off: m.pos as u64,
                        ubase: m.uncomp,
                        len: partial.produced,
                        pos: 0,
                        steps: 0,
                        damaged: !truncated,
                    });
                    m.uncomp += partial.produced as u64;
                }
                // Look for the next member from just past this one's start: damage to the
                // header can make the decoder run over the members after it. A member whose
                // deflate data ended cleanly (bad trailer only) ends where the decoder stopped.
                let next = match partial.end {
                    _ if truncated => rest.len(),
                    PartialEnd::BadTrailer => partial.used.saturating_add(8).clamp(1, rest.len()),
                    _ => 1,
                };
                st.faults.garbage_bytes += u64::from(next == 1);
                m.resyncing = !matches!(partial.end, PartialEnd::BadTrailer);
                m.pos += next;
            }
        }
    }
}

/// Stream the member at `start` (and only it) through flate2.
fn big_member(data: &Arc<Backing>, start: usize, uncomp: u64) -> BigMember {
    let r = ArcReader {
        data: Arc::clone(data),
        pos: start,
    };
    let mut gz = GzStream::new(BufSrc::new(r), uncomp);
    gz.max_members = Some(1);
    BigMember {
        start,
        stream: BufSrc::with_pos(gz, uncomp),
    }
}

impl Iterator for WarcReader {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        let r = self.next_inner();
        if r.is_none() {
            self.mode_done();
        }
        self.sync_stats();
        r
    }
}

impl WarcReader {
    fn mode_done(&mut self) {
        // Fold live stream counters into the base counters before dropping the stream.
        let old = std::mem::replace(&mut self.mode, Mode::Done);
        match old {
            Mode::GzipStream(mut b) => {
                self.io_error = b.inner.src.io_error.take();
                let c = &b.inner.counters;
                self.base.faults.corrupt_gzip += c.corrupt;
                self.base.faults.garbage_bytes += c.garbage;
                self.base.bytes_in = c.bytes_in + c.garbage;
                self.base.bytes_decompressed = c.bytes_out;
            }
            Mode::PlainStream(mut b) => {
                self.io_error = b.io_error.take();
                self.base.bytes_in = b.pos();
                self.base.bytes_decompressed = b.pos();
            }
            Mode::Members(m) => {
                self.base.bytes_in = m.pos as u64;
                self.base.bytes_decompressed = m.uncomp;
            }
            Mode::Plain { pos } => {
                self.base.bytes_in = pos as u64;
                self.base.bytes_decompressed = pos as u64;
            }
            Mode::Done => self.mode = Mode::Done,
        }
    }
}

#[cfg(test)]
mod tests;
