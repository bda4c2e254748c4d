//! HTTP/1.x response parsing for WARC `response` blocks (API contract; implementation in progress).

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

impl<'a> HttpResponse<'a> {
    /// Case-insensitive header lookup (first match).
    pub fn header(&self, name: &str) -> Option<&str> {
        todo!("{name}")
    }
    /// Lower-cased MIME type and the `charset` parameter, from Content-Type.
    pub fn content_type(&self) -> (Option<String>, Option<String>) {
        todo!()
    }
}

pub fn parse_response(block: &[u8]) -> Result<HttpResponse<'_>, HttpError> {
    todo!("{}", block.len())
}
