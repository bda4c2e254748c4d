"""FollowBench metrics and the paper's aggregation tables.

Per category c and level l, over the chains of c whose level-l item was scored:

- HSR (hard satisfaction rate): mean of "every constraint up to l is satisfied";
- SSR (soft satisfaction rate): mean of the fraction of the l constraints satisfied (a rule-scored
  item has one verdict for all its constraints, so it counts 1 or 0 in both);
- CSL (consistent satisfaction levels), per category: mean over chains of the number of
  consecutive levels, from level 1, whose item is fully satisfied. A chain whose run ends at an
  unscored item (hard None: its length is unknown) is left out; a chain whose run ends at a
  failed level counts whatever comes after.

Every cell has a standard error as lm-evaluation-harness computes it for a mean: the sample
standard deviation of the per-chain values (0/1 for HSR) over the square root of their number.
A mean over categories (or over levels within a chain) gets the standard error of that mean,
taking its parts as independent.

Headline tables as the paper aggregates them: per level, the mean over the categories (the six of
FollowBench when all are present); "Avg." = mean over the five levels; per category, the mean over
levels; CSL per category and its mean over categories.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alignkit.followbench.data import CATEGORIES, LEVELS


@dataclasses.dataclass(frozen=True)
class ItemScore:
    """The verdict on one item: `hard` = all constraints hold, `soft` = share that hold.

    `hard`/`soft` are None when the item could not be scored (generation failed, judge reply
    unparsable); such items are counted, not guessed.
    """

    chain_id: str
    category: str
    level: int
    hard: bool | None
    soft: float | None
    scorer: str

    @property
    def scored(self) -> bool:
        return self.hard is not None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def mean_stderr(values: Sequence[float]) -> float | None:
    """Standard error of the mean (sample std, n - 1), as lm-eval's `mean_stderr`; None for
    fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    mu = sum(values) / n
    return math.sqrt(sum((v - mu) ** 2 for v in values) / (n - 1) / n)


def _stderr_of_mean_of(stderrs: Sequence[float | None]) -> float | None:
    """Standard error of the mean of independent estimates with these standard errors."""
    present = [e for e in stderrs if e is not None]
    if not present or len(present) != len(stderrs):
        return None
    return math.sqrt(sum(e * e for e in present)) / len(present)


def category_level_metrics(scores: Iterable[ItemScore]) -> dict[str, Any]:
    """{category: {"hsr": {level: x}, "ssr": {...}, "csl": x, "n": {level: scored}, ...}}."""
    by_cat: dict[str, dict[str, dict[int, ItemScore]]] = {}
    for s in scores:
        by_cat.setdefault(s.category, {}).setdefault(s.chain_id, {})[s.level] = s
    out: dict[str, Any] = {}
    for category in sorted(by_cat, key=_category_order):
        chains = by_cat[category]
        hsr: dict[int, float | None] = {}
        ssr: dict[int, float | None] = {}
        stderr: dict[str, dict[int, float | None]] = {"hsr": {}, "ssr": {}}
        counts: dict[int, int] = {}
        unscored: dict[int, int] = {}
        for level in LEVELS:
            items = [c[level] for c in chains.values() if level in c]
            scored = [s for s in items if s.scored]
            hard = [float(bool(s.hard)) for s in scored]
            soft = [float(s.soft or 0.0) for s in scored]
            hsr[level], ssr[level] = _mean(hard), _mean(soft)
            stderr["hsr"][level], stderr["ssr"][level] = mean_stderr(hard), mean_stderr(soft)
            counts[level] = len(scored)
            unscored[level] = len(items) - len(scored)
        consistent = [
            run for run in (_consistent_levels(c) for c in chains.values()) if run is not None
        ]
        averages = {m: _chain_level_averages(chains.values(), m) for m in ("hsr", "ssr")}
        out[category] = {
            "hsr": hsr,
            "ssr": ssr,
            "csl": _mean(consistent),
            "stderr": {
                **stderr,
                "hsr_avg": mean_stderr(averages["hsr"]),
                "ssr_avg": mean_stderr(averages["ssr"]),
                "csl": mean_stderr(consistent),
            },
            "n_chains": len(chains),
            "n_csl_chains": len(consistent),
            "n_scored": counts,
            "n_unscored": unscored,
        }
    return out


def _consistent_levels(chain: Mapping[int, ItemScore]) -> float | None:
    """Fully satisfied levels in a row from level 1; None when the run ends at an unscored or
    absent level (its length is unknown)."""
    run = 0
    for level in LEVELS:
        score = chain.get(level)
        if score is None or not score.scored:
            return None
        if not score.hard:
            break
        run += 1
    return float(run)


def _chain_level_averages(chains: Iterable[Mapping[int, ItemScore]], metric: str) -> list[float]:
    """Per chain with all five levels scored, the mean over its levels (the unit whose spread
    gives the standard error of a category's level average)."""
    out = []
    for chain in chains:
        scores = [chain.get(level) for level in LEVELS]
        if any(s is None or not s.scored for s in scores):
            continue
        values = [float(bool(s.hard)) if metric == "hsr" else float(s.soft or 0.0) for s in scores]
        out.append(sum(values) / len(values))
    return out


def _category_order(category: str) -> int:
    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)


def _mean_present(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return _mean(present)


def paper_tables(per_category: Mapping[str, Any]) -> dict[str, Any]:
    """The paper's tables from `category_level_metrics` output.

    `level`: {"hsr": {1..5, "avg"}, "ssr": {...}} - per level the mean over categories, avg the
    mean over the five levels; `category`: {c: {"hsr": mean over levels, "ssr": ..., "csl": ...}};
    `csl`: mean over categories of the per-category CSL.
    """
    categories = [c for c in per_category]
    tables: dict[str, Any] = {
        "categories": categories,
        "level": {},
        "level_stderr": {},
        "category": {},
    }
    for metric in ("hsr", "ssr"):
        row: dict[str, float | None] = {}
        err: dict[str, float | None] = {}
        for level in LEVELS:
            present = [c for c in categories if per_category[c][metric][level] is not None]
            row[str(level)] = _mean_present(per_category[c][metric][level] for c in present)
            err[str(level)] = _stderr_of_mean_of(
                [per_category[c]["stderr"][metric][level] for c in present]
            )
        row["avg"] = _mean_present(row[str(level)] for level in LEVELS)
        err["avg"] = _stderr_of_mean_of(
            [per_category[c]["stderr"][f"{metric}_avg"] for c in categories]
        )
        tables["level"][metric] = row
        tables["level_stderr"][metric] = err
    for c in categories:
        stderr = per_category[c]["stderr"]
        tables["category"][c] = {
            "hsr": _mean_present(per_category[c]["hsr"].values()),
            "ssr": _mean_present(per_category[c]["ssr"].values()),
            "csl": per_category[c]["csl"],
            "hsr_stderr": stderr["hsr_avg"],
            "ssr_stderr": stderr["ssr_avg"],
            "csl_stderr": stderr["csl"],
        }
    with_csl = [c for c in categories if per_category[c]["csl"] is not None]
    tables["csl"] = _mean_present(per_category[c]["csl"] for c in with_csl)
    tables["csl_stderr"] = _stderr_of_mean_of([per_category[c]["stderr"]["csl"] for c in with_csl])
    return tables


def as_percent(value: float | None, digits: int = 1) -> str:
    """`0.4567` -> `45.7`; None/NaN -> `-`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.{digits}f}"
