//! Test oracle for the WARC reader: a deliberately simple reference parser that finds the records
//! a careful reader must recover from damaged input, plus a seeded mutator producing the damage.
//! Self-contained (std and flate2 only) so the cargo-fuzz target can include it with `#[path]`.

use flate2::{Decompress, FlushDecompress, Status};
use std::io::Write;

/// A record as the oracle identifies it: its WARC-Record-ID (if any) and its block.
pub type Key = (Option<String>, Vec<u8>);

pub const GZ_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];

/// Records that are clean in `data` (uncompressed): at the input start or a line start,
/// `WARC/1.0` or `WARC/1.1`, a header block ending in a blank line with a numeric Content-Length
/// of at most `max_block`, the block followed (after `\r\n\r\n` or directly) by the end of input
/// or the next `WARC/1.`. Records are found independently of each other, so one damaged record cannot hide
/// another.
pub fn reference_plain(data: &[u8], max_block: u64) -> Vec<Key> {
    let mut out = Vec::new();
    let mut p = 0;
    while let Some(i) = find(&data[p..], b"WARC/1.") {
        let at = p + i;
        p = at + 1;
        if at > 0 && data[at - 1] != b'\n' {
            continue;
        }
        if let Some(key) = clean_record(data, at, max_block) {
            out.push(key);
        }
    }
    out
}

fn clean_record(data: &[u8], at: usize, max_block: u64) -> Option<Key> {
    let rest = &data[at..];
    if !(rest.starts_with(b"WARC/1.0\r\n") || rest.starts_with(b"WARC/1.1\r\n")) {
        return None;
    }
    let hlen = find(&rest[..rest.len().min(1 << 16)], b"\r\n\r\n")?;
    let head = std::str::from_utf8(&rest[..hlen]).ok()?;
    let field = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    let len_text = field("Content-Length")?;
    if len_text.is_empty() || len_text.len() > 12 || !len_text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: usize = len_text.parse().ok()?;
    if len as u64 > max_block {
        return None;
    }
    let start = hlen + 4;
    let after = rest.get(start + len..)?;
    // The next record follows the blank-line separator, or directly (separator missing).
    let next = after.strip_prefix(b"\r\n\r\n").unwrap_or(after);
    if !(next.is_empty() || next.starts_with(b"WARC/1.")) {
        return None;
    }
    let id = field("WARC-Record-ID").map(str::to_owned);
    Some((id, rest[start..start + len].to_vec()))
}

/// Gzip input: every gzip member that starts at a magic and decodes (each on its own) yields
/// the clean records of its output; a damaged member yields those of the output decoded before
/// the damage. Members inside a member that decoded cleanly are not looked at again.
pub fn reference_gzip(data: &[u8], max_block: u64) -> Vec<Key> {
    let mut out = Vec::new();
    let mut p = 0;
    while let Some(i) = find(&data[p..], GZ_MAGIC) {
        let at = p + i;
        let (output, used, clean) = inflate_member(&data[at..]);
        out.extend(reference_plain(&output, max_block));
        p = if clean { at + used.max(1) } else { at + 1 };
    }
    out
}

/// One gzip member decoded with flate2: (output before any damage, bytes used, ended cleanly).
fn inflate_member(data: &[u8]) -> (Vec<u8>, usize, bool) {
    let mut d = Decompress::new_gzip(15);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 14];
    loop {
        let (i0, o0) = (d.total_in(), d.total_out());
        let r = d.decompress(&data[i0 as usize..], &mut buf, FlushDecompress::None);
        out.extend_from_slice(&buf[..(d.total_out() - o0) as usize]);
        match r {
            Ok(Status::StreamEnd) => return (out, d.total_in() as usize, true),
            Ok(_) if d.total_in() == i0 && d.total_out() == o0 => {
                return (out, d.total_in() as usize, false)
            }
            Ok(_) => {}
            Err(_) => return (out, d.total_in() as usize, false),
        }
    }
}

