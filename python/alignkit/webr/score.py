"""Dataset diversity and quality report: `score_datasets(paths, out_dir)`.

For each dataset: length statistics (tokens per instruction and response), turns per
conversation, languages, the exact-duplicate rate of normalised instructions, and the embedding
diversity metrics of `alignkit.webr.diversity` on the instructions and/or responses. Across
datasets: coverage of each dataset by each other one and the mean cross distance. Writes
`report.json` (everything, including the histograms and the 2-D projection the charts show)
and a self-contained `report.html` (`alignkit.webr.report_html`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alignkit import __version__
from alignkit.data.chat import ChatDataset, load_chat_dataset
from alignkit.data.io import atomic_write_text
from alignkit.webr import diversity
from alignkit.webr.embed import (
    BACKENDS,
    DEFAULT_CACHE_DIR,
    ModelSpec,
    embed_texts,
    load_tokenizer,
    resolve_model_dir,
)

log = logging.getLogger(__name__)

FIELDS = ("instruction", "response", "both")
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_VERSION = 1


class ScoreConfigError(ValueError):
    """An invalid scoring option."""


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    """Settings of a scoring run (recorded in report.json)."""

    model: str | None = None
    """Local sentence-transformers model directory; None = all-MiniLM-L6-v2 (the default)."""
    field: str = "instruction"
    max_rows: int | None = None
    cache_dir: str | None = str(DEFAULT_CACHE_DIR)
    """Embedding cache; None turns it off."""
    batch_size: int = 32
    backend: str = "numpy"
    """Embedding backend: numpy (default) or sentence-transformers."""
    tokenizer: str | None = None
    """tokenizer.json (or a directory with one) for the length statistics; None = the model's."""
    coverage_threshold: float = diversity.DEFAULT_COVERAGE_THRESHOLD
    projection_points: int = 500
    """Points per dataset in the 2-D projection (a seeded random sample)."""
    bins: int = 30
    seed: int = 0
    min_lang_confidence: float = 0.1
    """Language guesses (on instruction + first response) below this count as 'unknown'."""

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ScoreConfigError(f"field must be one of {FIELDS}, not {self.field!r}")
        if self.max_rows is not None and self.max_rows < 1:
            raise ScoreConfigError("max_rows must be at least 1")
        if self.batch_size < 1:
            raise ScoreConfigError("batch_size must be at least 1")
        if self.backend not in BACKENDS:
            raise ScoreConfigError(f"backend must be one of {BACKENDS}, not {self.backend!r}")
        if not 0.0 <= self.coverage_threshold <= 2.0:
            raise ScoreConfigError("coverage_threshold must be a cosine distance within 0..2")
        if self.projection_points < 2 or self.bins < 2:
            raise ScoreConfigError("projection_points and bins must be at least 2")

    @property
    def fields(self) -> tuple[str, ...]:
        return ("instruction", "response") if self.field == "both" else (self.field,)


_SPACES = re.compile(r"\s+")


def normalize_instruction(text: str) -> str:
    """Lowercase, trimmed, whitespace collapsed: the key of exact-duplicate detection."""
    return _SPACES.sub(" ", text).strip().lower()


def duplicate_rate(texts: Sequence[str]) -> float:
    """Fraction of texts that repeat an earlier one after `normalize_instruction`."""
    if not texts:
        return 0.0
    return 1.0 - len({normalize_instruction(t) for t in texts}) / len(texts)


def _summary(values: Sequence[float] | np.ndarray) -> dict[str, float] | None:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return None
    p5, p50, p95 = np.quantile(v, (0.05, 0.5, 0.95))
    return {
        "mean": float(v.mean()),
        "min": float(v.min()),
        "p05": float(p5),
        "median": float(p50),
        "p95": float(p95),
        "max": float(v.max()),
    }


