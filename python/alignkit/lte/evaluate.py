"""`alignkit lte eval` on the stage kit: LTE's inference phase over KnowEdit-format files, scored
with EasyEdit's metrics (`alignkit.lte.editor`, `alignkit.lte.metrics`).

Tasks are chunks of `chunk_size` edits of one file (ids `<stem>.<first edit, 5 digits>`); each
writes its per-edit rows as `<task id>.jsonl.gz` (the EasyEdit dictionary of the edit plus
`dataset` and `edit_id`). A chunk builds its memory afresh: in sequential mode it first stores
the file's edits before the chunk (cheap: embeddings only), so edit i still sees edits 1..i
whichever chunk ran it and however often the run was killed; in batch mode it stores every edit
of the file. The reduce writes `results.json`: per file, the means (x100) of each metric over the
edits that have it, the retrieval accuracies, the counts, with the configuration and the word
tokenizer of the fluency metric.

Dataset-level numbers follow KnowEdit's summary: portability and locality are, per edit, the
mean over its probe kinds, then the mean over edits; per kind they are listed too. Edit success
is the rewrite accuracy with the edit; `pre` holds the same accuracies without it.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from alignkit.data.io import open_gzip_text_writer
from alignkit.errors import ConfigError, InputError, InputNotFoundError
from alignkit.lte.build_data import input_task_id
from alignkit.lte.editor import LTEEditor, request_from_record
from alignkit.lte.knowedit import SOURCES, load_knowedit
from alignkit.lte.metrics import WRAPS, word_tokenizer_name
from alignkit.stage import (
    OutputFolder,
    Stage,
    StageConfig,
    Task,
    TaskContext,
    TaskResult,
    option,
)

log = logging.getLogger(__name__)

EVAL_MODES = ("sequential", "batch", "gold")
RESULTS_FILE = "results.json"


@dataclasses.dataclass(frozen=True)
class EditEvalConfig(StageConfig):
    """`alignkit lte eval`: edit a local model through LTE's retrieval memory (or with the gold
    fact) and score every edit with EasyEdit's metrics."""

    schema_version: ClassVar[int] = 1

    model: str | None = option(
        None, help="local Hugging Face causal LM folder; none: the embedded SmolLM2-135M-Instruct"
    )
    mode: str = option(
        "sequential",
        choices=EVAL_MODES,
        help="sequential: memory holds edits 1..i at edit i; batch: all edits stored first; "
        "gold: each query asked with its own edit's fact and the [Query] label, no retrieval",
    )
    k: int = option(1, help="facts retrieved per query")
    wrap: str = option(
        "auto", choices=WRAPS, help="auto: the model's chat template when it has one, else raw"
    )
    embedder: str | None = option(
        None, help="sentence-transformers model folder; none: the shipped MiniLM"
    )
    embed_backend: str = option("auto", help="encoder backend", fingerprint=False)
    source: str | None = option(
        None, choices=SOURCES, help="KnowEdit source of every input; none: from its name/fields"
    )
    max_edits: int | None = option(None, help="the first N edits of each file; none: all")
    chunk_size: int = option(25, help="edits per task (the unit of resume)")
    fluency: bool = option(True, help="score fluency (greedy generation; slow on CPU)")
    max_new_tokens: int = option(100, help="tokens generated for fluency")
    dtype: str = option("float32", choices=("float32", "bfloat16", "float16"), help="model dtype")
    device: str = option("cpu", help="torch device of the model")
    batch_size: int = option(16, help="sequences per forward pass", fingerprint=False)
    seed: int = option(0, help="torch seed set before each task")

    def validate(self) -> None:
        if self.k < 1:
            raise ConfigError("k must be >= 1")
        if self.max_edits is not None and self.max_edits < 1:
            raise ConfigError("max_edits must be >= 1 (or none)")
        if self.chunk_size < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ConfigError("chunk_size, batch_size and max_new_tokens must be >= 1")


def _model_dir(config: EditEvalConfig) -> Path:
    if config.model:
        folder = Path(config.model).expanduser()
        if not folder.is_dir():
            raise InputNotFoundError(f"model folder not found: {folder}")
        return folder
    from alignkit.llm import default_model_dir

    return default_model_dir()


