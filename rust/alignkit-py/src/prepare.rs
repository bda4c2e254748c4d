//! Bindings of `alignkit_core::prepare`: one shard in, documents out.

use std::path::PathBuf;
use std::sync::Mutex;

use alignkit_core::prepare::{
    prepare_shard_to_jsonl_gz, Document, Outcome, PrepareOptions, ShardDocuments,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::to_py_dict;
use crate::error::{CoreError, CoreResult};
use crate::html::extract_options;
use crate::quality::QualitySettings;
use alignkit_core::langid::LangFilter;

/// Options shared by `prepare_shard` and `ShardDocuments`, as Python passes them.
#[derive(FromPyObject)]
struct OptionArgs {
    mode: String,
    min_text_chars: usize,
    max_block_bytes: u64,
    only_2xx: bool,
    languages: Option<Vec<String>>,
    min_lang_confidence: f64,
    /// Quality settings by name (missing names take defaults); None disables the filters.
    quality_config: Option<QualitySettings>,
}

fn prepare_options(args: OptionArgs) -> CoreResult<PrepareOptions> {
    let lang_filter = LangFilter::new(
        &args.languages.unwrap_or_default(),
        args.min_lang_confidence,
    )?;
    let opts = PrepareOptions {
        extract: extract_options(&args.mode, true, true)?,
        max_block_bytes: args.max_block_bytes,
        min_text_chars: args.min_text_chars,
        only_2xx: args.only_2xx,
        lang_filter,
        quality: args.quality_config.map(|q| q.0),
    };
    opts.validate()?;
    Ok(opts)
}

/// Prepare one shard into gzip JSONL at `out_path`, GIL released. `options` is any object with
/// the attributes of `OptionArgs` (alignkit's `PrepareConfig`). Dropped documents are written to
/// `dropped_path` with their reasons when given. `progress(records, bytes)` is called from the
/// worker thread with the GIL re-acquired, every `progress_every` records.
#[pyfunction]
#[pyo3(signature = (input, out_path, options, *, source_shard=None, dropped_path=None,
    progress=None, progress_every=500))]
#[allow(clippy::too_many_arguments)]
fn prepare_shard(
    py: Python<'_>,
    input: PathBuf,
    out_path: PathBuf,
    options: OptionArgs,
    source_shard: Option<String>,
    dropped_path: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
    progress_every: u64,
) -> PyResult<Py<PyAny>> {
    let opts = prepare_options(options)?;
    let source = source_shard.unwrap_or_else(|| input.display().to_string());
    let mut callback_error: Option<PyErr> = None;
    let stats = py.detach(|| {
        prepare_shard_to_jsonl_gz(
            &input,
            &source,
            &out_path,
            dropped_path.as_deref(),
            opts,
            progress_every,
            |records, bytes| {
                let (Some(cb), None) = (&progress, &callback_error) else {
                    return;
                };
                Python::attach(|py| {
                    if let Err(e) = cb.call1(py, (records, bytes)) {
                        callback_error = Some(e);
                    }
                });
            },
        )
    });
    if let Some(err) = callback_error {
        return Err(err);
    }
    let stats = stats.map_err(CoreError)?;
    to_py_dict(py, &stats)
}

const COLUMNS: [&str; 12] = [
    "id",
    "url",
    "date",
    "title",
    "text",
    "lang_hint",
    "lang",
    "lang_score",
    "source_shard",
    "record_offset",
    "drop_reason",
    "drop_detail",
];

/// Column lists of one batch, in `COLUMNS` order.
struct Columns<'py>(Vec<Bound<'py, PyList>>);

impl<'py> Columns<'py> {
    fn new(py: Python<'py>) -> Self {
        Columns(COLUMNS.iter().map(|_| PyList::empty(py)).collect())
    }

    fn push(&self, doc: Document, drop: Option<(&str, String)>) -> PyResult<()> {
        let c = &self.0;
        c[0].append(doc.id)?;
        c[1].append(doc.url)?;
        c[2].append(doc.date)?;
        c[3].append(doc.title)?;
        c[4].append(doc.text)?;
        c[5].append(doc.lang_hint)?;
        c[6].append(doc.lang)?;
        c[7].append(doc.lang_score)?;
        c[8].append(doc.source_shard)?;
        c[9].append(doc.record_offset)?;
        let (reason, detail) = drop.unzip();
        c[10].append(reason)?;
        c[11].append(detail)
    }

    fn into_dict(self, py: Python<'py>, with_drop_columns: bool) -> PyResult<Py<PyAny>> {
        let dict = PyDict::new(py);
        let keep = if with_drop_columns {
            COLUMNS.len()
        } else {
            COLUMNS.len() - 2
        };
        for (name, column) in COLUMNS.iter().zip(self.0).take(keep) {
            dict.set_item(name, column)?;
        }
        Ok(dict.into_any().unbind())
    }
}

/// Documents of one shard, pulled in column batches (for Parquet writers and custom sinks).
#[pyclass(name = "ShardDocuments", module = "alignkit._core")]
pub struct PyShardDocuments {
    inner: Mutex<ShardDocuments>,
    /// Whether batches also carry dropped documents (with `drop_reason`, `drop_detail`).
    include_dropped: bool,
}

#[pymethods]
impl PyShardDocuments {
    #[new]
    #[pyo3(signature = (input, options, *, source_shard=None, include_dropped=false))]
    fn new(
        input: PathBuf,
        options: OptionArgs,
        source_shard: Option<String>,
        include_dropped: bool,
    ) -> PyResult<Self> {
        let opts = prepare_options(options)?;
        let source = source_shard.unwrap_or_else(|| input.display().to_string());
        let docs = ShardDocuments::open(&input, &source, opts).map_err(CoreError)?;
        Ok(PyShardDocuments {
            inner: Mutex::new(docs),
            include_dropped,
        })
    }

    /// Up to `size` documents as a dict of columns, or None when the shard is exhausted. With
    /// `include_dropped`, dropped documents come too, marked by non-null `drop_reason`.
    #[pyo3(signature = (size=1024))]
    fn next_batch(&self, py: Python<'_>, size: usize) -> PyResult<Option<Py<PyAny>>> {
        let include_dropped = self.include_dropped;
        let batch: Vec<Outcome> = py.detach(|| {
            let mut docs = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            docs.next_batch(size, include_dropped)
        });
        if batch.is_empty() {
            return Ok(None);
        }
        let columns = Columns::new(py);
        for outcome in batch {
            match outcome {
                Outcome::Kept(doc) => columns.push(doc, None)?,
                Outcome::Dropped(d) => {
                    columns.push(d.document, Some((d.drop_reason, d.drop_detail)))?
                }
            }
        }
        columns.into_dict(py, include_dropped).map(Some)
    }

    /// Input bytes consumed so far (for progress bars).
    fn bytes_in(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bytes_in()
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
