//! Bindings for `alignkit.webr.dedup`: MinHash signatures, LSH, exact dedup and the file flow.
//! Every batch call releases the GIL and runs on a local rayon pool of `workers` threads.

use std::path::PathBuf;

use alignkit_core::dedup::bucket::{
    bucket_paths, cluster_bucket_files, write_band_file, write_bucket_files, BandFile,
};
use alignkit_core::dedup::exact::{exact_hash, exact_hash_tokens, ExactDeduper};
use alignkit_core::dedup::lsh::{
    self, band_hashes_batch, greedy_keep, LshIndex, LshParams, Verify,
};
use alignkit_core::dedup::minhash::{self, HashScheme, MinHasher, Scratch, Shingles};
use alignkit_core::dedup::normalize::Normalize;
use alignkit_core::dedup::unionfind::{keep_mask, Keep};
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;
use rayon::prelude::*;

use crate::convert::thread_pool;
use crate::error::CoreError;

fn slice2<'a, T: numpy::Element>(
    arr: &'a PyReadonlyArray2<'_, T>,
    what: &str,
) -> PyResult<&'a [T]> {
    arr.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be a C-contiguous array")))
}

fn to_array2<'py, T: numpy::Element>(
    py: Python<'py>,
    data: Vec<T>,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let rows = data.len().checked_div(cols).unwrap_or(0);
    let arr = Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

/// MinHash signatures with fixed permutations, shingling and normalisation.
#[pyclass(name = "MinHasher", module = "alignkit._core", frozen)]
pub struct PyMinHasher {
    inner: MinHasher,
    shingles: Shingles,
    normalize: Normalize,
    ngram: usize,
}

impl PyMinHasher {
    fn sign_texts(
        &self,
        py: Python<'_>,
        texts: &[PyBackedStr],
        workers: Option<usize>,
    ) -> PyResult<Vec<u32>> {
        let pool = thread_pool(workers)?;
        let k = self.inner.num_perm();
        Ok(py.detach(|| {
            let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
            let mut out = vec![0u32; refs.len() * k];
            pool.install(|| {
                self.inner
                    .sign_texts(&refs, self.shingles, self.normalize, &mut out)
            });
            out
        }))
    }
}

#[pymethods]
impl PyMinHasher {
    #[new]
    #[pyo3(signature = (num_perm=128, *, seed=1, ngram=5, shingle="word", normalize="lower", scheme="fast"))]
    fn new(
        num_perm: usize,
        seed: u64,
        ngram: usize,
        shingle: &str,
        normalize: &str,
        scheme: &str,
    ) -> PyResult<Self> {
        let shingles = Shingles::parse(shingle, ngram).map_err(CoreError)?;
        let normalize = Normalize::parse(normalize).map_err(CoreError)?;
        let scheme = HashScheme::parse(scheme).map_err(CoreError)?;
        let inner = MinHasher::new(num_perm, seed, scheme).map_err(CoreError)?;
        Ok(PyMinHasher {
            inner,
            shingles,
            normalize,
            ngram,
        })
    }

    #[getter]
    fn num_perm(&self) -> usize {
        self.inner.num_perm()
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed()
    }

    #[getter]
    fn ngram(&self) -> usize {
        self.ngram
    }

