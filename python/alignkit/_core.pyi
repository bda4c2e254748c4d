"""Type stubs for the Rust extension `alignkit._core` (checked by `make stubtest`)."""

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias, final

import numpy as np
import numpy.typing as npt

__version__: str
__all__ = [
    "EdgeClusters",
    "ExactDeduper",
    "Extracted",
    "HttpResponse",
    "KnnIndex",
    "LshIndex",
    "MalformedInputError",
    "MinHasher",
    "RougeLPool",
    "ShardDocuments",
    "WarcReader",
    "WarcRecord",
    "__version__",
    "band_hashes",
    "centroid_distance",
    "coverage",
    "cross_diversity",
    "dedup_cluster_edges",
    "dedup_partition_edges",
    "dedup_write_shard_files",
    "dedup_write_shard_files_tokens",
    "default_quality_config",
    "detect_language",
    "detect_language_batch",
    "diversity_summary",
    "embedding_diversity",
    "exact_hashes",
    "exact_hashes_tokens",
    "extract_text",
    "extract_text_batch",
    "jaccard",
    "lsh_error_rates",
    "lsh_params",
    "near_dup_keep",
    "nearest_neighbor_distances",
    "prepare_shard",
    "quality_filter_batch",
    "read_warc_batch",
    "rouge_l_f1",
    "rouge_tokenize",
    "sequence_opcodes",
    "varied_token_masks",
    "vendi_score",
]

_StrPath: TypeAlias = str | os.PathLike[str]

class MalformedInputError(ValueError): ...

