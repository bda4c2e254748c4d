//! Bindings for `alignkit.webr.warc`: WARC reading and HTTP payload access.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use alignkit_core::charset::decode_html;
use alignkit_core::http::parse_response;
use alignkit_core::warc::{
    Compression, ReadStats, ReaderOptions, Record, RecordType, RecordTypeSet, WarcReader,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{thread_pool, to_py_dict};
use crate::error::{CoreError, CoreResult, MalformedInputError};

const RECORD_TYPE_NAMES: [&str; 8] = [
    "warcinfo",
    "response",
    "resource",
    "request",
    "metadata",
    "revisit",
    "conversion",
    "continuation",
];

fn record_type_set(types: Option<Vec<String>>) -> PyResult<RecordTypeSet> {
    let Some(types) = types else {
        return Ok(RecordTypeSet::ALL);
    };
    let mut parsed = Vec::with_capacity(types.len());
    for name in &types {
        let lower = name.to_ascii_lowercase();
        if !RECORD_TYPE_NAMES.contains(&lower.as_str()) {
            return Err(PyValueError::new_err(format!(
                "unknown WARC record type {name:?}; expected one of {RECORD_TYPE_NAMES:?}"
            )));
        }
        parsed.push(RecordType::parse(&lower));
    }
    Ok(RecordTypeSet::of(&parsed))
}

fn compression(name: &str) -> PyResult<Compression> {
    match name {
        "auto" => Ok(Compression::Auto),
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        other => Err(PyValueError::new_err(format!(
            "compression must be 'auto', 'none' or 'gzip', not {other:?}"
        ))),
    }
}

pub fn reader_options(
    record_types: Option<Vec<String>>,
    max_block_bytes: u64,
    compression_name: &str,
) -> PyResult<ReaderOptions> {
    Ok(ReaderOptions {
        record_types: record_type_set(record_types)?,
        max_block_bytes,
        compression: compression(compression_name)?,
    })
}

/// Where a reader gets its bytes: a path or bytes already in memory.
#[derive(FromPyObject)]
enum Source {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

/// Iterator over the records of one WARC file (see `alignkit.webr.WarcReader`).
#[pyclass(name = "WarcReader", module = "alignkit._core")]
pub struct PyWarcReader {
    inner: Mutex<WarcReader>,
}

#[pymethods]
impl PyWarcReader {
    #[new]
    #[pyo3(signature = (source, *, record_types=None, max_block_bytes=67108864, compression="auto"))]
    fn new(
        source: Source,
        record_types: Option<Vec<String>>,
        max_block_bytes: u64,
        compression: &str,
    ) -> PyResult<Self> {
        let opts = reader_options(record_types, max_block_bytes, compression)?;
        let reader = match source {
            Source::Path(path) => WarcReader::open(&path, opts).map_err(CoreError)?,
            Source::Bytes(data) => WarcReader::from_bytes(data, opts),
        };
        Ok(PyWarcReader {
            inner: Mutex::new(reader),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> Option<PyWarcRecord> {
        let record = py.detach(|| {
            let mut reader = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            reader.next()
        })?;
        Some(PyWarcRecord { record })
    }

    /// Counters so far: records read/returned/filtered, bytes, and each kind of fault.
    #[getter]
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let reader = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        to_py_dict(py, reader.stats())
    }
}

/// One WARC record. The block stays in Rust until asked for.
#[pyclass(name = "WarcRecord", module = "alignkit._core", frozen)]
pub struct PyWarcRecord {
    record: Record,
}

#[pymethods]
impl PyWarcRecord {
    #[getter]
    fn record_type(&self) -> &'static str {
        self.record.record_type.as_str()
    }
    #[getter]
    fn version(&self) -> &str {
        &self.record.version
    }
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.record.headers.to_vec()
    }
    #[getter]
    fn offset(&self) -> u64 {
        self.record.offset
    }
    #[getter]
    fn block<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.record.block)
    }
    #[getter]
    fn block_length(&self) -> usize {
        self.record.block.len()
    }
    #[getter]
    fn target_uri(&self) -> Option<&str> {
        self.record.target_uri()
    }
    #[getter]
    fn date(&self) -> Option<&str> {
        self.record.date()
    }
    #[getter]
    fn record_id(&self) -> Option<&str> {
        self.record.record_id()
    }
    /// Case-insensitive lookup of a WARC header.
    fn header(&self, name: &str) -> Option<&str> {
        self.record.header(name)
    }
    /// Parse the block as an HTTP response (for `response` records).
    fn http(&self) -> PyResult<PyHttpResponse> {
        let response = parse_response(&self.record.block).map_err(|e| {
            MalformedInputError::new_err(format!("record is not a parsable HTTP response: {e:?}"))
        })?;
        let (content_type, charset) = response.content_type();
        Ok(PyHttpResponse {
            status: response.status,
            headers: response.headers.clone(),
            body: response.body.into_owned(),
            content_type,
            charset,
        })
    }
    /// The HTML payload decoded to `str` (charset from BOM, HTTP header, `<meta>` or detection);
    /// None when the record is not an HTML HTTP response.
    fn decode_html(&self, py: Python<'_>) -> Option<String> {
        py.detach(|| {
            let response = parse_response(&self.record.block).ok()?;
            let (mime, charset) = response.content_type();
            match mime.as_deref() {
                Some("text/html") | Some("application/xhtml+xml") => {
                    Some(decode_html(&response.body, charset.as_deref()).text)
                }
                _ => None,
            }
        })
    }
    fn __repr__(&self) -> String {
        format!(
            "WarcRecord(type={:?}, uri={:?}, offset={}, block_length={})",
            self.record.record_type.as_str(),
            self.record.target_uri().unwrap_or(""),
            self.record.offset,
            self.record.block.len()
        )
    }
}