    #[getter]
    fn shingle(&self) -> &'static str {
        match self.shingles {
            Shingles::Words(_) => "word",
            Shingles::Chars(_) => "char",
        }
    }

    #[getter]
    fn normalize(&self) -> &'static str {
        self.normalize.name()
    }

    #[getter]
    fn scheme(&self) -> &'static str {
        self.inner.scheme().name()
    }

    fn __repr__(&self) -> String {
        format!(
            "MinHasher(num_perm={}, seed={}, ngram={}, shingle={:?}, normalize={:?}, scheme={:?})",
            self.inner.num_perm(),
            self.inner.seed(),
            self.ngram,
            self.shingle(),
            self.normalize.name(),
            self.inner.scheme().name()
        )
    }

    /// Permutation parameters `(a, b)`: slot i is `min((a[i] * h + b[i]) mod 2**32)`.
    fn permutations<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u32>>) {
        let (a, b) = self.inner.permutations();
        (PyArray1::from_slice(py, a), PyArray1::from_slice(py, b))
    }

    /// Signature of one text, shape `(num_perm,)`, dtype uint32.
    fn signature<'py>(&self, py: Python<'py>, text: PyBackedStr) -> Bound<'py, PyArray1<u32>> {
        let mut sig = vec![0u32; self.inner.num_perm()];
        let mut scratch = Scratch::default();
        self.inner
            .sign_text(&text, self.shingles, self.normalize, &mut sig, &mut scratch);
        PyArray1::from_vec(py, sig)
    }

    /// Signatures of many texts, shape `(len(texts), num_perm)`, GIL released, `workers` threads.
    #[pyo3(signature = (texts, *, workers=None))]
    fn signatures<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let out = self.sign_texts(py, &texts, workers)?;
        to_array2(py, out, self.inner.num_perm())
    }

    /// Signature of one token-id sequence (n-grams of `ngram` ids).
    fn signature_tokens<'py>(&self, py: Python<'py>, ids: Vec<u32>) -> Bound<'py, PyArray1<u32>> {
        let mut sig = vec![0u32; self.inner.num_perm()];
        let mut scratch = Scratch::default();
        self.inner
            .sign_tokens(&ids, self.ngram, &mut sig, &mut scratch);
        PyArray1::from_vec(py, sig)
    }

    /// Signatures of many token-id sequences (e.g. a tokenizer's `input_ids`).
    #[pyo3(signature = (token_ids, *, workers=None))]
    fn signatures_tokens<'py>(
        &self,
        py: Python<'py>,
        token_ids: Vec<Vec<u32>>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let pool = thread_pool(workers)?;
        let k = self.inner.num_perm();
        let out = py.detach(|| {
            let mut out = vec![0u32; token_ids.len() * k];
            pool.install(|| self.inner.sign_token_seqs(&token_ids, self.ngram, &mut out));
            out
        });
        to_array2(py, out, k)
    }

    /// Signatures from pre-hashed 64-bit shingles: one flat uint64 buffer and `rows + 1` offsets.
    #[pyo3(signature = (hashes, offsets, *, workers=None))]
    fn signatures_prehashed<'py>(
        &self,
        py: Python<'py>,
        hashes: PyReadonlyArray1<'py, u64>,
        offsets: PyReadonlyArray1<'py, i64>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let pool = thread_pool(workers)?;
        let k = self.inner.num_perm();
        let hashes = hashes
            .as_slice()
            .map_err(|_| PyValueError::new_err("hashes must be contiguous"))?;
        let offsets: Vec<usize> = offsets
            .as_array()
            .iter()
            .map(|&o| usize::try_from(o).map_err(|_| PyValueError::new_err("offsets must be >= 0")))
            .collect::<PyResult<_>>()?;
        let rows = offsets.len().saturating_sub(1);
        let out = py.detach(|| {
            let mut out = vec![0u32; rows * k];
            pool.install(|| self.inner.sign_prehashed(hashes, &offsets, &mut out))
                .map(|_| out)
        });
        to_array2(py, out.map_err(CoreError)?, k)
    }
}

/// Estimated Jaccard similarity of two signatures (fraction of equal slots).
#[pyfunction]
fn jaccard(a: PyReadonlyArray1<'_, u32>, b: PyReadonlyArray1<'_, u32>) -> PyResult<f64> {
    let (a, b) = (a.as_array(), b.as_array());
    if a.len() != b.len() {
        return Err(PyValueError::new_err("signatures differ in length"));
    }
    let a: Vec<u32> = a.iter().copied().collect();
    let b: Vec<u32> = b.iter().copied().collect();
    Ok(minhash::jaccard(&a, &b))
}

