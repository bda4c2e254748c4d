//! Vendi score of the cosine kernel, through the `d x d` Gram matrix `K = Uᵀ U / n`, which has
//! the same non-zero eigenvalues as the `n x n` kernel `U Uᵀ / n` (never built when n > d).

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::nn::{normalize_into, normalized_rows, tile_product};
use super::{need_rows, Elem, Matrix};
use crate::error::Result;

/// Rows normalised and multiplied per rayon task.
const ROWS: usize = 1024;
/// Column tile of the Gram matrix: only tiles on or above the diagonal are computed.
const COLS: usize = 128;

/// `G = Σ_i u_i u_iᵀ` (d x d, row-major, f64; f32 products over blocks of rows, summed in f64).
pub fn gram_matrix<T: Elem>(m: &Matrix<'_, T>) -> Result<Vec<f64>> {
    let (n, d) = (m.rows(), m.dim());
    let nt = d.div_ceil(COLS);
    let tiles: Vec<(usize, usize)> = (0..nt).flat_map(|i| (i..nt).map(move |j| (i, j))).collect();
    let mut g = (0..n.div_ceil(ROWS))
        .into_par_iter()
        .try_fold(
            || {
                (
                    vec![0f64; d * d],
                    vec![0f32; ROWS * d],
                    vec![0f32; COLS * COLS],
                )
            },
            |(mut g, mut ub, mut c), b| {
                let r0 = b * ROWS;
                let rows = ROWS.min(n - r0);
                let ubs = &mut ub[..rows * d];
                normalize_into(m, r0, ubs)?;
                for &(ti, tj) in &tiles {
                    let (i0, i1) = (ti * COLS, ((ti + 1) * COLS).min(d));
                    let (j0, j1) = (tj * COLS, ((tj + 1) * COLS).min(d));
                    let (h, w) = (i1 - i0, j1 - j0);
                    // SAFETY: column blocks of the row-major `rows x d` block `ubs`, and a
                    // row-major `h x w` output inside `c`.
                    unsafe {
                        matrixmultiply::sgemm(
                            h,
                            rows,
                            w,
                            1.0,
                            ubs.as_ptr().add(i0),
                            1,
                            d as isize,
                            ubs.as_ptr().add(j0),
                            d as isize,
                            1,
                            0.0,
                            c.as_mut_ptr(),
                            w as isize,
                            1,
                        );
                    }
                    for r in 0..h {
                        let dst = &mut g[(i0 + r) * d + j0..(i0 + r) * d + j1];
                        for (x, &y) in dst.iter_mut().zip(&c[r * w..(r + 1) * w]) {
                            *x += y as f64;
                        }
                    }
                }
                Ok::<_, crate::error::Error>((g, ub, c))
            },
        )
        .map(|r| r.map(|(g, _, _)| g))
        .try_reduce(
            || vec![0f64; d * d],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                Ok(a)
            },
        )?;
    // Mirror the upper triangle (tiles below the diagonal were never computed).
    for i in 0..d {
        for j in 0..i {
            g[i * d + j] = g[j * d + i];
        }
    }
    Ok(g)
}

/// `exp(−Σ λ log λ)` over the eigenvalues `λ > 0`.
pub fn vendi_from_eigenvalues(eigenvalues: &[f64]) -> f64 {
    let h: f64 = eigenvalues
        .iter()
        .filter(|&&l| l > 0.0)
        .map(|&l| -l * l.ln())
        .sum();
    h.exp()
}

/// Eigenvalues of a symmetric `k x k` row-major matrix.
fn symmetric_eigenvalues(a: Vec<f64>, k: usize) -> Vec<f64> {
    DMatrix::from_vec(k, k, a)
        .symmetric_eigenvalues()
        .iter()
        .copied()
        .collect()
}

/// Vendi score with the cosine kernel: `exp(−Σ λ log λ)` over the eigenvalues of
/// `K = U Uᵀ / n`, computed from the `d x d` matrix `Uᵀ U / n` when `n > d` (the `n x n`
/// kernel otherwise). Ranges from 1 (all rows parallel) to `min(n, d)`.
pub fn vendi_score<T: Elem>(m: &Matrix<'_, T>) -> Result<f64> {
    need_rows(m.rows(), 1, "vendi_score")?;
    let (n, d) = (m.rows(), m.dim());
    let (mut k, size) = if n > d {
        (gram_matrix(m)?, d)
    } else {
        let u = normalized_rows(m)?;
        let mut c = vec![0f32; n * n];
        tile_product(&u, &u, d, &mut c);
        (c.into_iter().map(f64::from).collect(), n)
    };
    let inv = 1.0 / n as f64;
    for v in k.iter_mut() {
        *v *= inv;
    }
    Ok(vendi_from_eigenvalues(&symmetric_eigenvalues(k, size)))
}
