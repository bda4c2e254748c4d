use super::oracle::{self, Key, Rng};
use super::*;
use flate2::write::GzEncoder;
use std::io::Write;

fn rec(t: &str, uri: &str, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write!(
        v,
        "WARC/1.1\r\nWARC-Type: {t}\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n\
         WARC-Record-ID: <urn:uuid:{}>\r\nContent-Length: {}\r\n\r\n",
        uri.len(),
        body.len()
    )
    .unwrap();
    v.extend_from_slice(body);
    v.extend_from_slice(b"\r\n\r\n");
    v
}

fn http_body(i: usize) -> Vec<u8> {
    let html = format!(
        "<html><body><p>page {i}</p>{}</body></html>",
        "x".repeat(i % 97)
    );
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n{html}",
        html.len()
    )
    .into_bytes()
}

fn sample_records(n: usize) -> Vec<Vec<u8>> {
    let mut v = vec![rec("warcinfo", "", b"software: test\r\n")];
    for i in 0..n {
        let uri = format!("http://example.com/{i}");
        v.push(rec(
            "request",
            &uri,
            b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        ));
        v.push(rec("response", &uri, &http_body(i)));
        v.push(rec("metadata", &uri, b"fetchTimeMs: 12\r\n"));
    }
    v
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn plain(recs: &[Vec<u8>]) -> Vec<u8> {
    recs.concat()
}

/// Per-record gzip; also returns member offsets.
fn members(recs: &[Vec<u8>]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut offs = Vec::new();
    for r in recs {
        offs.push(out.len() as u64);
        out.extend_from_slice(&gz(r));
    }
    (out, offs)
}

fn read_all(data: &[u8], opts: ReaderOptions) -> (Vec<Record>, ReadStats) {
    let mut r = WarcReader::from_bytes(data.to_vec(), opts);
    let v: Vec<Record> = r.by_ref().collect();
    (v, r.stats().clone())
}

fn read_all_stream(data: &[u8], opts: ReaderOptions) -> (Vec<Record>, ReadStats) {
    let src: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
    let mut r = WarcReader::from_read(src, opts);
    let v: Vec<Record> = r.by_ref().collect();
    (v, r.stats().clone())
}

/// Both paths, same records (types, uris, blocks).
fn read_both(data: &[u8], opts: ReaderOptions) -> (Vec<Record>, ReadStats, ReadStats) {
    let (a, sa) = read_all(data, opts.clone());
    let (b, sb) = read_all_stream(data, opts);
    assert_eq!(a.len(), b.len(), "from_bytes vs from_read count");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.record_type, y.record_type);
        assert_eq!(x.headers, y.headers);
        assert_eq!(x.block, y.block);
    }
    (a, sa, sb)
}

fn opts() -> ReaderOptions {
    ReaderOptions::default()
}

#[test]
fn record_type_roundtrip_and_set() {
    for t in [
        RecordType::Warcinfo,
        RecordType::Response,
        RecordType::Resource,
        RecordType::Request,
        RecordType::Metadata,
        RecordType::Revisit,
        RecordType::Conversion,
        RecordType::Continuation,
    ] {
        assert_eq!(RecordType::parse(t.as_str()), t);
        assert!(RecordTypeSet::ALL.contains(t));
    }
    assert_eq!(RecordType::parse("Response"), RecordType::Response);
    assert_eq!(RecordType::parse("weird"), RecordType::Other);
    let s = RecordTypeSet::of(&[RecordType::Response, RecordType::Conversion]);
    assert!(s.contains(RecordType::Response) && s.contains(RecordType::Conversion));
    assert!(!s.contains(RecordType::Request) && !s.contains(RecordType::Other));
}

#[test]
fn uncompressed_reads_all_with_offsets() {
    let recs = sample_records(20);
    let data = plain(&recs);
    let (v, st, _) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    let mut off = 0u64;
    for (r, raw) in v.iter().zip(&recs) {
        assert_eq!(r.offset, off);
        assert_eq!(r.version, "WARC/1.1");
        off += raw.len() as u64;
    }
    assert_eq!(v[2].record_type, RecordType::Response);
    assert_eq!(v[2].target_uri(), Some("http://example.com/0"));
    assert_eq!(v[2].block, http_body(0));
    assert_eq!(v[2].record_id(), Some("urn:uuid:20"));
    assert_eq!(v[2].date(), Some("2024-05-18T01:58:10Z"));
    assert_eq!(
        v[2].header("content-length"),
        Some(&*http_body(0).len().to_string())
    );
    assert_eq!(st.records_read, recs.len() as u64);
    assert_eq!(st.records_returned, recs.len() as u64);
    assert_eq!(st.faults, FaultCounts::default());
    assert_eq!(st.bytes_in, data.len() as u64);
}

#[test]
fn gzip_members_offsets() {
    let recs = sample_records(20);
    let (data, offs) = members(&recs);
    let (v, st, sst) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    for (r, o) in v.iter().zip(&offs) {
        assert_eq!(r.offset, *o);
    }
    let (vs, _) = read_all_stream(&data, opts());
    for (r, o) in vs.iter().zip(&offs) {
        assert_eq!(r.offset, *o);
    }
    assert_eq!(st.faults, FaultCounts::default());
    assert_eq!(sst.faults, FaultCounts::default());
    assert_eq!(st.bytes_in, data.len() as u64);
    assert_eq!(st.bytes_decompressed, plain(&recs).len() as u64);
    // A fresh reader at a record's offset finds it again.
    let again = read_all(&data[offs[5] as usize..], opts()).0;
    assert_eq!(again[0].block, v[5].block);
}

