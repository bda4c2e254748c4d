//! Locality-sensitive hashing over MinHash signatures: parameter choice, a compact banded index,
//! candidate pairs, union-find clusters and the greedy "query then insert" decision loop.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::exact::PassThroughBuild;
use super::hash::hash64_seeded;
use super::minhash::jaccard;
use super::unionfind::UnionFind;
use crate::{Error, Result};

/// `b` bands of `r` rows each (`b * r <= num_perm`; the signature's first `b * r` slots are used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LshParams {
    pub bands: usize,
    pub rows: usize,
}

impl LshParams {
    pub fn new(bands: usize, rows: usize, num_perm: usize) -> Result<Self> {
        if bands == 0 || rows == 0 {
            return Err(Error::InvalidArgument(
                "bands and rows must be at least 1".into(),
            ));
        }
        if bands * rows > num_perm {
            return Err(Error::InvalidArgument(format!(
                "bands * rows = {} exceeds num_perm = {num_perm}",
                bands * rows
            )));
        }
        Ok(LshParams { bands, rows })
    }

    /// The parameters datasketch's `MinHashLSH(threshold, num_perm, weights)` would choose.
    pub fn for_threshold(
        threshold: f64,
        num_perm: usize,
        fp_weight: f64,
        fn_weight: f64,
    ) -> Result<Self> {
        let (bands, rows) = optimal_param(threshold, num_perm, fp_weight, fn_weight)?;
        Ok(LshParams { bands, rows })
    }

    /// Probability that a pair of Jaccard similarity `s` shares at least one band.
    pub fn collision_probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }
}

fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    // Composite Simpson; the integrands are smooth polynomials of degree <= num_perm.
    const N: usize = 2048;
    if hi <= lo {
        return 0.0;
    }
    let h = (hi - lo) / N as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..N {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(lo + i as f64 * h);
    }
    sum * h / 3.0
}

/// Weighted false-positive and false-negative probability integrals of `(b, r)` at `threshold`.
pub fn error_integrals(threshold: f64, bands: usize, rows: usize) -> (f64, f64) {
    let p = |s: f64| 1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32);
    let fp = integrate(p, 0.0, threshold);
    let fneg = integrate(|s| 1.0 - p(s), threshold, 1.0);
    (fp, fneg)
}

/// `(bands, rows)` minimising `fp_weight * FP + fn_weight * FN` over all `b * r <= num_perm`,
/// scanning `b` then `r` upwards and keeping the first strict minimum, as datasketch does.
pub fn optimal_param(
    threshold: f64,
    num_perm: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> Result<(usize, usize)> {
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(Error::InvalidArgument("threshold must be in (0, 1)".into()));
    }
    if num_perm < 2 {
        return Err(Error::InvalidArgument("num_perm must be at least 2".into()));
    }
    if fp_weight < 0.0 || fn_weight < 0.0 || fp_weight + fn_weight <= 0.0 {
        return Err(Error::InvalidArgument(
            "weights must be >= 0 and not both 0".into(),
        ));
    }
    let candidates: Vec<(usize, usize)> = (1..=num_perm)
        .flat_map(|b| (1..=num_perm / b).map(move |r| (b, r)))
        .collect();
    let errors: Vec<f64> = candidates
        .iter()
        .map(|&(b, r)| {
            let (fp, fneg) = error_integrals(threshold, b, r);
            fp * fp_weight + fneg * fn_weight
        })
        .collect();
    let mut best = (0, 0);
    let mut min_error = f64::INFINITY;
    for (&cand, &err) in candidates.iter().zip(&errors) {
        if err < min_error {
            min_error = err;
            best = cand;
        }
    }
    Ok(best)
}

/// 64-bit hash of one band of a signature, seeded by the band number (so bands never collide
/// with each other when keys share a table).
#[inline]
pub fn band_hash(band: usize, values: &[u32]) -> u64 {
    let mut buf = [0u8; 512];
    if values.len() * 4 <= buf.len() {
        for (chunk, v) in buf.chunks_exact_mut(4).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        hash64_seeded(&buf[..values.len() * 4], band as u64)
    } else {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        hash64_seeded(&bytes, band as u64)
    }
}

