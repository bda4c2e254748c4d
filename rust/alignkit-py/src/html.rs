//! Bindings of `alignkit_core::html`: HTML-to-text extraction.

use alignkit_core::html::{
    extract_batch, extract_text as core_extract, ExtractMode, ExtractOptions, Extracted,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

use crate::convert::run_pooled;
use crate::error::{CoreError, CoreResult};

pub fn extract_options(
    mode: &str,
    list_bullets: bool,
    skip_hidden: bool,
) -> CoreResult<ExtractOptions> {
    Ok(ExtractOptions {
        mode: ExtractMode::parse(mode)?,
        list_bullets,
        skip_hidden,
    })
}

/// Text extracted from one HTML document.
#[pyclass(name = "Extracted", module = "alignkit._core", frozen)]
pub struct PyExtracted {
    #[pyo3(get)]
    text: String,
    #[pyo3(get)]
    title: Option<String>,
    #[pyo3(get)]
    lang_hint: Option<String>,
}

impl From<Extracted> for PyExtracted {
    fn from(e: Extracted) -> Self {
        PyExtracted {
            text: e.text,
            title: e.title,
            lang_hint: e.lang_hint,
        }
    }
}

#[pymethods]
impl PyExtracted {
    fn __repr__(&self) -> String {
        let preview: String = self.text.chars().take(60).collect();
        format!(
            "Extracted(title={:?}, lang_hint={:?}, text={:?}{})",
            self.title,
            self.lang_hint,
            preview,
            if self.text.chars().count() > 60 {
                "..."
            } else {
                ""
            }
        )
    }
}

#[pyfunction]
#[pyo3(signature = (html, *, mode="plain", list_bullets=true, skip_hidden=true))]
fn extract_text(
    py: Python<'_>,
    html: PyBackedStr,
    mode: &str,
    list_bullets: bool,
    skip_hidden: bool,
) -> PyResult<PyExtracted> {
    let opts = extract_options(mode, list_bullets, skip_hidden)?;
    let extracted = py
        .detach(|| core_extract(&html, &opts))
        .map_err(CoreError)?;
    Ok(extracted.into())
}

#[pyfunction]
#[pyo3(signature = (htmls, *, mode="plain", list_bullets=true, skip_hidden=true, workers=None))]
fn extract_text_batch(
    py: Python<'_>,
    htmls: Vec<PyBackedStr>,
    mode: &str,
    list_bullets: bool,
    skip_hidden: bool,
    workers: Option<usize>,
) -> PyResult<Vec<PyExtracted>> {
    let opts = extract_options(mode, list_bullets, skip_hidden)?;
    let refs: Vec<&str> = htmls.iter().map(|h| &**h).collect();
    let results = run_pooled(py, workers, || Ok(extract_batch(&refs, &opts)))?;
    results
        .into_iter()
        .map(|r| r.map(PyExtracted::from).map_err(|e| CoreError(e).into()))
        .collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyExtracted>()?;
    m.add_function(wrap_pyfunction!(extract_text, m)?)?;
    m.add_function(wrap_pyfunction!(extract_text_batch, m)?)?;
    Ok(())
}
