//! The uncompressed record parser: one record at a time from any [`Src`], with resynchronisation.

use super::source::Src;
use super::{Headers, ReadStats, Record, RecordType, RecordTypeSet};
use memchr::memmem;

/// Longest header block accepted before the record is declared bad.
pub(crate) const HEADER_CAP: usize = 256 << 10;

/// A record start marker (after a line break).
const MARK: &[u8] = b"WARC/1.";
const NL_MARK: &[u8] = b"\nWARC/1.";

pub(crate) enum Step {
    Rec(Record),
    /// A record was read but not returned (filtered or oversize) or input was skipped.
    Skip,
    Eof,
}

/// One header line as byte ranges into the header block; `cont` marks a folded continuation.
#[derive(Clone, Copy)]
struct Line {
    name: (usize, usize),
    value: (usize, usize),
    cont: bool,
}

pub(crate) struct Parser {
    lines: Vec<Line>,
    pub types: RecordTypeSet,
    pub max_block: u64,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t')
}

fn trim(s: &[u8], mut a: usize, mut b: usize) -> (usize, usize) {
    while a < b && is_ws(s[a]) {
        a += 1;
    }
    while b > a && is_ws(s[b - 1]) {
        b -= 1;
    }
    (a, b)
}

/// Find the end of a header block: returns (text length, length including the blank line).
fn header_end(a: &[u8], from: usize) -> Option<(usize, usize)> {
    for i in memchr::memchr_iter(b'\n', &a[from.min(a.len())..]) {
        let i = i + from;
        match a.get(i + 1) {
            Some(b'\n') => return Some((i + 1, i + 2)),
            Some(b'\r') if a.get(i + 2) == Some(&b'\n') => return Some((i + 1, i + 3)),
            _ => {}
        }
    }
    None
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    Some(v)
}

/// Where a block really ends when the next record starts at `q`: drop the separator line breaks.
fn trim_separator(a: &[u8], start: usize, q: usize) -> usize {
    let mut e = q;
    let mut k = 0;
    while e > start && k < 4 && matches!(a[e - 1], b'\r' | b'\n') {
        e -= 1;
        k += 1;
    }
    e
}

fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Where a record's block ends, as decided from its declared length and what follows it.
enum End {
    /// The declared length is right; consume this far (separator included).
    Declared(usize),
    /// The declared length is wrong: the block really ends at `.0`, the next record starts at `.1`.
    Cut(usize, usize),
    /// The input ends inside the block, with no later record to resynchronise on.
    Truncated,
    /// A stream that goes on past the look-ahead window before the declared end: not checkable.
    Unverifiable,
}

/// Line breaks allowed between a block's declared end and the next record.
const MAX_SEPARATOR: usize = 8;
/// Bytes looked at after a declared end: a separator and a record marker.
const TAIL: usize = MAX_SEPARATOR + MARK.len();

/// If the declared end `at` is followed by a few line breaks and then a record start (or, in a
/// complete input, only line breaks or a cut-off marker), where the next record starts.
fn record_follows(a: &[u8], at: usize, complete: bool) -> Option<usize> {
    let rest = &a[at..];
    let k = rest
        .iter()
        .take(MAX_SEPARATOR)
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let after = &rest[k..];
    if after.starts_with(b"WARC/") {
        return Some(at + k);
    }
    if !complete || after.len() >= MARK.len() {
        return None;
    }
    if after.iter().all(|&b| is_ws(b)) {
        return Some(a.len());
    }
    // A marker cut off at the very end: the next call counts the truncation.
    MARK.starts_with(after).then_some(at + k)
}

impl Parser {
    /// The header fields of the header block `hdr` whose lines were just parsed. Fast path: valid
    /// UTF-8 without continuation lines becomes one string with spans into it.
    fn headers(&self, hdr: &[u8]) -> Headers {
        let simple = !self.lines.iter().any(|l| l.cont);
        if simple && hdr.len() < u32::MAX as usize {
            let on_boundaries = |text: &str| {
                self.lines.iter().all(|l| {
                    [l.name.0, l.name.1, l.value.0, l.value.1]
                        .iter()
                        .all(|&i| text.is_char_boundary(i))
                })
            };
            if let Some(text) = std::str::from_utf8(hdr).ok().filter(|t| on_boundaries(t)) {
                let spans = self
                    .lines
                    .iter()
                    .map(|l| {
                        (
                            l.name.0 as u32,
                            l.name.1 as u32,
                            l.value.0 as u32,
                            l.value.1 as u32,
                        )
                    })
                    .collect();
                return Headers::from_spans(text.to_owned(), spans);
            }
        }
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(self.lines.len());
        for l in &self.lines {
            let v = &hdr[l.value.0..l.value.1];
            if l.cont {
                if let Some(last) = pairs.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(&String::from_utf8_lossy(v));
                }
            } else {
                pairs.push((lossy(&hdr[l.name.0..l.name.1]), lossy(v)));
            }
        }
        Headers::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    pub fn new(types: RecordTypeSet, max_block: u64) -> Self {
        Parser {
            lines: Vec::with_capacity(32),
            types,
            max_block,
        }
    }

