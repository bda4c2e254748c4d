//! Exact top-k inner-product search over f32 rows, with add, remove by id and a file format.
//!
//! [`KnnIndex`] keeps its rows in insertion order (removal compacts them, so a row's position
//! is always its insertion rank). A search scores every stored row against every query with the
//! blocked f32 GEMM tiles of [`crate::diversity`] and keeps the `k` best per query, best first;
//! equal scores rank the earlier-inserted row first, whatever the blocking or thread count.
//!
//! With `normalize` the index is a cosine index: rows are L2-normalised when added and queries
//! when searched (a zero or non-finite row is an error), so scores are cosine similarities.
//! Without it rows and queries are used as given (they must be finite).

mod persist;
mod search;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use search::Neighbors;

use crate::diversity::nn::normalize_rows_into;
use crate::diversity::{with_simd, Elem, Matrix};
use crate::error::{Error, Result};

/// An exact inner-product (or cosine) index of `dim`-dimensional f32 rows keyed by `u64` ids.
#[derive(Clone, Debug)]
pub struct KnnIndex {
    dim: usize,
    normalize: bool,
    /// `ids.len() x dim` row-major, in insertion order.
    rows: Vec<f32>,
    ids: Vec<u64>,
    /// id -> position in `ids`.
    positions: HashMap<u64, usize>,
}

impl KnnIndex {
    /// An empty index of `dim >= 1` dimensions.
    pub fn new(dim: usize, normalize: bool) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidArgument(
                "a k-NN index needs at least one dimension".into(),
            ));
        }
        Ok(KnnIndex {
            dim,
            normalize,
            rows: Vec::new(),
            ids: Vec::new(),
            positions: HashMap::new(),
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether rows and queries are L2-normalised (cosine scores).
    pub fn normalizes(&self) -> bool {
        self.normalize
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids in insertion order.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// The stored rows (normalised when the index normalises), row-major in insertion order.
    pub fn rows(&self) -> &[f32] {
        &self.rows
    }

    pub fn contains(&self, id: u64) -> bool {
        self.positions.contains_key(&id)
    }

    /// Appends `rows` with `ids` (one per row, new and distinct). All or nothing: on error the
    /// index is unchanged.
    pub fn add<T: Elem>(&mut self, rows: &Matrix<'_, T>, ids: &[u64]) -> Result<()> {
        self.check_dim(rows, "rows")?;
        if ids.len() != rows.rows() {
            return Err(Error::InvalidArgument(format!(
                "{} rows but {} ids",
                rows.rows(),
                ids.len()
            )));
        }
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        let repeated = sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
        if let Some(id) = repeated.or_else(|| ids.iter().copied().find(|id| self.contains(*id))) {
            return Err(Error::InvalidArgument(format!(
                "id {id} is already in the index (ids must be unique)"
            )));
        }
        append_rows(rows, self.normalize, &mut self.rows)?;
        let base = self.ids.len();
        self.ids.extend_from_slice(ids);
        self.positions.reserve(ids.len());
        self.positions
            .extend(ids.iter().enumerate().map(|(i, &id)| (id, base + i)));
        Ok(())
    }

    /// Removes the rows of `ids`; the others keep their order. All or nothing: an id that is
    /// not in the index is an error and nothing is removed.
    pub fn remove(&mut self, ids: &[u64]) -> Result<()> {
        let mut gone = vec![false; self.ids.len()];
        for &id in ids {
            match self.positions.get(&id) {
                Some(&p) => gone[p] = true,
                None => {
                    return Err(Error::InvalidArgument(format!(
                        "id {id} is not in the index"
                    )))
                }
            }
        }
        let d = self.dim;
        let mut kept = 0;
        for (p, &removed) in gone.iter().enumerate() {
            if removed {
                continue;
            }
            if kept != p {
                self.ids[kept] = self.ids[p];
                self.rows.copy_within(p * d..(p + 1) * d, kept * d);
            }
            kept += 1;
        }
        self.ids.truncate(kept);
        self.rows.truncate(kept * d);
        self.positions = self
            .ids
            .iter()
            .enumerate()
            .map(|(p, &id)| (id, p))
            .collect();
        Ok(())
    }

    /// The `min(k, len)` best rows of each query, best first (ties: earlier insertion first).
    /// Runs on the current rayon pool, in parallel over query blocks (and row ranges when
    /// there are few queries).
    pub fn search<T: Elem>(&self, queries: &Matrix<'_, T>, k: usize) -> Result<Neighbors> {
        if k == 0 {
            return Err(Error::InvalidArgument("k must be at least 1".into()));
        }
        self.check_dim(queries, "queries")?;
        let mut q = Vec::new();
        append_rows(queries, self.normalize, &mut q)?;
        let k = k.min(self.len());
        let hits = search::top_k(&q, &self.rows, self.dim, k);
        Ok(Neighbors::from_positions(
            queries.rows(),
            k,
            hits,
            &self.ids,
        ))
    }

    fn check_dim<T: Elem>(&self, m: &Matrix<'_, T>, what: &str) -> Result<()> {
        if m.dim() != self.dim && m.rows() > 0 {
            return Err(Error::InvalidArgument(format!(
                "{what} have {} dimensions but the index has {}",
                m.dim(),
                self.dim
            )));
        }
        Ok(())
    }
}

/// Appends `m` to `dst` as f32 rows: normalised (the normaliser rejects zero and non-finite
/// rows; parallel, as it is compute-bound), or copied and checked finite. On error `dst` is
/// left as it was.
fn append_rows<T: Elem>(m: &Matrix<'_, T>, normalize: bool, dst: &mut Vec<f32>) -> Result<()> {
    let old = dst.len();
    if normalize {
        dst.resize(old + m.rows() * m.dim(), 0.0);
        let written = normalize_rows_into(m, &mut dst[old..]);
        if written.is_err() {
            dst.truncate(old);
        }
        return written;
    }
    dst.reserve(m.rows() * m.dim());
    let mut scratch = vec![0f32; m.dim()];
    for i in 0..m.rows() {
        dst.extend_from_slice(T::as_f32(m.row(i), &mut scratch));
    }
    // A branch-free fold (it vectorises); the slow search for the row only on failure.
    let finite = with_simd(|| dst[old..].iter().fold(true, |ok, v| ok & v.is_finite()));
    if !finite {
        let bad = dst[old..].iter().position(|v| !v.is_finite()).unwrap_or(0) / m.dim();
        dst.truncate(old);
        return Err(Error::InvalidArgument(format!(
            "row {bad} has a non-finite value"
        )));
    }
    Ok(())
}
