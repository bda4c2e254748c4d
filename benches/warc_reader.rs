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

fn html(i: usize) -> String {
    let mut s = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Page ");
    s.push_str(&i.to_string());
    s.push_str(
        "</title></head><body><nav><a href=\"/\">Home</a> <a href=\"/about\">About</a></nav>\n",
    );
    // Vary sizes (about 2 to 40 KB) with a cheap deterministic sequence.
    let paras = 5 + (i * 7919) % 90;
    for p in 0..paras {
        s.push_str("<p class=\"c\">Paragraph ");
        s.push_str(&p.to_string());
        s.push_str(" of page ");
        s.push_str(&i.to_string());
        s.push_str(": the quick brown fox jumps over the lazy dog, while alignment data flows through the pipeline and gets cleaned.</p>\n");
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
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("warc_reader");
    g.sample_size(20);
    for (name, data) in [("plain", &plain), ("gzip_members", &gz)] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("{name}/from_bytes"), |b| {
            b.iter_batched(
                || data.clone(),
                |d| {
                    let n = WarcReader::from_bytes(d, ReaderOptions::default()).count();
                    assert_eq!(n, RECORDS);
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