/// `(bands, rows)` minimising the weighted false-positive/negative integrals (as datasketch).
#[pyfunction]
#[pyo3(signature = (threshold, num_perm=128, *, fp_weight=0.5, fn_weight=0.5))]
fn lsh_params(
    threshold: f64,
    num_perm: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> PyResult<(usize, usize)> {
    Ok(lsh::optimal_param(threshold, num_perm, fp_weight, fn_weight).map_err(CoreError)?)
}

/// `(false_positive, false_negative)` probability integrals of `(bands, rows)` at `threshold`.
#[pyfunction]
fn lsh_error_rates(threshold: f64, bands: usize, rows: usize) -> PyResult<(f64, f64)> {
    if bands == 0 || rows == 0 || !(0.0..=1.0).contains(&threshold) {
        return Err(PyValueError::new_err(
            "need bands, rows >= 1 and 0 <= threshold <= 1",
        ));
    }
    Ok(lsh::error_integrals(threshold, bands, rows))
}

fn params_from(
    num_perm: usize,
    threshold: f64,
    bands: Option<usize>,
    rows: Option<usize>,
) -> PyResult<LshParams> {
    match (bands, rows) {
        (Some(b), Some(r)) => Ok(LshParams::new(b, r, num_perm).map_err(CoreError)?),
        (None, None) => {
            Ok(LshParams::for_threshold(threshold, num_perm, 0.5, 0.5).map_err(CoreError)?)
        }
        _ => Err(PyValueError::new_err(
            "give both bands and rows, or neither",
        )),
    }
}

/// Band hashes of signatures: shape `(n, bands)`, uint64.
#[pyfunction]
#[pyo3(signature = (signatures, bands, rows, *, workers=None))]
fn band_hashes<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    bands: usize,
    rows: usize,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let k = signatures.shape()[1];
    let params = LshParams::new(bands, rows, k).map_err(CoreError)?;
    let sigs = slice2(&signatures, "signatures")?;
    let pool = thread_pool(workers)?;
    let out = py.detach(|| pool.install(|| band_hashes_batch(sigs, k, params)));
    to_array2(py, out, bands)
}

fn verify_from<'a>(
    signatures: Option<&'a [u32]>,
    num_perm: usize,
    threshold: Option<f64>,
    default: f64,
) -> Option<Verify<'a>> {
    signatures.map(|s| Verify {
        signatures: s,
        num_perm,
        threshold: threshold.unwrap_or(default),
    })
}

/// The compact banded LSH index (8 bytes per band per document).
#[pyclass(name = "LshIndex", module = "alignkit._core")]
pub struct PyLshIndex {
    inner: LshIndex,
    num_perm: usize,
    threshold: f64,
}

#[pymethods]
impl PyLshIndex {
    #[new]
    #[pyo3(signature = (num_perm=128, *, threshold=0.7, bands=None, rows=None, capacity=0))]
    fn new(
        num_perm: usize,
        threshold: f64,
        bands: Option<usize>,
        rows: Option<usize>,
        capacity: usize,
    ) -> PyResult<Self> {
        let params = params_from(num_perm, threshold, bands, rows)?;
        Ok(PyLshIndex {
            inner: LshIndex::with_capacity(params, capacity),
            num_perm,
            threshold,
        })
    }

    #[getter]
    fn bands(&self) -> usize {
        self.inner.params().bands
    }

    #[getter]
    fn rows(&self) -> usize {
        self.inner.params().rows
    }

    #[getter]
    fn num_perm(&self) -> usize {
        self.num_perm
    }

    #[getter]
    fn threshold(&self) -> f64 {
        self.threshold
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Bytes held by the band keys.
    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }

    /// Index signatures `(n, num_perm)`; they get ids `len(self) .. len(self) + n`.
    #[pyo3(signature = (signatures, *, workers=None))]
    fn add(
        &mut self,
        py: Python<'_>,
        signatures: PyReadonlyArray2<'_, u32>,
        workers: Option<usize>,
    ) -> PyResult<()> {
        if signatures.shape()[1] != self.num_perm {
            return Err(PyValueError::new_err(format!(
                "signatures must have {} columns",
                self.num_perm
            )));
        }
        let sigs = slice2(&signatures, "signatures")?;
        let pool = thread_pool(workers)?;
        let k = self.num_perm;
        let inner = &mut self.inner;
        py.detach(|| pool.install(|| inner.extend_signatures(sigs, k)))
            .map_err(CoreError)?;
        Ok(())
    }

