//! The blocked top-k kernel: GEMM tiles of (query block x row block) scores, each row of a tile
//! scanned against its query's running k-th best score.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::diversity::nn::{row_max, tile_product};
use crate::diversity::with_simd;

/// Queries per GEMM tile (fewer when that balances the blocks better). Large, because each
/// query block packs every stored row once more: 1024 x 512 measured ~12% faster than
/// 256 x 1024 (1k queries, 100k x 384 rows, one thread).
/// Unit tests use small blocks, so that inputs a debug build searches quickly span several.
const QUERY_BLOCK: usize = if cfg!(test) { 96 } else { 1024 };
/// Stored rows per GEMM tile: a full `QUERY_BLOCK x ROW_BLOCK` f32 tile is 2 MiB.
const ROW_BLOCK: usize = if cfg!(test) { 256 } else { 512 };
/// Scores per threshold check: a chunk whose maximum does not beat the k-th best is skipped.
const SCAN_CHUNK: usize = 64;

/// The result of a search: `queries x k` ids and scores, row-major, best first per query.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbors {
    pub queries: usize,
    /// Results per query: the asked `k`, or the index size when smaller.
    pub k: usize,
    pub ids: Vec<u64>,
    pub scores: Vec<f32>,
}

/// A (score, position) candidate; positions are insertion ranks.
type Hit = (f32, usize);

/// `a` ranks before `b`: higher score, then earlier position.
#[inline(always)]
fn better(a: Hit, b: Hit) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

fn rank(a: &Hit, b: &Hit) -> Ordering {
    // Stored scores are never NaN (see `scan`), so `partial_cmp` always answers.
    b.0.partial_cmp(&a.0)
        .unwrap_or(Ordering::Equal)
        .then(a.1.cmp(&b.1))
}

/// Offers `hit` to `list` (best first, `*len` of `list.len()` slots used), keeping the best.
#[inline(always)]
fn offer(list: &mut [Hit], len: &mut usize, hit: Hit) {
    let k = list.len();
    let mut i = *len;
    if i == k {
        if !better(hit, list[k - 1]) {
            return;
        }
        i = k - 1;
    } else {
        *len += 1;
    }
    while i > 0 && better(hit, list[i - 1]) {
        list[i] = list[i - 1];
        i -= 1;
    }
    list[i] = hit;
}

/// Offers the scores of rows `base..` to one query's list. Scores come in increasing position,
/// so among equal scores the first one seen is kept: a strict `>` against the k-th best suffices.
#[inline(always)]
fn scan(scores: &[f32], base: usize, list: &mut [Hit], len: &mut usize) {
    let k = list.len();
    for (c, chunk) in scores.chunks(SCAN_CHUNK).enumerate() {
        // Neither side is NaN: `row_max` skips NaNs and stored scores never hold one.
        if *len == k && row_max(chunk) <= list[k - 1].0 {
            continue;
        }
        for (j, &v) in chunk.iter().enumerate() {
            if *len < k || v > list[k - 1].0 {
                // A NaN score (overflowing raw inner products) ranks last.
                let v = if v.is_nan() { f32::NEG_INFINITY } else { v };
                offer(list, len, (v, base + c * SCAN_CHUNK + j));
            }
        }
    }
}

/// The best `k` of rows `r0..r1` for each query of `q`: a flat `queries x k` list and the
/// number of slots used per query.
fn block_top_k(
    q: &[f32],
    rows: &[f32],
    (r0, r1): (usize, usize),
    d: usize,
    k: usize,
) -> (Vec<Hit>, Vec<usize>) {
    let nq = q.len() / d;
    let mut best = vec![(f32::NEG_INFINITY, 0); nq * k];
    let mut lens = vec![0; nq];
    let mut tile = vec![0f32; nq * ROW_BLOCK.min(r1 - r0)];
    let mut b0 = r0;
    while b0 < r1 {
        let b1 = (b0 + ROW_BLOCK).min(r1);
        let cols = b1 - b0;
        tile_product(q, &rows[b0 * d..b1 * d], d, &mut tile);
        with_simd(|| {
            for (i, (list, len)) in best.chunks_exact_mut(k).zip(&mut lens).enumerate() {
                scan(&tile[i * cols..(i + 1) * cols], b0, list, len);
            }
        });
        b0 = b1;
    }
    (best, lens)
}

/// The `k` best rows (by inner product with `q`'s rows) of each query, as positions.
pub(super) fn top_k(q: &[f32], rows: &[f32], d: usize, k: usize) -> (Vec<usize>, Vec<f32>) {
    let nq = q.len() / d;
    let n = rows.len() / d;
    if k == 0 || nq == 0 {
        return (Vec::new(), Vec::new());
    }
    let threads = rayon::current_num_threads().max(1);
    let qblocks = nq.div_ceil(QUERY_BLOCK);
    let qb = nq.div_ceil(qblocks);
    let qblocks = nq.div_ceil(qb);
    // Few query blocks: split the rows too, so every thread has work.
    let row_blocks = n.div_ceil(ROW_BLOCK);
    let parts = threads.div_ceil(qblocks).clamp(1, row_blocks.max(1));
    let part_range = |p: usize| {
        let lo = (p * row_blocks / parts * ROW_BLOCK).min(n);
        let hi = ((p + 1) * row_blocks / parts * ROW_BLOCK).min(n);
        (lo, hi)
    };
    let tasks: Vec<(usize, usize)> = (0..qblocks)
        .flat_map(|b| (0..parts).map(move |p| (b, p)))
        .collect();
    let partial: Vec<(Vec<Hit>, Vec<usize>)> = tasks
        .par_iter()
        .map(|&(b, p)| {
            let qs = &q[b * qb * d..((b + 1) * qb).min(nq) * d];
            block_top_k(qs, rows, part_range(p), d, k)
        })
        .collect();
    let mut positions = Vec::with_capacity(nq * k);
    let mut scores = Vec::with_capacity(nq * k);
    let mut merged: Vec<Hit> = Vec::with_capacity(parts * k);
    for (b, block) in partial.chunks(parts).enumerate() {
        let block_queries = ((b + 1) * qb).min(nq) - b * qb;
        for i in 0..block_queries {
            merged.clear();
            for (best, lens) in block {
                merged.extend_from_slice(&best[i * k..i * k + lens[i]]);
            }
            if parts > 1 {
                merged.sort_by(rank);
            }
            for &(s, pos) in merged.iter().take(k) {
                scores.push(s);
                positions.push(pos);
            }
        }
    }
    (positions, scores)
}

impl Neighbors {
    /// Builds the result from [`top_k`]'s positions, mapped to `ids`.
    pub(super) fn from_positions(
        queries: usize,
        k: usize,
        (positions, scores): (Vec<usize>, Vec<f32>),
        ids: &[u64],
    ) -> Neighbors {
        Neighbors {
            queries,
            k,
            ids: positions.iter().map(|&p| ids[p]).collect(),
            scores,
        }
    }
}
