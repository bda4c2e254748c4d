"""BMC bridging: an LLM revises each losing response minimally, with the winning response as
reference, into a pseudo-winning response close to the losing one.

Input and output are TRL preference pairs (`prompt` / `chosen` / `rejected`). Output pairs:
`chosen` = the bridged (pseudo-winning) response, `rejected` = the original losing response,
`original_chosen` = the original winning response, `pair_id`; other input columns are kept.
Failed LLM calls and empty, refused, truncated, unchanged or overlong revisions are dropped
and counted.

All requests go through the LLM layer in one batch with a response cache in the output
directory, so a re-run resumes without re-sending (`retry_failed=True` re-sends failures).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.bmc.data import PreferencePair, read_pairs, write_rows

log = logging.getLogger(__name__)

CACHE_FILE = "llm_cache.sqlite"
STATS_FILE = "stats.json"
SCHEMA_VERSION = 1

BRIDGE_PROMPT = """\
Improve a draft answer while changing as little of it as possible.

You get an instruction, a reference answer that is known to be good, and a draft answer that \
is known to be worse. Edit the draft only where it is wrong, missing something important, or \
says something undesirable compared with the reference. Leave every other word, sentence and \
the formatting of the draft exactly as they are. Do not replace the draft with the reference \
and do not comment on your edits.

### Instruction
{instruction}

### Reference answer
{reference}

### Draft answer
{draft}