def _weights(folder: Path) -> tuple[str, ...]:
    """The files whose change means another model (task inputs: a changed model reruns)."""
    return tuple(
        str(p) for pattern in ("*.safetensors", "*.bin") for p in sorted(folder.glob(pattern))
    )


class EditEvalStage(Stage[EditEvalConfig]):
    """Tasks: chunks of edits per input file; rows per chunk; `results.json` in the reduce.

    `editor`: a ready `LTEEditor` (tests); `embed` (texts -> vectors) replaces the sentence
    encoder (recorded by name in the fingerprint)."""

    name = "lte.eval"
    config_class = EditEvalConfig
    progress_unit = "edit"
    parallel_tasks = False  # the model is a local model of this process

    def __init__(
        self, config: EditEvalConfig, *, editor: LTEEditor | None = None, embed: Any = None
    ) -> None:
        super().__init__(config)
        self.editor = editor
        self.embed = embed
        # A given editor stands for the model in the fingerprint; one built here from the
        # config must not change the fingerprint once it exists.
        self.given_editor = editor.model_name if editor is not None else None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "editor": None}  # a loaded model does not travel

    def fingerprint(self) -> dict[str, Any]:
        extra = {"editor_model": self.given_editor} if self.given_editor else {}
        if self.embed is not None:
            extra["embed"] = getattr(self.embed, "__qualname__", type(self.embed).__name__)
        return {**super().fingerprint(), **extra}

    def _editor(self) -> LTEEditor:
        if self.editor is None:
            cfg = self.config
            self.editor = LTEEditor(
                str(_model_dir(cfg)),
                embedder=self.embed if self.embed is not None else cfg.embedder,
                k=cfg.k,
                wrap=cfg.wrap,
                device=cfg.device,
                dtype=cfg.dtype,
                batch_size=cfg.batch_size,
                fluency=cfg.fluency,
                max_new_tokens=cfg.max_new_tokens,
                embed_backend=cfg.embed_backend,
            )
        return self.editor

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if not inputs:
            raise InputError("lte eval needs at least one KnowEdit-format file")
        cfg = self.config
        weights = () if self.editor is not None else _weights(_model_dir(cfg))
        tasks = []
        stems = set()
        for path in sorted(inputs):
            stem = input_task_id(path)
            if stem in stems:
                raise InputError(f"two inputs share the name {stem!r}")
            stems.add(stem)
            loaded = load_knowedit(path, cfg.source)
            n = len(loaded.records)
            if cfg.max_edits is not None:
                n = min(n, cfg.max_edits)
            if not n:
                raise InputError(f"{path}: no usable edits")
            for start in range(0, n, cfg.chunk_size):
                stop = min(start + cfg.chunk_size, n)
                tasks.append(
                    Task(
                        id=f"{stem}.{start:05d}",
                        inputs=(path, *weights),
                        payload={"path": path, "stem": stem, "start": start, "stop": stop, "n": n},
                        weight=stop - start,
                    )
                )
        return tasks

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        import torch

        cfg = self.config
        spec = task.payload
        loaded = load_knowedit(spec["path"], cfg.source)
        requests = [request_from_record(r) for r in loaded.records[: spec["n"]]]
        start, stop = spec["start"], spec["stop"]
        chunk = requests[start:stop]
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        editor = self._editor()
        editor.reset()
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        if cfg.mode == "sequential":
            before = requests[:start]
        elif cfg.mode == "batch":
            before, after = requests[:start], requests[stop:]
        results = editor.evaluate_requests(
            chunk, cfg.mode, before=before, after=after, first_case_id=start
        )
        editor.reset()
        name = f"{task.id}.jsonl.gz"
        tmp = ctx.tmp_output(name)
        with open_gzip_text_writer(tmp) as out:
            for request, result in zip(chunk, results, strict=True):
                row = {"dataset": spec["stem"], "edit_id": request["edit_id"], **result}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        ctx.progress(len(chunk))
        stats = {
            "edits": len(chunk),
            "records_skipped": dict(loaded.skipped) if start == 0 else {},
            "prompts_truncated": editor.scorer.truncated,
        }
        return TaskResult(stats=stats, outputs={name: tmp})

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult | None:
        rows_by_dataset: dict[str, list[dict[str, Any]]] = {}
        for task in tasks:
            with gzip.open(folder.root / f"{task.id}.jsonl.gz", "rt", encoding="utf-8") as rows:
                for line in rows:
                    row = json.loads(line)
                    rows_by_dataset.setdefault(row["dataset"], []).append(row)
        summary = {
            "stage": self.name,
            "config": self.fingerprint(),
            "word_tokenizer": word_tokenizer_name(),
            "datasets": {
                name: summarize(rows, self.config.k) for name, rows in rows_by_dataset.items()
            },
        }
        tmp = folder.tmp_path(RESULTS_FILE)
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return TaskResult(stats={}, outputs={RESULTS_FILE: tmp})


