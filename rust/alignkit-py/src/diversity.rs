//! Bindings of `alignkit_core::diversity`: the embedding-diversity metrics.
//!
//! Inputs are 2-D float32 or float16 numpy arrays, read in place when C-contiguous (a
//! non-contiguous array is copied once into row-major order). Every call releases the GIL and
//! runs on a local rayon pool of `workers` threads (default: all cores).

use std::borrow::Cow;

use alignkit_core::diversity::{self, Elem, LshParams, Matrix, Stats};
use half::f16;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::run_pooled;
use crate::error::CoreError;

/// A float32 or float16 embedding matrix borrowed from numpy.
pub(crate) enum Emb<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F16(PyReadonlyArray2<'py, f16>),
}

impl<'py> Emb<'py> {
    pub(crate) fn extract(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f32>>() {
            return Ok(Emb::F32(a));
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f16>>() {
            return Ok(Emb::F16(a));
        }
        let got = match obj.getattr("dtype") {
            Ok(dt) => format!("{} with dtype {}", obj.get_type().name()?, dt),
            Err(_) => obj.get_type().name()?.to_string(),
        };
        Err(PyTypeError::new_err(format!(
            "{what} must be a 2-D numpy array of float32 or float16, got {got}"
        )))
    }
}

/// The array's data in row-major order: borrowed when C-contiguous, else copied.
pub(crate) fn rows<'a, T: Elem + numpy::Element>(
    a: &'a PyReadonlyArray2<'_, T>,
) -> (Cow<'a, [T]>, usize, usize) {
    let (n, d) = (a.shape()[0], a.shape()[1]);
    // `as_slice` also accepts Fortran order, which is not row-major.
    match a.as_slice() {
        Ok(s) if a.is_c_contiguous() => (Cow::Borrowed(s), n, d),
        _ => (Cow::Owned(a.as_array().iter().copied().collect()), n, d),
    }
}

/// Runs `$body` with `$m` bound to a `Matrix` of the input's element type.
macro_rules! with_matrix {
    ($emb:expr, |$m:ident| $body:expr) => {
        match &$emb {
            Emb::F32(a) => {
                let (data, n, d) = rows(a);
                let $m = Matrix::new(&data, n, d).map_err(CoreError)?;
                $body
            }
            Emb::F16(a) => {
                let (data, n, d) = rows(a);
                let $m = Matrix::new(&data, n, d).map_err(CoreError)?;
                $body
            }
        }
    };
}
pub(crate) use with_matrix;

fn run<T: Send>(
    py: Python<'_>,
    workers: Option<usize>,
    f: impl FnOnce() -> alignkit_core::Result<T> + Send,
) -> PyResult<T> {
    Ok(run_pooled(py, workers, f)?)
}

fn stats_into(dict: &Bound<'_, PyDict>, prefix: &str, s: &Stats) -> PyResult<()> {
    dict.set_item(format!("{prefix}mean"), s.mean)?;
    dict.set_item(format!("{prefix}min"), s.min)?;
    dict.set_item(format!("{prefix}max"), s.max)?;
    for &(q, v) in &s.quantiles {
        dict.set_item(format!("{prefix}q{:02}", (q * 100.0).round() as u32), v)?;
    }
    Ok(())
}

fn lsh(
    approximate: bool,
    tables: usize,
    bits: usize,
    window: usize,
    seed: u64,
) -> Option<LshParams> {
    approximate.then_some(LshParams {
        tables,
        bits,
        window,
        seed,
    })
}

/// Mean pairwise cosine distance over all unordered pairs (exact, one O(n·d) pass).
#[pyfunction]
#[pyo3(signature = (x, *, workers=None))]
fn embedding_diversity(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    workers: Option<usize>,
) -> PyResult<f64> {
    let x = Emb::extract(x, "x")?;
    with_matrix!(x, |m| run(py, workers, || diversity::embedding_diversity(
        &m
    )))
}

/// Mean cosine distance of each row to the normalised centroid (`1 - |sum of unit rows| / n`).
#[pyfunction]
#[pyo3(signature = (x, *, workers=None))]
fn centroid_distance(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    workers: Option<usize>,
) -> PyResult<f64> {
    let x = Emb::extract(x, "x")?;
    with_matrix!(x, |m| run(py, workers, || diversity::centroid_distance(&m)))
}