    /// Search for the next line-start record marker at or after `from` (an index into
    /// `src.avail()`), reading more input up to `limit` bytes of window. Returns the index of
    /// the `W`.
    fn find_next_start<S: Src>(src: &mut S, from: usize, limit: usize) -> Option<usize> {
        let finder = memmem::Finder::new(NL_MARK);
        let mut searched = from;
        loop {
            let a = src.avail();
            if let Some(i) = finder.find(&a[searched.min(a.len())..]) {
                return Some(searched + i + 1);
            }
            let len = a.len();
            if len >= limit {
                return None;
            }
            searched = len.saturating_sub(NL_MARK.len() - 1).max(from);
            if !src.fill(len.saturating_add(1 << 16).min(limit)) && src.avail().len() == len {
                return None;
            }
        }
    }

    /// Decide where the block of a record whose header block is `htotal` bytes long ends,
    /// given the declared total `need` (header + Content-Length). A declared end is trusted only
    /// where the next record starts (after at most a few line breaks) or the input ends;
    /// otherwise the block is cut at the next record start found after the header.
    fn block_end<S: Src>(&self, src: &mut S, htotal: usize, need: u64) -> End {
        // Streams are buffered up to the block limit plus room for the header and a read chunk.
        let window = usize::try_from(self.max_block)
            .unwrap_or(usize::MAX)
            .saturating_add(HEADER_CAP + (1 << 16));
        let want = need.saturating_add(TAIL as u64).min(window as u64) as usize;
        let got = src.fill(want);
        let len = src.avail().len();
        // Whether the input ends within the buffered bytes; asked of the stream (one more read)
        // only when the window is too short to see past the declared end.
        let complete =
            !got || (len as u64) < need.saturating_add(TAIL as u64) && !src.fill(len + 1);
        let len = src.avail().len();
        if need > len as u64 && !complete {
            return End::Unverifiable;
        }
        let declared = usize::try_from(need).ok().filter(|&n| n <= len);
        if let Some(n) = declared {
            if let Some(next) = record_follows(src.avail(), n, complete) {
                return End::Declared(next);
            }
        }
        let limit = match declared {
            Some(n) => n
                .saturating_add(self.max_block as usize)
                .min(usize::MAX / 2),
            None => len,
        };
        match (Self::find_next_start(src, htotal, limit), declared) {
            // A record starts inside the declared block: the length is too long.
            (Some(q), Some(n)) if q <= n => End::Cut(trim_separator(src.avail(), htotal, q), q),
            // Junk after a block that ends at a line break: the length is right, the junk is
            // skipped by the next call.
            (Some(_), Some(n)) if matches!(src.avail().get(n), Some(b'\r' | b'\n')) => {
                End::Declared(n)
            }
            (Some(q), _) => End::Cut(trim_separator(src.avail(), htotal, q), q),
            (None, None) => End::Truncated,
            (None, Some(n)) => {
                let len = src.avail().len();
                if src.fill(len + 1) || matches!(src.avail().get(n), Some(b'\r' | b'\n')) {
                    End::Declared(n)
                } else {
                    // No further record at all: the block runs to the end of input (of the gzip
                    // member, for per-record gzip).
                    End::Cut(trim_separator(src.avail(), htotal, len), len)
                }
            }
        }
    }

    /// Skip input that is not a record start, counting it as garbage. Always makes progress.
    fn resync<S: Src>(src: &mut S, st: &mut ReadStats) {
        let finder = memmem::Finder::new(NL_MARK);
        loop {
            let a = src.avail();
            if a.is_empty() {
                return;
            }
            if let Some(i) = finder.find(a) {
                st.faults.garbage_bytes += i as u64 + 1;
                src.consume(i + 1);
                return;
            }
            // Keep a tail that could be the start of a split marker.
            let keep = (NL_MARK.len() - 1).min(a.len());
            let drop = (a.len() - keep).max(1);
            st.faults.garbage_bytes += drop as u64;
            src.consume(drop);
            src.fill(1 << 16);
        }
    }

