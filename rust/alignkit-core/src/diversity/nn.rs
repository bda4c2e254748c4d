//! Nearest-neighbour cosine distances: an exact blocked search (f32 GEMM tiles via
//! the `gemm` crate, then a max-reduction; rayon over tiles, per-task best values merged at
//! the end) and a random-hyperplane LSH approximation for very large `n`.

use rayon::prelude::*;

use super::{bad_row, need_rows, with_simd, Elem, Matrix};
use crate::error::{Error, Result};

/// Rows per tile side of the exact search: a `TILE x TILE` f32 product block is 1 MiB.
const TILE: usize = 512;

/// The rows of `m`, L2-normalised (norm computed in f64), as a row-major f32 copy.
pub fn normalized_rows<T: Elem>(m: &Matrix<'_, T>) -> Result<Vec<f32>> {
    let mut out = vec![0f32; m.rows() * m.dim()];
    normalize_rows_into(m, &mut out)?;
    Ok(out)
}

/// Writes the unit rows of `m` into `out` (exactly `rows x dim`), in parallel blocks of rows.
pub(crate) fn normalize_rows_into<T: Elem>(m: &Matrix<'_, T>, out: &mut [f32]) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    out.par_chunks_mut(m.dim() * 64)
        .enumerate()
        .try_for_each(|(b, block)| normalize_into(m, b * 64, block))
}

/// Writes the unit rows `i0..` of `m` into `dst` (a whole number of rows).
pub(crate) fn normalize_into<T: Elem>(m: &Matrix<'_, T>, i0: usize, dst: &mut [f32]) -> Result<()> {
    let d = m.dim();
    with_simd(|| {
        for (r, dst) in dst.chunks_exact_mut(d).enumerate() {
            let i = i0 + r;
            T::row_to_f32(m.row(i), dst);
            let mut acc = [0f64; 8];
            let chunks = dst.chunks_exact(8);
            let rem = chunks.remainder();
            for c in chunks {
                for k in 0..8 {
                    acc[k] += c[k] as f64 * c[k] as f64;
                }
            }
            let mut ss: f64 = acc.iter().sum();
            for &v in rem {
                ss += v as f64 * v as f64;
            }
            if !(ss > 0.0 && ss.is_finite()) {
                return Err(bad_row(i));
            }
            let inv = 1.0 / ss.sqrt();
            for v in dst.iter_mut() {
                *v = (*v as f64 * inv) as f32;
            }
        }
        Ok(())
    })
}

/// `c (rows x cols) = a (rows x d) · b (cols x d)^T`, all row-major.
pub(crate) fn tile_product(a: &[f32], b: &[f32], d: usize, c: &mut [f32]) {
    let rows = a.len() / d;
    let cols = b.len() / d;
    debug_assert!(c.len() >= rows * cols);
    // The `gemm` crate measured ~10% faster than `matrixmultiply` for these contiguous
    // row-major x transposed tiles (the Vendi Gram tiles, with strided columns, are the other
    // way round and stay on `matrixmultiply`).
    // SAFETY: the strides describe `a`, `b` and `c` exactly within their lengths.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            d,
            c.as_mut_ptr(),
            1,
            cols as isize,
            false,
            a.as_ptr(),
            1,
            d as isize,
            b.as_ptr(),
            d as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[inline(always)]
pub(crate) fn row_max(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = row.chunks_exact(8);
    let rem = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] = if c[k] > acc[k] { c[k] } else { acc[k] };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &v in acc.iter().chain(rem) {
        m = if v > m { v } else { m };
    }
    m
}

#[inline(always)]
fn max_into(best: &mut [f32], row: &[f32]) {
    for (b, &v) in best.iter_mut().zip(row) {
        *b = if v > *b { v } else { *b };
    }
}

fn merge_max(mut a: Vec<f32>, b: Vec<f32>) -> Vec<f32> {
    max_into(&mut a, &b);
    a
}