/// How many of `expected` appear in `got` (as multisets).
pub fn recovered(expected: &[Key], got: &[Key]) -> usize {
    let mut pool: std::collections::HashMap<&Key, usize> = std::collections::HashMap::new();
    for k in got {
        *pool.entry(k).or_default() += 1;
    }
    expected
        .iter()
        .filter(|k| match pool.get_mut(k) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .count()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Deterministic xorshift generator for seeded tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `n` well-formed records with unique ids, mixed types and block sizes (some blocks empty).
pub fn sample_records(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    const TYPES: [&str; 4] = ["response", "request", "metadata", "conversion"];
    (0..n)
        .map(|i| {
            let size = match rng.below(8) {
                0 => 0,
                1 => 3000 + rng.below(20_000),
                _ => 40 + rng.below(1500),
            };
            let words = ["alpha", "beta", "gamma", "delta", "\r\n", "<p>", "WARC"];
            let mut block = Vec::with_capacity(size + 8);
            while block.len() < size {
                block.extend_from_slice(words[rng.below(words.len())].as_bytes());
                block.push(b' ');
            }
            block.truncate(size);
            let mut rec = Vec::new();
            write!(
                rec,
                "WARC/1.1\r\nWARC-Type: {}\r\nWARC-Record-ID: <urn:uuid:rec-{i:06}>\r\n\
                 WARC-Target-URI: http://example.org/{i}\r\nContent-Length: {}\r\n\r\n",
                TYPES[i % TYPES.len()],
                block.len()
            )
            .unwrap();
            rec.extend_from_slice(&block);
            rec.extend_from_slice(b"\r\n\r\n");
            rec
        })
        .collect()
}

/// Gzip `data` as one member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The damage classes of the mutation property test.
pub const CLASSES: [&str; 8] = [
    "bit flips",
    "truncation",
    "deletion",
    "junk insertion",
    "splice",
    "empty gzip member",
    "length rewrite",
    "missing separator",
];

/// Apply one damage class (`class` indexes [`CLASSES`]) to `data` at a random place. Length
/// rewrites and missing separators look for record structure, so they need uncompressed data.
pub fn mutate(rng: &mut Rng, class: usize, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    if d.is_empty() {
        return d;
    }
    let at = rng.below(d.len());
    match class {
        0 => {
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
        }
        1 => d.truncate(at),
        2 => {
            let n = (1 + rng.below(400)).min(d.len() - at);
            d.drain(at..at + n);
        }
        3 => {
            let junk: Vec<u8> = match rng.below(3) {
                0 => (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect(),
                1 => b"\r\nWARC/1.0\r\nContent-Length: 99999\r\n\r\n".to_vec(),
                _ => vec![0u8; 1 + rng.below(64)],
            };
            d.splice(at..at, junk);
        }
        4 => {
            let from = rng.below(d.len());
            let n = (1 + rng.below(4000)).min(d.len() - from);
            let chunk = d[from..from + n].to_vec();
            d.splice(at..at, chunk);
        }
        5 => {
            // An empty member at a member boundary if there is one, anywhere otherwise.
            let at = find_from(&d, GZ_MAGIC, at).unwrap_or(at);
            d.splice(at..at, gzip(b""));
        }
        6 => {
            if let Some(i) = find_from(&d, b"Content-Length: ", at) {
                let i = i + b"Content-Length: ".len();
                let end = i + d[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                let new = match rng.below(4) {
                    0 => "99999999999".to_string(),
                    1 => "0".to_string(),
                    _ => {
                        let old: i64 = std::str::from_utf8(&d[i..end])
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0);
                        (old + rng.below(200) as i64 - 100).max(0).to_string()
                    }
                };
                d.splice(i..end, new.bytes());
            }
        }
        _ => {
            if let Some(i) = find_from(&d, b"\r\n\r\nWARC/1.", at) {
                d.drain(i..i + 4);
            }
        }
    }
    d
}

fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    find(&hay[from.min(hay.len())..], needle)
        .map(|i| i + from)
        .or_else(|| find(hay, needle))
}
