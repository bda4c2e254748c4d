//! Bindings of `alignkit_core::rouge`: rouge_score-exact ROUGE-L and the pool behind Lion's
//! novelty filter. Heavy calls release the GIL; batch calls on a large pool run on a local
//! rayon pool of all cores (small calls stay on the calling thread: starting threads would
//! cost more than the work).

use alignkit_core::rouge::{self, RougeLPool, Tokenizer};
use alignkit_core::Error;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyString;

use crate::convert::run_pooled;
use crate::error::{CoreError, CoreResult};

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A list (or other sequence) of str; a bare str is refused instead of being read as letters,
/// and a wrong item is named by its position.
fn str_list(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<PyBackedStr>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of str, not a single str"
        )));
    }
    obj.extract().map_err(|_| {
        let bad_item = obj.try_iter().ok().and_then(|items| {
            items.enumerate().find_map(|(i, item)| {
                let item = item.ok()?;
                if item.is_instance_of::<PyString>() {
                    // A str that cannot become UTF-8 (a lone surrogate).
                    let err = item.extract::<PyBackedStr>().err()?;
                    Some(format!("{what}[{i}]: {err}"))
                } else {
                    Some(format!("{what}[{i}] must be str, got {}", type_name(&item)))
                }
            })
        });
        PyTypeError::new_err(
            bad_item.unwrap_or_else(|| {
                format!("{what} must be a sequence of str, got {}", type_name(obj))
            }),
        )
    })
}

fn refs(texts: &[PyBackedStr]) -> Vec<&str> {
    texts.iter().map(|t| &**t).collect()
}

/// Runs `f` without the GIL, on a local pool of all cores when `threads`.
fn run<T: Send>(
    py: Python<'_>,
    threads: bool,
    f: impl FnOnce() -> alignkit_core::Result<T> + Send,
) -> CoreResult<T> {
    if threads {
        run_pooled(py, None, f)
    } else {
        Ok(py.detach(f)?)
    }
}

/// The tokens of `text` as ROUGE-L sees them. `tokenizer="rouge_score"` (default) is exactly
/// `rouge_score.tokenize.tokenize(text, None)`: lowercase, keep runs of ASCII `[a-z0-9]`, drop
/// everything else (non-ASCII text has no tokens). `"unicode"`: lowercased runs of Unicode
/// letters and digits; in scripts written without spaces (Han, kana, Thai...) each character
/// is a token.
#[pyfunction]
#[pyo3(signature = (text, tokenizer="rouge_score"))]
fn rouge_tokenize(text: &str, tokenizer: &str) -> CoreResult<Vec<String>> {
    Ok(Tokenizer::from_name(tokenizer)?.tokenize(text))
}

/// ROUGE-L F-measure of `a` (rouge_score's target) and `b` (its prediction).
#[pyfunction]
#[pyo3(signature = (a, b, tokenizer="rouge_score"))]
fn rouge_l_f1(a: &str, b: &str, tokenizer: &str) -> CoreResult<f64> {
    Ok(rouge::rouge_l_f1(a, b, Tokenizer::from_name(tokenizer)?)?)
}

/// Tokenized texts for exact ROUGE-L queries and Lion's sequential novelty filter.
#[pyclass(name = "RougeLPool", module = "alignkit._core")]
pub struct PyRougeLPool {
    inner: RougeLPool,
}

#[pymethods]
impl PyRougeLPool {
    #[new]
    #[pyo3(signature = (texts=None, tokenizer="rouge_score"))]
    fn new(py: Python<'_>, texts: Option<&Bound<'_, PyAny>>, tokenizer: &str) -> PyResult<Self> {
        let mut pool = PyRougeLPool {
            inner: RougeLPool::new(Tokenizer::from_name(tokenizer).map_err(CoreError)?),
        };
        if let Some(texts) = texts {
            pool.add(py, texts)?;
        }
        Ok(pool)
    }

    #[getter]
    fn tokenizer(&self) -> &'static str {
        self.inner.tokenizer().name()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Pool text `index` (negative counts from the end, like a list).
    fn text(&self, index: isize) -> PyResult<String> {
        let len = self.inner.len();
        let resolved = if index < 0 {
            len.checked_sub(index.unsigned_abs())
        } else {
            Some(index as usize)
        };
        resolved
            .and_then(|i| self.inner.text(i))
            .map(str::to_owned)
            .ok_or_else(|| {
                PyIndexError::new_err(format!(
                    "pool text index {index} out of range for a pool of {len}"
                ))
            })
    }

    /// Appends `texts` (a sequence of str) to the pool.
    fn add(&mut self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<()> {
        let texts = str_list(texts, "texts")?;
        let threads = RougeLPool::add_in_parallel(texts.len());
        let inner = &mut self.inner;
        Ok(run(py, threads, || inner.add(&refs(&texts)))?)
    }

    /// For each candidate, `(max F1 over the pool, lowest index reaching it)`; `(0.0, -1)` when
    /// the pool is empty.
    fn max_similarity(
        &self,
        py: Python<'_>,
        candidates: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<(f64, i64)>> {
        let candidates = str_list(candidates, "candidates")?;
        let inner = &self.inner;
        let threads = inner.batch_in_parallel(candidates.len());
        let best = run(py, threads, || Ok(inner.max_similarity(&refs(&candidates))))?;
        Ok(best
            .into_iter()
            .map(|(score, index)| (score, index.map_or(-1, |i| i as i64)))
            .collect())
    }

    /// The `k` most similar pool texts as `(index, F1)`, best first (ties: lower index).
    fn top_k(&self, py: Python<'_>, candidate: &str, k: i64) -> CoreResult<Vec<(usize, f64)>> {
        let k = usize::try_from(k)
            .map_err(|_| Error::InvalidArgument(format!("k must be at least 1, got {k}")))?;
        let inner = &self.inner;
        run(py, inner.scan_in_parallel(), || inner.top_k(candidate, k))
    }

    /// Lion's filter: True for each candidate whose F1 against the pool and every earlier kept
    /// candidate is at most `threshold`; kept candidates join the pool when `add`.
    #[pyo3(signature = (candidates, threshold, add=true))]
    fn filter_novel(
        &mut self,
        py: Python<'_>,
        candidates: &Bound<'_, PyAny>,
        threshold: f64,
        add: bool,
    ) -> PyResult<Vec<bool>> {
        let candidates = str_list(candidates, "candidates")?;
        let threads = self.inner.scan_in_parallel();
        let inner = &mut self.inner;
        Ok(run(py, threads, || {
            inner.filter_novel(&refs(&candidates), threshold, add)
        })?)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rouge_tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(rouge_l_f1, m)?)?;
    m.add_class::<PyRougeLPool>()?;
    Ok(())
}
