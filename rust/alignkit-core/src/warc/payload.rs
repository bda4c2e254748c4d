//! The HTTP payload of a record, for `response` records.

use super::Record;
use crate::charset::decode_html;
use crate::http::{parse_response, HttpResponse};
use crate::{Error, Result};

impl Record {
    /// The block parsed as an HTTP response; a block that is not one is [`Error::Malformed`].
    pub fn http_response(&self) -> Result<HttpResponse<'_>> {
        parse_response(&self.block)
            .map_err(|e| Error::Malformed(format!("record is not a parsable HTTP response: {e}")))
    }

    /// The HTML payload decoded to text (charset from BOM, HTTP header, `<meta>` or detection);
    /// None when the block is not an HTML HTTP response.
    pub fn html_text(&self) -> Option<String> {
        let response = parse_response(&self.block).ok()?;
        let (mime, charset) = response.content_type();
        match mime.as_deref() {
            Some("text/html") | Some("application/xhtml+xml") => {
                Some(decode_html(&response.body, charset.as_deref()).text)
            }
            _ => None,
        }
    }
}
