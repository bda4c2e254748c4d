//! Embedding-diversity metrics over an `n x d` embedding matrix (float32 or float16).
//!
//! All metrics use cosine geometry: every row is L2-normalised on the fly (the input is never
//! copied for the O(n·d) metrics). A row whose norm is zero or not finite is an error
//! ([`Error::InvalidArgument`] naming the row): a zero vector has no direction, and silently
//! skipping it would change `n` behind the caller's back.
//!
//! * [`embedding_diversity`]: exact mean pairwise cosine distance over all `i < j` in one pass,
//!   through `sum_{i<j} u_i·u_j = (|s|² − n) / 2` with `s = Σ u_i` accumulated in f64.
//! * [`centroid_distance`]: mean cosine distance of each unit row to the normalised centroid,
//!   which equals `1 − |s| / n`.
//! * [`cross_diversity`]: mean cosine distance over all `A x B` pairs, `1 − s_A·s_B / (n m)`.
//! * [`vendi_score`]: Vendi score of the cosine kernel through the `d x d` Gram matrix.
//! * [`nearest_neighbor_distances`] / [`coverage`]: exact blocked nearest-neighbour search
//!   (f32 GEMM tiles, rayon over tiles), plus a random-hyperplane LSH approximation.

pub(crate) mod nn;
mod sums;
mod vendi;

#[cfg(test)]
mod tests;

pub use nn::{
    approximate_nearest_neighbor_sims, coverage_distances, nearest_neighbor_distances,
    nearest_neighbor_sims, nearest_neighbor_sims_cross, normalized_rows, sims_to_distances,
    LshParams,
};
pub use sums::{
    centroid_distance, centroid_from_sum, cross_diversity, diversity_from_sum, embedding_diversity,
    unit_sum,
};
pub use vendi::{gram_matrix, vendi_from_eigenvalues, vendi_score};

use crate::error::{Error, Result};

/// An element type an embedding matrix may hold (f32 or f16).
pub trait Elem: Copy + Send + Sync + 'static {
    /// Converts a row to f32 into `out` (same length).
    fn row_to_f32(row: &[Self], out: &mut [f32]);
    /// The row as f32, borrowing when it already is f32.
    fn as_f32<'a>(row: &'a [Self], scratch: &'a mut [f32]) -> &'a [f32];
}

impl Elem for f32 {
    #[inline]
    fn row_to_f32(row: &[f32], out: &mut [f32]) {
        out.copy_from_slice(row);
    }
    #[inline]
    fn as_f32<'a>(row: &'a [f32], _scratch: &'a mut [f32]) -> &'a [f32] {
        row
    }
}

impl Elem for half::f16 {
    #[inline]
    fn row_to_f32(row: &[half::f16], out: &mut [f32]) {
        use half::slice::HalfFloatSliceExt;
        row.convert_to_f32_slice(out);
    }
    #[inline]
    fn as_f32<'a>(row: &'a [half::f16], scratch: &'a mut [f32]) -> &'a [f32] {
        Self::row_to_f32(row, scratch);
        scratch
    }
}

/// A borrowed row-major (C-contiguous) `n x d` matrix.
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a, T> {
    data: &'a [T],
    n: usize,
    d: usize,
}

impl<'a, T: Elem> Matrix<'a, T> {
    /// Wraps `data` as `n` rows of `d` values; `data.len()` must equal `n * d`.
    pub fn new(data: &'a [T], n: usize, d: usize) -> Result<Self> {
        if n.checked_mul(d) != Some(data.len()) {
            return Err(Error::InvalidArgument(format!(
                "embedding matrix of {} values cannot be {n} x {d}",
                data.len()
            )));
        }
        if n > 0 && d == 0 {
            return Err(Error::InvalidArgument(
                "embeddings must have at least one dimension".into(),
            ));
        }
        Ok(Matrix { data, n, d })
    }
    pub fn rows(&self) -> usize {
        self.n
    }
    pub fn dim(&self) -> usize {
        self.d
    }
    pub fn data(&self) -> &'a [T] {
        self.data
    }
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

