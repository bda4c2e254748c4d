"""`alignkit lte run`: LTE end to end, every step a resumable stage, with its honest baseline.

    OUT/data/           lte.build_data  parallel alignment data from the training files
    OUT/train/          lte.train       the aligned model (OUT/train/model)
    OUT/eval-base/      lte.eval        the untrained model with the same retrieval memory
    OUT/eval-aligned/   lte.eval        the aligned model with the same retrieval memory
    OUT/lte_summary.json, OUT/report.html

The base evaluation is the in-context baseline: the same model before alignment, given the same
retrieved facts in the same template. Alignment is worth it only where the aligned model beats
it; the summary says per dataset whether edit success rose and locality did not fall, and by how
much every metric moved. Times and the process's peak memory after each stage are recorded.

Without training files the run uses the KnowEdit-format records shipped with alignkit (written
for alignkit: `alignkit/lte/data/`), training on the counterfact and ZsRE demo files and
evaluating on held-out ZsRE edits whose subjects appear in neither.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from alignkit.data.io import atomic_write_json
from alignkit.errors import ConfigError, InputNotFoundError
from alignkit.lte.build_data import BuildDataConfig, BuildDataStage
from alignkit.lte.evaluate import RESULTS_FILE, EditEvalConfig, EditEvalStage
from alignkit.lte.train import MODEL_DIR, LTETrainConfig, LTETrainStage
from alignkit.stage import RunOptions, StageConfig, option, peak_rss_mb, run_chained_stage

SUMMARY_FILE = "lte_summary.json"
REPORT_FILE = "report.html"
SECTIONS = ("build_data", "train", "eval")
DEMO_TRAIN_FILES = ("demo_train_counterfact.json", "demo_train_zsre.json")
DEMO_EVAL_FILES = ("demo_heldout_zsre.json",)
# Metrics compared between the base and the aligned model (the `post` side of results.json).
COMPARED = ("edit_success", "rephrase_acc", "portability", "locality", "fluency")


def demo_file(name: str) -> Path:
    """A KnowEdit-format file shipped in `alignkit/lte/data/`."""
    path = Path(str(resources.files("alignkit.lte") / "data" / name))
    if not path.is_file():
        raise InputNotFoundError(f"alignkit's packaged LTE data file {name} is missing")
    return path


@dataclasses.dataclass(frozen=True)
class LTERunConfig(StageConfig):
    """The run's own settings; each stage's settings come from its section of the config file
    (`build_data:`, `train:`, `eval:`; the eval section applies to both evaluations)."""

    schema_version: ClassVar[int] = 1

    train_files: tuple[str, ...] = option(
        (), help="KnowEdit-format files to build the alignment data from; none: the demo files "
        "shipped with alignkit",
    )  # fmt: skip
    eval_files: tuple[str, ...] = option(
        (), help="KnowEdit-format files of held-out edits to evaluate on; none: the shipped "
        "held-out ZsRE demo edits",
    )  # fmt: skip
    model: str = option(
        "", help="base model: a local Hugging Face causal LM folder; empty: the embedded "
        "SmolLM2-135M-Instruct",
    )  # fmt: skip
    baseline: bool = option(
        True, help="also evaluate the untrained model with the same retrieval (the in-context "
        "baseline)",
    )  # fmt: skip

    def validate(self) -> None:
        if self.train_files and not self.eval_files:
            raise ConfigError(
                "train_files given without eval_files: name the held-out edits to evaluate on "
                "(the shipped demo edits may overlap your training data)"
            )

    def inputs(self) -> tuple[list[str], list[str]]:
        train = list(self.train_files) or [str(demo_file(n)) for n in DEMO_TRAIN_FILES]
        evaluate = list(self.eval_files) or [str(demo_file(n)) for n in DEMO_EVAL_FILES]
        for path in (*train, *evaluate):
            if not Path(path).is_file():
                raise InputNotFoundError(f"KnowEdit file not found: {path}")
        return train, evaluate


@dataclasses.dataclass(frozen=True)
class LTERunOptions(RunOptions[LTERunConfig]):
    """The run's config plus one section per stage (mappings of that stage's config keys); the
    model is the run's, not a section's."""

    known_sections: ClassVar[tuple[str, ...]] = SECTIONS
    command: ClassVar[str] = "lte run"


def compare(base: Mapping[str, Any], aligned: Mapping[str, Any]) -> dict[str, Any]:
    """Per dataset: both models' headline metrics, the change, and the verdict (edit success
    rose and locality did not fall)."""
    out: dict[str, Any] = {}
    for name, data in sorted(aligned.get("datasets", {}).items()):
        before = base.get("datasets", {}).get(name, {}).get("post", {})
        after = data.get("post", {})
        rows = {}
        for metric in COMPARED:
            b, a = before.get(metric), after.get(metric)
            delta = None if a is None or b is None else round(a - b, 2)
            rows[metric] = {"base": b, "aligned": a, "change": delta}
        es, loc = rows["edit_success"]["change"], rows["locality"]["change"]
        out[name] = {
            "edits": data.get("edits"),
            "metrics": rows,
            "edit_success_rose": None if es is None else es > 0,
            "locality_held": None if loc is None else loc >= 0,
            "alignment_helps": None if es is None or loc is None else es > 0 and loc >= 0,
        }
    return out


class LTERun:
    def __init__(
        self,
        out: Path,
        options: LTERunOptions,
        *,
        overwrite: bool = False,
        progress: bool | str = "auto",
        executor: Any = None,
    ) -> None:
        self.out = Path(out)
        self.executor = executor  # for the LLM-bound data stage; the others hold a local model
        self.options = options
        self.cfg = options.run
        self.overwrite = overwrite
        self.progress = progress
        self.summary: dict[str, Any] = {
            "settings": {
                "run": self.cfg.describe(),
                "sections": {k: dict(v) for k, v in options.sections.items()},
            },
            "stages": {},
        }

    def _stage(
        self, key: str, stage: Any, inputs: list[str], executor: Any = None
    ) -> dict[str, Any]:
        report, self.summary["stages"][key] = run_chained_stage(
            f"lte run: {key}",
            stage,
            inputs,
            self.out / key,
            executor=executor,
            overwrite=self.overwrite,
            progress=self.progress,
        )
        atomic_write_json(self.out / SUMMARY_FILE, self.summary)
        return report.stats

    def _results(self, key: str) -> dict[str, Any]:
        return json.loads((self.out / key / RESULTS_FILE).read_text(encoding="utf-8"))

    def run(self) -> dict[str, Any]:
        cfg, opts = self.cfg, self.options
        train_files, eval_files = cfg.inputs()
        self.out.mkdir(parents=True, exist_ok=True)
        self.summary["inputs"] = {"train": train_files, "eval": eval_files}
        build = opts.stage_config("build_data", BuildDataConfig)
        self._stage("data", BuildDataStage(build), train_files, self.executor)
        data_files = sorted(str(p) for p in (self.out / "data").glob("*.jsonl.gz"))
        train = opts.stage_config("train", LTETrainConfig, model=cfg.model)
        self._stage("train", LTETrainStage(train), data_files)
        aligned_model = str(self.out / "train" / MODEL_DIR)
        if cfg.baseline:
            base = opts.stage_config("eval", EditEvalConfig, model=cfg.model or None)
            self._stage("eval-base", EditEvalStage(base), eval_files)
        aligned = opts.stage_config("eval", EditEvalConfig, model=aligned_model)
        self._stage("eval-aligned", EditEvalStage(aligned), eval_files)
        results = {"aligned": self._results("eval-aligned")}
        if cfg.baseline:
            results["base"] = self._results("eval-base")
            self.summary["comparison"] = compare(results["base"], results["aligned"])
        self.summary["results"] = results
        self.summary["seconds"] = round(
            sum(s["seconds"] for s in self.summary["stages"].values()), 3
        )
        self.summary["peak_rss_mb"] = peak_rss_mb()
        atomic_write_json(self.out / SUMMARY_FILE, self.summary)
        self._report()
        return self.summary

    def _report(self) -> None:
        from alignkit.lte.report import write_run_report

        write_run_report(self.summary, self.out / REPORT_FILE)


def run_lte(
    out: str | Path,
    options: LTERunOptions,
    *,
    overwrite: bool = False,
    progress: bool | str = "auto",
    executor: Any = None,
) -> dict[str, Any]:
    """Run LTE end to end into `out` (module docstring); returns the summary. `executor` (e.g.
    a `RayExecutor`) runs the data stage's tasks; the stages holding a local model run here."""
    return LTERun(
        Path(out), options, overwrite=overwrite, progress=progress, executor=executor
    ).run()
