//! Bindings of `alignkit_core::dedup`: MinHash signatures, LSH, exact dedup, near-duplicate
//! selection and the file flow. Every batch call releases the GIL and runs on a local rayon
//! pool of `workers` threads; checks and decisions live in the core.

use std::path::PathBuf;

use alignkit_core::dedup::bucket::{partition_edges, write_edge_file};
use alignkit_core::dedup::cluster::{cluster_edge_files, EdgeClusters};
use alignkit_core::dedup::document::{
    exact_hashes as core_exact_hashes, exact_hashes_tokens as core_exact_hashes_tokens,
    write_text_shard_files, write_token_shard_files, DocumentHasher, ShardFiles,
};
use alignkit_core::dedup::exact::ExactDeduper;
use alignkit_core::dedup::lsh::{self, band_hashes_batch, LshIndex, LshParams};
use alignkit_core::dedup::near::{
    self, checked_error_integrals, checked_jaccard, resolve_params, verify_signatures, NearDupMode,
    Rows,
};
use alignkit_core::dedup::normalize::Normalize;
use alignkit_core::dedup::unionfind::Keep;
use alignkit_core::Error;
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

use crate::convert::run_pooled;
use crate::error::CoreResult;

/// A C-contiguous 2-D array as row-major rows.
fn rows2<'a, T: numpy::Element>(
    arr: &'a PyReadonlyArray2<'_, T>,
    what: &str,
) -> CoreResult<Rows<'a, T>> {
    let data = arr
        .as_slice()
        .map_err(|_| Error::InvalidArgument(format!("{what} must be a C-contiguous array")))?;
    Ok(Rows::new(data, arr.shape()[0], arr.shape()[1])?)
}

fn to_array2<'py, T: numpy::Element>(
    py: Python<'py>,
    data: Vec<T>,
    cols: usize,
) -> CoreResult<Bound<'py, PyArray2<T>>> {
    let rows = data.len().checked_div(cols).unwrap_or(0);
    let arr = Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

/// MinHash signatures with fixed permutations, shingling and normalisation.
#[pyclass(name = "MinHasher", module = "alignkit._core", frozen)]
pub struct PyMinHasher {
    inner: DocumentHasher,
}

/// `&str` views of Python strings, for core calls generic over `AsRef<str>`.
fn str_refs(texts: &[PyBackedStr]) -> Vec<&str> {
    texts.iter().map(|t| &**t).collect()
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
    ) -> CoreResult<Self> {
        let inner = DocumentHasher::new(num_perm, seed, ngram, shingle, normalize, scheme)?;
        Ok(PyMinHasher { inner })
    }

    #[getter]
    fn num_perm(&self) -> usize {
        self.inner.num_perm()
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.hasher.seed()
    }

    #[getter]
    fn ngram(&self) -> usize {
        self.inner.ngram
    }

    #[getter]
    fn shingle(&self) -> &'static str {
        self.inner.shingle_name()
    }

    #[getter]
    fn normalize(&self) -> &'static str {
        self.inner.normalize.name()
    }

    #[getter]
    fn scheme(&self) -> &'static str {
        self.inner.hasher.scheme().name()
    }

    fn __repr__(&self) -> String {
        format!(
            "MinHasher(num_perm={}, seed={}, ngram={}, shingle={:?}, normalize={:?}, scheme={:?})",
            self.num_perm(),
            self.seed(),
            self.ngram(),
            self.shingle(),
            self.normalize(),
            self.scheme()
        )
    }

    /// Permutation parameters `(a, b)`: slot i is `min((a[i] * h + b[i]) mod 2**32)`.
    fn permutations<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u32>>) {
        let (a, b) = self.inner.hasher.permutations();
        (PyArray1::from_slice(py, a), PyArray1::from_slice(py, b))
    }

    /// Signature of one text, shape `(num_perm,)`, dtype uint32.
    fn signature<'py>(&self, py: Python<'py>, text: PyBackedStr) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_vec(py, self.inner.sign_text(&text))
    }

    /// Signatures of many texts, shape `(len(texts), num_perm)`, GIL released, `workers` threads.
    #[pyo3(signature = (texts, *, workers=None))]
    fn signatures<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        workers: Option<usize>,
    ) -> CoreResult<Bound<'py, PyArray2<u32>>> {
        let out = run_pooled(py, workers, || Ok(self.inner.sign_texts(&str_refs(&texts))))?;
        to_array2(py, out, self.inner.num_perm())
    }

    /// Signature of one token-id sequence (n-grams of `ngram` ids).
    fn signature_tokens<'py>(&self, py: Python<'py>, ids: Vec<u32>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_vec(py, self.inner.sign_tokens(&ids))
    }

    /// Signatures of many token-id sequences (e.g. a tokenizer's `input_ids`).
    #[pyo3(signature = (token_ids, *, workers=None))]
    fn signatures_tokens<'py>(
        &self,
        py: Python<'py>,
        token_ids: Vec<Vec<u32>>,
        workers: Option<usize>,
    ) -> CoreResult<Bound<'py, PyArray2<u32>>> {
        let out = run_pooled(py, workers, || Ok(self.inner.sign_token_seqs(&token_ids)))?;
        to_array2(py, out, self.inner.num_perm())
    }

    /// Signatures from pre-hashed 64-bit shingles: one flat uint64 buffer and `rows + 1` offsets.
    #[pyo3(signature = (hashes, offsets, *, workers=None))]
    fn signatures_prehashed<'py>(
        &self,
        py: Python<'py>,
        hashes: PyReadonlyArray1<'py, u64>,
        offsets: PyReadonlyArray1<'py, i64>,
        workers: Option<usize>,
    ) -> CoreResult<Bound<'py, PyArray2<u32>>> {
        let hashes = hashes
            .as_slice()
            .map_err(|_| Error::InvalidArgument("hashes must be contiguous".into()))?;
        let offsets: Vec<usize> = offsets
            .as_array()
            .iter()
            .map(|&o| {
                usize::try_from(o)
                    .map_err(|_| Error::InvalidArgument("offsets must be >= 0".into()))
            })
            .collect::<Result<_, _>>()?;
        let out = run_pooled(py, workers, || self.inner.sign_prehashed(hashes, &offsets))?;
        to_array2(py, out, self.inner.num_perm())
    }
}

