//! Shard preparation: one WARC/WET shard in, text documents out.
//!
//! The shard is the unit of work: [`ShardDocuments`] streams the documents of one file and counts
//! why each record was skipped, so a process pool (or, later, a distributed executor) can run shards
//! independently and merge their [`ShardStats`].

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use crate::charset::decode_html;
use crate::html::{extract_text, ExtractOptions};
use crate::http::parse_response;
use crate::warc::{ReadStats, ReaderOptions, Record, RecordType, RecordTypeSet, WarcReader};
use crate::{Error, Result};

/// Options of `webr prepare` that change what a shard produces.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    pub extract: ExtractOptions,
    /// Records with a bigger block are skipped (counted) without being kept in memory.
    pub max_block_bytes: u64,
    /// Documents whose extracted text has fewer characters are dropped as `empty_text`.
    pub min_text_chars: usize,
    /// Keep only HTTP 2xx responses (redirects and error pages carry no useful text).
    pub only_2xx: bool,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            extract: ExtractOptions::default(),
            max_block_bytes: 16 << 20,
            min_text_chars: 1,
            only_2xx: true,
        }
    }
}

/// One output document, serialised as a JSONL line or a Parquet row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Document {
    pub id: String,
    pub url: String,
    pub date: String,
    pub title: Option<String>,
    pub text: String,
    pub lang_hint: Option<String>,
    pub source_shard: String,
    pub record_offset: u64,
}

/// Why a record did not become a document. Names are the keys of `stats.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    HttpParseError,
    HttpStatus,
    NonHtml,
    EmptyText,
    ExtractError,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::HttpParseError => "http_parse_error",
            SkipReason::HttpStatus => "http_status_not_2xx",
            SkipReason::NonHtml => "non_html",
            SkipReason::EmptyText => "empty_text",
            SkipReason::ExtractError => "extract_error",
        }
    }
}

/// Everything counted while preparing one shard.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ShardStats {
    pub source_shard: String,
    /// Records of a document-bearing type (response, resource, conversion) that were examined.
    pub records_seen: u64,
    pub documents_kept: u64,
    pub skipped: BTreeMap<String, u64>,
    pub text_bytes: u64,
    pub reader: ReadStats,
    pub seconds: f64,
}

impl ShardStats {
    fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason.as_str().to_string()).or_insert(0) += 1;
    }
}

/// MIME types whose payload is HTML (or close enough to extract text from).
fn is_html_mime(mime: &str) -> bool {
    matches!(mime, "text/html" | "application/xhtml+xml")
}

/// Streams the documents of one shard.
pub struct ShardDocuments {
    reader: WarcReader,
    opts: PrepareOptions,
    stats: ShardStats,
    started: Instant,
}

impl ShardDocuments {
    pub fn open(path: &Path, source_shard: &str, opts: PrepareOptions) -> Result<Self> {
        let reader_opts = ReaderOptions {
            record_types: RecordTypeSet::of(&[
                RecordType::Response,
                RecordType::Resource,
                RecordType::Conversion,
            ]),
            max_block_bytes: opts.max_block_bytes,
            ..ReaderOptions::default()
        };
        let reader = WarcReader::open(path, reader_opts)?;
        Ok(ShardDocuments {
            reader,
            opts,
            stats: ShardStats {
                source_shard: source_shard.to_string(),
                ..ShardStats::default()
            },
            started: Instant::now(),
        })
    }

    /// Counters so far (final once the iterator is exhausted).
    pub fn stats(&self) -> ShardStats {
        let mut stats = self.stats.clone();
        stats.reader = self.reader.stats().clone();
        stats.seconds = self.started.elapsed().as_secs_f64();
        stats
    }

