//! Shard preparation: one WARC/WET shard in, clean text documents out.
//!
//! One pass per record: HTTP and charset handling, HTML to text, language identification, the
//! language filter and the quality filters. The shard is the unit of work: [`ShardDocuments`]
//! streams the documents of one file and counts why each record was skipped or dropped, so a
//! process pool (or, later, a distributed executor) can run shards independently and merge their
//! [`ShardStats`].

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use crate::charset::decode_html;
use crate::html::{extract_text, ExtractOptions};
use crate::http::parse_response;
use crate::langid::{detect, LangFilter};
use crate::quality::{filter_document, FilterOutcome, QualityConfig};
use crate::warc::{ReadStats, ReaderOptions, Record, RecordType, RecordTypeSet, WarcReader};
use crate::{Error, Result};

/// Options of `webr prepare` that change what a shard produces.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    pub extract: ExtractOptions,
    /// Records with a bigger block are skipped (counted) without being kept in memory.
    pub max_block_bytes: u64,
    /// Documents whose extracted text has fewer characters are skipped as `empty_text`.
    pub min_text_chars: usize,
    /// Keep only HTTP 2xx responses (redirects and error pages carry no useful text).
    pub only_2xx: bool,
    /// Languages to keep and the minimum confidence; the default keeps every language.
    pub lang_filter: LangFilter,
    /// Document quality filters and line cleanup; `None` keeps every document with text.
    pub quality: Option<QualityConfig>,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            extract: ExtractOptions::default(),
            max_block_bytes: 16 << 20,
            min_text_chars: 1,
            only_2xx: true,
            lang_filter: LangFilter::default(),
            quality: Some(QualityConfig::default()),
        }
    }
}

impl PrepareOptions {
    pub fn validate(&self) -> Result<()> {
        if let Some(quality) = &self.quality {
            quality.validate()?;
        }
        if !(0.0..=1.0).contains(&self.lang_filter.min_confidence) {
            return Err(Error::InvalidArgument(
                "min language confidence must be within 0..=1".into(),
            ));
        }
        Ok(())
    }
}

/// One output document, serialised as a JSONL line or a Parquet row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Document {
    pub id: String,
    pub url: String,
    pub date: String,
    pub title: Option<String>,
    pub text: String,
    /// What the page says about its language (`<html lang>`, or Common Crawl's WET header).
    pub lang_hint: Option<String>,
    /// Language identified from the text (ISO 639-1) and the identifier's confidence.
    pub lang: Option<String>,
    pub lang_score: Option<f64>,
    pub source_shard: String,
    pub record_offset: u64,
}

/// A document removed by the language or quality filters, kept for inspection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DroppedDocument {
    #[serde(flatten)]
    pub document: Document,
    pub drop_reason: &'static str,
    pub drop_detail: String,
}

/// What became of one document-bearing record that had text.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Kept(Document),
    Dropped(DroppedDocument),
}

/// Why a record did not even yield text. Names are the keys of `stats.json`'s `skipped`.
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
    /// Records that yielded no text, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Documents removed by the language and quality filters, by filter.
    pub dropped: BTreeMap<String, u64>,
    /// Kept documents by identified language.
    pub languages: BTreeMap<String, u64>,
    pub text_bytes: u64,
    pub reader: ReadStats,
    pub seconds: f64,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// MIME types whose payload is HTML (or close enough to extract text from).
fn is_html_mime(mime: &str) -> bool {
    matches!(mime, "text/html" | "application/xhtml+xml")
}

/// Text pulled out of one record, before filtering.
struct RawText {
    title: Option<String>,
    text: String,
    lang_hint: Option<String>,
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
        opts.validate()?;
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

    /// Input bytes consumed so far (for progress bars).
    pub fn bytes_in(&self) -> u64 {
        self.reader.stats().bytes_in
    }

    /// Up to `size` (at least one) next outcomes, dropped documents only with
    /// `include_dropped` (they are counted either way); empty once the shard is exhausted.
    pub fn next_batch(&mut self, size: usize, include_dropped: bool) -> Vec<Outcome> {
        let size = size.max(1);
        let mut batch = Vec::with_capacity(size.min(4096));
        while batch.len() < size {
            match self.next_outcome() {
                None => break,
                Some(Outcome::Dropped(_)) if !include_dropped => {}
                Some(outcome) => batch.push(outcome),
            }
        }
        batch
    }