/// Estimated Jaccard similarity of two signatures (fraction of equal slots).
#[pyfunction]
fn jaccard(a: PyReadonlyArray1<'_, u32>, b: PyReadonlyArray1<'_, u32>) -> CoreResult<f64> {
    let a: Vec<u32> = a.as_array().iter().copied().collect();
    let b: Vec<u32> = b.as_array().iter().copied().collect();
    Ok(checked_jaccard(&a, &b)?)
}

/// `(bands, rows)` minimising the weighted false-positive/negative integrals (as datasketch).
#[pyfunction]
#[pyo3(signature = (threshold, num_perm=128, *, fp_weight=0.5, fn_weight=0.5))]
fn lsh_params(
    threshold: f64,
    num_perm: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> CoreResult<(usize, usize)> {
    Ok(lsh::optimal_param(
        threshold, num_perm, fp_weight, fn_weight,
    )?)
}

/// `(false_positive, false_negative)` probability integrals of `(bands, rows)` at `threshold`.
#[pyfunction]
fn lsh_error_rates(threshold: f64, bands: usize, rows: usize) -> CoreResult<(f64, f64)> {
    Ok(checked_error_integrals(threshold, bands, rows)?)
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
) -> CoreResult<Bound<'py, PyArray2<u64>>> {
    let sigs = rows2(&signatures, "signatures")?;
    let params = LshParams::new(bands, rows, sigs.cols)?;
    let out = run_pooled(py, workers, || {
        Ok(band_hashes_batch(sigs.data, sigs.cols, params))
    })?;
    to_array2(py, out, bands)
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
    ) -> CoreResult<Self> {
        let params = resolve_params(num_perm, threshold, bands, rows)?;
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
    ) -> CoreResult<()> {
        let sigs = rows2(&signatures, "signatures")?;
        let sigs = verify_signatures(sigs, sigs.rows, Some(self.num_perm), self.threshold)?;
        let inner = &mut self.inner;
        run_pooled(py, workers, || {
            inner.extend_signatures(sigs.signatures, sigs.num_perm)
        })
    }

    /// Index precomputed band hashes `(n, bands)`.
    fn add_band_hashes(&mut self, hashes: PyReadonlyArray2<'_, u64>) -> CoreResult<()> {
        let hashes = rows2(&hashes, "hashes")?;
        Ok(self.inner.extend_band_hash_rows(hashes.data, hashes.cols)?)
    }

    /// Pack ids and sort the bands; needed (once) after adding, before querying.
    #[pyo3(signature = (*, workers=None))]
    fn seal(&mut self, py: Python<'_>, workers: Option<usize>) -> CoreResult<()> {
        let inner = &mut self.inner;
        run_pooled(py, workers, || {
            inner.seal();
            Ok(())
        })
    }

    /// Ids sharing at least one band with `signature` (seals first if needed).
    fn query(&mut self, signature: PyReadonlyArray1<'_, u32>) -> CoreResult<Vec<u32>> {
        let sig: Vec<u32> = signature.as_array().iter().copied().collect();
        Ok(self.inner.query_signature(&sig, self.num_perm)?)
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
    ) -> CoreResult<Bound<'py, PyArray2<u32>>> {
        self.inner.seal();
        let verify = self.verify(&signatures, threshold)?;
        let inner = &self.inner;
        let pairs = py.detach(|| inner.candidate_pairs(max_bucket.max(2), verify))?;
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
    ) -> CoreResult<Bound<'py, PyArray1<u32>>> {
        self.inner.seal();
        let verify = self.verify(&signatures, threshold)?;
        let inner = &self.inner;
        let labels = py.detach(|| inner.clusters(verify).map(|mut uf| uf.labels()))?;
        Ok(labels.into_pyarray(py))
    }
}