#[test]
fn whole_file_gzip() {
    let recs = sample_records(30);
    let raw = plain(&recs);
    let data = gz(&raw);
    let (v, st, sst) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    let mut off = 0u64;
    for (r, x) in v.iter().zip(&recs) {
        assert_eq!(r.offset, off, "uncompressed offsets");
        off += x.len() as u64;
    }
    assert_eq!(st.faults, FaultCounts::default());
    assert_eq!(sst.faults, FaultCounts::default());
    // Force the streaming path for a member bigger than the scratch cap.
    let big = sample_records(3000);
    let raw = plain(&big);
    assert!(raw.len() > scratch_cap(1000));
    let data = gz(&raw);
    let o = ReaderOptions {
        max_block_bytes: 1000,
        ..opts()
    };
    let (v, st, _) = read_both(&data, o);
    assert_eq!(v.len(), big.len());
    assert_eq!(
        v[100].block,
        big[100][big[100].len() - 4 - v[100].block.len()..][..v[100].block.len()]
    );
    assert_eq!(st.faults, FaultCounts::default());
    assert_eq!(st.bytes_decompressed, raw.len() as u64);
    // Members after a big one still use the fast path and member offsets.
    let mut mixed = data.clone();
    let small = gz(&recs[1]);
    let small_off = mixed.len() as u64;
    mixed.extend_from_slice(&small);
    let (v2, _) = read_all(
        &mixed,
        ReaderOptions {
            max_block_bytes: 1000,
            ..opts()
        },
    );
    assert_eq!(v2.len(), big.len() + 1);
    assert_eq!(v2.last().unwrap().offset, small_off);
}

#[test]
fn multi_record_members() {
    let recs = sample_records(4);
    let mut data = gz(&plain(&recs[..3]));
    let off2 = data.len() as u64;
    data.extend_from_slice(&gz(&recs[3]));
    data.extend_from_slice(&gz(&plain(&recs[4..])));
    let (v, st, _) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    assert_eq!(v[0].offset, 0);
    assert_eq!(v[1].offset, recs[0].len() as u64);
    assert_eq!(v[3].offset, off2);
    assert_eq!(st.faults, FaultCounts::default());
}

#[test]
fn filter_pushdown() {
    let recs = sample_records(10);
    let o = ReaderOptions {
        record_types: RecordTypeSet::of(&[RecordType::Response]),
        ..opts()
    };
    for data in [plain(&recs), members(&recs).0, gz(&plain(&recs))] {
        let (v, st, sst) = read_both(&data, o.clone());
        assert_eq!(v.len(), 10);
        assert!(v.iter().all(|r| r.record_type == RecordType::Response));
        assert_eq!(st.records_filtered, 21);
        assert_eq!(st.records_read, 31);
        assert_eq!(st.records_returned, 10);
        assert_eq!(sst.records_filtered, 21);
    }
}

#[test]
fn wet_and_wat_records() {
    let wet = rec(
        "conversion",
        "https://an.wikipedia.org/wiki/Escopete",
        "Escopete\nUn municipio d'Espanya.\n".as_bytes(),
    );
    let wat = rec(
        "metadata",
        "https://an.wikipedia.org/wiki/Escopete",
        br#"{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response"}}}"#,
    );
    let data = members(&[rec("warcinfo", "", b"x: y\r\n"), wet, wat]).0;
    let (v, _, _) = read_both(&data, opts());
    assert_eq!(v.len(), 3);
    assert_eq!(v[1].record_type, RecordType::Conversion);
    assert!(v[1].block.starts_with(b"Escopete\n"));
    assert_eq!(v[2].record_type, RecordType::Metadata);
    let j: serde_json::Value = serde_json::from_slice(&v[2].block).unwrap();
    assert_eq!(
        j["Envelope"]["WARC-Header-Metadata"]["WARC-Type"],
        "response"
    );
}

#[test]
fn truncated_inputs() {
    let recs = sample_records(5);
    let data = plain(&recs);
    let cut = data.len() - 40;
    let (v, st, sst) = read_both(&data[..cut], opts());
    assert_eq!(v.len(), recs.len() - 1);
    assert_eq!(st.faults.truncated, 1);
    assert_eq!(sst.faults.truncated, 1);
    // Cut inside a header block.
    let cut = data.len() - recs.last().unwrap().len() + 20;
    let (v, st, _) = read_both(&data[..cut], opts());
    assert_eq!(v.len(), recs.len() - 1);
    assert_eq!(st.faults.truncated, 1);
    // Gzip cut inside the last member.
    let (gzd, _) = members(&recs);
    let (v, st, sst) = read_both(&gzd[..gzd.len() - 30], opts());
    assert_eq!(v.len(), recs.len() - 1);
    assert_eq!(st.faults.truncated, 1);
    assert!(sst.faults.truncated + sst.faults.corrupt_gzip >= 1);
    // Empty input and a lone partial marker.
    assert_eq!(read_both(b"", opts()).0.len(), 0);
    let (v, st, _) = read_both(b"WARC/", opts());
    assert!(v.is_empty());
    assert_eq!(st.faults.truncated, 1);
}