/// Band hashes of one signature into `out` (`params.bands` values).
pub fn band_hashes(sig: &[u32], params: LshParams, out: &mut [u64]) {
    for (band, slot) in out.iter_mut().enumerate().take(params.bands) {
        let start = band * params.rows;
        *slot = band_hash(band, &sig[start..start + params.rows]);
    }
}

/// Band hashes of `n` row-major signatures (`n * num_perm`) into `n * bands` values, in parallel.
pub fn band_hashes_batch(sigs: &[u32], num_perm: usize, params: LshParams) -> Vec<u64> {
    let n = sigs.len() / num_perm;
    let mut out = vec![0u64; n * params.bands];
    out.par_chunks_mut(params.bands)
        .zip(sigs.par_chunks(num_perm))
        .with_min_len(256)
        .for_each(|(dst, sig)| band_hashes(sig, params, dst));
    out
}

/// Optional verification: a candidate pair counts only if its estimated Jaccard reaches
/// `threshold` (signatures row-major, `num_perm` per document).
#[derive(Clone, Copy, Debug)]
pub struct Verify<'a> {
    pub signatures: &'a [u32],
    pub num_perm: usize,
    pub threshold: f64,
}

impl Verify<'_> {
    fn similar(&self, a: u32, b: u32) -> bool {
        let k = self.num_perm;
        let sa = &self.signatures[a as usize * k..(a as usize + 1) * k];
        let sb = &self.signatures[b as usize * k..(b as usize + 1) * k];
        jaccard(sa, sb) >= self.threshold
    }
}

/// At most this many earlier bucket members are compared with a member during verification.
const MAX_VERIFY_PER_MEMBER: usize = 64;

/// The banded index: per band one `Vec<u64>`. While inserting, entry `i` is document `i`'s band
/// hash; [`LshIndex::seal`] overwrites the low `id_bits` bits with the id and sorts each band in
/// place, so no extra memory is needed and equal-hash runs become buckets.
#[derive(Clone, Debug)]
pub struct LshIndex {
    params: LshParams,
    keys: Vec<Vec<u64>>,
    len: usize,
    sealed_len: usize,
    id_bits: u32,
}

impl LshIndex {
    pub fn new(params: LshParams) -> Self {
        Self::with_capacity(params, 0)
    }

    pub fn with_capacity(params: LshParams, capacity: usize) -> Self {
        LshIndex {
            params,
            keys: (0..params.bands)
                .map(|_| Vec::with_capacity(capacity))
                .collect(),
            len: 0,
            sealed_len: 0,
            id_bits: 0,
        }
    }

    pub fn params(&self) -> LshParams {
        self.params
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed_len == self.len
    }

    /// Bytes held by the band keys (capacity, as allocated).
    pub fn memory_bytes(&self) -> usize {
        self.keys.iter().map(|k| k.capacity() * 8).sum()
    }