/// For each unit row of `u` (n x d), the largest cosine similarity to another row
/// (`-inf` when `n == 1`). Exploits symmetry: each tile pair `(I, J)`, `I <= J`, is computed
/// once and updates both the row bests of `I` and the column bests of `J`.
pub fn nearest_neighbor_sims(u: &[f32], d: usize) -> Vec<f32> {
    let n = u.len().checked_div(d).unwrap_or(0);
    let nb = n.div_ceil(TILE);
    let pairs: Vec<(usize, usize)> = (0..nb).flat_map(|i| (i..nb).map(move |j| (i, j))).collect();
    pairs
        .par_iter()
        .fold(
            || (vec![f32::NEG_INFINITY; n], Vec::<f32>::new()),
            |(mut best, mut c), &(bi, bj)| {
                let (r0, r1) = (bi * TILE, ((bi + 1) * TILE).min(n));
                let (c0, c1) = (bj * TILE, ((bj + 1) * TILE).min(n));
                let (rows, cols) = (r1 - r0, c1 - c0);
                c.resize(TILE * TILE, 0.0);
                tile_product(&u[r0 * d..r1 * d], &u[c0 * d..c1 * d], d, &mut c);
                with_simd(|| {
                    let mut colbest = [f32::NEG_INFINITY; TILE];
                    for r in 0..rows {
                        let row = &mut c[r * cols..(r + 1) * cols];
                        if bi == bj {
                            row[r] = f32::NEG_INFINITY;
                        }
                        let m = row_max(row);
                        let b = &mut best[r0 + r];
                        *b = if m > *b { m } else { *b };
                        if bi != bj {
                            max_into(&mut colbest[..cols], row);
                        }
                    }
                    if bi != bj {
                        max_into(&mut best[c0..c1], &colbest[..cols]);
                    }
                });
                (best, c)
            },
        )
        .map(|(best, _)| best)
        .reduce(|| vec![f32::NEG_INFINITY; n], merge_max)
}

/// For each unit row of `a`, the largest cosine similarity to any unit row of `b`.
pub fn nearest_neighbor_sims_cross(a: &[f32], b: &[f32], d: usize) -> Vec<f32> {
    let n = a.len().checked_div(d).unwrap_or(0);
    let m = b.len().checked_div(d).unwrap_or(0);
    let (na, nb) = (n.div_ceil(TILE), m.div_ceil(TILE));
    let pairs: Vec<(usize, usize)> = (0..na).flat_map(|i| (0..nb).map(move |j| (i, j))).collect();
    pairs
        .par_iter()
        .fold(
            || (vec![f32::NEG_INFINITY; n], Vec::<f32>::new()),
            |(mut best, mut c), &(bi, bj)| {
                let (r0, r1) = (bi * TILE, ((bi + 1) * TILE).min(n));
                let (c0, c1) = (bj * TILE, ((bj + 1) * TILE).min(m));
                let cols = c1 - c0;
                c.resize(TILE * TILE, 0.0);
                tile_product(&a[r0 * d..r1 * d], &b[c0 * d..c1 * d], d, &mut c);
                with_simd(|| {
                    for r in 0..r1 - r0 {
                        let mx = row_max(&c[r * cols..(r + 1) * cols]);
                        let b = &mut best[r0 + r];
                        *b = if mx > *b { mx } else { *b };
                    }
                });
                (best, c)
            },
        )
        .map(|(best, _)| best)
        .reduce(|| vec![f32::NEG_INFINITY; n], merge_max)
}

/// Parameters of the approximate (random-hyperplane LSH) search.
///
/// Each of `tables` tables hashes every unit row to `bits` sign bits of random Gaussian
/// projections and sorts the rows by that key; every row is then compared exactly with the
/// `window` rows after it in each sorted order. Cost: `n · tables · window` dot products plus
/// one `n x d x (tables · bits)` projection, instead of `n² d / 2`.
///
/// Recall trade-off: the result is an upper bound of each true nearest-neighbour distance.
/// It is exact for rows whose neighbour is much closer than typical pairs (near duplicates,
/// clustered data); on structureless isotropic data in high dimension, where every pair is
/// nearly orthogonal, recall of the exact neighbour is low (a few per cent to tens of per
/// cent), though the distances found stay close to the true ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LshParams {
    pub tables: usize,
    pub bits: usize,
    pub window: usize,
    pub seed: u64,
}

impl Default for LshParams {
    fn default() -> Self {
        LshParams {
            tables: 8,
            bits: 16,
            window: 16,
            seed: 0,
        }
    }
}

pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Approximate version of [`nearest_neighbor_sims`] (see [`LshParams`]): every value is the
/// similarity to some other row, so never above the exact one.
pub fn approximate_nearest_neighbor_sims(u: &[f32], d: usize, p: LshParams) -> Result<Vec<f32>> {
    if p.tables == 0 || p.bits == 0 || p.bits > 32 || p.window == 0 {
        return Err(Error::InvalidArgument(
            "LSH needs tables >= 1, 1 <= bits <= 32 and window >= 1".into(),
        ));
    }
    let n = u.len().checked_div(d).unwrap_or(0);
    let h = p.tables * p.bits;
    // Hyperplanes stored as the (h x d) row-major matrix, so projections are a tile product.
    let mut rng = SplitMix(p.seed ^ 0x005E_EDD1_7E85);
    let planes: Vec<f32> = (0..h * d).map(|_| rng.normal() as f32).collect();
    let mut proj = vec![0f32; n * h];
    proj.par_chunks_mut(TILE * h)
        .enumerate()
        .for_each(|(b, out)| {
            let r0 = b * TILE;
            let rows = out.len() / h;
            tile_product(&u[r0 * d..(r0 + rows) * d], &planes, d, out);
        });
    let mut best = vec![f32::NEG_INFINITY; n];
    for t in 0..p.tables {
        let mut keyed: Vec<(u32, u32)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let row = &proj[i * h + t * p.bits..i * h + (t + 1) * p.bits];
                let key = row.iter().fold(0u32, |k, &v| (k << 1) | u32::from(v > 0.0));
                (key, i as u32)
            })
            .collect();
        keyed.par_sort_unstable();
        let order: Vec<usize> = keyed.iter().map(|&(_, i)| i as usize).collect();
        let w = p.window;
        let table_best = (0..n)
            .into_par_iter()
            .with_min_len(1024)
            .fold(
                || vec![f32::NEG_INFINITY; n],
                |mut tb, pos| {
                    let i = order[pos];
                    let ui = &u[i * d..(i + 1) * d];
                    with_simd(|| {
                        for &j in &order[pos + 1..(pos + 1 + w).min(n)] {
                            let s = dot(ui, &u[j * d..(j + 1) * d]);
                            tb[i] = if s > tb[i] { s } else { tb[i] };
                            tb[j] = if s > tb[j] { s } else { tb[j] };
                        }
                    });
                    tb
                },
            )
            .reduce(|| vec![f32::NEG_INFINITY; n], merge_max);
        max_into(&mut best, &table_best);
    }
    Ok(best)
}

/// Turns similarities into cosine distances `1 − s`, clamped to `[0, 2]`.
pub fn sims_to_distances(mut sims: Vec<f32>) -> Vec<f32> {
    for s in sims.iter_mut() {
        *s = (1.0 - *s).clamp(0.0, 2.0);
    }
    sims
}

/// Cosine distance of each row to its nearest other row: exact, or approximate with
/// `Some(params)`. Needs at least two rows.
pub fn nearest_neighbor_distances<T: Elem>(
    m: &Matrix<'_, T>,
    approximate: Option<LshParams>,
) -> Result<Vec<f32>> {
    need_rows(m.rows(), 2, "nearest_neighbor_distances")?;
    let u = normalized_rows(m)?;
    let sims = match approximate {
        None => nearest_neighbor_sims(&u, m.dim()),
        Some(p) => approximate_nearest_neighbor_sims(&u, m.dim(), p)?,
    };
    Ok(sims_to_distances(sims))
}

/// For each row of `a`, the cosine distance to its nearest row of `b` (exact).
pub fn coverage_distances<T: Elem, U: Elem>(
    a: &Matrix<'_, T>,
    b: &Matrix<'_, U>,
) -> Result<Vec<f32>> {
    need_rows(a.rows(), 1, "coverage (A)")?;
    need_rows(b.rows(), 1, "coverage (B)")?;
    if a.dim() != b.dim() {
        return Err(Error::InvalidArgument(format!(
            "A has {} dimensions but B has {}",
            a.dim(),
            b.dim()
        )));
    }
    let ua = normalized_rows(a)?;
    let ub = normalized_rows(b)?;
    Ok(sims_to_distances(nearest_neighbor_sims_cross(
        &ua,
        &ub,
        a.dim(),
    )))
}