/// Vendi score of the cosine kernel, through the d x d Gram matrix.
#[pyfunction]
#[pyo3(signature = (x, *, workers=None))]
fn vendi_score(py: Python<'_>, x: &Bound<'_, PyAny>, workers: Option<usize>) -> PyResult<f64> {
    let x = Emb::extract(x, "x")?;
    with_matrix!(x, |m| run(py, workers, || diversity::vendi_score(&m)))
}

/// Mean cosine distance over all A x B pairs, O((n + m)·d).
#[pyfunction]
#[pyo3(signature = (a, b, *, workers=None))]
fn cross_diversity(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    workers: Option<usize>,
) -> PyResult<f64> {
    let (a, b) = (Emb::extract(a, "a")?, Emb::extract(b, "b")?);
    with_matrix!(a, |ma| with_matrix!(b, |mb| run(py, workers, || {
        diversity::cross_diversity(&ma, &mb)
    })))
}

/// Cosine distance of each row to its nearest other row (exact blocked search, or LSH when
/// `approximate`), as float32, plus summary statistics.
#[pyfunction]
#[pyo3(signature = (x, approximate=false, *, tables=8, bits=16, window=16, seed=0, workers=None))]
#[allow(clippy::too_many_arguments)]
fn nearest_neighbor_distances<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    approximate: bool,
    tables: usize,
    bits: usize,
    window: usize,
    seed: u64,
    workers: Option<usize>,
) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyDict>)> {
    let x = Emb::extract(x, "x")?;
    let p = lsh(approximate, tables, bits, window, seed);
    let dist = with_matrix!(x, |m| run(py, workers, || {
        diversity::nearest_neighbor_distances(&m, p)
    }))?;
    let stats = PyDict::new(py);
    if let Some(s) = Stats::of(&dist) {
        stats_into(&stats, "", &s)?;
    }
    Ok((dist.into_pyarray(py), stats))
}

/// For each row of A, the cosine distance to its nearest row of B (exact): statistics, and
/// with `threshold` the fraction of A within that distance of B (`covered`).
#[pyfunction]
#[pyo3(signature = (a, b, threshold=None, *, workers=None))]
fn coverage<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    threshold: Option<f64>,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let (a, b) = (Emb::extract(a, "a")?, Emb::extract(b, "b")?);
    let c = with_matrix!(a, |ma| with_matrix!(b, |mb| run(py, workers, || {
        diversity::coverage(&ma, &mb, threshold)
    })))?;
    let out = PyDict::new(py);
    out.set_item("n", c.n)?;
    if let Some(s) = &c.stats {
        stats_into(&out, "", s)?;
    }
    if let Some(covered) = c.covered {
        out.set_item("covered", covered)?;
    }
    Ok(out)
}

/// All single-dataset metrics in one dict (`nn_*` keys only when `nn`).
#[pyfunction]
#[pyo3(signature = (x, nn=true, *, approximate=false, workers=None))]
fn diversity_summary<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    nn: bool,
    approximate: bool,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let x = Emb::extract(x, "x")?;
    let p = nn.then(|| lsh(approximate, 8, 16, 16, 0));
    let s = with_matrix!(x, |m| run(py, workers, || diversity::diversity_summary(
        &m, p
    )))?;
    let out = PyDict::new(py);
    out.set_item("n", s.n)?;
    out.set_item("d", s.d)?;
    out.set_item("diversity", s.diversity)?;
    out.set_item("centroid_distance", s.centroid_distance)?;
    out.set_item("vendi_score", s.vendi_score)?;
    if let Some(st) = &s.nn {
        stats_into(&out, "nn_", st)?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(embedding_diversity, m)?)?;
    m.add_function(wrap_pyfunction!(centroid_distance, m)?)?;
    m.add_function(wrap_pyfunction!(vendi_score, m)?)?;
    m.add_function(wrap_pyfunction!(cross_diversity, m)?)?;
    m.add_function(wrap_pyfunction!(nearest_neighbor_distances, m)?)?;
    m.add_function(wrap_pyfunction!(coverage, m)?)?;
    m.add_function(wrap_pyfunction!(diversity_summary, m)?)?;
    Ok(())
}