def token_counts(tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Tokens per text (no special tokens, no truncation)."""
    counts = np.zeros(len(texts), dtype=np.int64)
    step = 1024
    for start in range(0, len(texts), step):
        chunk = list(texts[start : start + step])
        encodings = tokenizer.encode_batch(chunk, add_special_tokens=False)
        counts[start : start + len(chunk)] = [len(e.ids) for e in encodings]
    return counts


def language_shares(
    texts: Sequence[str], top: int = 8, min_confidence: float = 0.1
) -> dict[str, float]:
    """Share of texts per detected language (ISO 639-1; 'unknown' when undecided or less
    confident than `min_confidence`)."""
    from alignkit.webr.quality import detect_languages

    if not texts:
        return {}
    counts = Counter(
        g.lang if g is not None and g.confidence >= min_confidence else "unknown"
        for g in detect_languages(texts)
    )
    shares = {lang: n / len(texts) for lang, n in counts.most_common(top)}
    rest = 1.0 - sum(shares.values())
    if rest > 1e-12:
        shares["other"] = rest
    return shares


def _histogram(values: np.ndarray, edges: np.ndarray) -> list[int]:
    clipped = np.clip(values, edges[0], edges[-1])
    return [int(c) for c in np.histogram(clipped, bins=edges)[0]]


def _shared_edges(arrays: Sequence[np.ndarray], bins: int, *, integer: bool) -> np.ndarray:
    """Bin edges covering every array up to its 99th percentile (larger values in the last bin)."""
    nonempty = [a for a in arrays if a.size]
    hi = max((float(np.quantile(a, 0.99)) for a in nonempty), default=1.0)
    hi = max(hi, float(max((a.min() for a in nonempty), default=0.0)))
    if integer:
        hi = max(float(np.ceil(hi)) + 1.0, float(bins))
        width = max(1.0, np.ceil(hi / bins))
        return np.arange(0.0, width * bins + 0.5, width)
    hi = max(hi, 1e-3) * 1.02
    return np.linspace(0.0, hi, bins + 1)


def _unique_names(paths: Sequence[str], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        names = [n.strip() for n in names]
        if len(names) != len(paths):
            raise ScoreConfigError(f"{len(names)} name(s) given for {len(paths)} dataset(s)")
        if len(set(names)) != len(names) or not all(names):
            raise ScoreConfigError("dataset names must be unique and non-empty")
        return list(names)
    out: list[str] = []
    for path in paths:
        base = Path(path).name
        for suffix in (".gz", ".jsonl", ".json", ".parquet"):
            base = base.removesuffix(suffix)
        name, k = base or "dataset", 2
        while name in out:
            name, k = f"{base}-{k}", k + 1
        out.append(name)
    return out


def _field_texts(dataset: ChatDataset, field: str) -> list[str]:
    return dataset.instructions if field == "instruction" else dataset.responses


def _pca_2d(
    embeddings: dict[str, np.ndarray], points: int, seed: int
) -> dict[str, list[list[float]]]:
    """A seeded sample of each set projected on the first two principal axes of the samples."""
    rng = np.random.default_rng(seed)
    samples = {}
    for name, emb in embeddings.items():
        take = np.sort(rng.choice(len(emb), size=min(points, len(emb)), replace=False))
        samples[name] = emb[take].astype(np.float64)
    stacked = np.concatenate(list(samples.values()))
    mean = stacked.mean(axis=0)
    if len(stacked) < 2:
        return {name: [[0.0, 0.0]] * len(s) for name, s in samples.items()}
    _, _, vt = np.linalg.svd(stacked - mean, full_matrices=False)
    axes = vt[:2].T
    if axes.shape[1] < 2:
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    return {
        name: np.round((s - mean) @ axes, 5).tolist()  # type: ignore[misc]
        for name, s in samples.items()
    }


def score_datasets(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: ScoreConfig | None = None,
    *,
    names: Sequence[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score datasets and write `report.json` and `report.html` into `out_dir`; returns the
    report. Raises FileNotFoundError / ValueError with a clear message for unusable input."""
    from alignkit.webr.report_html import render_report

    config = config or ScoreConfig()
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ScoreConfigError("no datasets given")
    labels = _unique_names(paths, names)
    started = time.perf_counter()
    model_dir = resolve_model_dir(config.model)
    spec = ModelSpec.from_dir(model_dir)
    tokenizer = load_tokenizer(config.tokenizer or model_dir, None)

    loaded: dict[str, ChatDataset] = {}
    for name, path in zip(labels, paths, strict=True):
        dataset = load_chat_dataset(path, max_rows=config.max_rows)
        if not dataset.examples:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(dataset.bad_reasons.items()))
            raise ValueError(
                f"dataset {path} has no usable rows ({dataset.rows_read} read"
                + (f"; bad: {reasons}" if reasons else "")
                + ")"
            )
        log.info("%s: %d examples from %s (%s)", name, len(dataset.examples), path, dataset.format)
        loaded[name] = dataset

    # Length and composition statistics.
    lengths: dict[str, dict[str, np.ndarray]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for name, dataset in loaded.items():
        inst = token_counts(tokenizer, dataset.instructions)
        resp = token_counts(tokenizer, dataset.responses)
        turns = np.array([e.turns for e in dataset.examples], dtype=np.float64)
        lengths[name] = {"instruction_tokens": inst, "response_tokens": resp}
        entries[name] = {
            "name": name,
            "path": dataset.path,
            "format": dataset.format,
            "rows_read": dataset.rows_read,
            "examples": len(dataset.examples),
            "with_response": len(dataset.responses),
            "bad_rows": dataset.bad_rows,
            "bad_row_reasons": dict(sorted(dataset.bad_reasons.items())),
            "layouts": dict(sorted(dataset.layouts.items())),
            "instruction_tokens": _summary(inst),
            "response_tokens": _summary(resp),
            "turns": _summary(turns),
            "languages": language_shares(
                [
                    e.instruction if e.response is None else f"{e.instruction}\n{e.response}"
                    for e in dataset.examples
                ],
                min_confidence=config.min_lang_confidence,
            ),
            "duplicate_rate": duplicate_rate(dataset.instructions),
            "diversity": {},
        }

    # Embeddings and diversity, per field.
    cross: dict[str, Any] = {}
    projection: dict[str, Any] = {}
    nn_hist: dict[str, Any] = {}
    for field in config.fields:
        embeddings: dict[str, np.ndarray] = {}
        nn: dict[str, np.ndarray] = {}
        for name, dataset in loaded.items():
            texts = _field_texts(dataset, field)
            if len(texts) < 2:
                entries[name]["diversity"][field] = None
                log.warning("%s: fewer than 2 %ss; no diversity metrics", name, field)
                continue
            log.info("%s: embedding %d %ss", name, len(texts), field)
            emb = embed_texts(
                texts,
                config.model,
                backend=config.backend,
                batch_size=config.batch_size,
                cache_dir=config.cache_dir,
                progress=progress,
            )
            embeddings[name] = emb
            nn[name] = diversity.nearest_neighbor_distances(emb)
            entries[name]["diversity"][field] = {
                "n": int(emb.shape[0]),
                "embedding_diversity": diversity.embedding_diversity(emb),
                "vendi_score": diversity.vendi_score(emb),
                "centroid_distance": diversity.centroid_distance(emb),
                "nn_distance": diversity.distance_summary(nn[name]),
                "near_duplicate_share": float(np.mean(nn[name] <= 0.05)),
            }
        if not embeddings:
            continue
        scored = list(embeddings)
        cov: list[list[float]] = []
        dist: list[list[float]] = []
        for a in scored:
            cov_row, dist_row = [], []
            for b in scored:
                if a == b:
                    cov_row.append(float(np.mean(nn[a] <= config.coverage_threshold)))
                    dist_row.append(entries[a]["diversity"][field]["embedding_diversity"])
                else:
                    cov_row.append(
                        diversity.coverage(embeddings[a], embeddings[b], config.coverage_threshold)
                    )
                    dist_row.append(diversity.cross_diversity(embeddings[a], embeddings[b]))
            cov.append(cov_row)
            dist.append(dist_row)
        cross[field] = {"names": scored, "coverage": cov, "mean_distance": dist}
        projection[field] = _pca_2d(embeddings, config.projection_points, config.seed)
        edges = _shared_edges(list(nn.values()), config.bins, integer=False)
        nn_hist[field] = {
            "edges": [float(e) for e in edges],
            "counts": {name: _histogram(d, edges) for name, d in nn.items()},
        }

    length_hist: dict[str, Any] = {}
    for key in ("instruction_tokens", "response_tokens"):
        arrays = [lengths[n][key] for n in loaded]
        edges = _shared_edges(arrays, config.bins, integer=True)
        length_hist[key] = {
            "edges": [float(e) for e in edges],
            "counts": {n: _histogram(lengths[n][key], edges) for n in loaded},
        }

    report = {
        "report_version": REPORT_VERSION,
        "alignkit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 3),
        "config": {
            **dataclasses.asdict(config),
            "model_path": str(spec.path),
            "max_seq_length": spec.max_seq_length,
            "pooling": spec.pooling,
            "metric_backend": {
                name: diversity.backend_for(name) for name in diversity.RUST_FUNCTIONS
            },
        },
        "metric_definitions": {
            "embedding_diversity": "mean cosine distance over all pairs (higher = more diverse)",
            "vendi_score": "effective number of distinct items, cosine kernel (1..min(n, dim))",
            "centroid_distance": "mean cosine distance to the normalised centroid",
            "nn_distance": "cosine distance of each row to its nearest other row",
            "near_duplicate_share": "share of rows with a neighbour within distance 0.05",
            "coverage": "cross.coverage[i][j]: share of dataset i rows with a dataset j row within "
            "coverage_threshold (diagonal: a different row of the same dataset)",
            "mean_distance": "cross.mean_distance[i][j]: mean cosine distance over all pairs "
            "(diagonal: embedding_diversity)",
            "duplicate_rate": "share of instructions repeating an earlier one exactly "
            "(lowercased, whitespace collapsed)",
        },
        "datasets": [entries[n] for n in loaded],
        "cross": cross,
        "charts": {"lengths": length_hist, "nn_distance": nn_hist, "projection": projection},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / REPORT_JSON, json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / REPORT_HTML, render_report(report))
    return report
