//! HTTP/1.x response parsing for WARC `response` blocks.
//!
//! Tolerant by design: LF-only line endings, a missing reason phrase, folded header lines and
//! lines without a colon (ignored) are all accepted. `Transfer-Encoding: chunked` is undone;
//! chunk extensions and trailers are ignored. A body cut off inside its last chunk (common in
//! crawls that cap payload size) yields the bytes that were there rather than an error; only a
//! chunk-size line that cannot be parsed is [`HttpError::BadChunking`].

use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct HttpResponse<'a> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Payload with `Transfer-Encoding: chunked` undone (borrowed when nothing had to change).
    pub body: Cow<'a, [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No parsable status line.
    BadStatusLine,
    /// Header section never ended.
    TruncatedHeaders,
    /// Chunked encoding that cannot be undone.
    BadChunking,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HttpError::BadStatusLine => "no parsable HTTP status line",
            HttpError::TruncatedHeaders => "HTTP header section never ended",
            HttpError::BadChunking => "chunked transfer encoding cannot be undone",
        })
    }
}

impl std::error::Error for HttpError {}

impl<'a> HttpResponse<'a> {
    /// Case-insensitive header lookup (first match).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Lower-cased MIME type and the `charset` parameter, from Content-Type.
    ///
    /// The charset is lower-cased too, with surrounding quotes and blanks removed.
    pub fn content_type(&self) -> (Option<String>, Option<String>) {
        match self.header("Content-Type") {
            Some(v) => parse_content_type(v),
            None => (None, None),
        }
    }
}

/// Split a Content-Type value into (lower-cased MIME type, lower-cased charset parameter).
pub fn parse_content_type(v: &str) -> (Option<String>, Option<String>) {
    let mut parts = v.split(';');
    let mime = parts
        .next()
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    let mut charset = None;
    for p in parts {
        if let Some((k, val)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("charset") && charset.is_none() {
                let c = val.trim().trim_matches(|c| c == '"' || c == '\'').trim();
                if !c.is_empty() {
                    charset = Some(c.to_ascii_lowercase());
                }
            }
        }
    }
    (mime, charset)
}