    /// The next kept or dropped document; records without text are counted and passed over.
    pub fn next_outcome(&mut self) -> Option<Outcome> {
        loop {
            let record = self.reader.next()?;
            self.stats.records_seen += 1;
            match self.raw_text(&record) {
                Ok(raw) => return Some(self.judge(&record, raw)),
                Err(reason) => bump(&mut self.stats.skipped, reason.as_str()),
            }
        }
    }

    fn raw_text(&self, record: &Record) -> std::result::Result<RawText, SkipReason> {
        let raw = match record.record_type {
            // WET: the block already is the page text; CC puts its language guess in a header.
            RecordType::Conversion => RawText {
                title: None,
                text: String::from_utf8_lossy(&record.block).trim().to_string(),
                lang_hint: record
                    .header("WARC-Identified-Content-Language")
                    .and_then(|l| l.split(',').next())
                    .map(|l| l.trim().to_ascii_lowercase())
                    .filter(|l| !l.is_empty()),
            },
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
                let mime = record.header("Content-Type").map(|ct| {
                    ct.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                });
                if !mime.as_deref().is_some_and(is_html_mime) {
                    return Err(SkipReason::NonHtml);
                }
                self.extract(&record.block, None)?
            }
        };
        if raw
            .text
            .chars()
            .nth(self.opts.min_text_chars.max(1) - 1)
            .is_none()
        {
            return Err(SkipReason::EmptyText);
        }
        Ok(raw)
    }

    fn extract(
        &self,
        payload: &[u8],
        http_charset: Option<&str>,
    ) -> std::result::Result<RawText, SkipReason> {
        let decoded = decode_html(payload, http_charset);
        let extracted = extract_text(&decoded.text, &self.opts.extract)
            .map_err(|_| SkipReason::ExtractError)?;
        Ok(RawText {
            title: extracted.title,
            text: extracted.text,
            lang_hint: extracted.lang_hint,
        })
    }

    /// Language identification, then the language filter, then the quality filters.
    fn judge(&mut self, record: &Record, raw: RawText) -> Outcome {
        let guess = detect(&raw.text);
        let mut document = Document {
            id: record.record_id().unwrap_or_default().to_string(),
            url: record.target_uri().unwrap_or_default().to_string(),
            date: record.date().unwrap_or_default().to_string(),
            title: raw.title,
            text: raw.text,
            lang_hint: raw.lang_hint,
            lang: guess.as_ref().map(|g| g.lang.clone()),
            lang_score: guess.as_ref().map(|g| (g.confidence * 1e4).round() / 1e4),
            source_shard: self.stats.source_shard.clone(),
            record_offset: record.offset,
        };
        let verdict = match self.opts.lang_filter.judge(guess) {
            Err(reason) => Err((reason, String::new())),
            Ok(_) => match &self.opts.quality {
                None => Ok(None),
                Some(cfg) => match filter_document(&document.text, document.lang.as_deref(), cfg) {
                    FilterOutcome::Keep { text } => Ok(Some(text)),
                    FilterOutcome::Drop { reason, detail } => Err((reason, detail)),
                },
            },
        };
        match verdict {
            Ok(cleaned) => {
                if let Some(text) = cleaned {
                    document.text = text;
                }
                self.stats.documents_kept += 1;
                self.stats.text_bytes += document.text.len() as u64;
                bump(
                    &mut self.stats.languages,
                    document.lang.as_deref().unwrap_or("unknown"),
                );
                Outcome::Kept(document)
            }
            Err((reason, detail)) => {
                bump(&mut self.stats.dropped, reason.as_str());
                Outcome::Dropped(DroppedDocument {
                    document,
                    drop_reason: reason.as_str(),
                    drop_detail: detail,
                })
            }
        }
    }
}

impl Iterator for ShardDocuments {
    type Item = Document;
    fn next(&mut self) -> Option<Document> {
        loop {
            if let Outcome::Kept(doc) = self.next_outcome()? {
                return Some(doc);
            }
        }
    }
}

/// A gzip JSONL file being written; `finish` flushes and fsyncs it.
struct JsonlGzWriter {
    path: std::path::PathBuf,
    out: BufWriter<flate2::write::GzEncoder<BufWriter<std::fs::File>>>,
}