    /// Add one document by its band hashes; returns its id.
    pub fn insert_band_hashes(&mut self, hashes: &[u64]) -> Result<u32> {
        if hashes.len() != self.params.bands {
            return Err(Error::InvalidArgument(format!(
                "expected {} band hashes, got {}",
                self.params.bands,
                hashes.len()
            )));
        }
        if self.len >= u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "the index holds at most 2**32 - 1 documents".into(),
            ));
        }
        for (keys, &h) in self.keys.iter_mut().zip(hashes) {
            keys.push(h);
        }
        self.len += 1;
        Ok((self.len - 1) as u32)
    }

    /// Add many documents given as `n * bands` band hashes (row-major).
    pub fn extend_band_hashes(&mut self, hashes: &[u64]) -> Result<()> {
        let b = self.params.bands;
        if hashes.len() / b * b != hashes.len() {
            return Err(Error::InvalidArgument(
                "band hash count is not a multiple of bands".into(),
            ));
        }
        let n = hashes.len() / b;
        if self.len + n > u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "the index holds at most 2**32 - 1 documents".into(),
            ));
        }
        for (band, keys) in self.keys.iter_mut().enumerate() {
            keys.reserve(n);
            keys.extend(hashes.iter().skip(band).step_by(b));
        }
        self.len += n;
        Ok(())
    }

    /// Add many documents by band-hash rows of `cols` values each (`cols` must be `bands`).
    pub fn extend_band_hash_rows(&mut self, hashes: &[u64], cols: usize) -> Result<()> {
        if cols != self.params.bands {
            return Err(Error::InvalidArgument(format!(
                "band hashes must have {} columns (one per band), got {cols}",
                self.params.bands
            )));
        }
        self.extend_band_hashes(hashes)
    }

    /// Ids sharing at least one band with `sig`, which must have `num_perm` values. Seals
    /// first if needed.
    pub fn query_signature(&mut self, sig: &[u32], num_perm: usize) -> Result<Vec<u32>> {
        if sig.len() != num_perm {
            return Err(Error::InvalidArgument(format!(
                "signature must have {num_perm} values"
            )));
        }
        self.seal();
        let mut hashes = vec![0u64; self.params.bands];
        band_hashes(sig, self.params, &mut hashes);
        self.query_band_hashes(&hashes)
    }

    /// Add many documents by their signatures (`n * num_perm`, row-major).
    pub fn extend_signatures(&mut self, sigs: &[u32], num_perm: usize) -> Result<()> {
        if num_perm < self.params.bands * self.params.rows
            || sigs.len() / num_perm * num_perm != sigs.len()
        {
            return Err(Error::InvalidArgument(
                "signature width does not fit bands * rows".into(),
            ));
        }
        let hashes = band_hashes_batch(sigs, num_perm, self.params);
        self.extend_band_hashes(&hashes)
    }

    fn mask(&self) -> u64 {
        if self.id_bits == 0 {
            0
        } else {
            (1u64 << self.id_bits) - 1
        }
    }

    /// Pack ids and sort every band (in parallel on the current rayon pool). Idempotent; new
    /// inserts after sealing are merged by the next call.
    pub fn seal(&mut self) {
        if self.is_sealed() {
            return;
        }
        let old_mask = self.mask();
        let sealed_len = self.sealed_len;
        let bits = (usize::BITS - (self.len.max(2) - 1).leading_zeros()).max(1);
        let mask = (1u64 << bits) - 1;
        self.keys.par_iter_mut().for_each(|keys| {
            for (pos, k) in keys.iter_mut().enumerate() {
                let id = if pos < sealed_len {
                    *k & old_mask
                } else {
                    pos as u64
                };
                *k = (*k & !mask) | id;
            }
            keys.sort_unstable();
        });
        self.id_bits = bits;
        self.sealed_len = self.len;
    }

    fn sealed(&self) -> Result<()> {
        if self.is_sealed() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "call seal() after inserting, before querying".into(),
            ))
        }
    }

    /// Call `f(band, ids)` for every bucket of two or more documents (ids ascending).
    pub fn for_each_bucket(&self, mut f: impl FnMut(usize, &[u32])) -> Result<()> {
        self.sealed()?;
        let mask = self.mask();
        let mut ids = Vec::new();
        for (band, keys) in self.keys.iter().enumerate() {
            let mut i = 0;
            while i < keys.len() {
                let head = keys[i] & !mask;
                let mut j = i + 1;
                while j < keys.len() && keys[j] & !mask == head {
                    j += 1;
                }
                if j - i >= 2 {
                    ids.clear();
                    ids.extend(keys[i..j].iter().map(|k| (k & mask) as u32));
                    f(band, &ids);
                }
                i = j;
            }
        }
        Ok(())
    }

    /// Ids of indexed documents sharing at least one band with `hashes` (ascending, unique).
    pub fn query_band_hashes(&self, hashes: &[u64]) -> Result<Vec<u32>> {
        self.sealed()?;
        if hashes.len() != self.params.bands {
            return Err(Error::InvalidArgument("wrong number of band hashes".into()));
        }
        let mask = self.mask();
        let mut out = Vec::new();
        for (keys, &h) in self.keys.iter().zip(hashes) {
            let head = h & !mask;
            let start = keys.partition_point(|&k| (k & !mask) < head);
            out.extend(
                keys[start..]
                    .iter()
                    .take_while(|&&k| k & !mask == head)
                    .map(|k| (k & mask) as u32),
            );
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// All candidate pairs `(i, j)`, `i < j`, sharing a band (unique, sorted). Buckets larger than
    /// `max_bucket` contribute only pairs with their first member, to bound the output.
    pub fn candidate_pairs(
        &self,
        max_bucket: usize,
        verify: Option<Verify<'_>>,
    ) -> Result<Vec<(u32, u32)>> {
        let mut pairs = Vec::new();
        self.for_each_bucket(|_, ids| {
            if ids.len() <= max_bucket {
                for (x, &a) in ids.iter().enumerate() {
                    for &b in &ids[x + 1..] {
                        pairs.push((a, b));
                    }
                }
            } else {
                pairs.extend(ids[1..].iter().map(|&b| (ids[0], b)));
            }
        })?;
        pairs.sort_unstable();
        pairs.dedup();
        if let Some(v) = verify {
            pairs.retain(|&(a, b)| v.similar(a, b));
        }
        Ok(pairs)
    }

    /// Duplicate clusters: union-find over bucket members (verified pairs only when `verify`).
    pub fn clusters(&self, verify: Option<Verify<'_>>) -> Result<UnionFind> {
        let mut uf = UnionFind::new(self.len);
        self.for_each_bucket(|_, ids| match verify {
            None => {
                for &b in &ids[1..] {
                    uf.union(ids[0], b);
                }
            }
            Some(v) => {
                for (x, &b) in ids.iter().enumerate().skip(1) {
                    for &a in ids[..x].iter().rev().take(MAX_VERIFY_PER_MEMBER) {
                        if uf.find(a) == uf.find(b) {
                            break;
                        }
                        if v.similar(a, b) {
                            uf.union(a, b);
                            break;
                        }
                    }
                }
            }
        })?;
        Ok(uf)
    }
}

/// The greedy loop commonly run over datasketch's `MinHashLSH`: in input order, a document is a
/// duplicate if it shares a band with an already *kept* document (and, with `verify`, that kept
/// document's estimated Jaccard reaches the threshold); otherwise it is kept and indexed.
/// `hashes` is `n * bands` row-major. Returns the keep mask.
pub fn greedy_keep(hashes: &[u64], bands: usize, verify: Option<Verify<'_>>) -> Vec<bool> {
    let n = hashes.len() / bands.max(1);
    let mut keep = vec![false; n];
    match verify {
        None => {
            let mut seen: HashSet<u64, PassThroughBuild> = HashSet::default();
            for (doc, row) in hashes.chunks_exact(bands).enumerate() {
                if !row.iter().any(|h| seen.contains(h)) {
                    keep[doc] = true;
                    seen.extend(row.iter().copied());
                }
            }
        }
        Some(v) => {
            let mut buckets: HashMap<u64, Vec<u32>, PassThroughBuild> = HashMap::default();
            for (doc, row) in hashes.chunks_exact(bands).enumerate() {
                let dup = row.iter().any(|h| {
                    buckets
                        .get(h)
                        .is_some_and(|kept| kept.iter().any(|&k| v.similar(k, doc as u32)))
                });
                if !dup {
                    keep[doc] = true;
                    for &h in row {
                        buckets.entry(h).or_default().push(doc as u32);
                    }
                }
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::minhash::{HashScheme, MinHasher, Shingles};
    use crate::dedup::normalize::Normalize;

    #[test]
    fn checked_row_and_signature_entry_points() {
        let params = LshParams::new(2, 2, 4).unwrap();
        let mut index = LshIndex::new(params);
        let err = index.extend_band_hash_rows(&[1, 2, 3], 3).unwrap_err();
        assert!(err.to_string().contains("must have 2 columns"));
        let sig = [1u32, 2, 3, 4];
        let mut hashes = [0u64; 2];
        band_hashes(&sig, params, &mut hashes);
        index.extend_band_hash_rows(&hashes, 2).unwrap();
        assert_eq!(index.query_signature(&sig, 4).unwrap(), vec![0]);
        assert!(index.query_signature(&sig[..3], 4).is_err());
    }

    #[test]
    fn params_match_datasketch() {
        // Values from datasketch.lsh._optimal_param(threshold, num_perm, 0.5, 0.5).
        for (t, k, want) in [
            (0.7, 128, (14, 9)),
            (0.5, 128, (25, 5)),
            (0.8, 128, (9, 13)),
            (0.9, 256, (9, 28)),
            (0.3, 64, (21, 3)),
            (0.7, 256, (25, 10)),
            (0.85, 100, (6, 16)),
        ] {
            let got = optimal_param(t, k, 0.5, 0.5).unwrap();
            assert_eq!(got, want, "threshold {t}, num_perm {k}");
        }
        assert_eq!(optimal_param(0.7, 128, 0.3, 0.7).unwrap(), (16, 8));
        assert!(optimal_param(1.5, 128, 0.5, 0.5).is_err());
    }

    fn corpus() -> Vec<String> {
        let base: Vec<String> = (0..60).map(|i| format!("token{i}")).collect();
        let mut docs = Vec::new();
        for d in 0..40 {
            let words: Vec<String> = (0..60).map(|i| format!("d{d}w{i}")).collect();
            docs.push(words.join(" "));
        }
        // near duplicates of `base`: differ in one word
        for d in 0..5 {
            let mut w = base.clone();
            w[d * 7] = format!("changed{d}");
            docs.push(w.join(" "));
        }
        docs
    }

    #[test]
    fn index_finds_planted_cluster_and_is_compact() {
        let docs = corpus();
        let h = MinHasher::new(128, 1, HashScheme::Fast).unwrap();
        let mut sigs = vec![0u32; docs.len() * 128];
        h.sign_texts(&docs, Shingles::Words(1), Normalize::Lower, &mut sigs);
        let params = LshParams::new(14, 8, 128).unwrap();
        let mut index = LshIndex::with_capacity(params, docs.len());
        index.extend_signatures(&sigs[..20 * 128], 128).unwrap();
        index.seal();
        index.extend_signatures(&sigs[20 * 128..], 128).unwrap();
        assert!(index.clusters(None).is_err());
        index.seal();
        assert_eq!(index.memory_bytes(), docs.len() * 14 * 8);
        let mut uf = index.clusters(None).unwrap();
        let labels = uf.labels();
        for (i, &label) in labels.iter().enumerate().take(40) {
            assert_eq!(label, i as u32);
        }
        assert!(labels[40..].iter().all(|&l| l == 40), "{labels:?}");
        let pairs = index.candidate_pairs(1000, None).unwrap();
        assert_eq!(pairs.len(), 10);
        let verify = Verify {
            signatures: &sigs,
            num_perm: 128,
            threshold: 0.99,
        };
        assert!(index
            .candidate_pairs(1000, Some(verify))
            .unwrap()
            .is_empty());
        let mut hashes = vec![0u64; 14];
        band_hashes(&sigs[41 * 128..42 * 128], params, &mut hashes);
        let q = index.query_band_hashes(&hashes).unwrap();
        assert_eq!(q, vec![40, 41, 42, 43, 44]);
        // Greedy keeps the first of the cluster, like the datasketch loop.
        let all = band_hashes_batch(&sigs, 128, params);
        let keep = greedy_keep(&all, 14, None);
        assert_eq!(keep.iter().filter(|k| !**k).count(), 4);
        assert!(keep[40]);
        let v = Verify {
            signatures: &sigs,
            num_perm: 128,
            threshold: 0.5,
        };
        assert_eq!(greedy_keep(&all, 14, Some(v)), keep);
        let mut uf = index.clusters(Some(v)).unwrap();
        assert_eq!(uf.labels(), labels);
    }
}
