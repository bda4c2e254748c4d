"""`alignkit webr run`: the whole WebR pipeline in one resumable call.

`run_pipeline(shards, out_dir, llm, options)` chains the stages, each through the stage kit into
its own dataset folder:

    OUT/1-prepare     `alignkit.webr.prepare`     (WARC shards -> documents)
    OUT/2-dedup       `alignkit.webr.dedup`       (exact + near duplicates removed)
    OUT/3-synthesize  `alignkit.webr.synthesize`  (documents -> chat `messages`)
    OUT/4-score       `alignkit.webr.score`       (diversity report)

Every stage is always called: whether it is finished is decided by the kit alone (its completion
markers under `.alignkit/`), so a re-run redoes nothing and sends no LLM request, and a stage
whose inputs changed redoes what depends on them. A stage whose configuration changed is
refused with the kit's error unless `overwrite=True`, which redoes only the stages whose
recorded configuration differs. `OUT/run.json` (OUT is not itself a dataset) summarises every
stage and is written atomically after each one.

`PipelineOptions` holds one config per stage; `PipelineOptions.from_sections` builds it from the
`prepare:`, `dedup:`, `synthesize:` and `score:` sections of a config file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignkit.errors import ConfigError, NothingProducedError, StageFailedError
from alignkit.llm.redact import redact_text

if TYPE_CHECKING:
    from alignkit.stage import Executor

log = logging.getLogger(__name__)

STAGE_DIRS = {
    "prepare": "1-prepare",
    "dedup": "2-dedup",
    "synthesize": "3-synthesize",
    "score": "4-score",
}
SECTIONS = tuple(STAGE_DIRS)
RUN_FILE = "run.json"
DEMO_INPUT_DIR = "_demo_input"
DEMO_STAMP = "_demo.json"
RUN_VERSION = 2
# Stage options whose `webr run` default differs from the stage's own: the LLM should see a
# page's main content, not its menus and footers (`webr prepare` alone keeps plain extraction).
RUN_DEFAULTS: dict[str, dict[str, Any]] = {"prepare": {"mode": "main"}}


class PipelineError(StageFailedError):
    """A stage finished with failures that the next stages cannot build on."""


def config_classes() -> dict[str, type[Any]]:
    from alignkit.webr.dedup import DedupConfig
    from alignkit.webr.prepare import PrepareConfig
    from alignkit.webr.score import ScoreConfig
    from alignkit.webr.synthesize import SynthesizeConfig

    return {
        "prepare": PrepareConfig,
        "dedup": DedupConfig,
        "synthesize": SynthesizeConfig,
        "score": ScoreConfig,
    }


def _build_config(section: str, cls: type[Any], values: Mapping[str, Any]) -> Any:
    """A stage config from one section of keys; unknown keys are an error naming them."""
    from alignkit.stage import StageConfig

    if not isinstance(values, Mapping):
        raise ConfigError(f"{section}: expected a table of {section} options, not {values!r}")
    try:
        if issubclass(cls, StageConfig):
            return cls.from_mapping(values)
        names = {f.name for f in dataclasses.fields(cls)}
        given = {str(k).replace("-", "_"): v for k, v in values.items()}
        unknown = sorted(set(given) - names)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
        return cls(**given)
    except (ConfigError, ValueError, TypeError) as exc:
        raise ConfigError(f"{section}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """One config per stage (`None` = that stage's defaults, with `RUN_DEFAULTS` applied)."""

    prepare: Any = None
    dedup: Any = None
    synthesize: Any = None
    score: Any = None

    def __post_init__(self) -> None:
        for section, cls in config_classes().items():
            value = getattr(self, section)
            if value is None:
                object.__setattr__(self, section, cls.from_mapping(RUN_DEFAULTS.get(section, {})))
            elif not isinstance(value, cls):
                raise ConfigError(f"{section} must be a {cls.__name__}, not {type(value).__name__}")

    @classmethod
    def from_sections(cls, sections: Mapping[str, Any]) -> PipelineOptions:
        """From `{"prepare": {...}, "dedup": {...}, "synthesize": {...}, "score": {...}}`."""
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise ConfigError(
                f"unknown pipeline section(s): {', '.join(unknown)} (known: {', '.join(SECTIONS)})"
            )
        configs = {}
        for section, config_cls in config_classes().items():
            values = sections.get(section) or {}
            if isinstance(values, Mapping):
                values = {**RUN_DEFAULTS.get(section, {}), **values}
            configs[section] = _build_config(section, config_cls, values)
        return cls(**configs)

    def to_dict(self) -> dict[str, Any]:
        """Every stage's settings as they may be recorded (LLM specs redacted)."""
        return {section: getattr(self, section).describe() for section in SECTIONS}


def write_demo_input(out_dir: str | os.PathLike[str], n_shards: int, docs: int) -> list[Path]:
    """The built-in demo shards in `OUT/_demo_input`, generated once per (shards, docs) so that a
    re-run finds the same files (same size and mtime) and prepare can skip them."""
    from alignkit.data.demo import demo_shard_name, write_demo_shards

    if n_shards < 1 or docs < 1:
        raise ValueError("--demo-shards and --demo-docs must be at least 1")
    demo_dir = Path(out_dir) / DEMO_INPUT_DIR
    stamp = demo_dir / DEMO_STAMP
    wanted = {"shards": n_shards, "docs": docs, "seed": 0}
    paths = [demo_dir / demo_shard_name(k, "gzip") for k in range(n_shards)]
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == wanted and all(
            p.is_file() for p in paths
        ):
            return paths
    except (OSError, ValueError):
        pass
    paths = write_demo_shards(demo_dir, n_shards=n_shards, docs_per_shard=docs, seed=0)
    _write_json(stamp, wanted)
    log.info("demo input: %d shard(s) in %s", len(paths), demo_dir)
    return paths


def _write_json(path: Path, payload: Any) -> None:
    from alignkit.data.io import atomic_write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, payload)