#[test]
fn corrupt_gzip_member() {
    let recs = sample_records(5);
    let (mut data, offs) = members(&recs);
    // Damage the deflate data of member 3.
    let m = offs[3] as usize;
    for b in &mut data[m + 12..m + 40] {
        *b ^= 0x5a;
    }
    let (v, st) = read_all(&data, opts());
    assert_eq!(v.len(), recs.len() - 1);
    assert_eq!(st.faults.corrupt_gzip, 1);
    assert_eq!(v[3].offset, offs[4]);
    let (vs, sst) = read_all_stream(&data, opts());
    assert_eq!(sst.faults.corrupt_gzip, 1);
    assert_eq!(vs.len(), recs.len() - 1);
    // A bad CRC only (data intact) is corrupt too, but the record it holds checks out: kept.
    let (mut data, offs) = members(&recs);
    let end = offs[2] as usize - 8;
    data[end] ^= 1;
    let (v, st) = read_all(&data, opts());
    assert_eq!(v.len(), recs.len());
    assert_eq!(
        v[1].block,
        recs[1][recs[1].len() - 4 - v[1].block.len()..recs[1].len() - 4]
    );
    assert_eq!(st.faults.corrupt_gzip, 1);
}

#[test]
fn bad_content_length() {
    let recs = sample_records(3);
    // Too long: declared 50 bytes more than present.
    let mut r = recs.clone();
    let body = http_body(0);
    let s = String::from_utf8(r[2].clone()).unwrap();
    r[2] = s
        .replacen(
            &format!("Content-Length: {}", body.len()),
            &format!("Content-Length: {}", body.len() + 50),
            1,
        )
        .into_bytes();
    let (v, st, sst) = read_both(&plain(&r), opts());
    assert_eq!(v.len(), recs.len());
    assert_eq!(v[2].block, body);
    assert_eq!(st.faults.bad_content_length, 1);
    assert_eq!(sst.faults.bad_content_length, 1);
    // Too long in the last record (past the end of input).
    let last = r.len() - 1;
    let s = String::from_utf8(recs[last].clone()).unwrap();
    let n = s.len() - s.find("\r\n\r\n").unwrap() - 8;
    r[last] = s
        .replacen(
            &format!("Content-Length: {n}"),
            &format!("Content-Length: {}", n + 9999),
            1,
        )
        .into_bytes();
    let (v, st, _) = read_both(&plain(&r), opts());
    assert_eq!(v.len(), recs.len() - 1);
    assert_eq!(st.faults.truncated, 1);
    // Too short: declared 20 bytes less.
    let mut r = recs.clone();
    let s = String::from_utf8(r[2].clone()).unwrap();
    r[2] = s
        .replacen(
            &format!("Content-Length: {}", body.len()),
            &format!("Content-Length: {}", body.len() - 20),
            1,
        )
        .into_bytes();
    for data in [plain(&r), members(&r).0] {
        let (v, st, _) = read_both(&data, opts());
        assert_eq!(v.len(), recs.len());
        assert_eq!(v[2].block, body);
        assert_eq!(v[3].record_type, RecordType::Metadata);
        assert_eq!(st.faults.bad_content_length, 1);
    }
}

#[test]
fn garbage_between_records() {
    let recs = sample_records(3);
    let mut data = Vec::new();
    data.extend_from_slice(b"junk at start\n");
    for (i, r) in recs.iter().enumerate() {
        data.extend_from_slice(r);
        if i == 4 {
            data.extend_from_slice(b"some garbage WARC/1.0 not at line start\r\n");
        }
    }
    data.extend_from_slice(b"trailing junk");
    let (v, st, sst) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    assert!(st.faults.garbage_bytes > 40);
    assert_eq!(st.faults.garbage_bytes, sst.faults.garbage_bytes);
    // Gzip: junk between members.
    let mut data = Vec::new();
    for r in &recs {
        data.extend_from_slice(&gz(r));
        data.extend_from_slice(b"\0\0JUNK");
    }
    let (v, st, sst) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    assert_eq!(st.faults.garbage_bytes, 6 * recs.len() as u64);
    assert_eq!(sst.faults.garbage_bytes, 6 * recs.len() as u64);
    // Junk before the first member: Auto still detects gzip.
    let mut junk = b"HTTP/1.1 200 OK\r\n\r\nleading junk".to_vec();
    junk.extend_from_slice(&data);
    let (v, st, sst) = read_both(&junk, opts());
    assert_eq!(v.len(), recs.len());
    assert_eq!(st.faults.garbage_bytes, 6 * recs.len() as u64 + 31);
    assert_eq!(sst.faults.garbage_bytes, st.faults.garbage_bytes);
}