pub(crate) fn bad_row(i: usize) -> Error {
    Error::InvalidArgument(format!(
        "row {i} has zero or non-finite norm: cosine metrics need non-zero finite embeddings"
    ))
}

pub(crate) fn need_rows(n: usize, min: usize, what: &str) -> Result<()> {
    if n < min {
        return Err(Error::InvalidArgument(format!(
            "{what} needs at least {min} row(s), got {n}"
        )));
    }
    Ok(())
}

/// Summary statistics of a distance vector: mean and linear-interpolated quantiles
/// (numpy's default `method="linear"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// `(q, value)` for q in [`QUANTILES`].
    pub quantiles: Vec<(f64, f64)>,
}

/// The quantiles reported by [`Stats`].
pub const QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

impl Stats {
    /// Statistics of `values` (NaN-free); `None` for an empty slice.
    pub fn of(values: &[f32]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut sorted: Vec<f32> = values.to_vec();
        sorted.sort_unstable_by(|a, b| a.total_cmp(b));
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
        let quantiles = QUANTILES
            .iter()
            .map(|&q| (q, quantile_sorted(&sorted, q)))
            .collect();
        Some(Stats {
            mean,
            min: sorted[0] as f64,
            max: sorted[sorted.len() - 1] as f64,
            quantiles,
        })
    }
}

/// numpy's linear quantile of an ascending slice.
pub fn quantile_sorted(sorted: &[f32], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    let a = sorted[lo] as f64;
    let b = sorted[hi] as f64;
    a + (b - a) * frac
}

/// Runs `f` compiled for AVX2+FMA when the CPU has them (the crate is built for baseline
/// x86-64), otherwise as is.
#[inline(always)]
pub(crate) fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected at run time.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// All single-dataset metrics of [`diversity_summary`].
#[derive(Clone, Debug)]
pub struct Summary {
    pub n: usize,
    pub d: usize,
    /// Mean pairwise cosine distance (`None` for fewer than two rows).
    pub diversity: Option<f64>,
    /// Mean distance to the centroid (`None` when the unit rows sum to zero).
    pub centroid_distance: Option<f64>,
    pub vendi_score: f64,
    /// Nearest-neighbour distance statistics, when asked for and `n >= 2`.
    pub nn: Option<Stats>,
}

/// Every single-dataset metric in one call (one unit-sum pass, the Gram matrix, and the
/// nearest-neighbour search when `nn` is `Some`: `Some(None)` exact, `Some(Some(p))` LSH).
pub fn diversity_summary<T: Elem>(
    m: &Matrix<'_, T>,
    nn: Option<Option<LshParams>>,
) -> Result<Summary> {
    need_rows(m.rows(), 1, "diversity_summary")?;
    let n = m.rows();
    let s = unit_sum(m)?;
    let diversity = (n >= 2).then(|| diversity_from_sum(&s, n));
    let centroid_distance = centroid_from_sum(&s, n).ok();
    let vendi_score = vendi_score(m)?;
    let nn = match nn {
        Some(p) if n >= 2 => Stats::of(&nearest_neighbor_distances(m, p)?),
        _ => None,
    };
    Ok(Summary {
        n,
        d: m.dim(),
        diversity,
        centroid_distance,
        vendi_score,
        nn,
    })
}

/// How well B covers A: nearest-row distance statistics of A's rows and, with a threshold,
/// the fraction of A within that distance of some row of B.
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    pub n: usize,
    pub stats: Option<Stats>,
    pub covered: Option<f64>,
}

/// [`coverage_distances`] summarised; `threshold` must be finite.
pub fn coverage<T: Elem, U: Elem>(
    a: &Matrix<'_, T>,
    b: &Matrix<'_, U>,
    threshold: Option<f64>,
) -> Result<Coverage> {
    if threshold.is_some_and(|t| !t.is_finite()) {
        return Err(Error::InvalidArgument("threshold must be finite".into()));
    }
    let dist = coverage_distances(a, b)?;
    let covered = threshold.map(|t| {
        let within = dist.iter().filter(|&&v| v as f64 <= t).count();
        within as f64 / dist.len().max(1) as f64
    });
    Ok(Coverage {
        n: dist.len(),
        stats: Stats::of(&dist),
        covered,
    })
}
