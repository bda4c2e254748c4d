//! Charset resolution and decoding to UTF-8 (API contract; implementation in progress).

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

/// Decode an HTML payload: BOM, then the HTTP charset, then `<meta charset>` /
/// `<meta http-equiv=content-type>` in the first bytes, then detection (chardetng).
pub fn decode_html(body: &[u8], http_charset: Option<&str>) -> Decoded {
    todo!("{} {http_charset:?}", body.len())
}