def _pct(values: Sequence[float]) -> float | None:
    return round(100.0 * sum(values) / len(values), 2) if values else None


def _per_edit_mean(rows: Sequence[Mapping[str, Any]], side: str, section: str, suffix: str) -> list:
    """Per edit the mean over kinds of `<kind><suffix>` in row[side][section] (edits without
    any are left out). `_acc` never matches the retrieval keys (`_retrieved_acc_<k>`)."""
    out = []
    for row in rows:
        values = [v for k, v in row[side].get(section, {}).items() if k.endswith(suffix)]
        if values:
            out.append(sum(values) / len(values))
    return out


def summarize(rows: Sequence[Mapping[str, Any]], k: int = 1) -> dict[str, Any]:
    """Dataset-level metrics (x100) of per-edit result rows (module docstring)."""

    def field(side: str, key: str) -> list[float]:
        return [r[side][key] for r in rows if key in r[side]]

    def kinds(side: str, section: str, suffix: str) -> dict[str, float | None]:
        names = sorted({k for r in rows for k in r[side].get(section, {}) if k.endswith(suffix)})
        return {
            name.removesuffix(suffix): _pct(
                [r[side][section][name] for r in rows if name in r[side].get(section, {})]
            )
            for name in names
        }

    fluency = [r["post"]["fluency"]["ngram_entropy"] for r in rows if "fluency" in r["post"]]
    out: dict[str, Any] = {
        "edits": len(rows),
        "pre": {
            "rewrite_acc": _pct(field("pre", "rewrite_acc")),
            "rephrase_acc": _pct(field("pre", "rephrase_acc")),
            "portability": _pct(_per_edit_mean(rows, "pre", "portability", "_acc")),
            "portability_by_kind": kinds("pre", "portability", "_acc"),
        },
        "post": {
            "edit_success": _pct(field("post", "rewrite_acc")),
            "rewrite_acc": _pct(field("post", "rewrite_acc")),
            "rephrase_acc": _pct(field("post", "rephrase_acc")),
            "portability": _pct(_per_edit_mean(rows, "post", "portability", "_acc")),
            "portability_by_kind": kinds("post", "portability", "_acc"),
            "locality": _pct(_per_edit_mean(rows, "post", "locality", "_acc")),
            "locality_by_kind": kinds("post", "locality", "_acc"),
            "fluency": _pct(fluency),
        },
        "counts": {
            "with_rephrase": len(field("post", "rephrase_acc")),
            "with_portability": len(_per_edit_mean(rows, "post", "portability", "_acc")),
            "with_locality": len(_per_edit_mean(rows, "post", "locality", "_acc")),
        },
    }
    if any("rewrite_retrieved_acc_1" in r["post"] for r in rows):
        retrieval: dict[str, Any] = {}
        for top in sorted({1, k}):
            suffix = f"_retrieved_acc_{top}"
            retrieval[f"top{top}"] = {
                "rewrite": _pct(field("post", f"rewrite{suffix}")),
                "rephrase": _pct(field("post", f"rephrase{suffix}")),
                "portability": _pct(_per_edit_mean(rows, "post", "portability", suffix)),
                "locality": _pct(_per_edit_mean(rows, "post", "locality", suffix)),
            }
        out["retrieval"] = retrieval
    return out