impl JsonlGzWriter {
    fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::new(6));
        Ok(JsonlGzWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, gz),
        })
    }

    fn write<T: serde::Serialize>(&mut self, item: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, item)
            .map_err(|e| Error::io(&self.path, std::io::Error::other(e)))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::io(&self.path, e))
    }

    fn finish(self) -> Result<()> {
        let path = self.path;
        let gz = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        let mut inner = gz.finish().map_err(|e| Error::io(&path, e))?;
        inner.flush().map_err(|e| Error::io(&path, e))?;
        inner
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?
            .sync_all()
            .map_err(|e| Error::io(&path, e))
    }
}

/// Prepare one shard into gzip-compressed JSONL at `out_path` (written as given: callers write to a
/// temporary name and rename). Dropped documents go to `dropped_path` with their reasons when
/// given. `progress(records_examined, input_bytes_consumed)` is called every `progress_every`
/// records and once at the end.
pub fn prepare_shard_to_jsonl_gz(
    input: &Path,
    source_shard: &str,
    out_path: &Path,
    dropped_path: Option<&Path>,
    opts: PrepareOptions,
    progress_every: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<ShardStats> {
    let mut docs = ShardDocuments::open(input, source_shard, opts)?;
    let mut out = JsonlGzWriter::create(out_path)?;
    let mut dropped_out = dropped_path.map(JsonlGzWriter::create).transpose()?;
    let every = progress_every.max(1);
    let mut last_reported = 0;
    while let Some(outcome) = docs.next_outcome() {
        match (outcome, dropped_out.as_mut()) {
            (Outcome::Kept(doc), _) => out.write(&doc)?,
            (Outcome::Dropped(doc), Some(dropped)) => dropped.write(&doc)?,
            (Outcome::Dropped(_), None) => {}
        }
        let seen = docs.stats.records_seen;
        if seen - last_reported >= every {
            progress(seen, docs.bytes_in());
            last_reported = seen;
        }
    }
    if let Some(e) = docs.reader.io_error() {
        // The shard could not be read to its end (e.g. it shrank while being read).
        let e = std::io::Error::new(e.kind(), e.to_string());
        return Err(crate::Error::io(input, e));
    }
    out.finish()?;
    if let Some(dropped) = dropped_out {
        dropped.finish()?;
    }
    let stats = docs.stats();
    progress(stats.records_seen, stats.reader.bytes_in);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(warc_type: &str, uri: &str, extra: &str, block: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "WARC/1.1\r\nWARC-Type: {warc_type}\r\nWARC-Record-ID: <urn:uuid:{uri}>\r\n\
             WARC-Date: 2024-05-18T01:58:42Z\r\nWARC-Target-URI: {uri}\r\n{extra}\
             Content-Length: {}\r\n\r\n",
            block.len()
        )
        .into_bytes();
        out.extend_from_slice(block);
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    fn http(status: &str, content_type: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn shard() -> Vec<u8> {
        let page = "<html lang=en><head><title>Hello</title></head><body><p>Main text here.</p></body></html>";
        [
            record("warcinfo", "info", "", b"software: test\r\n"),
            record(
                "response",
                "https://a/",
                "",
                &http("200 OK", "text/html", page),
            ),
            record(
                "response",
                "https://b/",
                "",
                &http("404 Not Found", "text/html", page),
            ),
            record(
                "response",
                "https://c/",
                "",
                &http("200 OK", "image/png", "PNG"),
            ),
            record(
                "response",
                "https://d/",
                "",
                &http("200 OK", "text/html", "<p> </p>"),
            ),
            record("response", "https://e/", "", b"this is not HTTP"),
            record(
                "conversion",
                "https://f/",
                "WARC-Identified-Content-Language: deu,eng\r\n",
                "Reiner Text.".as_bytes(),
            ),
        ]
        .concat()
    }

    #[test]
    fn documents_and_skip_reasons() {
        let dir = std::env::temp_dir().join(format!("alignkit-prepare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("shard.warc");
        std::fs::write(&input, shard()).unwrap();
        let unfiltered = PrepareOptions {
            quality: None,
            ..PrepareOptions::default()
        };
        let mut docs = ShardDocuments::open(&input, "shard.warc", unfiltered.clone()).unwrap();
        let got: Vec<Document> = docs.by_ref().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].url, "https://a/");
        assert_eq!(got[0].title.as_deref(), Some("Hello"));
        assert_eq!(got[0].text, "Main text here.");
        assert_eq!(got[0].lang_hint.as_deref(), Some("en"));
        assert_eq!(got[0].id, "urn:uuid:https://a/");
        assert_eq!(got[1].text, "Reiner Text.");
        assert_eq!(got[1].lang_hint.as_deref(), Some("deu"));
        let stats = docs.stats();
        assert_eq!(stats.records_seen, 6);
        assert_eq!(stats.documents_kept, 2);
        let skipped = |k: &str| stats.skipped.get(k).copied().unwrap_or(0);
        assert_eq!(skipped("http_status_not_2xx"), 1);
        assert_eq!(skipped("non_html"), 1);
        assert_eq!(skipped("empty_text"), 1);
        assert_eq!(skipped("http_parse_error"), 1);

        let out = dir.join("out.jsonl.gz");
        let mut calls = 0;
        let stats =
            prepare_shard_to_jsonl_gz(&input, "shard.warc", &out, None, unfiltered, 1, |_, _| {
                calls += 1
            })
            .unwrap();
        assert_eq!(stats.documents_kept, 2);
        assert!(calls >= 2);
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap()),
            &mut text,
        )
        .unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["record_offset"], got[0].record_offset);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn language_and_quality_filters_drop_with_reasons() {
        let article = "The river runs through the old town and past the market square. \
            Every spring the water rises, and the bakers on the bridge move their ovens uphill. \
            Visitors often ask why the houses stand on stilts; the answer is the flood of 1872, \
            which destroyed most of the lower streets within a single night. Since then the town \
            has built walls, planted willows along the banks and trained volunteers who watch \
            the gauges when the snow melts in the mountains. The museum near the church tells \
            the whole story with old photographs, maps and letters written by the survivors.";
        let german =
            "Der Fluss fliesst durch die alte Stadt und den Marktplatz der Gemeinde. ".repeat(12);
        let page = |body: &str| format!("<html><body><p>{body}</p></body></html>");
        let data = [
            record(
                "response",
                "https://en/",
                "",
                &http("200 OK", "text/html", &page(article)),
            ),
            record(
                "response",
                "https://de/",
                "",
                &http("200 OK", "text/html", &page(&german)),
            ),
            record(
                "response",
                "https://short/",
                "",
                &http("200 OK", "text/html", &page("Too short.")),
            ),
        ]
        .concat();
        let dir = std::env::temp_dir().join(format!("alignkit-filters-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("shard.warc");
        std::fs::write(&input, data).unwrap();
        let opts = PrepareOptions {
            lang_filter: LangFilter::new(&["en"], 0.0).unwrap(),
            ..PrepareOptions::default()
        };
        let (out, dropped) = (dir.join("kept.jsonl.gz"), dir.join("dropped.jsonl.gz"));
        let stats =
            prepare_shard_to_jsonl_gz(&input, "s", &out, Some(&dropped), opts, 100, |_, _| {})
                .unwrap();
        assert_eq!(stats.documents_kept, 1);
        assert_eq!(stats.dropped.get("lang_not_allowed"), Some(&1));
        assert_eq!(stats.dropped.get("too_few_words"), Some(&1));
        assert_eq!(stats.languages.get("en"), Some(&1));
        let read = |p: &Path| {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap()),
                &mut text,
            )
            .unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        };
        let kept = read(&out);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["lang"], "en");
        let gone = read(&dropped);
        let reasons: Vec<&str> = gone
            .iter()
            .map(|d| d["drop_reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons, ["lang_not_allowed", "too_few_words"]);
        assert_eq!(gone[0]["url"], "https://de/");
        assert_eq!(gone[0]["lang"], "de");

        let opts = PrepareOptions {
            lang_filter: LangFilter::new(&["en"], 0.0).unwrap(),
            ..PrepareOptions::default()
        };
        let mut docs = ShardDocuments::open(&input, "s", opts.clone()).unwrap();
        let kept_only = docs.next_batch(10, false);
        assert_eq!(kept_only.len(), 1);
        assert!(docs.next_batch(10, false).is_empty());
        assert_eq!(docs.stats().dropped.values().sum::<u64>(), 2);
        let mut docs = ShardDocuments::open(&input, "s", opts).unwrap();
        let first_two = docs.next_batch(2, true);
        assert_eq!(first_two.len(), 2);
        assert!(matches!(first_two[1], Outcome::Dropped(_)));
        assert_eq!(
            docs.next_batch(0, true).len(),
            1,
            "size 0 still makes progress"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_input_is_an_io_error() {
        let err = ShardDocuments::open(
            Path::new("/nonexistent/x.warc.gz"),
            "x",
            PrepareOptions::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, Error::Io { .. }));
    }
}