Write only the revised draft answer and nothing after it."""

_LABEL = re.compile(
    r"^(?:\*\*)?(?:revised(?: draft)?(?: answer)?|answer)\s*:\s*(?:\*\*)?\s*", re.IGNORECASE
)


class BridgeConfigError(ValueError):
    """The output directory holds results of another bridging configuration."""


@dataclasses.dataclass(frozen=True)
class BridgeConfig:
    """What shapes the requests (and so the cache keys) of a bridging run."""

    temperature: float = 0.0
    max_tokens: int = 2048
    seed: int = 0
    max_pairs: int | None = None
    output_format: str = "jsonl"
    # A minimal revision stays near the responses' length; small models that keep talking after
    # the revision are caught here (None: no limit).
    max_length_ratio: float | None = 2.0

    def __post_init__(self) -> None:
        if self.output_format not in ("jsonl", "parquet"):
            raise ValueError("output_format must be 'jsonl' or 'parquet'")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ValueError("max_pairs must be >= 1")
        if self.max_length_ratio is not None and self.max_length_ratio <= 1.0:
            raise ValueError("max_length_ratio must be > 1 (or None for no limit)")

    @property
    def output_name(self) -> str:
        return "bridged.parquet" if self.output_format == "parquet" else "bridged.jsonl"


def bridging_prompt(pair: PreferencePair) -> str:
    """The user message asking for a minimal revision of the losing response."""
    return BRIDGE_PROMPT.format(
        instruction=pair.prompt_text.strip(),
        reference=pair.chosen_text.strip(),
        draft=pair.rejected_text.strip(),
    )


def clean_revision(text: str | None) -> str:
    """The revision without surrounding whitespace or a leading `Revised answer:` label."""
    return _LABEL.sub("", (text or "").strip(), count=1).strip()


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _drop_reason(
    result: Any, text: str, pair: PreferencePair, max_length_ratio: float | None
) -> str | None:
    from alignkit.webr.synthesize import is_refusal

    if not result.ok:
        return "llm_failed"
    if not text:
        return "empty"
    if result.finish_reason == "length":
        return "truncated"
    if is_refusal(text) and not is_refusal(pair.rejected_text):
        return "refusal"
    if _same_text(text, pair.rejected_text):
        return "unchanged"
    longest = max(len(pair.chosen_text.strip()), len(pair.rejected_text.strip()))
    if max_length_ratio is not None and len(text) > max_length_ratio * longest:
        return "too_long"
    return None


def bridge_row(pair: PreferencePair, bridged: str) -> dict[str, Any]:
    """The output row of a bridged pair."""
    row = dict(pair.extra)
    row.update(
        prompt=pair.prompt,
        chosen=pair.with_response(pair.rejected, bridged),
        rejected=pair.rejected,
        original_chosen=pair.chosen,
        pair_id=pair.pair_id,
    )
    return row


def bridge(
    pairs: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    llm: str = DEFAULT_LLM_SPEC,
    config: BridgeConfig | None = None,
    *,
    concurrency: int = 16,
    progress: bool = True,
    overwrite: bool = False,
    retry_failed: bool = False,
    backend_options: dict[str, Any] | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Bridge every pair of `pairs` (a dataset path, or rows) into `out_dir`.

    Writes `bridged.jsonl` (or `.parquet`) and `stats.json`; returns the stats. `llm` is a
    backend spec of `alignkit.llm.make_backend` (default: the embedded default model).
    `dry_run=True` prints the first bridging prompt through `echo` and calls no LLM.
    """
    from alignkit.data.io import atomic_write_json
    from alignkit.llm import ChatRequest, ResponseCache, make_backend, parse_backend_spec
    from alignkit.webr.prepare import check_recorded_config

    config = config or BridgeConfig()
    started = time.perf_counter()
    if not dry_run:
        parse_backend_spec(llm)  # a bad spec fails before any work
    items, bad_rows, rows_read = read_pairs(pairs, max_pairs=config.max_pairs)
    if dry_run:
        if items:
            echo(bridging_prompt(items[0]))
        return {"dry_run": True, "pairs": len(items), "bad_rows": dict(bad_rows)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # What shapes the requests; the output is rebuilt from the cache on every run, so the
    # other settings (max_pairs, format, length ratio) may change between runs.
    fingerprint = {
        "schema_version": SCHEMA_VERSION,
        "prompt": BRIDGE_PROMPT,
        "llm": llm,
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "seed": config.seed,
    }
    check_recorded_config(out, fingerprint, overwrite, BridgeConfigError)

    requests = [
        ChatRequest.from_prompt(
            bridging_prompt(p),
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            seed=(config.seed * 1_000_003 + int(p.pair_id[:8], 16)) % (1 << 31),
        )
        for p in items
    ]
    llm_stats: dict[str, Any] = {"requests": 0, "sent": 0, "from_cache": 0, "failures": 0}
    error_kinds: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    drops: Counter[str] = Counter()
    if requests:
        from alignkit.llm import run_requests

        backend = make_backend(llm, concurrency=concurrency, **(backend_options or {}))
        with ResponseCache(out / CACHE_FILE) as cache:
            results, summary = run_requests(
                backend,
                requests,
                cache,
                progress=progress,
                retry_failed=retry_failed,
                desc="bridge",
            )
        for key in (
            "requests",
            "sent",
            "from_cache",
            "skipped_failed",
            "prompt_tokens",
            "completion_tokens",
        ):
            llm_stats[key] = summary.get(key, 0)
        for pair, result in zip(items, results, strict=True):
            text = clean_revision(result.text) if result.ok else ""
            reason = _drop_reason(result, text, pair, config.max_length_ratio)
            if not result.ok:
                llm_stats["failures"] += 1
                error_kinds[result.error_kind or "error"] += 1
            if reason is None:
                rows.append(bridge_row(pair, text))
            else:
                drops[reason] += 1
    llm_stats["error_kinds"] = dict(error_kinds)
    output = out / config.output_name
    write_rows(output, rows)
    stats: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "llm": llm,
        "rows_read": rows_read,
        "bad_rows": dict(bad_rows),
        "pairs": len(items),
        "llm_stats": llm_stats,
        "dropped": dict(drops),
        "written": len(rows),
        "failures": llm_stats["failures"],
        "output": str(output),
        "seconds": round(time.perf_counter() - started, 3),
    }
    atomic_write_json(out / STATS_FILE, stats)
    log.info(
        "bridged %d of %d pairs (%s dropped), %d LLM failures",
        len(rows),
        len(items),
        sum(drops.values()),
        llm_stats["failures"],
    )
    return stats