    /// Parse the next record. `Step::Skip` means "call again".
    pub fn next<S: Src>(&mut self, src: &mut S, st: &mut ReadStats) -> Step {
        // Line breaks and blanks between records are expected, not garbage.
        loop {
            if !src.fill(1) {
                return Step::Eof;
            }
            let a = src.avail();
            let len = a.len();
            let n = a.iter().take_while(|&&b| is_ws(b)).count();
            src.consume(n);
            if n < len {
                break;
            }
        }
        src.fill(MARK.len());
        let a = src.avail();
        if !a.starts_with(MARK) {
            if a.len() < MARK.len() && MARK.starts_with(a) {
                // A cut-off marker at the very end of the input.
                st.faults.truncated += 1;
                let len = a.len();
                src.consume(len);
                return Step::Eof;
            }
            Self::resync(src, st);
            return Step::Skip;
        }
        let rec_start = src.pos();

        // Header block.
        let mut searched = 0;
        let (hlen, htotal) = loop {
            let a = src.avail();
            let a = &a[..a.len().min(HEADER_CAP)];
            if let Some(h) = header_end(a, searched) {
                break h;
            }
            let len = a.len();
            if len >= HEADER_CAP {
                // No blank line in the whole window, so no record starting inside it can have a
                // header end inside it either: drop the window (keeping a possible split
                // terminator) instead of rescanning it from every marker (quadratic).
                st.faults.bad_header += 1;
                let drop = len - 3;
                st.faults.garbage_bytes += drop as u64;
                src.consume(drop);
                Self::resync(src, st);
                return Step::Skip;
            }
            searched = len.saturating_sub(2);
            if !src.fill(len + 1) && src.avail().len() == len {
                // The input ends inside the header block.
                st.faults.truncated += 1;
                src.consume(len);
                return Step::Eof;
            }
        };

        // Header lines.
        let a = src.avail();
        let hdr = &a[..hlen];
        self.lines.clear();
        let first_end = memchr::memchr(b'\n', hdr).unwrap_or(hdr.len());
        let version = trim(hdr, 0, first_end);
        let mut content_length: Option<Option<u64>> = None;
        let mut rtype = RecordType::Other;
        let mut have_type = false;
        let mut p = first_end + 1;
        while p < hdr.len() {
            let e = memchr::memchr(b'\n', &hdr[p..]).map_or(hdr.len(), |i| p + i);
            let line = (p, e);
            p = e + 1;
            let (ls, le) = trim(hdr, line.0, line.1);
            if ls == le {
                continue;
            }
            if matches!(hdr[line.0], b' ' | b'\t') && !self.lines.is_empty() {
                self.lines.push(Line {
                    name: (0, 0),
                    value: (ls, le),
                    cont: true,
                });
                continue;
            }
            let Some(c) = memchr::memchr(b':', &hdr[ls..le]) else {
                continue; // not a header line: tolerated, ignored
            };
            let name = trim(hdr, ls, ls + c);
            let value = trim(hdr, ls + c + 1, le);
            let nb = &hdr[name.0..name.1];
            if nb.eq_ignore_ascii_case(b"content-length") && content_length.is_none() {
                content_length = Some(parse_u64(&hdr[value.0..value.1]));
            } else if nb.eq_ignore_ascii_case(b"warc-type") && !have_type {
                have_type = true;
                rtype = match std::str::from_utf8(&hdr[value.0..value.1]) {
                    Ok(s) => RecordType::parse(s),
                    Err(_) => RecordType::Other,
                };
            }
            self.lines.push(Line {
                name,
                value,
                cont: false,
            });
        }
        let Some(Some(clen)) = content_length else {
            // Skip the whole header block: a marker inside it would only see a subset of the
            // same lines (and rescanning from each would be quadratic).
            st.faults.bad_header += 1;
            src.consume(htotal);
            return Step::Skip;
        };
        st.records_read += 1;

        let need = (htotal as u64).saturating_add(clen);
        let (block_end, consume_to) = match self.block_end(src, htotal, need) {
            End::Declared(consume_to) => (need as usize, consume_to),
            End::Cut(block_end, consume_to) => {
                st.faults.bad_content_length += 1;
                (block_end, consume_to)
            }
            End::Truncated => {
                st.faults.truncated += 1;
                let len = src.avail().len();
                src.consume(len);
                return Step::Eof;
            }
            End::Unverifiable => {
                // A stream longer than the look-ahead window: trust the length and read past it.
                st.faults.oversize += 1;
                src.skip(need);
                return Step::Skip;
            }
        };
        if (block_end - htotal) as u64 > self.max_block {
            st.faults.oversize += 1;
            src.consume(consume_to);
            return Step::Skip;
        }
        if !self.types.contains(rtype) {
            st.records_filtered += 1;
            src.consume(consume_to);
            return Step::Skip;
        }
        let a = src.avail();
        let hdr = &a[..hlen];
        let headers = self.headers(hdr);
        let rec = Record {
            record_type: rtype,
            version: lossy(&hdr[version.0..version.1]),
            headers,
            block: a[htotal..block_end.max(htotal)].to_vec(),
            offset: rec_start,
        };
        src.consume(consume_to);
        st.records_returned += 1;
        Step::Rec(rec)
    }
}