    /// Index precomputed band hashes `(n, bands)`.
    fn add_band_hashes(&mut self, hashes: PyReadonlyArray2<'_, u64>) -> PyResult<()> {
        if hashes.shape()[1] != self.inner.params().bands {
            return Err(PyValueError::new_err(
                "band hashes must have `bands` columns",
            ));
        }
        self.inner
            .extend_band_hashes(slice2(&hashes, "hashes")?)
            .map_err(CoreError)?;
        Ok(())
    }

    /// Pack ids and sort the bands; needed (once) after adding, before querying.
    #[pyo3(signature = (*, workers=None))]
    fn seal(&mut self, py: Python<'_>, workers: Option<usize>) -> PyResult<()> {
        let pool = thread_pool(workers)?;
        let inner = &mut self.inner;
        py.detach(|| pool.install(|| inner.seal()));
        Ok(())
    }

    /// Ids sharing at least one band with `signature` (seals first if needed).
    fn query(&mut self, signature: PyReadonlyArray1<'_, u32>) -> PyResult<Vec<u32>> {
        let sig: Vec<u32> = signature.as_array().iter().copied().collect();
        if sig.len() != self.num_perm {
            return Err(PyValueError::new_err(format!(
                "signature must have {} values",
                self.num_perm
            )));
        }
        self.inner.seal();
        let mut hashes = vec![0u64; self.inner.params().bands];
        lsh::band_hashes(&sig, self.inner.params(), &mut hashes);
        Ok(self.inner.query_band_hashes(&hashes).map_err(CoreError)?)
    }

    /// Candidate pairs `(i, j)`, i < j, shape `(k, 2)`; with `signatures`, only pairs whose
    /// estimated Jaccard reaches `threshold` (default: the index's).
    #[pyo3(signature = (*, signatures=None, threshold=None, max_bucket=1000))]
    fn candidate_pairs<'py>(
        &mut self,
        py: Python<'py>,
        signatures: Option<PyReadonlyArray2<'py, u32>>,
        threshold: Option<f64>,
        max_bucket: usize,
    ) -> PyResult<Bound<'py, PyArray2<u32>>> {
        self.inner.seal();
        let sigs = match &signatures {
            Some(s) => Some(self.check_sigs(s)?),
            None => None,
        };
        let verify = verify_from(sigs, self.num_perm, threshold, self.threshold);
        let inner = &self.inner;
        let pairs = py
            .detach(|| inner.candidate_pairs(max_bucket.max(2), verify))
            .map_err(CoreError)?;
        let flat: Vec<u32> = pairs.into_iter().flat_map(|(a, b)| [a, b]).collect();
        to_array2(py, flat, 2)
    }

    /// Cluster label of every document (the smallest id of its cluster), uint32.
    #[pyo3(signature = (*, signatures=None, threshold=None))]
    fn clusters<'py>(
        &mut self,
        py: Python<'py>,
        signatures: Option<PyReadonlyArray2<'py, u32>>,
        threshold: Option<f64>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        self.inner.seal();
        let sigs = match &signatures {
            Some(s) => Some(self.check_sigs(s)?),
            None => None,
        };
        let verify = verify_from(sigs, self.num_perm, threshold, self.threshold);
        let inner = &self.inner;
        let labels = py
            .detach(|| inner.clusters(verify).map(|mut uf| uf.labels()))
            .map_err(CoreError)?;
        Ok(labels.into_pyarray(py))
    }
}

impl PyLshIndex {
    fn check_sigs<'a>(&self, s: &'a PyReadonlyArray2<'_, u32>) -> PyResult<&'a [u32]> {
        if s.shape()[0] != self.inner.len() || s.shape()[1] != self.num_perm {
            return Err(PyValueError::new_err(format!(
                "signatures must have shape ({}, {})",
                self.inner.len(),
                self.num_perm
            )));
        }
        slice2(s, "signatures")
    }
}