def _config_differs(directory: Path, stage_name: str, fingerprint: Mapping[str, Any]) -> bool:
    """Whether the kit's record in `directory` is of another configuration: `overwrite` is passed
    on only then, since the kit's overwrite also redoes a stage whose configuration is the same."""
    from alignkit.stage import OutputFolder

    recorded = OutputFolder(directory).recorded_config()
    wanted = {"stage": stage_name, "config": json.loads(json.dumps(fingerprint))}
    return recorded is not None and recorded != wanted


def _status(tasks: Mapping[str, Any]) -> str:
    """ "skipped" when the kit found every task finished (nothing ran), else "ran"."""
    return "skipped" if tasks.get("run") == 0 and not tasks.get("failed") else "ran"


def _score_summary(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in report.get("datasets", []):
        div = {
            field: {
                "embedding_diversity": d.get("embedding_diversity"),
                "vendi_score": d.get("vendi_score"),
            }
            for field, d in entry.get("diversity", {}).items()
            if d
        }
        out = {
            "examples": entry.get("examples"),
            "bad_rows": entry.get("bad_rows"),
            "duplicate_rate": entry.get("duplicate_rate"),
            "diversity": div,
        }
    return out


def run_pipeline(
    shards: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    llm: str | None = None,
    options: PipelineOptions | None = None,
    *,
    overwrite: bool = False,
    dry_run: bool = False,
    skip_score: bool = False,
    retry_failed: bool = False,
    progress: bool | str = False,
    echo: Callable[[str], None] = print,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run prepare -> dedup -> synthesize -> score into `out_dir`; returns what `run.json` holds.

    `executor` runs the tasks of prepare, dedup and synthesize (default: local processes sized by
    each stage's `workers`); score runs here.

    `llm` (a backend spec) overrides `options.synthesize.llm` (default `transformers`, the
    embedded SmolLM2-135M-Instruct). `progress`: True/"auto", "bar", "log" or False.
    `echo` gets one line per stage (and, with `dry_run`, the synthesis prompts). `dry_run` runs
    prepare and dedup, prints the first synthesis prompts without calling the LLM, and skips
    score. Raises the kit's `ConfigMismatchError` when a stage's folder holds results of another
    configuration and `overwrite` is not given, `PipelineError` when a stage's tasks failed and
    `NothingProducedError` when a stage produced nothing.
    """
    opts = options or PipelineOptions()
    if llm is not None and llm != opts.synthesize.llm:
        opts = dataclasses.replace(opts, synthesize=opts.synthesize.replace(llm=llm))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {
        "run_version": RUN_VERSION,
        "out": str(out),
        "llm": opts.synthesize.describe()["llm"],
        "dry_run": dry_run,
        "options": opts.to_dict(),
        "stages": {},
    }
    try:
        pipeline = _Pipeline(out, opts, run, overwrite, retry_failed, progress, echo, executor)
        return pipeline.run(shards, dry_run, skip_score)
    except BaseException as exc:
        failed = next((n for n in STAGE_DIRS if n not in run["stages"]), "setup")
        error = redact_text(f"{type(exc).__name__}: {exc}")
        run["stages"][failed] = {"status": "failed", "error": error}
        _write_json(out / RUN_FILE, run)
        raise


class _Pipeline:
    def __init__(
        self,
        out: Path,
        opts: PipelineOptions,
        run: dict[str, Any],
        overwrite: bool,
        retry_failed: bool,
        progress: bool | str,
        echo: Callable[[str], None],
        executor: Executor | None = None,
    ) -> None:
        self.executor = executor
        self.out = out
        self.opts = opts
        self.run_info = run
        self.overwrite = overwrite
        self.retry_failed = retry_failed
        self.progress = progress
        self.echo = echo
        self.dirs = {name: out / sub for name, sub in STAGE_DIRS.items()}
        self.started = time.perf_counter()

    def finish(self, name: str, entry: dict[str, Any], line: str) -> None:
        self.run_info["stages"][name] = entry
        self.run_info["seconds"] = round(time.perf_counter() - self.started, 3)
        _write_json(self.out / RUN_FILE, self.run_info)
        self.echo(f"[{SECTIONS.index(name) + 1}/4] {name}: {line}")

    def overwrite_for(self, name: str, stage_name: str, fingerprint: Mapping[str, Any]) -> bool:
        return self.overwrite and _config_differs(self.dirs[name], stage_name, fingerprint)

    def run(
        self, shards: Sequence[str | os.PathLike[str]], dry_run: bool, skip_score: bool
    ) -> dict[str, Any]:
        prepared = self.prepare(shards)
        deduped = self.dedup(prepared)
        if dry_run:
            self.dry_run(deduped)
        else:
            synthetic = self.synthesize(deduped)
            self.score(synthetic, skip_score)
        self.run_info["seconds"] = round(time.perf_counter() - self.started, 3)
        _write_json(self.out / RUN_FILE, self.run_info)
        return self.run_info

    def prepare(self, shards: Sequence[str | os.PathLike[str]]) -> list[str]:
        from alignkit.webr.prepare import PrepareStage, prepare

        t0 = time.perf_counter()
        cfg = self.opts.prepare
        prep = prepare(
            shards,
            self.dirs["prepare"],
            cfg,
            progress=self.progress,
            overwrite=self.overwrite_for("prepare", PrepareStage.name, cfg.fingerprint()),
            executor=self.executor,
        )
        tasks = prep["report"]["tasks"]
        self.finish(
            "prepare",
            {
                "status": _status(tasks),
                "dir": str(self.dirs["prepare"]),
                "shards_total": prep["shards_total"],
                "shards_done": prep["shards_done"],
                "shards_skipped_existing": prep["shards_skipped_existing"],
                "failed_shards": prep["failed_shards"],
                "records_seen": prep.get("records_seen", 0),
                "documents_kept": prep.get("documents_kept", 0),
                "languages": prep.get("languages", {}),
                "seconds": round(time.perf_counter() - t0, 3),
            },
            f"{prep.get('documents_kept', 0)} documents from {prep['shards_done']}/"
            f"{prep['shards_total']} shard(s) ({prep['shards_skipped_existing']} already done)",
        )
        if prep["failed_shards"]:
            raise PipelineError("prepare", prep["failed_shards"])
        if not prep.get("documents_kept"):
            raise NothingProducedError(
                f"prepare kept no document from {prep['shards_total']} shard(s) (see "
                f"{self.dirs['prepare'] / '.alignkit' / 'stats.json'})"
            )
        return sorted(prep["outputs"].values())

    def dedup(self, prepared: list[str]) -> list[str]:
        from alignkit.webr.dedup import DedupStage, dedup_files

        t0 = time.perf_counter()
        cfg = self.opts.dedup
        ded = dedup_files(
            prepared,
            self.dirs["dedup"],
            cfg,
            progress=self.progress,
            overwrite=self.overwrite_for("dedup", DedupStage.name, cfg.fingerprint()),
            executor=self.executor,
        )
        tasks = ded.get("report", {}).get("tasks", {})
        status = _status(tasks) if tasks else "ran"
        self.finish(
            "dedup",
            {
                "status": status,
                "dir": str(self.dirs["dedup"]),
                **{
                    k: ded[k]
                    for k in (
                        "docs_in",
                        "docs_kept",
                        "exact_removed",
                        "near_removed",
                        "duplicate_clusters",
                        "threshold",
                    )
                },
                "seconds": round(time.perf_counter() - t0, 3),
            },
            f"{ded['docs_kept']}/{ded['docs_in']} documents kept ({ded['exact_removed']} exact, "
            f"{ded['near_removed']} near duplicates removed)"
            + (", already done" if status == "skipped" else ""),
        )
        return sorted(ded["outputs"].values())

    def dry_run(self, deduped: list[str]) -> None:
        from alignkit.webr.synthesize import synthesize

        info = synthesize(
            deduped,
            self.dirs["synthesize"],
            config=self.opts.synthesize,
            dry_run=True,
            echo=self.echo,
        )
        self.finish(
            "synthesize",
            {"status": "dry_run", "documents": info["documents"]},
            f"dry run: {info['documents']} documents, prompts above, no LLM calls",
        )
        self.run_info["stages"]["score"] = {"skipped": "dry run"}
        self.echo("[4/4] score: skipped (dry run)")

    def synthesize(self, deduped: list[str]) -> Path:
        from alignkit.webr.synthesize import STAGE_NAME, SynthesizeStage, synthesize

        t0 = time.perf_counter()
        cfg = self.opts.synthesize
        syn = synthesize(
            deduped,
            self.dirs["synthesize"],
            config=cfg,
            progress=self.progress,
            overwrite=self.overwrite_for(
                "synthesize", STAGE_NAME, SynthesizeStage(cfg).fingerprint()
            ),
            retry_failed=self.retry_failed,
            executor=self.executor,
        )
        status = _status(syn["tasks"])
        self.finish(
            "synthesize",
            {
                "status": status,
                "dir": str(self.dirs["synthesize"]),
                "output": syn["output"],
                "documents": syn["documents"],
                "written": syn["written"],
                "families": syn["families"],
                "dropped": syn["dropped"],
                "failures": syn["failures"],
                "llm_requests_sent": syn["sent_now"],
                "seconds": round(time.perf_counter() - t0, 3),
            },
            f"{syn['written']} examples written, {syn['sent_now']} LLM request(s) sent, "
            f"{syn['failures']} failure(s)" + (", already done" if status == "skipped" else ""),
        )
        return Path(syn["output"])

    def score(self, dataset: Path, skip_score: bool) -> None:
        t0 = time.perf_counter()
        cfg = (
            self.opts.score
            if self.opts.score.names
            else self.opts.score.replace(names=("synthetic",))
        )
        reason = (
            "skipped on request (--skip-score)" if skip_score else _score_unavailable(cfg.model)
        )
        if reason is not None:
            level = logging.INFO if skip_score else logging.WARNING
            log.log(level, "score stage skipped: %s", reason)
            self.run_info["stages"]["score"] = {"skipped": reason}
            self.echo(f"[4/4] score: skipped ({reason})")
            return
        from alignkit.stage import run_stage
        from alignkit.webr.score import REPORT_JSON, ScoreStage

        stage = ScoreStage(cfg)
        done = run_stage(
            stage,
            [str(dataset)],
            self.dirs["score"],
            overwrite=self.overwrite_for("score", stage.name, stage.fingerprint()),
            progress=self.progress,
        )
        if done.failures:
            raise PipelineError(done.stage, done.failures)
        report = json.loads((self.dirs["score"] / REPORT_JSON).read_text(encoding="utf-8"))
        status = _status(done.to_dict()["tasks"])
        summary = _score_summary(report)
        self.finish(
            "score",
            {
                "status": status,
                "dir": str(self.dirs["score"]),
                **summary,
                "seconds": round(time.perf_counter() - t0, 3),
            },
            f"{summary.get('examples')} examples scored"
            + "".join(
                f", {field} diversity {d['embedding_diversity']:.4f}"
                for field, d in summary.get("diversity", {}).items()
                if d.get("embedding_diversity") is not None
            )
            + (", already done" if status == "skipped" else ""),
        )


def _score_unavailable(model: str | None) -> str | None:
    """Why the score stage cannot run here (its embedding model is missing), or None."""
    from alignkit.embed import encoder as embed

    try:
        embed.resolve_model_dir(model)
    except (ImportError, FileNotFoundError) as exc:
        return str(exc)
    return None
