//! Criterion bench of the WARC reader on a synthetic in-memory WARC.
//!
//! `ALIGNKIT_BENCH_DUMP=/some/dir` also writes the inputs there (`synthetic.warc`,
//! `synthetic.warc.gz`) so other readers can be timed on the very same bytes.

use alignkit_core::warc::{ReaderOptions, RecordType, RecordTypeSet, WarcReader};
use criterion::{BatchSize, Criterion, Throughput};
use flate2::write::GzEncoder;
use std::hint::black_box;
use std::io::Write;

const RECORDS: usize = 3000;

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "was",
    "for",
    "on",
    "that",
    "with",
    "as",
    "by",
    "at",
    "from",
    "his",
    "her",
    "it",
    "an",
    "were",
    "are",
    "which",
    "this",
    "be",
    "or",
    "has",
    "had",
    "not",
    "but",
    "also",
    "first",
    "their",
    "one",
    "new",
    "after",
    "who",
    "they",
    "two",
    "its",
    "been",
    "more",
    "city",
    "world",
    "during",
    "would",
    "team",
    "season",
    "film",
    "album",
    "music",
    "school",
    "university",
    "river",
    "village",
    "population",
    "church",
    "history",
    "government",
    "national",
    "county",
    "station",
    "district",
    "company",
    "century",
    "league",
    "series",
    "game",
    "alignment",
    "dataset",
    "pipeline",
    "model",
    "training",
    "evaluation",
    "language",
    "quality",
];

/// HTML-like page of roughly 2 to 40 KB; words drawn with a tiny PRNG so it compresses about
/// like real pages (3-5x) rather than like a repeated string.
fn html(i: usize) -> String {
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut s = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Page ");
    s.push_str(&i.to_string());
    s.push_str(
        "</title></head><body><nav><a href=\"/\">Home</a> <a href=\"/about\">About</a></nav>\n",
    );
    let paras = 3 + (next() % 40) as usize;
    for p in 0..paras {
        s.push_str("<p class=\"c");
        s.push_str(&p.to_string());
        s.push_str("\">");
        for _ in 0..20 + next() % 120 {
            s.push_str(WORDS[(next() % WORDS.len() as u64) as usize]);
            s.push(' ');
        }
        s.push_str("</p>\n");
    }
    s.push_str("</body></html>\n");
    s
}

fn record(kind: &str, i: usize, block: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(block.len() + 400);
    write!(
        v,
        "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n\
         WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{i:012}>\r\n\
         WARC-Target-URI: https://example.com/page/{i}\r\nContent-Type: application/http; msgtype=response\r\n\
         WARC-Payload-Digest: sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\nContent-Length: {}\r\n\r\n",
        block.len()
    )
    .unwrap();
    v.extend_from_slice(block);
    v.extend_from_slice(b"\r\n\r\n");
    v
}

fn build() -> (Vec<u8>, Vec<u8>) {
    let mut plain = Vec::new();
    let mut gz = Vec::new();
    for i in 0..RECORDS {
        let body = html(i);
        let block = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let r = record("response", i, block.as_bytes());
        plain.extend_from_slice(&r);
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&r).unwrap();
        gz.extend_from_slice(&e.finish().unwrap());
    }
    (plain, gz)
}

fn main() {
    let (plain, gz) = build();
    if let Ok(dir) = std::env::var("ALIGNKIT_BENCH_DUMP") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("synthetic.warc"), &plain).unwrap();
        std::fs::write(dir.join("synthetic.warc.gz"), &gz).unwrap();
    }
    let mut inputs = vec![
        ("plain", plain, Some(RECORDS)),
        ("gzip_members", gz, Some(RECORDS)),
    ];
    // ALIGNKIT_BENCH_FILE=path benches a real file too (from_bytes, whole file in memory).
    if let Ok(p) = std::env::var("ALIGNKIT_BENCH_FILE") {
        inputs.push(("file", std::fs::read(p).unwrap(), None));
    }
    // Best-of-N wall time per input (comparable with a best-of-N run of another reader on the
    // dumped files; robust against a busy machine).
    if std::env::var_os("ALIGNKIT_BENCH_BEST_OF").is_some() {
        for (name, data, _) in &inputs {
            let mut best = f64::MAX;
            let mut n = 0;
            for _ in 0..15 {
                let d = data.clone();
                let t = std::time::Instant::now();
                n = WarcReader::from_bytes(d, ReaderOptions::default()).count();
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "best-of-15 {name}: {n} records, {:.2} ms, {:.0} records/s, {:.0} MB/s (input)",
                best * 1e3,
                n as f64 / best,
                data.len() as f64 / best / 1e6
            );
        }
    }
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("warc_reader");
    g.sample_size(20);
    for (name, data, expect) in &inputs {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("{name}/from_bytes"), |b| {
            b.iter_batched(
                || data.clone(),
                |d| {
                    let n = WarcReader::from_bytes(d, ReaderOptions::default()).count();
                    if let Some(e) = *expect {
                        assert_eq!(e, n);
                    }
                    black_box(n)
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("{name}/from_read"), |b| {
            b.iter_batched(
                || Box::new(std::io::Cursor::new(data.clone())),
                |d| black_box(WarcReader::from_read(d, ReaderOptions::default()).count()),
                BatchSize::LargeInput,
            )
        });
        let only = ReaderOptions {
            record_types: RecordTypeSet::of(&[RecordType::Request]),
            ..ReaderOptions::default()
        };
        g.bench_function(format!("{name}/filtered_out"), |b| {
            b.iter_batched(
                || data.clone(),
                |d| black_box(WarcReader::from_bytes(d, only.clone()).count()),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
    c.final_summary();
}