/// Near-duplicate decisions from band hashes `(n, bands)`. `mode="cluster"`: union-find clusters,
/// one representative each (`keep="first"` or `"longest"` by `lengths`); `mode="greedy"`: the
/// datasketch query-then-insert loop in input order. With `signatures`, candidate pairs must
/// reach `threshold` estimated Jaccard. Returns `(keep: bool[n], labels: uint32[n] | None)`.
#[pyfunction]
#[pyo3(signature = (band_hashes, *, mode="cluster", keep="first", lengths=None, signatures=None,
    threshold=0.7, workers=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn near_dup_keep<'py>(
    py: Python<'py>,
    band_hashes: PyReadonlyArray2<'py, u64>,
    mode: &str,
    keep: &str,
    lengths: Option<PyReadonlyArray1<'py, u64>>,
    signatures: Option<PyReadonlyArray2<'py, u32>>,
    threshold: f64,
    workers: Option<usize>,
) -> PyResult<(
    Bound<'py, PyArray1<bool>>,
    Option<Bound<'py, PyArray1<u32>>>,
)> {
    let n = band_hashes.shape()[0];
    let bands = band_hashes.shape()[1];
    if bands == 0 {
        return Err(PyValueError::new_err(
            "band_hashes needs at least one column",
        ));
    }
    let hashes = slice2(&band_hashes, "band_hashes")?;
    let keep_rule = Keep::parse(keep).map_err(CoreError)?;
    let lengths: Option<Vec<u64>> = lengths.map(|l| l.as_array().iter().copied().collect());
    if lengths.as_ref().is_some_and(|l| l.len() != n) {
        return Err(PyValueError::new_err(
            "lengths must have one value per document",
        ));
    }
    if keep_rule == Keep::Longest && lengths.is_none() {
        return Err(PyValueError::new_err("keep='longest' needs lengths"));
    }
    let (sigs, k) = match &signatures {
        Some(s) => {
            if s.shape()[0] != n {
                return Err(PyValueError::new_err(
                    "signatures must have one row per document",
                ));
            }
            (Some(slice2(s, "signatures")?), s.shape()[1])
        }
        None => (None, 0),
    };
    let verify = sigs.map(|s| Verify {
        signatures: s,
        num_perm: k,
        threshold,
    });
    let pool = thread_pool(workers)?;
    match mode {
        "cluster" => {
            let labels = py.detach(|| {
                pool.install(|| -> alignkit_core::Result<Vec<u32>> {
                    let mut index = LshIndex::with_capacity(LshParams { bands, rows: 1 }, n);
                    index.extend_band_hashes(hashes)?;
                    index.seal();
                    Ok(index.clusters(verify)?.labels())
                })
            });
            let labels = labels.map_err(CoreError)?;
            let mask = keep_mask(&labels, keep_rule, lengths.as_deref());
            Ok((PyArray1::from_vec(py, mask), Some(labels.into_pyarray(py))))
        }
        "greedy" => {
            if keep_rule != Keep::First {
                return Err(PyValueError::new_err(
                    "mode='greedy' keeps the first document; use keep='first'",
                ));
            }
            let mask = py.detach(|| greedy_keep(hashes, bands, verify));
            Ok((PyArray1::from_vec(py, mask), None))
        }
        other => Err(PyValueError::new_err(format!(
            "mode must be 'cluster' or 'greedy', not {other:?}"
        ))),
    }
}

/// 64-bit exact-duplicate keys of texts (xxh3-128 of the normalised text, low half).
#[pyfunction]
#[pyo3(signature = (texts, *, normalize="lower", workers=None))]
fn exact_hashes<'py>(
    py: Python<'py>,
    texts: Vec<PyBackedStr>,
    normalize: &str,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let mode = Normalize::parse(normalize).map_err(CoreError)?;
    let pool = thread_pool(workers)?;
    let out: Vec<u64> = py.detach(|| {
        pool.install(|| {
            texts
                .par_iter()
                .with_min_len(64)
                .map_init(String::new, |s, t| exact_hash(t, mode, s) as u64)
                .collect()
        })
    });
    Ok(out.into_pyarray(py))
}

