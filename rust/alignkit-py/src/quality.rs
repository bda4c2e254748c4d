//! Bindings of `alignkit_core::quality`: the document quality filters and their settings.

use alignkit_core::quality::{filter_batch_checked, FilterOutcome, QualityConfig};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;

use crate::convert::{run_pooled, settings_map, to_py_dict};
use crate::error::CoreResult;

/// Quality settings by name (a dict; missing names take the defaults), checked by the core.
pub struct QualitySettings(pub QualityConfig);

impl<'a, 'py> FromPyObject<'a, 'py> for QualitySettings {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let dict = obj.cast::<PyDict>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "quality settings must be a dict of setting names to values, got {}",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let map = settings_map(&dict)?;
        Ok(QualitySettings(
            QualityConfig::from_settings(&map).map_err(crate::error::CoreError)?,
        ))
    }
}

/// `(kept, text, reason, detail)`: the cleaned text when kept, else the drop reason and detail.
type PyOutcome = (bool, Option<String>, Option<&'static str>, Option<String>);

fn outcome_tuple(outcome: FilterOutcome) -> PyOutcome {
    match outcome {
        FilterOutcome::Keep { text } => (true, Some(text), None, None),
        FilterOutcome::Drop { reason, detail } => {
            (false, None, Some(reason.as_str()), Some(detail))
        }
    }
}

/// Apply the quality filters to many texts (GIL released, parallel).
#[pyfunction]
#[pyo3(signature = (texts, langs=None, settings=None, *, workers=None))]
fn quality_filter_batch(
    py: Python<'_>,
    texts: Vec<PyBackedStr>,
    langs: Option<Vec<Option<String>>>,
    settings: Option<QualitySettings>,
    workers: Option<usize>,
) -> CoreResult<Vec<PyOutcome>> {
    let cfg = settings.map_or_else(QualityConfig::default, |s| s.0);
    let langs = langs.unwrap_or_default();
    let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
    let lang_refs: Vec<Option<&str>> = langs.iter().map(|l| l.as_deref()).collect();
    let outcomes = run_pooled(py, workers, || {
        filter_batch_checked(&refs, &lang_refs, &cfg)
    })?;
    Ok(outcomes.into_iter().map(outcome_tuple).collect())
}

/// The default quality settings as a dict (the names accepted by config files and flags).
#[pyfunction]
fn default_quality_config(py: Python<'_>) -> PyResult<Py<PyAny>> {
    to_py_dict(py, &QualityConfig::default())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(quality_filter_batch, m)?)?;
    m.add_function(wrap_pyfunction!(default_quality_config, m)?)?;
    Ok(())
}