    fn document_from(&mut self, record: &Record) -> std::result::Result<Document, SkipReason> {
        let (title, text, lang_hint) = match record.record_type {
            // WET: the block already is the page text; CC puts its language guess in a header.
            RecordType::Conversion => {
                let text = String::from_utf8_lossy(&record.block).trim().to_string();
                let lang = record
                    .header("WARC-Identified-Content-Language")
                    .and_then(|l| l.split(',').next())
                    .map(|l| l.trim().to_ascii_lowercase())
                    .filter(|l| !l.is_empty());
                (None, text, lang)
            }
            RecordType::Response => {
                let response =
                    parse_response(&record.block).map_err(|_| SkipReason::HttpParseError)?;
                if self.opts.only_2xx && !(200..300).contains(&response.status) {
                    return Err(SkipReason::HttpStatus);
                }
                let (mime, charset) = response.content_type();
                if !mime.as_deref().is_some_and(is_html_mime) {
                    return Err(SkipReason::NonHtml);
                }
                self.extract(&response.body, charset.as_deref())?
            }
            // `resource` records hold the payload directly; the WARC Content-Type says what it is.
            _ => {
                let mime = record
                    .header("Content-Type")
                    .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
                if !mime.as_deref().is_some_and(is_html_mime) {
                    return Err(SkipReason::NonHtml);
                }
                self.extract(&record.block, None)?
            }
        };
        if text.chars().count() < self.opts.min_text_chars.max(1) {
            return Err(SkipReason::EmptyText);
        }
        Ok(Document {
            id: record.record_id().unwrap_or_default().to_string(),
            url: record.target_uri().unwrap_or_default().to_string(),
            date: record.date().unwrap_or_default().to_string(),
            title,
            text,
            lang_hint,
            source_shard: self.stats.source_shard.clone(),
            record_offset: record.offset,
        })
    }

    fn extract(
        &self,
        payload: &[u8],
        http_charset: Option<&str>,
    ) -> std::result::Result<(Option<String>, String, Option<String>), SkipReason> {
        let decoded = decode_html(payload, http_charset);
        let extracted =
            extract_text(&decoded.text, &self.opts.extract).map_err(|_| SkipReason::ExtractError)?;
        Ok((extracted.title, extracted.text, extracted.lang_hint))
    }
}

impl Iterator for ShardDocuments {
    type Item = Document;
    fn next(&mut self) -> Option<Document> {
        loop {
            let record = self.reader.next()?;
            self.stats.records_seen += 1;
            match self.document_from(&record) {
                Ok(doc) => {
                    self.stats.documents_kept += 1;
                    self.stats.text_bytes += doc.text.len() as u64;
                    return Some(doc);
                }
                Err(reason) => self.stats.skip(reason),
            }
        }
    }
}

/// Prepare one shard into gzip-compressed JSONL at `out_path` (written as given: callers write to a
/// temporary name and rename). `progress(records_examined, input_bytes_consumed)` is called every
/// `progress_every` records and once at the end.
pub fn prepare_shard_to_jsonl_gz(
    input: &Path,
    source_shard: &str,
    out_path: &Path,
    opts: PrepareOptions,
    progress_every: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<ShardStats> {
    let mut docs = ShardDocuments::open(input, source_shard, opts)?;
    let file = std::fs::File::create(out_path).map_err(|e| Error::io(out_path, e))?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::new(6));
    let mut out = BufWriter::with_capacity(1 << 20, gz);
    let every = progress_every.max(1);
    let mut last_reported = 0;
    while let Some(doc) = docs.next() {
        serde_json::to_writer(&mut out, &doc)
            .map_err(|e| Error::io(out_path, std::io::Error::other(e)))?;
        out.write_all(b"\n").map_err(|e| Error::io(out_path, e))?;
        let seen = docs.stats.records_seen;
        if seen - last_reported >= every {
            progress(seen, docs.reader.stats().bytes_in);
            last_reported = seen;
        }
    }
    let gz = out
        .into_inner()
        .map_err(|e| Error::io(out_path, e.into_error()))?;
    let mut inner = gz.finish().map_err(|e| Error::io(out_path, e))?;
    inner.flush().map_err(|e| Error::io(out_path, e))?;
    inner
        .into_inner()
        .map_err(|e| Error::io(out_path, e.into_error()))?
        .sync_all()
        .map_err(|e| Error::io(out_path, e))?;
    let stats = docs.stats();
    progress(stats.records_seen, stats.reader.bytes_in);
    Ok(stats)
}
