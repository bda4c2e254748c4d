//! Bindings for `alignkit.webr.prepare`: one shard in, documents out.

use std::path::PathBuf;
use std::sync::Mutex;

use alignkit_core::prepare::{prepare_shard_to_jsonl_gz, Document, PrepareOptions, ShardDocuments};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::to_py_dict;
use crate::error::CoreError;
use crate::webr_html::extract_options;

fn prepare_options(
    mode: &str,
    min_text_chars: usize,
    max_block_bytes: u64,
    only_2xx: bool,
) -> PyResult<PrepareOptions> {
    Ok(PrepareOptions {
        extract: extract_options(mode, true, true)?,
        max_block_bytes,
        min_text_chars,
        only_2xx,
    })
}

/// Prepare one shard into gzip JSONL at `out_path`, GIL released. `progress(records, bytes)` is
/// called from the worker thread with the GIL re-acquired, every `progress_every` records.
#[pyfunction]
#[pyo3(signature = (input, out_path, *, source_shard=None, mode="plain", min_text_chars=1,
    max_block_bytes=16777216, only_2xx=true, progress=None, progress_every=500))]
#[allow(clippy::too_many_arguments)]
fn prepare_shard(
    py: Python<'_>,
    input: PathBuf,
    out_path: PathBuf,
    source_shard: Option<String>,
    mode: &str,
    min_text_chars: usize,
    max_block_bytes: u64,
    only_2xx: bool,
    progress: Option<Py<PyAny>>,
    progress_every: u64,
) -> PyResult<Py<PyAny>> {
    let opts = prepare_options(mode, min_text_chars, max_block_bytes, only_2xx)?;
    let source = source_shard.unwrap_or_else(|| input.display().to_string());
    let mut callback_error: Option<PyErr> = None;
    let stats = py.detach(|| {
        prepare_shard_to_jsonl_gz(&input, &source, &out_path, opts, progress_every, |records, bytes| {
            let (Some(cb), None) = (&progress, &callback_error) else {
                return;
            };
            Python::attach(|py| {
                if let Err(e) = cb.call1(py, (records, bytes)) {
                    callback_error = Some(e);
                }
            });
        })
    });
    if let Some(err) = callback_error {
        return Err(err);
    }
    let stats = stats.map_err(CoreError)?;
    to_py_dict(py, &stats)
}

const COLUMNS: [&str; 8] = [
    "id",
    "url",
    "date",
    "title",
    "text",
    "lang_hint",
    "source_shard",
    "record_offset",
];

/// Documents of one shard, pulled in column batches (for Parquet writers and custom sinks).
#[pyclass(name = "ShardDocuments", module = "alignkit._core")]
pub struct PyShardDocuments {
    inner: Mutex<ShardDocuments>,
}

#[pymethods]
impl PyShardDocuments {
    #[new]
    #[pyo3(signature = (input, *, source_shard=None, mode="plain", min_text_chars=1,
        max_block_bytes=16777216, only_2xx=true))]
    fn new(
        input: PathBuf,
        source_shard: Option<String>,
        mode: &str,
        min_text_chars: usize,
        max_block_bytes: u64,
        only_2xx: bool,
    ) -> PyResult<Self> {
        let opts = prepare_options(mode, min_text_chars, max_block_bytes, only_2xx)?;
        let source = source_shard.unwrap_or_else(|| input.display().to_string());
        let docs = ShardDocuments::open(&input, &source, opts).map_err(CoreError)?;
        Ok(PyShardDocuments {
            inner: Mutex::new(docs),
        })
    }

    /// Up to `size` documents as a dict of columns, or None when the shard is exhausted.
    #[pyo3(signature = (size=1024))]
    fn next_batch(&self, py: Python<'_>, size: usize) -> PyResult<Option<Py<PyAny>>> {
        let batch: Vec<Document> = py.detach(|| {
            let mut docs = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            docs.by_ref().take(size.max(1)).collect()
        });
        if batch.is_empty() {
            return Ok(None);
        }
        let columns: Vec<Bound<'_, PyList>> = COLUMNS.iter().map(|_| PyList::empty(py)).collect();
        for doc in batch {
            columns[0].append(doc.id)?;
            columns[1].append(doc.url)?;
            columns[2].append(doc.date)?;
            columns[3].append(doc.title)?;
            columns[4].append(doc.text)?;
            columns[5].append(doc.lang_hint)?;
            columns[6].append(doc.source_shard)?;
            columns[7].append(doc.record_offset)?;
        }
        let dict = PyDict::new(py);
        for (name, column) in COLUMNS.iter().zip(columns) {
            dict.set_item(name, column)?;
        }
        Ok(Some(dict.into_any().unbind()))
    }

    /// Counters so far (final once `next_batch` has returned None).
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let docs = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        to_py_dict(py, &docs.stats())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyShardDocuments>()?;
    m.add_function(wrap_pyfunction!(prepare_shard, m)?)?;
    Ok(())
}
