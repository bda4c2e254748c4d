//! Bindings of `alignkit_core::langid`: language identification.

use alignkit_core::langid::{detect, detect_batch, LangGuess};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

use crate::convert::run_pooled;
use crate::error::CoreResult;

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
) -> CoreResult<Vec<PyGuess>> {
    let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
    let guesses = run_pooled(py, workers, || Ok(detect_batch(&refs)))?;
    Ok(guesses.into_iter().map(guess_tuple).collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(detect_language, m)?)?;
    m.add_function(wrap_pyfunction!(detect_language_batch, m)?)?;
    Ok(())
}