#[test]
fn oversize_records_skipped() {
    let mut recs = sample_records(2);
    recs.insert(2, rec("resource", "http://big/", &vec![b'a'; 5000]));
    let o = ReaderOptions {
        max_block_bytes: 4096,
        ..opts()
    };
    for data in [plain(&recs), members(&recs).0, gz(&plain(&recs))] {
        let (v, st, sst) = read_both(&data, o.clone());
        assert_eq!(v.len(), recs.len() - 1);
        assert_eq!(st.faults.oversize, 1);
        assert_eq!(sst.faults.oversize, 1);
        assert_eq!(st.faults.garbage_bytes, 0);
    }
}

#[test]
fn bad_headers() {
    let recs = sample_records(2);
    let mut data = recs[0].clone();
    data.extend_from_slice(
        b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: abc\r\n\r\nhello\r\n\r\n",
    );
    data.extend_from_slice(b"WARC/1.0\r\nWARC-Type: response\r\n\r\nno length\r\n\r\n");
    // Invalid UTF-8 and odd lines in a header.
    data.extend_from_slice(b"WARC/1.0\nWARC-Type: resource\nX-Bin: \xff\xfe\nno colon line\nX-Fold: a\n  b\nContent-Length: 2\n\nok\n\n");
    data.extend_from_slice(&recs[1]);
    let (v, st, _) = read_both(&data, opts());
    assert_eq!(v.len(), 3);
    assert_eq!(st.faults.bad_header, 2);
    assert_eq!(v[1].record_type, RecordType::Resource);
    assert_eq!(v[1].block, b"ok");
    assert_eq!(v[1].header("x-bin"), Some("\u{fffd}\u{fffd}"));
    assert_eq!(v[1].header("X-Fold"), Some("a b"));
    assert_eq!(v[1].version, "WARC/1.0");
}

