//! Feed arbitrary bytes to the WARC reader (in-memory and streaming paths, each compression
//! setting), and to the HTTP and charset layers. Any panic, hang or runaway allocation is a bug.
#![no_main]

use alignkit_core::charset::decode_html;
use alignkit_core::http::parse_response;
use alignkit_core::warc::{Compression, ReaderOptions, RecordType, RecordTypeSet, WarcReader};
use libfuzzer_sys::fuzz_target;

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

    let mut n = 0usize;
    let mut reader = WarcReader::from_bytes(body.to_vec(), opts.clone());
    for rec in reader.by_ref() {
        n += 1;
        assert!(n <= body.len() + 1, "more records than input bytes");
        if let Ok(resp) = parse_response(&rec.block) {
            let (_, charset) = resp.content_type();
            let _ = decode_html(&resp.body, charset.as_deref());
        }
        let _ = rec.target_uri();
    }
    let _ = reader.stats();

    let src: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(body.to_vec()));
    let m = WarcReader::from_read(src, opts).count();
    assert!(m <= body.len() + 1);

    // The raw bytes as an HTTP block and as HTML.
    if let Ok(resp) = parse_response(body) {
        let _ = resp.content_type();
    }
    let _ = decode_html(body, None);
    let _ = decode_html(body, Some("shift_jis"));
});
