//! Bindings of `alignkit_core::warc`: WARC reading, record payloads and whole-file summaries.

use std::path::PathBuf;
use std::sync::Mutex;

use alignkit_core::warc::{
    summarise_files, Compression, ReaderOptions, Record, RecordTypeSet, WarcReader,
};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{run_pooled, to_py_dict};
use crate::error::{CoreError, CoreResult};
use crate::http::PyHttpResponse;

pub fn reader_options(
    record_types: Option<Vec<String>>,
    max_block_bytes: u64,
    compression: &str,
) -> CoreResult<ReaderOptions> {
    let record_types = match record_types {
        Some(names) => RecordTypeSet::from_names(&names)?,
        None => RecordTypeSet::ALL,
    };
    Ok(ReaderOptions {
        record_types,
        max_block_bytes,
        compression: Compression::parse(compression)?,
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

    /// The next record; an input that could not be read to its end (an I/O error, a file that
    /// shrank while read) raises OSError once the records before the failure are out.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyWarcRecord>> {
        let (record, error) = py.detach(|| {
            let mut reader = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let record = reader.next();
            let error = match record {
                None => reader.io_error().map(|e| e.to_string()),
                Some(_) => None,
            };
            (record, error)
        });
        if let Some(e) = error {
            return Err(PyOSError::new_err(format!(
                "WARC input could not be read to its end: {e}"
            )));
        }
        Ok(record.map(|record| PyWarcRecord { record }))
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
    fn http(&self) -> CoreResult<PyHttpResponse> {
        Ok(self.record.http_response()?.into())
    }
    /// The HTML payload decoded to `str` (charset from BOM, HTTP header, `<meta>` or detection);
    /// None when the record is not an HTML HTTP response.
    fn decode_html(&self, py: Python<'_>) -> Option<String> {
        py.detach(|| self.record.html_text())
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
    let opts = reader_options(record_types, max_block_bytes, compression)?;
    let summaries = run_pooled(py, workers, || summarise_files(&paths, &opts))?;
    let mut out = Vec::with_capacity(summaries.len());
    for (path, summary) in paths.iter().zip(summaries) {
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
    m.add_function(wrap_pyfunction!(read_warc_batch, m)?)?;
    Ok(())
}