fn trim_bytes(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Next line of `s` from `pos`: (line without its line break, position after the break).
fn line_at(s: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    if pos >= s.len() {
        return None;
    }
    match memchr::memchr(b'\n', &s[pos..]) {
        Some(i) => {
            let mut l = &s[pos..pos + i];
            if let [rest @ .., b'\r'] = l {
                l = rest;
            }
            Some((l, pos + i + 1))
        }
        None => Some((&s[pos..], s.len())),
    }
}

pub fn parse_response(block: &[u8]) -> Result<HttpResponse<'_>, HttpError> {
    // Tolerate blank lines before the status line.
    let mut pos = 0;
    while pos < block.len() && matches!(block[pos], b'\r' | b'\n') {
        pos += 1;
    }
    let (status_line, mut pos) = line_at(block, pos).ok_or(HttpError::BadStatusLine)?;
    let status = parse_status_line(status_line).ok_or(HttpError::BadStatusLine)?;

    let mut headers: Vec<(String, String)> = Vec::with_capacity(16);
    let mut ended = false;
    while let Some((line, next)) = line_at(block, pos) {
        let complete = next > pos && block[next - 1] == b'\n';
        pos = next;
        if line.is_empty() || line.iter().all(|&b| b == b'\r') {
            if complete {
                ended = true;
                break;
            }
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(last) = headers.last_mut() {
                let v = trim_bytes(line);
                if !v.is_empty() {
                    if !last.1.is_empty() {
                        last.1.push(' ');
                    }
                    last.1.push_str(&String::from_utf8_lossy(v));
                }
            }
            continue;
        }
        if let Some(c) = memchr::memchr(b':', line) {
            let name = trim_bytes(&line[..c]);
            if !name.is_empty() {
                headers.push((text(name), text(trim_bytes(&line[c + 1..]))));
            }
        }
    }
    if !ended {
        return Err(HttpError::TruncatedHeaders);
    }
    let payload = &block[pos.min(block.len())..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding")
            && v.rsplit(',')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
    });
    let body = if chunked {
        Cow::Owned(dechunk(payload)?)
    } else {
        Cow::Borrowed(payload)
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// `HTTP/x.y SSS [reason]` (also accepts a missing reason and extra blanks).
fn parse_status_line(l: &[u8]) -> Option<u16> {
    let rest = l.strip_prefix(b"HTTP/")?;
    let sp = rest.iter().position(|&b| b == b' ' || b == b'\t')?;
    let rest = trim_bytes(&rest[sp..]);
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits != 3 || rest.get(3).is_some_and(|&b| b != b' ' && b != b'\t') {
        return None;
    }
    let s = rest[..3]
        .iter()
        .fold(0u16, |v, &d| v * 10 + (d - b'0') as u16);
    Some(s)
}

/// Undo chunked transfer coding. Output never exceeds the input length.
pub fn dechunk(mut s: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::with_capacity(s.len());
    loop {
        // Blank lines between chunks are tolerated.
        while let [b'\r' | b'\n', rest @ ..] = s {
            s = rest;
        }
        if s.is_empty() {
            // Missing last-chunk: keep what we have.
            return Ok(out);
        }
        let (line, next) = match memchr::memchr(b'\n', s) {
            Some(i) => (&s[..i], i + 1),
            None => (s, s.len()),
        };
        let size_part = line.split(|&b| b == b';').next().unwrap_or(line);
        let size_part = trim_bytes(size_part);
        if size_part.is_empty() || size_part.len() > 15 {
            return Err(HttpError::BadChunking);
        }
        let mut size: usize = 0;
        for &c in size_part {
            let d = (c as char).to_digit(16).ok_or(HttpError::BadChunking)?;
            size = size * 16 + d as usize;
        }
        s = &s[next..];
        if size == 0 {
            return Ok(out); // trailers ignored
        }
        if size >= s.len() {
            // Truncated last chunk: keep what was there.
            out.extend_from_slice(s);
            return Ok(out);
        }
        out.extend_from_slice(&s[..size]);
        s = &s[size..];
        match s {
            [b'\r', b'\n', rest @ ..] | [b'\n', rest @ ..] => s = rest,
            [b'\r'] | [] => return Ok(out),
            _ => return Err(HttpError::BadChunking),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_response_borrows_body() {
        let b = b"HTTP/1.1 200 OK\r\nContent-Type: Text/HTML; Charset=\"ISO-8859-1\"\r\nX-A: 1\r\n\r\n<p>hi</p>";
        let r = parse_response(b).unwrap();
        assert_eq!(r.status, 200);
        assert!(matches!(r.body, Cow::Borrowed(_)));
        assert_eq!(&*r.body, b"<p>hi</p>");
        assert_eq!(r.header("x-a"), Some("1"));
        assert_eq!(
            r.content_type(),
            (Some("text/html".into()), Some("iso-8859-1".into()))
        );
    }

    #[test]
    fn tolerant_headers() {
        let b = b"HTTP/1.0 404\nServer: x\nX-Folded: a\n\tb\nnot a header\n: empty name\n\nbody";
        let r = parse_response(b).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.header("X-Folded"), Some("a b"));
        assert_eq!(r.headers.len(), 2);
        assert_eq!(&*r.body, b"body");
        assert_eq!(r.content_type(), (None, None));
        let r = parse_response(b"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n").unwrap();
        assert_eq!(r.status, 301);
        assert!(r.body.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(parse_response(b"").unwrap_err(), HttpError::BadStatusLine);
        assert_eq!(
            parse_response(b"GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            HttpError::BadStatusLine
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 2000 OK\r\n\r\n").unwrap_err(),
            HttpError::BadStatusLine
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nA: b\r\n").unwrap_err(),
            HttpError::TruncatedHeaders
        );
    }

    #[test]
    fn chunked() {
        let b = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
        let r = parse_response(b).unwrap();
        assert!(matches!(r.body, Cow::Owned(_)));
        assert_eq!(&*r.body, b"hello, world");
        // LF-only and upper-case hex.
        assert_eq!(dechunk(b"A\nabcdefghij\n0\n\n").unwrap(), b"abcdefghij");
        // Truncated last chunk keeps what was there; missing last-chunk is fine.
        assert_eq!(dechunk(b"5\r\nhello\r\n10\r\nabc").unwrap(), b"helloabc");
        assert_eq!(dechunk(b"5\r\nhello\r\n").unwrap(), b"hello");
        // Bad chunking.
        assert_eq!(dechunk(b"zz\r\nhello").unwrap_err(), HttpError::BadChunking);
        assert_eq!(
            dechunk(b"2\r\nhello\r\n0\r\n\r\n").unwrap_err(),
            HttpError::BadChunking
        );
        assert_eq!(
            dechunk(b"ffffffffffffffffff\r\nx").unwrap_err(),
            HttpError::BadChunking
        );
        let b = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nnope\r\n";
        assert_eq!(parse_response(b).unwrap_err(), HttpError::BadChunking);
    }
}
