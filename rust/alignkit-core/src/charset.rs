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
    match std::str::from_utf8(body) {
        Ok(s) => {
            return Decoded {
                text: s.to_owned(),
                encoding: UTF_8.name(),
                source: CharsetSource::Detected,
                had_errors: false,
            }
        }
        // Valid UTF-8 cut inside its last character (payloads truncated by the crawler):
        // still UTF-8, with the cut character replaced.
        Err(e) if e.error_len().is_none() => {
            return decode_with(UTF_8, body, CharsetSource::Detected);
        }
        Err(_) => {}
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
            .position(|&b| {
                matches!(b, b'"' | b'\'' | b';' | b'>' | b'/') || b.is_ascii_whitespace()
            })
            .map_or(attrs.len(), |e| p + e);
        if v_end > p {
            return Some(&attrs[p..v_end]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{GB18030, KOI8_R, SHIFT_JIS, WINDOWS_1251};

    fn enc(e: &'static Encoding, s: &str) -> Vec<u8> {
        e.encode(s).0.into_owned()
    }

    #[test]
    fn bom_wins() {
        let mut b = vec![0xEF, 0xBB, 0xBF];
        b.extend_from_slice("héllo".as_bytes());
        let d = decode_html(&b, Some("windows-1252"));
        assert_eq!(
            (d.text.as_str(), d.encoding, d.source),
            ("héllo", "UTF-8", CharsetSource::Bom)
        );
        let mut b = vec![0xFF, 0xFE];
        for u in "hi".encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        let d = decode_html(&b, None);
        assert_eq!((d.text.as_str(), d.encoding), ("hi", "UTF-16LE"));
    }

    #[test]
    fn http_charset() {
        let b = enc(WINDOWS_1252, "café naïve");
        let d = decode_html(&b, Some(" ISO-8859-1 "));
        assert_eq!(d.text, "café naïve");
        assert_eq!(d.encoding, "windows-1252");
        assert_eq!(d.source, CharsetSource::Http);
        assert!(!d.had_errors);
        // Unknown label falls through to detection.
        let d = decode_html(b"plain ascii", Some("no-such-charset"));
        assert_eq!((d.encoding, d.source), ("UTF-8", CharsetSource::Detected));
        // Declared UTF-8 with bad bytes: replacement and had_errors.
        let d = decode_html(b"ok \xff bad", Some("utf-8"));
        assert!(d.had_errors);
        assert_eq!(d.text, "ok \u{fffd} bad");
    }

    #[test]
    fn meta_prescan() {
        let mut b = b"<html><head><META Charset = 'koi8-r' ></head><body>".to_vec();
        b.extend_from_slice(&enc(KOI8_R, "Привет, мир"));
        let d = decode_html(&b, None);
        assert_eq!((d.encoding, d.source), ("KOI8-R", CharsetSource::Meta));
        assert!(d.text.contains("Привет, мир"));

        let mut b = b"<!-- <meta charset=\"gbk\"> --><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">".to_vec();
        b.extend_from_slice(&enc(WINDOWS_1251, "Здравствуй"));
        let d = decode_html(&b, None);
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1251", CharsetSource::Meta)
        );
        assert!(d.text.ends_with("Здравствуй"));

        assert_eq!(meta_charset(b"<meta charset=utf-16>"), Some(UTF_8));
        assert_eq!(meta_charset(b"<metadata charset=koi8-r>"), None);
        assert_eq!(meta_charset(b"<meta name=x>"), None);
        // Beyond the prescan window: ignored.
        let mut far = vec![b' '; META_PRESCAN_BYTES];
        far.extend_from_slice(b"<meta charset=koi8-r>");
        assert_eq!(meta_charset(&far), None);
    }

    #[test]
    fn detection() {
        let cases: [(&'static Encoding, &str); 3] = [
            (SHIFT_JIS, "日本語のテキストです。これは文字コードの検出のテストです。東京都の天気は晴れです。"),
            (GB18030, "这是一个用于测试字符编码检测的中文句子。北京今天天气很好，我们去公园散步吧。"),
            (WINDOWS_1251, "Это русский текст для проверки определения кодировки. Москва — столица России."),
        ];
        for (e, s) in cases {
            let b = enc(e, s);
            let d = decode_html(&b, None);
            assert_eq!(d.source, CharsetSource::Detected);
            assert_eq!(d.text, s, "{}", e.name());
        }
        let d = decode_html(
            &enc(WINDOWS_1252, "Ça coûte très cher à Genève, n'est-ce pas?"),
            None,
        );
        assert_eq!(d.encoding, "windows-1252");
        let d = decode_html("ünïcödé ok".as_bytes(), None);
        assert_eq!((d.encoding, d.had_errors), ("UTF-8", false));
        let d = decode_html(b"", None);
        assert!(d.text.is_empty());
        // UTF-8 cut in the middle of its last character stays UTF-8.
        let s = "Ça coûte très cher à Genève — 東京";
        let cut = &s.as_bytes()[..s.len() - 1];
        let d = decode_html(cut, None);
        assert_eq!((d.encoding, d.had_errors), ("UTF-8", true));
        assert!(d.text.starts_with("Ça coûte très cher à Genève — 東"));
    }
}