impl PyLshIndex {
    /// Verification against `signatures` of every indexed document, at `threshold` (default:
    /// the index's).
    fn verify<'a>(
        &self,
        signatures: &'a Option<PyReadonlyArray2<'_, u32>>,
        threshold: Option<f64>,
    ) -> CoreResult<Option<lsh::Verify<'a>>> {
        let Some(s) = signatures else {
            return Ok(None);
        };
        let threshold = threshold.unwrap_or(self.threshold);
        let rows = rows2(s, "signatures")?;
        Ok(Some(verify_signatures(
            rows,
            self.inner.len(),
            Some(self.num_perm),
            threshold,
        )?))
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
) -> CoreResult<(
    Bound<'py, PyArray1<bool>>,
    Option<Bound<'py, PyArray1<u32>>>,
)> {
    let hashes = rows2(&band_hashes, "band_hashes")?;
    let mode = NearDupMode::parse(mode)?;
    let keep = Keep::parse(keep)?;
    let lengths: Option<Vec<u64>> = lengths.map(|l| l.as_array().iter().copied().collect());
    let signatures = signatures
        .as_ref()
        .map(|s| rows2(s, "signatures"))
        .transpose()?;
    let decision = run_pooled(py, workers, || {
        near::near_dup_keep(
            hashes,
            mode,
            keep,
            lengths.as_deref(),
            signatures,
            threshold,
        )
    })?;
    Ok((
        PyArray1::from_vec(py, decision.keep),
        decision.labels.map(|l| l.into_pyarray(py)),
    ))
}

/// 64-bit exact-duplicate keys of texts (xxh3-128 of the normalised text, low half).
#[pyfunction]
#[pyo3(signature = (texts, *, normalize="lower", workers=None))]
fn exact_hashes<'py>(
    py: Python<'py>,
    texts: Vec<PyBackedStr>,
    normalize: &str,
    workers: Option<usize>,
) -> CoreResult<Bound<'py, PyArray1<u64>>> {
    let mode = Normalize::parse(normalize)?;
    let out = run_pooled(py, workers, || {
        Ok(core_exact_hashes(&str_refs(&texts), mode))
    })?;
    Ok(out.into_pyarray(py))
}

