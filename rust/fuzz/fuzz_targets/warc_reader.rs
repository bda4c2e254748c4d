//! Feed arbitrary bytes to the WARC reader (in-memory and streaming paths, each compression
//! setting), and to the HTTP and charset layers. Any panic, hang or runaway allocation is a bug,
//! and so is an intact record (by the reference parser in `warc/oracle.rs`) the reader loses.
#![no_main]

use alignkit_core::charset::decode_html;
use alignkit_core::http::parse_response;
use alignkit_core::warc::{Compression, ReaderOptions, RecordType, RecordTypeSet, WarcReader};
use libfuzzer_sys::fuzz_target;

// The reference parser of the reader's own tests (std and flate2 only).
#[path = "../../alignkit-core/src/warc/oracle.rs"]
#[allow(dead_code)]
mod oracle;

fn keys(records: &[alignkit_core::warc::Record]) -> Vec<oracle::Key> {
    records
        .iter()
        .map(|r| (r.header("WARC-Record-ID").map(str::to_owned), r.block.clone()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // First byte picks options so the fuzzer can explore them too.
    let (sel, body) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    };
    let compression = match sel % 3 {
        0 => Compression::Auto,
        1 => Compression::None,
        _ => Compression::Gzip,
    };
    let record_types = if sel & 4 != 0 {
        RecordTypeSet::of(&[RecordType::Response, RecordType::Conversion])
    } else {
        RecordTypeSet::ALL
    };
    let opts = ReaderOptions {
        record_types,
        max_block_bytes: if sel & 8 != 0 { 64 } else { 1 << 20 },
        compression,
    };

    let mut reader = WarcReader::from_bytes(body.to_vec(), opts.clone());
    let in_memory: Vec<_> = reader.by_ref().collect();
    assert!(in_memory.len() <= body.len() + 1, "more records than input bytes");
    for rec in &in_memory {
        if let Ok(resp) = parse_response(&rec.block) {
            let (_, charset) = resp.content_type();
            let _ = decode_html(&resp.body, charset.as_deref());
        }
        let _ = rec.target_uri();
    }
    let _ = reader.stats();

    let src: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(body.to_vec()));
    let streamed: Vec<_> = WarcReader::from_read(src, opts.clone()).collect();
    assert!(streamed.len() <= body.len() + 1);

    // Differential oracle: with compression sniffed and no type filter, every record the
    // reference parser finds intact must come back, from memory and from a stream.
    if matches!(compression, Compression::Auto) && sel & 4 == 0 {
        let gzip = body.starts_with(&[0x1f, 0x8b, 0x08]);
        let expected = if gzip {
            oracle::reference_gzip(body, opts.max_block_bytes)
        } else if body.starts_with(b"WARC/") {
            oracle::reference_plain(body, opts.max_block_bytes)
        } else {
            Vec::new() // junk first: the sniffing decides, not the oracle
        };
        for (how, got) in [("memory", &in_memory), ("stream", &streamed)] {
            let n = oracle::recovered(&expected, &keys(got));
            assert_eq!(n, expected.len(), "{how}: {n} of {} intact records", expected.len());
        }
    }

    // The raw bytes as an HTTP block and as HTML.
    if let Ok(resp) = parse_response(body) {
        let _ = resp.content_type();
    }
    let _ = decode_html(body, None);
    let _ = decode_html(body, Some("shift_jis"));
});
