"""Sentence embeddings and the diversity metrics over them, shared by every method.

- `alignkit.embed.encoder`: the MiniLM (BERT) sentence encoder - our forward pass on torch where
  torch is installed, float32 numpy otherwise - model lookup and the on-disk embedding cache.
- `alignkit.embed.diversity`: diversity, nearest-neighbour, Vendi and coverage metrics (Rust in
  `alignkit._core` where available), defined by `alignkit.embed.diversity_reference`.
- `alignkit.embed.memory`: `EditMemory`, facts keyed by prompt embeddings with exact top-k
  cosine retrieval (`alignkit._core.KnnIndex`), removal and a saved form.

Neither imports torch at import time.
"""

from alignkit.embed.diversity import (
    centroid_distance,
    coverage,
    cross_diversity,
    diversity_summary,
    embedding_diversity,
    nearest_neighbor_distances,
    vendi_score,
)
from alignkit.embed.encoder import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_CACHE_DIR,
    DEFAULT_MODEL_PACKAGE,
    BertEncoder,
    ModelNotFoundError,
    ModelSpec,
    NumpyBertEncoder,
    SentenceTransformersEncoder,
    TorchBertEncoder,
    default_model_dir,
    embed_texts,
    get_encoder,
    load_tokenizer,
    resolve_backend,
    resolve_model_dir,
)
from alignkit.embed.memory import EditMemory, Hit, MemoryEntry

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_MODEL_PACKAGE",
    "BertEncoder",
    "EditMemory",
    "Hit",
    "MemoryEntry",
    "ModelNotFoundError",
    "ModelSpec",
    "NumpyBertEncoder",
    "SentenceTransformersEncoder",
    "TorchBertEncoder",
    "centroid_distance",
    "coverage",
    "cross_diversity",
    "default_model_dir",
    "diversity_summary",
    "embed_texts",
    "embedding_diversity",
    "get_encoder",
    "load_tokenizer",
    "nearest_neighbor_distances",
    "resolve_backend",
    "resolve_model_dir",
    "vendi_score",
]