/// A parsed HTTP response (body de-chunked).
#[pyclass(name = "HttpResponse", module = "alignkit._core", frozen)]
pub struct PyHttpResponse {
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    #[pyo3(get)]
    content_type: Option<String>,
    #[pyo3(get)]
    charset: Option<String>,
}

#[pymethods]
impl PyHttpResponse {
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.body)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn __repr__(&self) -> String {
        format!(
            "HttpResponse(status={}, content_type={:?}, body_length={})",
            self.status,
            self.content_type,
            self.body.len()
        )
    }
}

/// What `read_warc_batch` learns about one file.
struct FileSummary {
    stats: ReadStats,
    records_by_type: BTreeMap<&'static str, u64>,
    block_bytes: u64,
}

fn summarise_file(path: &Path, opts: ReaderOptions) -> CoreResult<FileSummary> {
    let mut reader = WarcReader::open(path, opts)?;
    let mut records_by_type = BTreeMap::new();
    let mut block_bytes = 0u64;
    for record in reader.by_ref() {
        *records_by_type
            .entry(record.record_type.as_str())
            .or_default() += 1;
        block_bytes += record.block.len() as u64;
    }
    Ok(FileSummary {
        stats: reader.stats().clone(),
        records_by_type,
        block_bytes,
    })
}

/// Read whole files in parallel with the GIL released; returns one stats dict per path, with
/// `records_by_type` and `block_bytes` (every returned record's block is read).
#[pyfunction]
#[pyo3(signature = (paths, *, record_types=None, max_block_bytes=67108864, compression="auto", workers=None))]
fn read_warc_batch(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    record_types: Option<Vec<String>>,
    max_block_bytes: u64,
    compression: &str,
    workers: Option<usize>,
) -> PyResult<Vec<Py<PyAny>>> {
    use rayon::prelude::*;
    let opts = reader_options(record_types, max_block_bytes, compression)?;
    let pool = thread_pool(workers)?;
    let results: Vec<CoreResult<FileSummary>> = py.detach(|| {
        pool.install(|| {
            paths
                .par_iter()
                .map(|path| summarise_file(path, opts.clone()))
                .collect()
        })
    });
    let mut out = Vec::with_capacity(results.len());
    for (path, result) in paths.iter().zip(results) {
        let summary = result?;
        let dict = to_py_dict(py, &summary.stats)?;
        let bound = dict.bind(py).cast::<PyDict>()?;
        bound.set_item("path", path.display().to_string())?;
        bound.set_item("records_by_type", summary.records_by_type)?;
        bound.set_item("block_bytes", summary.block_bytes)?;
        out.push(dict);
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWarcReader>()?;
    m.add_class::<PyWarcRecord>()?;
    m.add_class::<PyHttpResponse>()?;
    m.add_function(wrap_pyfunction!(read_warc_batch, m)?)?;
    Ok(())
}
