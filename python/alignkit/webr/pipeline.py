"""`alignkit webr run`: the whole WebR pipeline in one resumable call.

`run_pipeline(shards, out_dir, llm)` chains the existing stages, each into its own subfolder:

    OUT/1-prepare     `alignkit.webr.prepare.prepare`           (WARC shards -> documents)
    OUT/2-dedup       `alignkit.webr.dedup.dedup_files`         (exact + near duplicates removed)
    OUT/3-synthesize  `alignkit.webr.synthesize.synthesize`     (documents -> chat `messages`)
    OUT/4-score       `alignkit.webr.score.score_datasets`      (diversity report)

Resuming relies on each stage's own bookkeeping: prepare and dedup are always called and skip
finished shards through their completion markers; synthesize is skipped when its `stats.json`,
output and `_config.json` say it finished with this configuration on these inputs (otherwise it
is called again and resumes from its LLM response cache); score is skipped when its report is
newer than the synthetic data and was made with the same settings. A stage whose configuration
changed refuses with its own error unless `overwrite=True`. `OUT/run.json` summarises every
stage (written atomically after each stage).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from alignkit._defaults import DEFAULT_LLM_SPEC

log = logging.getLogger(__name__)

STAGE_DIRS = {
    "prepare": "1-prepare",
    "dedup": "2-dedup",
    "synthesize": "3-synthesize",
    "score": "4-score",
}
RUN_FILE = "run.json"
DEMO_INPUT_DIR = "_demo_input"
DEMO_STAMP = "_demo.json"
RUN_VERSION = 1


class PipelineError(RuntimeError):
    """A stage finished with failures that the next stages cannot build on."""


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """The per-stage settings `run_pipeline` exposes (everything else keeps the stage's default)."""

    mode: str = "plain"
    langs: tuple[str, ...] = ()
    workers: int = 1
    threshold: float = 0.7
    target_size: int | None = None
    max_docs: int | None = None
    seed: int = 0
    concurrency: int = 16
    temperature: float = 0.7
    frequency_penalty: float | None = None
    max_tokens: int = 2048
    max_page_chars: int = 20000
    score_cache_dir: str | None = None
    """Embedding cache of the score stage; None = the score stage's default."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "langs", tuple(self.langs))
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


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


def _marker_times(directory: Path) -> dict[str, int]:
    """Completion markers of a stage (`_done/*.json`) and their mtimes."""
    from alignkit.webr.prepare import MARKER_DIR

    return {p.name: p.stat().st_mtime_ns for p in sorted((directory / MARKER_DIR).glob("*.json"))}


def _config_changed(directory: Path, wanted: dict[str, Any]) -> bool:
    """Whether a stage's recorded configuration (`_config.json`) differs from `wanted`; the
    stages' own `overwrite` also redoes finished work, so it is only passed on when needed."""
    from alignkit.webr.prepare import CONFIG_FILE

    path = directory / CONFIG_FILE
    if not path.exists():
        return False
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")) != wanted)
    except (OSError, ValueError):
        return True


def _newest_mtime(paths: Iterable[str | os.PathLike[str]]) -> int:
    return max((os.stat(p).st_mtime_ns for p in paths), default=0)


def _synthesis_finished(
    out: Path, inputs: Sequence[str], docs_in: int, config: Any, llm: str, retry_failed: bool
) -> dict[str, Any] | None:
    """The stats of a synthesis run that finished with this configuration on these inputs."""
    from alignkit.webr import synthesize as syn

    try:
        stats = json.loads((out / syn.STATS_FILE).read_text(encoding="utf-8"))
        recorded = json.loads((out / syn.CONFIG_FILE).read_text(encoding="utf-8"))
        stats_mtime = (out / syn.STATS_FILE).stat().st_mtime_ns
    except (OSError, ValueError):
        return None
    if not isinstance(stats, dict) or recorded != syn._fingerprint(config, llm):
        return None
    if not Path(str(stats.get("output", ""))).is_file():
        return None
    if stats.get("documents", {}).get("read") != docs_in or stats_mtime < _newest_mtime(inputs):
        return None
    if retry_failed and stats.get("failures"):
        return None
    return stats


def _score_finished(out: Path, dataset: Path, config: Any) -> dict[str, Any] | None:
    from alignkit.webr import score as sc

    try:
        report = json.loads((out / sc.REPORT_JSON).read_text(encoding="utf-8"))
        fresh = (out / sc.REPORT_JSON).stat().st_mtime_ns >= dataset.stat().st_mtime_ns
    except (OSError, ValueError):
        return None
    if not fresh or not (out / sc.REPORT_HTML).is_file() or not isinstance(report, dict):
        return None
    recorded = report.get("config", {})
    wanted = dataclasses.asdict(config)
    if any(recorded.get(k) != v for k, v in wanted.items()):
        return None
    return report


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
    llm: str | None = DEFAULT_LLM_SPEC,
    options: PipelineOptions | None = None,
    *,
    overwrite: bool = False,
    dry_run: bool = False,
    skip_score: bool = False,
    retry_failed: bool = False,
    progress: bool | str = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run prepare -> dedup -> synthesize -> score into `out_dir`; returns what `run.json` holds.

    `llm`: a backend spec; the default `transformers` is the embedded SmolLM2-135M-Instruct.
    `progress`: True for bars, "log" for periodic log lines from the LLM stages, False for none.
    `echo` gets one progress line per stage (and, with `dry_run`, the synthesis prompts).
    `dry_run` runs prepare and dedup, prints the first prompts of synthesis without calling the
    LLM, and skips score. Raises the stage's own error (a `ValueError`) when a stage's output
    directory holds results of another configuration and `overwrite` is not given.
    """
    opts = options or PipelineOptions()
    if not dry_run:
        if not llm:
            raise ValueError("an LLM backend spec is required (or use dry_run)")
        from alignkit.llm import parse_backend_spec

        parse_backend_spec(llm)  # a bad spec fails before any work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {"run_version": RUN_VERSION, "out": str(out), "stages": {}}
    try:
        return _run(
            shards,
            out,
            llm,
            opts,
            run,
            overwrite,
            dry_run,
            skip_score,
            retry_failed,
            progress,
            echo,
        )
    except PipelineError:
        raise  # the failing stage's entry already says why
    except BaseException as exc:
        failed = next((n for n in STAGE_DIRS if n not in run["stages"]), "setup")
        run["stages"][failed] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        _write_json(out / RUN_FILE, run)
        raise


def _run(
    shards: Sequence[str | os.PathLike[str]],
    out: Path,
    llm: str | None,
    opts: PipelineOptions,
    run: dict[str, Any],
    overwrite: bool,
    dry_run: bool,
    skip_score: bool,
    retry_failed: bool,
    progress: bool | str,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    from alignkit.webr.dedup import DedupConfig, dedup_files
    from alignkit.webr.prepare import PrepareConfig, prepare
    from alignkit.webr.synthesize import SynthesizeConfig, synthesize

    llm_spec = llm or "openai:dry-run@http://127.0.0.1:1/v1"
    dirs = {name: out / sub for name, sub in STAGE_DIRS.items()}
    started = time.perf_counter()
    run.update(
        llm=llm,
        dry_run=dry_run,
        options={**dataclasses.asdict(opts), "langs": list(opts.langs)},
    )
    stages: dict[str, Any] = run["stages"]

    def finish(name: str, entry: dict[str, Any], line: str) -> None:
        stages[name] = entry
        run["seconds"] = round(time.perf_counter() - started, 3)
        _write_json(out / RUN_FILE, run)
        echo(f"[{list(STAGE_DIRS).index(name) + 1}/4] {name}: {line}")

    # 1. prepare
    t0 = time.perf_counter()
    prep_config = PrepareConfig(mode=opts.mode, languages=opts.langs)
    prep = prepare(
        shards,
        dirs["prepare"],
        prep_config,
        workers=opts.workers,
        progress=progress is True,
        overwrite=overwrite and _config_changed(dirs["prepare"], prep_config.fingerprint()),
    )
    skipped = prep["shards_skipped_existing"] == prep["shards_total"] and not prep["failed_shards"]
    finish(
        "prepare",
        {
            "status": "skipped" if skipped else "ran",
            "dir": str(dirs["prepare"]),
            "shards_total": prep["shards_total"],
            "shards_done": prep["shards_done"],
            "shards_skipped_existing": prep["shards_skipped_existing"],
            "failed_shards": prep["failed_shards"],
            "records_seen": prep["records_seen"],
            "documents_kept": prep["documents_kept"],
            "languages": prep["languages"],
            "seconds": round(time.perf_counter() - t0, 3),
        },
        f"{prep['documents_kept']} documents from {prep['shards_done']}/{prep['shards_total']} "
        f"shard(s) ({prep['shards_skipped_existing']} already done)",
    )
    if prep["failed_shards"]:
        raise PipelineError(
            f"prepare: {len(prep['failed_shards'])} shard(s) failed (see "
            f"{dirs['prepare'] / 'stats.json'}); fix them and re-run to resume"
        )
    from alignkit.webr.prepare import expand_shards, plan_tasks

    prepared = [t.output for t in plan_tasks(expand_shards(shards), dirs["prepare"], prep_config)]

    # 2. dedup
    t0 = time.perf_counter()
    before = _marker_times(dirs["dedup"])
    ded_config = DedupConfig(threshold=opts.threshold)
    ded = dedup_files(
        prepared,
        dirs["dedup"],
        ded_config,
        workers=opts.workers,
        progress=progress is True,
        overwrite=overwrite and _config_changed(dirs["dedup"], ded_config.fingerprint()),
    )
    skipped = bool(before) and before == _marker_times(dirs["dedup"])
    finish(
        "dedup",
        {
            "status": "skipped" if skipped else "ran",
            "dir": str(dirs["dedup"]),
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
        f"{ded['near_removed']} near duplicates removed)" + (", already done" if skipped else ""),
    )
    deduped = list(ded["outputs"].values())

    # 3. synthesize
    t0 = time.perf_counter()
    syn_config = SynthesizeConfig(
        seed=opts.seed,
        target_size=opts.target_size,
        max_docs=opts.max_docs,
        temperature=opts.temperature,
        frequency_penalty=opts.frequency_penalty,
        max_tokens=opts.max_tokens,
        max_page_chars=opts.max_page_chars,
    )
    if dry_run:
        info = synthesize(
            deduped, dirs["synthesize"], llm_spec, syn_config, dry_run=True, echo=echo
        )
        finish(
            "synthesize",
            {"status": "dry_run", "documents": info["documents"]},
            f"dry run: {info['documents']} documents, prompts above, no LLM calls",
        )
        stages["score"] = {"skipped": "dry run"}
        _write_json(out / RUN_FILE, run)
        echo("[4/4] score: skipped (dry run)")
        return run
    assert llm is not None
    syn = _synthesis_finished(
        dirs["synthesize"], deduped, ded["docs_kept"], syn_config, llm, retry_failed
    )
    syn_status = "skipped"
    if syn is None:
        syn_status = "ran"
        syn = synthesize(
            deduped,
            dirs["synthesize"],
            llm,
            syn_config,
            concurrency=opts.concurrency,
            progress=progress,
            overwrite=overwrite,
            retry_failed=retry_failed,
        )
    sent = sum(s.get("sent", 0) for s in syn["stages"].values()) if syn_status == "ran" else 0
    finish(
        "synthesize",
        {
            "status": syn_status,
            "dir": str(dirs["synthesize"]),
            "output": syn["output"],
            "documents": syn["documents"],
            "written": syn["written"],
            "families": syn["families"],
            "failures": syn["failures"],
            "llm_requests_sent": sent,
            "seconds": round(time.perf_counter() - t0, 3),
        },
        f"{syn['written']} examples written, {sent} LLM request(s) sent, "
        f"{syn['failures']} failure(s)" + (", already done" if syn_status == "skipped" else ""),
    )

    # 4. score
    t0 = time.perf_counter()
    reason: str | None
    if skip_score:
        reason = "skipped on request (--skip-score)"
    elif not syn["written"]:
        reason = "no synthetic examples to score"
    else:
        reason = _score_unavailable()
    if reason is not None:
        log.log(logging.INFO if skip_score else logging.WARNING, "score stage skipped: %s", reason)
        stages["score"] = {"skipped": reason}
        _write_json(out / RUN_FILE, run)
        echo(f"[4/4] score: skipped ({reason})")
    else:
        from alignkit.webr.score import DEFAULT_CACHE_DIR, ScoreConfig, score_datasets

        cache_dir = opts.score_cache_dir or str(DEFAULT_CACHE_DIR)
        score_config = ScoreConfig(cache_dir=cache_dir)
        dataset = Path(syn["output"])
        report = _score_finished(dirs["score"], dataset, score_config)
        status = "skipped"
        if report is None:
            status = "ran"
            report = score_datasets(
                [dataset],
                dirs["score"],
                score_config,
                names=["synthetic"],
                progress=progress is True,
            )
        summary = _score_summary(report)
        finish(
            "score",
            {
                "status": status,
                "dir": str(dirs["score"]),
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
    run["seconds"] = round(time.perf_counter() - started, 3)
    _write_json(out / RUN_FILE, run)
    return run


def _score_unavailable() -> str | None:
    """Why the score stage cannot run here (its default embedding model is missing), or None."""
    from alignkit.webr import embed

    try:
        embed.resolve_model_dir(None)
    except (ImportError, FileNotFoundError) as exc:
        return str(exc)
    return None