/// 64-bit exact-duplicate keys of token-id sequences.
#[pyfunction]
fn exact_hashes_tokens(py: Python<'_>, token_ids: Vec<Vec<u32>>) -> Bound<'_, PyArray1<u64>> {
    core_exact_hashes_tokens(&token_ids).into_pyarray(py)
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
    fn new(normalize: &str, bloom: bool, expected: u64, fpr: f64) -> CoreResult<Self> {
        let mode = Normalize::parse(normalize)?;
        let inner = if bloom {
            ExactDeduper::with_bloom(mode, expected, fpr)?
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
    ) -> CoreResult<Bound<'py, PyArray1<bool>>> {
        let inner = &mut self.inner;
        let mask = run_pooled(py, workers, || Ok(inner.insert_texts(&str_refs(&texts))))?;
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

/// File flow, step 1: signatures, band hashes, exact keys and lengths of one shard's texts,
/// written as its partition files (`partition_paths[p]` holds partition `p`) and lengths file.
/// Returns the number of documents.
#[pyfunction]
#[pyo3(signature = (texts, partition_paths, lengths_path, hasher, bands, rows, *, exact_normalize="lower", workers=None))]
#[allow(clippy::too_many_arguments)]
fn dedup_write_shard_files(
    py: Python<'_>,
    texts: Vec<PyBackedStr>,
    partition_paths: Vec<PathBuf>,
    lengths_path: PathBuf,
    hasher: &PyMinHasher,
    bands: usize,
    rows: usize,
    exact_normalize: &str,
    workers: Option<usize>,
) -> CoreResult<usize> {
    let mode = Normalize::parse(exact_normalize)?;
    let files = ShardFiles {
        partitions: &partition_paths,
        lengths: &lengths_path,
    };
    run_pooled(py, workers, || {
        write_text_shard_files(&str_refs(&texts), files, &hasher.inner, bands, rows, mode)
    })
}

/// File flow, step 1 for token-id documents (e.g. tokenizer ids): like `dedup_write_shard_files`;
/// lengths are token counts and exact keys hash the id sequence.
#[pyfunction]
#[pyo3(signature = (token_ids, partition_paths, lengths_path, hasher, bands, rows, *, workers=None))]
#[allow(clippy::too_many_arguments)]
fn dedup_write_shard_files_tokens(
    py: Python<'_>,
    token_ids: Vec<Vec<u32>>,
    partition_paths: Vec<PathBuf>,
    lengths_path: PathBuf,
    hasher: &PyMinHasher,
    bands: usize,
    rows: usize,
    workers: Option<usize>,
) -> CoreResult<usize> {
    let files = ShardFiles {
        partitions: &partition_paths,
        lengths: &lengths_path,
    };
    run_pooled(py, workers, || {
        write_token_shard_files(&token_ids, files, &hasher.inner, bands, rows)
    })
}

/// File flow, step 2: the union edges of partition `partition` from that partition's file of
/// every shard (`shard_files` in plan order), written as an edge file at `path`. Returns the
/// numbers of (exact, band) edges.
#[pyfunction]
#[pyo3(signature = (shard_files, partition, path, *, exact=true, near=true))]
fn dedup_partition_edges(
    py: Python<'_>,
    shard_files: Vec<PathBuf>,
    partition: usize,
    path: PathBuf,
    exact: bool,
    near: bool,
) -> CoreResult<(usize, usize)> {
    Ok(py.detach(|| {
        let edges = partition_edges(&shard_files, partition, exact, near)?;
        write_edge_file(&path, &edges)?;
        Ok::<_, Error>((edges.exact.len(), edges.band.len()))
    })?)
}

/// File flow, step 3: clusters from the edge files of every partition and the lengths files of
/// every shard (plan order), held for the documents that have a duplicate only.
#[pyfunction]
#[pyo3(signature = (edge_files, lengths_files, *, keep="first"))]
fn dedup_cluster_edges(
    py: Python<'_>,
    edge_files: Vec<PathBuf>,
    lengths_files: Vec<PathBuf>,
    keep: &str,
) -> CoreResult<PyEdgeClusters> {
    let keep = Keep::parse(keep)?;
    let inner = py.detach(|| cluster_edge_files(&edge_files, &lengths_files, keep))?;
    Ok(PyEdgeClusters { inner })
}

/// The clusters of a multi-shard corpus (`dedup_cluster_edges`): counts, the documents in
/// duplicate clusters (`nodes`, global ids) with their `labels` (cluster's smallest id) and
/// `keep` flags, and a keep mask per shard.
#[pyclass(name = "EdgeClusters", module = "alignkit._core", frozen)]
pub struct PyEdgeClusters {
    inner: EdgeClusters,
}

#[pymethods]
impl PyEdgeClusters {
    #[getter]
    fn docs(&self) -> u64 {
        self.inner.docs
    }

    #[getter]
    fn exact_removed(&self) -> u64 {
        self.inner.exact_removed
    }

    #[getter]
    fn near_removed(&self) -> u64 {
        self.inner.near_removed
    }

    #[getter]
    fn duplicate_clusters(&self) -> u64 {
        self.inner.duplicate_clusters
    }

    #[getter]
    fn shard_docs(&self) -> Vec<u64> {
        self.inner.shard_docs.clone()
    }

    #[getter]
    fn nodes<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_slice(py, &self.inner.nodes)
    }

    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_slice(py, &self.inner.labels)
    }

    #[getter]
    fn keep<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_slice(py, &self.inner.keep)
    }

    /// The keep mask of shard `shard` (plan order).
    fn shard_keep_mask<'py>(
        &self,
        py: Python<'py>,
        shard: usize,
    ) -> CoreResult<Bound<'py, PyArray1<bool>>> {
        Ok(PyArray1::from_vec(py, self.inner.shard_keep_mask(shard)?))
    }

    fn __repr__(&self) -> String {
        format!(
            "EdgeClusters(docs={}, exact_removed={}, near_removed={}, duplicate_clusters={})",
            self.inner.docs,
            self.inner.exact_removed,
            self.inner.near_removed,
            self.inner.duplicate_clusters
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMinHasher>()?;
    m.add_class::<PyLshIndex>()?;
    m.add_class::<PyExactDeduper>()?;
    m.add_class::<PyEdgeClusters>()?;
    m.add_function(wrap_pyfunction!(jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_params, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_error_rates, m)?)?;
    m.add_function(wrap_pyfunction!(band_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(near_dup_keep, m)?)?;
    m.add_function(wrap_pyfunction!(exact_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(exact_hashes_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_write_shard_files, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_write_shard_files_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_partition_edges, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_cluster_edges, m)?)?;
    Ok(())
}