#[test]
fn open_file_and_compression_options() {
    let recs = sample_records(5);
    let (data, _) = members(&recs);
    let dir = std::env::temp_dir().join(format!("alignkit-warc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("t.warc.gz");
    std::fs::write(&p, &data).unwrap();
    let v: Vec<Record> = WarcReader::open(&p, opts()).unwrap().collect();
    assert_eq!(v.len(), recs.len());
    let empty = dir.join("empty.warc");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(WarcReader::open(&empty, opts()).unwrap().count(), 0);
    assert!(WarcReader::open(&dir.join("missing"), opts()).is_err());
    std::fs::remove_dir_all(&dir).ok();
    // Forcing the wrong compression finds nothing but does not fail.
    let o = ReaderOptions {
        compression: Compression::None,
        ..opts()
    };
    let (v, st, _) = read_both(&data, o);
    assert!(v.is_empty());
    assert!(st.faults.garbage_bytes > 0);
    let o = ReaderOptions {
        compression: Compression::Gzip,
        ..opts()
    };
    let (v, _, _) = read_both(&data, o);
    assert_eq!(v.len(), recs.len());
}

struct FailAfter(Vec<u8>, usize);
impl Read for FailAfter {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.1 >= self.0.len() {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = out.len().min(self.0.len() - self.1).min(1000);
        out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn io_errors_end_the_stream_and_are_reported() {
    let recs = sample_records(3);
    let data = plain(&recs);
    let cut = data.len() - 100;
    let mut r = WarcReader::from_read(Box::new(FailAfter(data[..cut].to_vec(), 0)), opts());
    assert_eq!(r.by_ref().count(), recs.len() - 1);
    assert!(r.io_error().is_some());
    assert_eq!(r.stats().faults.truncated, 1);
    let ok = WarcReader::from_read(Box::new(std::io::Cursor::new(data)), opts());
    assert!(ok.io_error().is_none());
    let dir = std::env::temp_dir();
    assert!(WarcReader::open(&dir, opts()).is_err());
}

#[test]
fn stats_are_send_and_reader_is_send() {
    fn is_send<T: Send>() {}
    is_send::<WarcReader>();
}

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut d = src.to_vec();
    for _ in 0..1 + rng.below(8) {
        if d.is_empty() {
            d.push(rng.next() as u8);
            continue;
        }
        let i = rng.below(d.len());
        match rng.below(6) {
            0 => d[i] = rng.next() as u8,
            1 => d.truncate(i),
            2 => {
                let n = rng.below(64).min(d.len() - i);
                d.drain(i..i + n);
            }
            3 => {
                let j = rng.below(d.len());
                let n = rng.below(200).min(d.len() - j);
                let chunk = d[j..j + n].to_vec();
                d.splice(i..i, chunk);
            }
            4 => d
                .splice(
                    i..i,
                    b"\r\nWARC/1.0\r\nContent-Length: 99999\r\n\r\n"
                        .iter()
                        .copied(),
                )
                .for_each(drop),
            _ => d[i] ^= 1 << rng.below(8),
        }
    }
    d
}

fn exercise(data: &[u8]) {
    for c in [Compression::Auto, Compression::None, Compression::Gzip] {
        let o = ReaderOptions {
            compression: c,
            max_block_bytes: 1 << 16,
            ..opts()
        };
        let mut r = WarcReader::from_bytes(data.to_vec(), o.clone());
        let mut n = 0;
        for rec in r.by_ref() {
            n += 1;
            assert!(n <= data.len() + 1);
            if let Ok(h) = crate::http::parse_response(&rec.block) {
                let (_, cs) = h.content_type();
                let _ = crate::charset::decode_html(&h.body, cs.as_deref());
            }
        }
        let src: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
        let n2 = WarcReader::from_read(src, o).count();
        assert!(n2 <= data.len() + 1);
    }
}

#[test]
fn mutated_inputs_never_panic() {
    let recs = sample_records(6);
    let seeds = [plain(&recs), members(&recs).0, gz(&plain(&recs))];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..600 {
        let base = &seeds[round % seeds.len()];
        let d = mutate(&mut rng, base);
        exercise(&d);
    }
    // Pure noise.
    for _ in 0..100 {
        let n = rng.below(4000);
        let d: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        exercise(&d);
    }
}

#[test]
fn real_common_crawl_files() {
    let dir = Path::new("/work/shared/data/commoncrawl");
    let files = [
        (
            "whirlwind.warc.gz",
            vec!["warcinfo", "request", "response", "metadata"],
        ),
        ("whirlwind.warc.wet.gz", vec!["warcinfo", "conversion"]),
        ("whirlwind.warc.wat.gz", vec!["warcinfo", "metadata"]),
    ];
    for (name, types) in files {
        let p = dir.join(name);
        if !p.exists() {
            println!("skipping real-data test: {} not present", p.display());
            return;
        }
        let mut r = WarcReader::open(&p, opts()).unwrap();
        let v: Vec<Record> = r.by_ref().collect();
        let got: Vec<&str> = v.iter().map(|r| r.record_type.as_str()).collect();
        assert_eq!(got, types, "{name}");
        assert_eq!(r.stats().faults, FaultCounts::default(), "{name}");
        for rec in &v[1..] {
            assert_eq!(
                rec.target_uri(),
                Some("https://an.wikipedia.org/wiki/Escopete")
            );
        }
        let data = std::fs::read(&p).unwrap();
        let (vs, _) = read_all_stream(&data, opts());
        assert_eq!(vs.len(), v.len());
        for (a, b) in v.iter().zip(&vs) {
            assert_eq!(a.offset, b.offset);
            assert_eq!(a.block, b.block);
        }
        if name == "whirlwind.warc.gz" {
            assert_eq!(
                v.iter().map(|r| r.offset).collect::<Vec<_>>(),
                [0, 516, 1023, 18374]
            );
            let h = crate::http::parse_response(&v[2].block).unwrap();
            assert_eq!(h.status, 200);
            let (mime, cs) = h.content_type();
            assert_eq!(mime.as_deref(), Some("text/html"));
            let d = crate::charset::decode_html(&h.body, cs.as_deref());
            assert_eq!(d.encoding, "UTF-8");
            assert!(d.text.contains("Escopete"));
        }
        if name == "whirlwind.warc.wat.gz" {
            let j: serde_json::Value = serde_json::from_slice(&v[1].block).unwrap();
            assert!(j.get("Envelope").is_some());
        }
    }
}

#[test]
fn large_member_grows_scratch() {
    let mut recs = sample_records(1);
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    recs.insert(1, rec("resource", "http://big/", &big));
    let (data, offs) = members(&recs);
    let (v, st, _) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    assert_eq!(v[1].block, big);
    assert_eq!(v[1].offset, offs[1]);
    assert_eq!(v[2].offset, offs[2]);
    assert_eq!(st.faults, FaultCounts::default());
}

#[test]
fn many_markers_without_header_end_is_linear() {
    let t = std::time::Instant::now();
    let mut data = b"WARC/1.0\nX: y\n".repeat(150_000);
    data.extend_from_slice(&plain(&sample_records(1)));
    let (v, st, _) = read_both(&data, opts());
    assert_eq!(v.len(), 4);
    assert!(st.faults.bad_header >= 1);
    // Blank line far away: one bad header covering every marker before it.
    let mut data = b"WARC/1.0\nX: y\n".repeat(10_000);
    data.extend_from_slice(b"\n");
    data.extend_from_slice(&plain(&sample_records(1)));
    let (v, st, _) = read_both(&data, opts());
    assert_eq!(v.len(), 4);
    assert_eq!(st.faults.bad_header, 1);
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
}

#[test]
fn members_split_at_arbitrary_points() {
    // BGZF-style: the uncompressed stream cut into fixed-size pieces, each its own member.
    let recs = sample_records(20);
    let raw = plain(&recs);
    let mut data = Vec::new();
    for piece in raw.chunks(7000) {
        data.extend_from_slice(&gz(piece));
    }
    let (v, st, sst) = read_both(&data, opts());
    assert_eq!(v.len(), recs.len());
    assert_eq!(st.faults, FaultCounts::default());
    assert_eq!(sst.faults, FaultCounts::default());
    assert_eq!(st.bytes_decompressed, raw.len() as u64);
    let mut off = 0u64;
    for (r, x) in v.iter().zip(&recs) {
        assert_eq!(r.block, x[x.len() - 4 - r.block.len()..x.len() - 4]);
        // Records that start a member get its compressed offset; the others their
        // uncompressed offset. Either way the offset is where reading can resume.
        if r.offset != off {
            let again = read_all(&data[r.offset as usize..], opts()).0;
            assert_eq!(again[0].block, r.block);
        }
        off += x.len() as u64;
    }
}

#[test]
fn option_names_parse_or_fail_clearly() {
    let set = RecordTypeSet::from_names(&["Response", "metadata"]).unwrap();
    assert!(set.contains(RecordType::Response) && set.contains(RecordType::Metadata));
    assert!(!set.contains(RecordType::Request));
    let err = RecordTypeSet::from_names(&["responses"]).unwrap_err();
    assert!(err.to_string().contains("unknown WARC record type"));
    assert_eq!(Compression::parse("gzip").unwrap(), Compression::Gzip);
    assert!(Compression::parse("zstd")
        .unwrap_err()
        .to_string()
        .contains("compression must be"));
}

#[test]
fn http_payload_of_records() {
    let (records, _) = read_all(&plain(&sample_records(2)), opts());
    let response = records
        .iter()
        .find(|r| r.record_type == RecordType::Response)
        .unwrap();
    assert_eq!(response.http_response().unwrap().status, 200);
    assert!(response.html_text().unwrap().contains("page 0"));
    let metadata = records
        .iter()
        .find(|r| r.record_type == RecordType::Metadata)
        .unwrap();
    assert!(matches!(
        metadata.http_response(),
        Err(crate::Error::Malformed(_))
    ));
    assert_eq!(metadata.html_text(), None);
}

#[test]
fn summarise_files_counts_each_file_in_order() {
    let dir = std::env::temp_dir().join(format!("ak-warc-summary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.warc");
    let b = dir.join("b.warc.gz");
    std::fs::write(&a, plain(&sample_records(2))).unwrap();
    std::fs::write(&b, gz(&plain(&sample_records(3)))).unwrap();
    let summaries = summarise_files(&[a.clone(), b.clone()], &opts()).unwrap();
    assert_eq!(summaries[0].records_by_type["response"], 2);
    assert_eq!(summaries[1].records_by_type["response"], 3);
    assert_eq!(summaries[1].stats.records_returned, 10);
    assert!(summaries[0].block_bytes > 0);
    let missing = summarise_files(&[a, dir.join("missing.warc")], &opts());
    assert!(matches!(missing, Err(crate::Error::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- recovery: every record a careful reader could recover is recovered ----

/// Reads like a pipe: short reads of random sizes.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    rng: Rng,
}

impl Read for Chunked {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = (1 + self.rng.below(8192))
            .min(out.len())
            .min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn keys(records: &[Record]) -> Vec<Key> {
    records
        .iter()
        .map(|r| {
            (
                r.header("WARC-Record-ID").map(str::to_owned),
                r.block.clone(),
            )
        })
        .collect()
}

fn read_pipe(data: &[u8], opts: ReaderOptions, seed: u64) -> (Vec<Record>, ReadStats) {
    let src = Chunked {
        data: data.to_vec(),
        pos: 0,
        rng: Rng(seed | 1),
    };
    let mut r = WarcReader::from_read(Box::new(src), opts);
    let v: Vec<Record> = r.by_ref().collect();
    (v, r.stats().clone())
}

fn read_file(data: &[u8], opts: ReaderOptions, name: &str) -> Vec<Record> {
    let dir = std::env::temp_dir().join(format!("ak-warc-recovery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    let v = WarcReader::open(&p, opts).unwrap().collect();
    std::fs::remove_file(&p).ok();
    v
}

/// The three layouts of the same records.
fn layouts(recs: &[Vec<u8>]) -> [(&'static str, Vec<u8>); 3] {
    [
        ("plain", plain(recs)),
        ("per-record gzip", members(recs).0),
        ("whole-file gzip", gz(&plain(recs))),
    ]
}

/// Each input path must return every record the reference parser finds in `data`.
fn assert_recovers_reference(data: &[u8], what: &str) {
    let max_block = opts().max_block_bytes;
    let expected = if data.starts_with(oracle::GZ_MAGIC) {
        oracle::reference_gzip(data, max_block)
    } else {
        oracle::reference_plain(data, max_block)
    };
    for (how, got) in [
        ("bytes", read_all(data, opts()).0),
        ("pipe", read_pipe(data, opts(), 7).0),
        ("file", read_file(data, opts(), "case.warc")),
    ] {
        let n = oracle::recovered(&expected, &keys(&got));
        assert_eq!(
            n,
            expected.len(),
            "{what} via {how}: {n} of {}",
            expected.len()
        );
    }
}

fn with_length(rec: &[u8], new_len: &str) -> Vec<u8> {
    let s = String::from_utf8(rec.to_vec()).unwrap();
    let i = s.find("Content-Length: ").unwrap() + "Content-Length: ".len();
    let j = i + s[i..].find("\r\n").unwrap();
    format!("{}{new_len}{}", &s[..i], &s[j..]).into_bytes()
}

#[test]
fn whole_file_gzip_keeps_records_before_a_cut_or_corruption() {
    let recs = oracle::sample_records(&mut Rng(41), 180);
    let raw = plain(&recs);
    let data = gz(&raw);
    for frac in [0.1, 0.5, 0.93] {
        let cut = &data[..(data.len() as f64 * frac) as usize];
        // Records wholly inside the decodable prefix (what zlib gives back) must come back.
        let expected = oracle::reference_gzip(cut, opts().max_block_bytes);
        assert!(
            expected.len() >= (recs.len() as f64 * frac * 0.8) as usize,
            "{frac}: {} of {}",
            expected.len(),
            recs.len()
        );
        assert_recovers_reference(cut, &format!("cut at {frac}"));
        let (v, st) = read_all(cut, opts());
        assert_eq!(v.len(), expected.len());
        assert_eq!(st.faults.truncated, 1);
        let (v, st) = read_pipe(cut, opts(), 3);
        assert_eq!(v.len(), expected.len());
        assert_eq!(st.faults.truncated, 1);
    }
    // Corrupt bytes in the middle: the records before the damage are kept.
    let mut bad = data.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0xa5;
    }
    let (v, st) = read_all(&bad, opts());
    assert!(v.len() >= recs.len() / 3, "kept {}", v.len());
    assert_eq!(st.faults.corrupt_gzip, 1);
    assert_eq!(st.faults.truncated, 0);
    // (Damaged deflate data can decode to wrong bytes before the error shows: the records from
    // there on may differ from the originals; the reference parser sees the same bytes.)
    let intact = v
        .iter()
        .zip(&recs)
        .take_while(|(r, x)| x.ends_with(&[&r.block[..], b"\r\n\r\n"].concat()))
        .count();
    assert!(intact >= recs.len() / 3, "{intact} intact");
    let (vp, sp) = read_pipe(&bad, opts(), 5);
    assert_eq!(vp.len(), v.len());
    assert_eq!(sp.faults.corrupt_gzip, 1);
    assert_recovers_reference(&bad, "corrupt middle");
    // A member appended after the damaged whole-file member is read too.
    let mut more = bad.clone();
    more.extend_from_slice(&gz(&recs[5]));
    let (v2, _) = read_all(&more, opts());
    assert_eq!(v2.len(), v.len() + 1);
    assert_eq!(read_pipe(&more, opts(), 9).0.len(), v.len() + 1);
}

#[test]
fn implausible_huge_length_does_not_hide_later_records() {
    let recs: Vec<Vec<u8>> = sample_records(4).into_iter().take(10).collect();
    let mut bad = recs.clone();
    bad[5] = with_length(&recs[5], "99999999999");
    for (name, data) in layouts(&bad) {
        for (how, (v, st)) in [
            ("bytes", read_all(&data, opts())),
            ("pipe", read_pipe(&data, opts(), 11)),
        ] {
            let ids: Vec<_> = v
                .iter()
                .map(|r| r.record_id().unwrap().to_owned())
                .collect();
            for (i, x) in recs.iter().enumerate().filter(|(i, _)| *i != 5) {
                let r = v
                    .iter()
                    .find(|r| r.block == x[x.len() - 4 - r.block.len()..x.len() - 4]);
                assert!(r.is_some(), "{name} via {how}: record {i} lost ({ids:?})");
            }
            assert!(v.len() >= 9, "{name} via {how}: {} kept", v.len());
            assert_eq!(st.faults.oversize, 0, "{name} via {how}");
        }
    }
}

#[test]
fn plausible_oversize_record_is_skipped_and_counted() {
    let mut recs: Vec<Vec<u8>> = sample_records(3).into_iter().take(10).collect();
    recs[5] = rec("resource", "http://big/", &vec![b'a'; 5000]);
    let o = ReaderOptions {
        max_block_bytes: 4096,
        ..opts()
    };
    for (name, data) in layouts(&recs) {
        for (v, st) in [read_all(&data, o.clone()), read_pipe(&data, o.clone(), 13)] {
            assert_eq!(v.len(), 9, "{name}");
            assert_eq!(st.faults.oversize, 1, "{name}");
            assert_eq!(st.faults.bad_content_length, 0, "{name}");
        }
    }
    // Through a pipe, an oversize record longer than the look-ahead window is trusted.
    let huge = rec("resource", "http://huge/", &vec![b'b'; 600_000]);
    let data = plain(&[recs[0].clone(), huge, recs[1].clone()]);
    let o = ReaderOptions {
        max_block_bytes: 1000,
        ..opts()
    };
    let (v, st) = read_pipe(&data, o, 17);
    assert_eq!(v.len(), 2);
    assert_eq!(st.faults.oversize, 1);
}

#[test]
fn record_without_blank_line_does_not_swallow_the_next() {
    let recs: Vec<Vec<u8>> = sample_records(4).into_iter().take(10).collect();
    let strip = |r: &Vec<u8>| r[..r.len() - 4].to_vec();
    let one: Vec<Vec<u8>> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| if i == 3 { strip(r) } else { r.clone() })
        .collect();
    let all: Vec<Vec<u8>> = recs.iter().map(strip).collect();
    for (what, variant) in [("one", one), ("all", all)] {
        for (name, data) in layouts(&variant) {
            for (v, st) in [read_all(&data, opts()), read_pipe(&data, opts(), 19)] {
                assert_eq!(v.len(), 10, "{what} {name}");
                for (r, x) in v.iter().zip(&recs) {
                    assert_eq!(r.block, x[x.len() - 4 - r.block.len()..x.len() - 4]);
                }
                assert_eq!(st.faults, FaultCounts::default(), "{what} {name}");
            }
        }
    }
}

#[test]
fn pipe_corrupt_member_costs_only_that_record() {
    let recs = sample_records(10);
    let (data, offs) = members(&recs);
    // Header flag damage (FEXTRA / FNAME set) makes a decoder skip into the next members.
    for (k, flag) in [(4usize, 0x04u8), (7, 0x08), (12, 0x10)] {
        let mut bad = data.clone();
        bad[offs[k] as usize + 3] |= flag;
        for (how, (v, st)) in [
            ("bytes", read_all(&bad, opts())),
            ("pipe", read_pipe(&bad, opts(), k as u64)),
        ] {
            assert_eq!(v.len(), recs.len() - 1, "flag {flag:#x} via {how}");
            assert!(st.faults.corrupt_gzip >= 1);
        }
    }
    // Damaged deflate data in the middle of a member.
    let mut bad = data.clone();
    let m = offs[6] as usize;
    for b in &mut bad[m + 20..m + 30] {
        *b ^= 0x3c;
    }
    assert_eq!(read_pipe(&bad, opts(), 23).0.len(), recs.len() - 1);
    assert_recovers_reference(&bad, "corrupt member");
}

#[test]
fn file_shrinking_under_the_map_ends_with_an_error() {
    let dir = std::env::temp_dir().join(format!("ak-warc-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recs = sample_records(200);
    for (name, data) in layouts(&recs) {
        let p = dir.join(name.replace(' ', "-"));
        std::fs::write(&p, &data).unwrap();
        let mut r = WarcReader::open(&p, opts()).unwrap();
        assert!(r.next().is_some());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(100)
            .unwrap();
        let rest = r.by_ref().count();
        assert!(rest < recs.len(), "{name}");
        let err = r.io_error().expect("an error, not a silent end");
        assert!(err.to_string().contains("shrank"), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Damage the records of one layout with one class; structural classes edit the records.
fn damaged_input(rng: &mut Rng, class: usize, layout: usize, recs: &[Vec<u8>]) -> Vec<u8> {
    let structural = class >= 6;
    let mut recs = recs.to_vec();
    if structural {
        let k = rng.below(recs.len());
        recs[k] = if class == 6 {
            oracle::mutate(rng, class, &recs[k])
        } else {
            recs[k][..recs[k].len() - 4].to_vec()
        };
    }
    let data = match layout {
        0 => plain(&recs),
        1 => members(&recs).0,
        _ => oracle::gzip(&plain(&recs)),
    };
    if structural {
        data
    } else {
        oracle::mutate(rng, class, &data)
    }
}

/// Seeded mutation property test: for every damage class, layout and input path, no panic, and
/// the share of the records the reference parser finds intact that the reader returns stays
/// above a floor. `ALIGNKIT_WARC_PROPERTY_CASES` sets the number of cases (default 960).
#[test]
fn mutation_property_recovers_intact_records() {
    let cases: usize = std::env::var("ALIGNKIT_WARC_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(960);
    let o = ReaderOptions {
        max_block_bytes: 1 << 16,
        ..opts()
    };
    let mut rng = Rng(0x5eed_0fa1_19e3_7001);
    // [class][layout][path] -> (expected, recovered)
    let mut tally = vec![[[(0usize, 0usize); 3]; 3]; oracle::CLASSES.len()];
    for case in 0..cases {
        let class = case % oracle::CLASSES.len();
        let layout = (case / oracle::CLASSES.len()) % 3;
        let n = 3 + rng.below(25);
        let recs = oracle::sample_records(&mut rng, n);
        let data = damaged_input(&mut rng, class, layout, &recs);
        let expected = if layout == 0 {
            oracle::reference_plain(&data, o.max_block_bytes)
        } else {
            oracle::reference_gzip(&data, o.max_block_bytes)
        };
        let paths: [Option<Vec<Record>>; 3] = [
            Some(read_all(&data, o.clone()).0),
            Some(read_pipe(&data, o.clone(), case as u64).0),
            (case % 5 == 0).then(|| read_file(&data, o.clone(), &format!("p{case}.warc"))),
        ];
        for (path, got) in paths.into_iter().enumerate() {
            let Some(got) = got else { continue };
            let t = &mut tally[class][layout][path];
            t.0 += expected.len();
            t.1 += oracle::recovered(&expected, &keys(&got));
        }
    }
    let (mut all_expected, mut all_recovered) = (0, 0);
    for (class, per_layout) in tally.iter().enumerate() {
        for (layout, per_path) in per_layout.iter().enumerate() {
            for (path, &(e, r)) in per_path.iter().enumerate() {
                all_expected += e;
                all_recovered += r;
                let share = r as f64 / e.max(1) as f64;
                eprintln!(
                    "{:<18} {:<16} {:<5} {r:>6}/{e:<6} {share:.4}",
                    oracle::CLASSES[class],
                    ["plain", "per-record gzip", "whole-file gzip"][layout],
                    ["bytes", "pipe", "file"][path],
                );
                // Each (class, layout, path) cell: almost every intact record comes back.
                assert!(e < 20 || share >= 0.95, "{class} {layout} {path}: {share}");
            }
        }
    }
    let share = all_recovered as f64 / all_expected as f64;
    eprintln!("overall: {all_recovered}/{all_expected} = {share:.5}");
    assert!(share >= 0.99, "overall share {share}");
}
