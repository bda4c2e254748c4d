//! Bindings of `alignkit_core::knn`: the exact top-k inner-product (cosine) index.
//!
//! Rows and queries are 2-D float32 or float16 numpy arrays (read in place when C-contiguous);
//! ids are uint64. Adding, searching, saving and loading release the GIL; `add` and `search`
//! run on a local rayon pool of `workers` threads (default: all cores).

use std::path::PathBuf;

use alignkit_core::diversity::Matrix;
use alignkit_core::knn::KnnIndex;
use alignkit_core::Error;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::convert::run_pooled;
use crate::diversity::{rows, with_matrix, Emb};
use crate::error::{CoreError, CoreResult};

/// Ids from a 1-D uint64 array (read in place) or any sequence of non-negative ints.
fn extract_ids(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, u64>>() {
        return Ok(a.as_array().iter().copied().collect());
    }
    obj.extract::<Vec<u64>>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "ids must be a 1-D uint64 array or a sequence of non-negative ints below 2**64",
        )
    })
}

fn array2<'py, T: numpy::Element>(
    py: Python<'py>,
    data: Vec<T>,
    shape: (usize, usize),
) -> CoreResult<Bound<'py, PyArray2<T>>> {
    let arr =
        Array2::from_shape_vec(shape, data).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

/// Exact top-k inner-product index over float32 rows keyed by uint64 ids; with `normalize`
/// (the default) rows and queries are L2-normalised, so scores are cosine similarities.
#[pyclass(name = "KnnIndex", module = "alignkit._core")]
pub struct PyKnnIndex {
    inner: KnnIndex,
}

#[pymethods]
impl PyKnnIndex {
    #[new]
    #[pyo3(signature = (dim, *, normalize=true))]
    fn new(dim: usize, normalize: bool) -> CoreResult<Self> {
        Ok(PyKnnIndex {
            inner: KnnIndex::new(dim, normalize)?,
        })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn normalize(&self) -> bool {
        self.inner.normalizes()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, id: u64) -> bool {
        self.inner.contains(id)
    }

    /// The ids in insertion order (uint64).
    fn ids<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        PyArray1::from_slice(py, self.inner.ids())
    }

    /// Appends `rows` (n x dim) with `ids` (n new, distinct); all or nothing.
    #[pyo3(signature = (rows, ids, *, workers=None))]
    fn add(
        &mut self,
        py: Python<'_>,
        rows: &Bound<'_, PyAny>,
        ids: &Bound<'_, PyAny>,
        workers: Option<usize>,
    ) -> PyResult<()> {
        let emb = Emb::extract(rows, "rows")?;
        let ids = extract_ids(ids)?;
        let inner = &mut self.inner;
        with_matrix!(
            emb,
            |m| Ok(run_pooled(py, workers, || inner.add(&m, &ids))?)
        )
    }

    /// Removes the rows of `ids` (all must be present; all or nothing).
    fn remove(&mut self, ids: &Bound<'_, PyAny>) -> PyResult<()> {
        let ids = extract_ids(ids)?;
        Ok(self.inner.remove(&ids).map_err(CoreError)?)
    }

    /// The `min(k, len)` best rows of each query: `(ids uint64, scores float32)`, both
    /// `(queries, min(k, len))`, best first; equal scores rank the earlier-added row first.
    #[pyo3(signature = (queries, k=1, *, workers=None))]
    #[allow(clippy::type_complexity)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        workers: Option<usize>,
    ) -> PyResult<(Bound<'py, PyArray2<u64>>, Bound<'py, PyArray2<f32>>)> {
        let emb = Emb::extract(queries, "queries")?;
        let inner = &self.inner;
        let hits = with_matrix!(emb, |m| run_pooled(py, workers, || inner.search(&m, k)))?;
        let shape = (hits.queries, hits.k);
        Ok((
            array2(py, hits.ids, shape)?,
            array2(py, hits.scores, shape)?,
        ))
    }

    /// Writes the index to `path` atomically (versioned binary format with a checksum).
    fn save(&self, py: Python<'_>, path: PathBuf) -> CoreResult<()> {
        let inner = &self.inner;
        Ok(py.detach(|| inner.save(&path))?)
    }

    /// Reads an index written by `save`; a truncated or corrupt file raises
    /// `MalformedInputError`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> CoreResult<Self> {
        let inner = py.detach(|| KnnIndex::load(&path))?;
        Ok(PyKnnIndex { inner })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKnnIndex>()?;
    Ok(())
}
