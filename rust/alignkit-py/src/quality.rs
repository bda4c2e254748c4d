//! Bindings for language identification and the quality filters (`alignkit.webr.quality`).

use alignkit_core::langid::{detect, detect_batch, LangGuess};
use alignkit_core::quality::{filter_batch, FilterOutcome, QualityConfig};
use alignkit_core::Error;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

use crate::convert::{thread_pool, to_py_dict};
use crate::error::CoreError;

/// Quality settings from JSON (missing keys take defaults), validated.
pub fn parse_quality_config(json: &str) -> PyResult<QualityConfig> {
    let cfg: QualityConfig = serde_json::from_str(json)
        .map_err(|e| CoreError(Error::InvalidArgument(format!("quality config: {e}"))))?;
    cfg.validate().map_err(CoreError)?;
    Ok(cfg)
}

type PyGuess = Option<(String, f64, String)>;

fn guess_tuple(guess: Option<LangGuess>) -> PyGuess {
    guess.map(|g| (g.lang, g.confidence, g.script))
}

/// `(lang, confidence, script)` of a text (ISO 639-1 code), or None when undecidable.
#[pyfunction]
fn detect_language(py: Python<'_>, text: PyBackedStr) -> PyGuess {
    py.detach(|| guess_tuple(detect(&text)))
}

#[pyfunction]
#[pyo3(signature = (texts, *, workers=None))]
fn detect_language_batch(
    py: Python<'_>,
    texts: Vec<PyBackedStr>,
    workers: Option<usize>,
) -> PyResult<Vec<PyGuess>> {
    let pool = thread_pool(workers)?;
    Ok(py.detach(|| {
        let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
        pool.install(|| detect_batch(&refs))
            .into_iter()
            .map(guess_tuple)
            .collect()
    }))
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
#[pyo3(signature = (texts, langs=None, config_json=None, *, workers=None))]
fn quality_filter_batch(
    py: Python<'_>,
    texts: Vec<PyBackedStr>,
    langs: Option<Vec<Option<String>>>,
    config_json: Option<&str>,
    workers: Option<usize>,
) -> PyResult<Vec<PyOutcome>> {
    let cfg = match config_json {
        Some(json) => parse_quality_config(json)?,
        None => QualityConfig::default(),
    };
    let langs = langs.unwrap_or_default();
    if !langs.is_empty() && langs.len() != texts.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "langs has {} entries for {} texts",
            langs.len(),
            texts.len()
        )));
    }
    let pool = thread_pool(workers)?;
    Ok(py.detach(|| {
        let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
        let lang_refs: Vec<Option<&str>> = langs.iter().map(|l| l.as_deref()).collect();
        pool.install(|| filter_batch(&refs, &lang_refs, &cfg))
            .into_iter()
            .map(outcome_tuple)
            .collect()
    }))
}

/// The default quality settings as a dict (the names accepted by config files and flags).
#[pyfunction]
fn default_quality_config(py: Python<'_>) -> PyResult<Py<PyAny>> {
    to_py_dict(py, &QualityConfig::default())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(detect_language, m)?)?;
    m.add_function(wrap_pyfunction!(detect_language_batch, m)?)?;
    m.add_function(wrap_pyfunction!(quality_filter_batch, m)?)?;
    m.add_function(wrap_pyfunction!(default_quality_config, m)?)?;
    Ok(())
}
