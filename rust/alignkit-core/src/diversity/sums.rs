//! The O(n·d) metrics: everything that only needs the sum of the unit rows.

use rayon::prelude::*;

use super::{bad_row, need_rows, with_simd, Elem, Matrix};
use crate::error::{Error, Result};

/// Rows per rayon task.
const BLOCK: usize = 256;

/// Adds `row / |row|` to `s` (f64); false when the row has zero or non-finite norm.
#[inline(always)]
fn add_unit_row(row: &[f32], s: &mut [f64]) -> bool {
    let mut acc = [0f64; 8];
    let chunks = row.chunks_exact(8);
    let rem = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            let v = c[k] as f64;
            acc[k] += v * v;
        }
    }
    let mut ss = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rem {
        ss += v as f64 * v as f64;
    }
    if !(ss > 0.0 && ss.is_finite()) {
        return false;
    }
    let inv = 1.0 / ss.sqrt();
    for (sj, &v) in s.iter_mut().zip(row) {
        *sj += v as f64 * inv;
    }
    true
}

/// `s = Σ_i x_i / |x_i|` in f64 (one parallel pass, per-task partial sums added pairwise).
pub fn unit_sum<T: Elem>(m: &Matrix<'_, T>) -> Result<Vec<f64>> {
    let (n, d) = (m.rows(), m.dim());
    if n == 0 {
        return Ok(vec![0.0; d]);
    }
    m.data()
        .par_chunks(BLOCK * d)
        .enumerate()
        .try_fold(
            || vec![0f64; d],
            |mut s, (b, chunk)| {
                let mut scratch = vec![0f32; d];
                with_simd(|| {
                    for (r, row) in chunk.chunks_exact(d).enumerate() {
                        let row = T::as_f32(row, &mut scratch);
                        if !add_unit_row(row, &mut s) {
                            return Err(bad_row(b * BLOCK + r));
                        }
                    }
                    Ok(())
                })?;
                Ok(s)
            },
        )
        .try_reduce(
            || vec![0f64; d],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                Ok(a)
            },
        )
}

fn norm2(s: &[f64]) -> f64 {
    s.iter().map(|v| v * v).sum()
}

/// Mean cosine distance over all unordered pairs `i < j` (exact, O(n·d)).
///
/// With unit rows `u_i` and `s = Σ u_i`: `Σ_{i<j} u_i·u_j = (|s|² − n) / 2`, so the mean cosine
/// similarity is `(|s|² − n) / (n (n − 1))` and the distance is one minus that.
pub fn embedding_diversity<T: Elem>(m: &Matrix<'_, T>) -> Result<f64> {
    need_rows(m.rows(), 2, "embedding_diversity")?;
    let s = unit_sum(m)?;
    Ok(diversity_from_sum(&s, m.rows()))
}

/// The diversity from a precomputed unit sum over `n >= 2` rows.
pub fn diversity_from_sum(s: &[f64], n: usize) -> f64 {
    let n = n as f64;
    1.0 - (norm2(s) - n) / (n * (n - 1.0))
}

/// Mean cosine distance of each unit row to the normalised centroid: `1 − |s| / n`.
///
/// Errors when the unit rows sum to zero (the centroid has no direction).
pub fn centroid_distance<T: Elem>(m: &Matrix<'_, T>) -> Result<f64> {
    need_rows(m.rows(), 1, "centroid_distance")?;
    let s = unit_sum(m)?;
    centroid_from_sum(&s, m.rows())
}

/// The centroid distance from a precomputed unit sum over `n >= 1` rows.
pub fn centroid_from_sum(s: &[f64], n: usize) -> Result<f64> {
    let len = norm2(s).sqrt();
    if len == 0.0 {
        return Err(Error::InvalidArgument(
            "the unit rows sum to zero: the centroid has no direction".into(),
        ));
    }
    Ok(1.0 - len / n as f64)
}

/// Mean cosine distance over all `A x B` pairs: `1 − s_A·s_B / (n m)`, O((n + m)·d).
pub fn cross_diversity<T: Elem, U: Elem>(a: &Matrix<'_, T>, b: &Matrix<'_, U>) -> Result<f64> {
    need_rows(a.rows(), 1, "cross_diversity (A)")?;
    need_rows(b.rows(), 1, "cross_diversity (B)")?;
    if a.dim() != b.dim() {
        return Err(Error::InvalidArgument(format!(
            "A has {} dimensions but B has {}",
            a.dim(),
            b.dim()
        )));
    }
    let (sa, sb) = rayon::join(|| unit_sum(a), || unit_sum(b));
    let (sa, sb) = (sa?, sb?);
    let dot: f64 = sa.iter().zip(&sb).map(|(x, y)| x * y).sum();
    Ok(1.0 - dot / (a.rows() as f64 * b.rows() as f64))
}
