//! Charset resolution and decoding to UTF-8.
//!
//! Order: byte-order mark, then the HTTP `charset`, then a `<meta>` prescan of the first
//! [`META_PRESCAN_BYTES`] bytes, then detection (valid UTF-8 is taken as UTF-8; otherwise chardetng
//! guesses). Labels go through the WHATWG registry, so "iso-8859-1" and "ascii" mean windows-1252.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252, X_USER_DEFINED};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CharsetSource {
    Bom,
    Http,
    Meta,
    Detected,
}

#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    /// WHATWG encoding name, e.g. "UTF-8", "windows-1252", "Shift_JIS".
    pub encoding: &'static str,
    pub source: CharsetSource,
    /// True if malformed sequences were replaced with U+FFFD.
    pub had_errors: bool,
}

/// How many leading bytes the `<meta>` prescan looks at.
pub const META_PRESCAN_BYTES: usize = 4096;
/// How many leading bytes chardetng sees when detection is needed.
const DETECT_BYTES: usize = 256 << 10;

/// Decode an HTML payload: BOM, then the HTTP charset, then `<meta charset>` /
/// `<meta http-equiv=content-type>` in the first bytes, then detection (chardetng).
pub fn decode_html(body: &[u8], http_charset: Option<&str>) -> Decoded {
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        return decode_with(enc, &body[bom_len..], CharsetSource::Bom);
    }
    if let Some(enc) = http_charset.and_then(|l| Encoding::for_label(l.trim().as_bytes())) {
        return decode_with(enc, body, CharsetSource::Http);
    }
    if let Some(enc) = meta_charset(body) {
        return decode_with(enc, body, CharsetSource::Meta);
    }
    // Fast path: valid UTF-8 (ASCII included) needs no detection and a single copy.
    if let Ok(s) = std::str::from_utf8(body) {
        return Decoded {
            text: s.to_owned(),
            encoding: UTF_8.name(),
            source: CharsetSource::Detected,
            had_errors: false,
        };
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let sample = &body[..body.len().min(DETECT_BYTES)];
    det.feed(sample, sample.len() == body.len());
    let enc = det.guess(None, chardetng::Utf8Detection::Allow);
    decode_with(enc, body, CharsetSource::Detected)
}

fn decode_with(enc: &'static Encoding, bytes: &[u8], source: CharsetSource) -> Decoded {
    if enc == UTF_8 {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return Decoded {
                text: s.to_owned(),
                encoding: UTF_8.name(),
                source,
                had_errors: false,
            };
        }
    }
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding: enc.name(),
        source,
        had_errors,
    }
}

/// The `<meta>` prescan: `<meta charset=...>` or a `content="...; charset=..."` attribute,
/// case-insensitive, quotes optional. UTF-16 labels mean UTF-8 here (as in browsers), and
/// x-user-defined means windows-1252.
pub fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(META_PRESCAN_BYTES)];
    let mut i = 0;
    while let Some(lt) = memchr::memchr(b'<', &head[i..]) {
        let start = i + lt;
        i = start + 1;
        let tag = &head[start + 1..];
        if tag.len() < 5 || !tag[..4].eq_ignore_ascii_case(b"meta") {
            // Skip comments wholesale so commented-out metas do not count.
            if tag.starts_with(b"!--") {
                match memchr::memmem::find(&head[start..], b"-->") {
                    Some(e) => i = start + e + 3,
                    None => return None,
                }
            }
            continue;
        }
        if !matches!(tag[4], b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'\x0c') {
            continue;
        }
        let end = memchr::memchr(b'>', tag).unwrap_or(tag.len());
        let attrs = &tag[4..end];
        i = start + 1 + end;
        if let Some(label) = charset_in(attrs) {
            if let Some(enc) = Encoding::for_label(label) {
                let enc = if enc == UTF_16LE || enc == UTF_16BE {
                    UTF_8
                } else if enc == X_USER_DEFINED {
                    WINDOWS_1252
                } else {
                    enc
                };
                return Some(enc);
            }
        }
    }
    None
}

/// Find `charset` `=` value in a tag's attribute text (case-insensitive).
fn charset_in(attrs: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    while from + 7 <= attrs.len() {
        let k = attrs[from..]
            .windows(7)
            .position(|w| w.eq_ignore_ascii_case(b"charset"))?;
        let mut p = from + k + 7;
        from = p;
        while p < attrs.len() && attrs[p].is_ascii_whitespace() {
            p += 1;
        }
        if attrs.get(p) != Some(&b'=') {
            continue;
        }
        p += 1;
        while p < attrs.len() && attrs[p].is_ascii_whitespace() {
            p += 1;
        }
        if matches!(attrs.get(p), Some(b'"' | b'\'')) {
            p += 1;
        }
        let v_end = attrs[p..]
            .iter()
            .position(|&b| matches!(b, b'"' | b'\'' | b';' | b'>' | b'/') || b.is_ascii_whitespace())
            .map_or(attrs.len(), |e| p + e);
        if v_end > p {
            return Some(&attrs[p..v_end]);
        }
    }
    None
}