/// 64-bit exact-duplicate keys of token-id sequences.
#[pyfunction]
fn exact_hashes_tokens(py: Python<'_>, token_ids: Vec<Vec<u32>>) -> Bound<'_, PyArray1<u64>> {
    let out: Vec<u64> = token_ids
        .iter()
        .map(|ids| exact_hash_tokens(ids) as u64)
        .collect();
    out.into_pyarray(py)
}

/// Streaming exact-duplicate filter: a hash set, or a blocked Bloom filter (`bloom=True`) sized
/// for `expected` keys at false-positive rate `fpr`.
#[pyclass(name = "ExactDeduper", module = "alignkit._core")]
pub struct PyExactDeduper {
    inner: ExactDeduper,
}

#[pymethods]
impl PyExactDeduper {
    #[new]
    #[pyo3(signature = (normalize="lower", *, bloom=false, expected=1000000, fpr=0.001))]
    fn new(normalize: &str, bloom: bool, expected: u64, fpr: f64) -> PyResult<Self> {
        let mode = Normalize::parse(normalize).map_err(CoreError)?;
        let inner = if bloom {
            ExactDeduper::with_bloom(mode, expected, fpr).map_err(CoreError)?
        } else {
            ExactDeduper::with_set(mode)
        };
        Ok(PyExactDeduper { inner })
    }

    /// True if `text` is new (keep it), False if it is a duplicate of an earlier one.
    fn add(&mut self, text: PyBackedStr) -> bool {
        self.inner.insert_text(&text)
    }

    /// Keep mask for many texts (hashed in parallel, decided in order), GIL released.
    #[pyo3(signature = (texts, *, workers=None))]
    fn add_batch<'py>(
        &mut self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let pool = thread_pool(workers)?;
        let mode = self.inner.normalize();
        let inner = &mut self.inner;
        let mask: Vec<bool> = py.detach(|| {
            let hashes: Vec<u128> = pool.install(|| {
                texts
                    .par_iter()
                    .with_min_len(64)
                    .map_init(String::new, |s, t| exact_hash(t, mode, s))
                    .collect()
            });
            hashes.into_iter().map(|h| inner.insert_hash(h)).collect()
        });
        Ok(PyArray1::from_vec(py, mask))
    }

    #[getter]
    fn seen(&self) -> u64 {
        self.inner.seen()
    }

    #[getter]
    fn removed(&self) -> u64 {
        self.inner.removed()
    }

    #[getter]
    fn is_bloom(&self) -> bool {
        self.inner.is_bloom()
    }

    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// File flow, step 1: signatures, band hashes, exact keys and lengths of one shard's texts
/// written to a band file at `path`. Returns the number of documents.
#[pyfunction]
#[pyo3(signature = (texts, path, hasher, bands, rows, *, exact_normalize="lower", workers=None))]
#[allow(clippy::too_many_arguments)]
fn dedup_write_band_file(
    py: Python<'_>,
    texts: Vec<PyBackedStr>,
    path: PathBuf,
    hasher: &PyMinHasher,
    bands: usize,
    rows: usize,
    exact_normalize: &str,
    workers: Option<usize>,
) -> PyResult<usize> {
    let params = LshParams::new(bands, rows, hasher.inner.num_perm()).map_err(CoreError)?;
    let mode = Normalize::parse(exact_normalize).map_err(CoreError)?;
    let sigs = hasher.sign_texts(py, &texts, workers)?;
    let pool = thread_pool(workers)?;
    let k = hasher.inner.num_perm();
    py.detach(|| {
        pool.install(|| {
            let band_hashes = band_hashes_batch(&sigs, k, params);
            let (exact, lengths): (Vec<u64>, Vec<u64>) = texts
                .par_iter()
                .with_min_len(64)
                .map_init(String::new, |s, t| {
                    (exact_hash(t, mode, s) as u64, t.chars().count() as u64)
                })
                .unzip();
            write_band_file(
                &path,
                &BandFile {
                    bands,
                    band_hashes,
                    exact,
                    lengths,
                },
            )
        })
    })
    .map_err(CoreError)?;
    Ok(texts.len())
}

/// File flow, step 1 for token-id documents (e.g. tokenizer ids): like `dedup_write_band_file`;
/// lengths are token counts and exact keys hash the id sequence.
#[pyfunction]
#[pyo3(signature = (token_ids, path, hasher, bands, rows, *, workers=None))]
fn dedup_write_band_file_tokens(
    py: Python<'_>,
    token_ids: Vec<Vec<u32>>,
    path: PathBuf,
    hasher: &PyMinHasher,
    bands: usize,
    rows: usize,
    workers: Option<usize>,
) -> PyResult<usize> {
    let params = LshParams::new(bands, rows, hasher.inner.num_perm()).map_err(CoreError)?;
    let pool = thread_pool(workers)?;
    let k = hasher.inner.num_perm();
    py.detach(|| {
        pool.install(|| {
            let mut sigs = vec![0u32; token_ids.len() * k];
            hasher
                .inner
                .sign_token_seqs(&token_ids, hasher.ngram, &mut sigs);
            let band_hashes = band_hashes_batch(&sigs, k, params);
            let exact = token_ids
                .par_iter()
                .map(|t| exact_hash_tokens(t) as u64)
                .collect();
            let lengths = token_ids.iter().map(|t| t.len() as u64).collect();
            write_band_file(
                &path,
                &BandFile {
                    bands,
                    band_hashes,
                    exact,
                    lengths,
                },
            )
        })
    })
    .map_err(CoreError)?;
    Ok(token_ids.len())
}

/// File flow, step 2: scatter band files into `partitions` band- and exact-bucket files under
/// `bucket_dir`. Returns the total number of documents (global ids follow the given order).
#[pyfunction]
fn dedup_write_buckets(
    py: Python<'_>,
    band_files: Vec<PathBuf>,
    bucket_dir: PathBuf,
    partitions: usize,
) -> PyResult<u64> {
    Ok(py
        .detach(|| write_bucket_files(&band_files, &bucket_dir, partitions))
        .map_err(CoreError)?)
}

/// File flow, step 3: clusters over all documents from the bucket files. Returns a dict with
/// `keep` (bool[docs]), `labels` (uint32[docs]), `docs`, `exact_removed`, `near_removed`,
/// `duplicate_clusters`.
#[pyfunction]
#[pyo3(signature = (docs, bucket_dir, partitions, band_files, *, keep="first"))]
fn dedup_cluster<'py>(
    py: Python<'py>,
    docs: u64,
    bucket_dir: PathBuf,
    partitions: usize,
    band_files: Vec<PathBuf>,
    keep: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let keep = Keep::parse(keep).map_err(CoreError)?;
    let exact = bucket_paths(&bucket_dir, "exact", partitions);
    let band = bucket_paths(&bucket_dir, "band", partitions);
    let res = py
        .detach(|| cluster_bucket_files(docs, &exact, &band, keep, &band_files))
        .map_err(CoreError)?;
    let out = PyDict::new(py);
    out.set_item("keep", PyArray1::from_vec(py, res.keep))?;
    out.set_item("labels", res.labels.into_pyarray(py))?;
    out.set_item("docs", res.docs)?;
    out.set_item("exact_removed", res.exact_removed)?;
    out.set_item("near_removed", res.near_removed)?;
    out.set_item("duplicate_clusters", res.duplicate_clusters)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMinHasher>()?;
    m.add_class::<PyLshIndex>()?;
    m.add_class::<PyExactDeduper>()?;
    m.add_function(wrap_pyfunction!(jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_params, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_error_rates, m)?)?;
    m.add_function(wrap_pyfunction!(band_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(near_dup_keep, m)?)?;
    m.add_function(wrap_pyfunction!(exact_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(exact_hashes_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_write_band_file, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_write_band_file_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_write_buckets, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_cluster, m)?)?;
    Ok(())
}