@final
class WarcRecord:
    @property
    def record_type(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def offset(self) -> int: ...
    @property
    def block(self) -> bytes: ...
    @property
    def block_length(self) -> int: ...
    @property
    def target_uri(self) -> str | None: ...
    @property
    def date(self) -> str | None: ...
    @property
    def record_id(self) -> str | None: ...
    def header(self, name: str) -> str | None: ...
    def http(self) -> HttpResponse: ...
    def decode_html(self) -> str | None: ...

@final
class HttpResponse:
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def charset(self) -> str | None: ...
    def header(self, name: str) -> str | None: ...

@final
class WarcReader:
    def __new__(
        cls,
        source: _StrPath | bytes,
        *,
        record_types: Sequence[str] | None = None,
        max_block_bytes: int = 67108864,
        compression: str = "auto",
    ) -> WarcReader: ...
    def __iter__(self) -> WarcReader: ...
    def __next__(self) -> WarcRecord: ...
    @property
    def stats(self) -> dict[str, Any]: ...

def read_warc_batch(
    paths: Sequence[_StrPath],
    *,
    record_types: Sequence[str] | None = None,
    max_block_bytes: int = 67108864,
    compression: str = "auto",
    workers: int | None = None,
) -> list[dict[str, Any]]: ...

@final
class Extracted:
    @property
    def text(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def lang_hint(self) -> str | None: ...

def extract_text(
    html: str, *, mode: str = "plain", list_bullets: bool = True, skip_hidden: bool = True
) -> Extracted: ...
def extract_text_batch(
    htmls: Sequence[str],
    *,
    mode: str = "plain",
    list_bullets: bool = True,
    skip_hidden: bool = True,
    workers: int | None = None,
) -> list[Extracted]: ...

class _PrepareOptions(Protocol):
    """What `prepare_shard`/`ShardDocuments` read from their `options` (e.g. PrepareConfig)."""

    @property
    def mode(self) -> str: ...
    @property
    def min_text_chars(self) -> int: ...
    @property
    def max_block_bytes(self) -> int: ...
    @property
    def only_2xx(self) -> bool: ...
    @property
    def languages(self) -> Sequence[str] | None: ...
    @property
    def min_lang_confidence(self) -> float: ...
    @property
    def quality_config(self) -> Mapping[str, Any] | None: ...

def prepare_shard(
    input: _StrPath,
    out_path: _StrPath,
    options: _PrepareOptions,
    *,
    source_shard: str | None = None,
    dropped_path: _StrPath | None = None,
    progress: Callable[[int, int], object] | None = None,
    progress_every: int = 500,
) -> dict[str, Any]: ...

@final
class ShardDocuments:
    def __new__(
        cls,
        input: _StrPath,
        options: _PrepareOptions,
        *,
        source_shard: str | None = None,
        include_dropped: bool = False,
    ) -> ShardDocuments: ...
    def next_batch(self, size: int = 1024) -> dict[str, list[Any]] | None: ...
    def bytes_in(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...

def detect_language(text: str) -> tuple[str, float, str] | None: ...
def detect_language_batch(
    texts: Sequence[str], *, workers: int | None = None
) -> list[tuple[str, float, str] | None]: ...
def quality_filter_batch(
    texts: Sequence[str],
    langs: Sequence[str | None] | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
) -> list[tuple[bool, str | None, str | None, str | None]]: ...
def default_quality_config() -> dict[str, Any]: ...

# --- dedup (alignkit.webr.dedup) -------------------------------------------------------------

@final
class MinHasher:
    def __new__(
        cls,
        num_perm: int = 128,
        *,
        seed: int = 1,
        ngram: int = 5,
        shingle: str = "word",
        normalize: str = "lower",
        scheme: str = "fast",
    ) -> MinHasher: ...
    @property
    def num_perm(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def ngram(self) -> int: ...
    @property
    def shingle(self) -> str: ...
    @property
    def normalize(self) -> str: ...
    @property
    def scheme(self) -> str: ...
    def permutations(self) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
    def signature(self, text: str) -> npt.NDArray[np.uint32]: ...
    def signatures(
        self, texts: Sequence[str], *, workers: int | None = None
    ) -> npt.NDArray[np.uint32]: ...
    def signature_tokens(self, ids: Sequence[int]) -> npt.NDArray[np.uint32]: ...
    def signatures_tokens(
        self, token_ids: Sequence[Sequence[int]], *, workers: int | None = None
    ) -> npt.NDArray[np.uint32]: ...
    def signatures_prehashed(
        self,
        hashes: npt.NDArray[np.uint64],
        offsets: npt.NDArray[np.int64],
        *,
        workers: int | None = None,
    ) -> npt.NDArray[np.uint32]: ...

def jaccard(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float: ...
def lsh_params(
    threshold: float, num_perm: int = 128, *, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]: ...
def lsh_error_rates(threshold: float, bands: int, rows: int) -> tuple[float, float]: ...
def band_hashes(
    signatures: npt.NDArray[np.uint32], bands: int, rows: int, *, workers: int | None = None
) -> npt.NDArray[np.uint64]: ...

@final
class LshIndex:
    def __new__(
        cls,
        num_perm: int = 128,
        *,
        threshold: float = 0.7,
        bands: int | None = None,
        rows: int | None = None,
        capacity: int = 0,
    ) -> LshIndex: ...
    @property
    def bands(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def num_perm(self) -> int: ...
    @property
    def threshold(self) -> float: ...
    def __len__(self) -> int: ...
    def memory_bytes(self) -> int: ...
    def add(self, signatures: npt.NDArray[np.uint32], *, workers: int | None = None) -> None: ...
    def add_band_hashes(self, hashes: npt.NDArray[np.uint64]) -> None: ...
    def seal(self, *, workers: int | None = None) -> None: ...
    def query(self, signature: npt.NDArray[np.uint32]) -> list[int]: ...
    def candidate_pairs(
        self,
        *,
        signatures: npt.NDArray[np.uint32] | None = None,
        threshold: float | None = None,
        max_bucket: int = 1000,
    ) -> npt.NDArray[np.uint32]: ...
    def clusters(
        self, *, signatures: npt.NDArray[np.uint32] | None = None, threshold: float | None = None
    ) -> npt.NDArray[np.uint32]: ...

def near_dup_keep(
    band_hashes: npt.NDArray[np.uint64],
    *,
    mode: str = "cluster",
    keep: str = "first",
    lengths: npt.NDArray[np.uint64] | None = None,
    signatures: npt.NDArray[np.uint32] | None = None,
    threshold: float = 0.7,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint32] | None]: ...
def exact_hashes(
    texts: Sequence[str], *, normalize: str = "lower", workers: int | None = None
) -> npt.NDArray[np.uint64]: ...
def exact_hashes_tokens(token_ids: Sequence[Sequence[int]]) -> npt.NDArray[np.uint64]: ...

@final
class ExactDeduper:
    def __new__(
        cls,
        normalize: str = "lower",
        *,
        bloom: bool = False,
        expected: int = 1000000,
        fpr: float = 0.001,
    ) -> ExactDeduper: ...
    def add(self, text: str) -> bool: ...
    def add_batch(
        self, texts: Sequence[str], *, workers: int | None = None
    ) -> npt.NDArray[np.bool_]: ...
    @property
    def seen(self) -> int: ...
    @property
    def removed(self) -> int: ...
    @property
    def is_bloom(self) -> bool: ...
    def memory_bytes(self) -> int: ...

def dedup_write_shard_files(
    texts: Sequence[str],
    partition_paths: Sequence[_StrPath],
    lengths_path: _StrPath,
    hasher: MinHasher,
    bands: int,
    rows: int,
    *,
    exact_normalize: str = "lower",
    workers: int | None = None,
) -> int: ...
def dedup_write_shard_files_tokens(
    token_ids: Sequence[Sequence[int]],
    partition_paths: Sequence[_StrPath],
    lengths_path: _StrPath,
    hasher: MinHasher,
    bands: int,
    rows: int,
    *,
    workers: int | None = None,
) -> int: ...
def dedup_partition_edges(
    shard_files: Sequence[_StrPath],
    partition: int,
    path: _StrPath,
    *,
    exact: bool = True,
    near: bool = True,
) -> tuple[int, int]: ...
def dedup_cluster_edges(
    edge_files: Sequence[_StrPath], lengths_files: Sequence[_StrPath], *, keep: str = "first"
) -> EdgeClusters: ...

@final
class EdgeClusters:
    @property
    def docs(self) -> int: ...
    @property
    def exact_removed(self) -> int: ...
    @property
    def near_removed(self) -> int: ...
    @property
    def duplicate_clusters(self) -> int: ...
    @property
    def shard_docs(self) -> list[int]: ...
    @property
    def nodes(self) -> npt.NDArray[np.uint32]: ...
    @property
    def labels(self) -> npt.NDArray[np.uint32]: ...
    @property
    def keep(self) -> npt.NDArray[np.bool_]: ...
    def shard_keep_mask(self, shard: int) -> npt.NDArray[np.bool_]: ...

# Embedding diversity (2-D float32 or float16 arrays; C-contiguous ones are read in place).
_Embeddings: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float16]

def embedding_diversity(x: _Embeddings, *, workers: int | None = None) -> float: ...
def centroid_distance(x: _Embeddings, *, workers: int | None = None) -> float: ...
def vendi_score(x: _Embeddings, *, workers: int | None = None) -> float: ...
def cross_diversity(a: _Embeddings, b: _Embeddings, *, workers: int | None = None) -> float: ...
def nearest_neighbor_distances(
    x: _Embeddings,
    approximate: bool = False,
    *,
    tables: int = 8,
    bits: int = 16,
    window: int = 16,
    seed: int = 0,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.float32], dict[str, float]]: ...
def coverage(
    a: _Embeddings,
    b: _Embeddings,
    threshold: float | None = None,
    *,
    workers: int | None = None,
) -> dict[str, float]: ...
def diversity_summary(
    x: _Embeddings,
    nn: bool = True,
    *,
    approximate: bool = False,
    workers: int | None = None,
) -> dict[str, float | int | None]: ...

# Exact top-k inner-product (cosine with normalize=True) index; ids are uint64.
_Ids: TypeAlias = npt.NDArray[np.uint64] | Sequence[int]

@final
class KnnIndex:
    def __new__(cls, dim: int, *, normalize: bool = True) -> KnnIndex: ...
    @property
    def dim(self) -> int: ...
    @property
    def normalize(self) -> bool: ...
    def __len__(self) -> int: ...
    def __contains__(self, id: int, /) -> bool: ...
    def ids(self) -> npt.NDArray[np.uint64]: ...
    def add(self, rows: _Embeddings, ids: _Ids, *, workers: int | None = None) -> None: ...
    def remove(self, ids: _Ids) -> None: ...
    def search(
        self, queries: _Embeddings, k: int = 1, *, workers: int | None = None
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]: ...
    def save(self, path: _StrPath) -> None: ...
    @staticmethod
    def load(path: _StrPath) -> KnnIndex: ...

# alignkit.bmc
_IntSeq: TypeAlias = Sequence[int] | npt.NDArray[np.integer[Any]]

def sequence_opcodes(a: _IntSeq, b: _IntSeq) -> list[tuple[str, int, int, int, int]]: ...
def varied_token_masks(
    pseudo_chosen_ids: Sequence[_IntSeq],
    rejected_ids: Sequence[_IntSeq],
    stop_token_ids: Iterable[int] | None = None,
    *,
    workers: int | None = None,
) -> tuple[list[list[bool]], list[list[bool]]]: ...
def rouge_tokenize(text: str, tokenizer: str = "rouge_score") -> list[str]: ...
def rouge_l_f1(a: str, b: str, tokenizer: str = "rouge_score") -> float: ...

@final
class RougeLPool:
    def __new__(
        cls, texts: Sequence[str] | None = None, tokenizer: str = "rouge_score"
    ) -> RougeLPool: ...
    @property
    def tokenizer(self) -> str: ...
    def __len__(self) -> int: ...
    def text(self, index: int) -> str: ...
    def add(self, texts: Sequence[str]) -> None: ...
    def max_similarity(self, candidates: Sequence[str]) -> list[tuple[float, int]]: ...
    def top_k(self, candidate: str, k: int) -> list[tuple[int, float]]: ...
    def filter_novel(
        self, candidates: Sequence[str], threshold: float, add: bool = True
    ) -> list[bool]: ...
