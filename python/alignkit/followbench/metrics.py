"""FollowBench metrics and the paper's aggregation tables.

Per category c and level l, over the chains of c whose level-l item was scored:

- HSR (hard satisfaction rate): mean of "every constraint up to l is satisfied";
- SSR (soft satisfaction rate): mean of the fraction of the l constraints satisfied (a rule-scored
  item has one verdict for all its constraints, so it counts 1 or 0 in both);
- CSL (consistent satisfaction levels), per category: mean over chains of the number of
  consecutive levels, from level 1, whose item is fully satisfied (chains with an unscored level
  are left out).

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
        counts: dict[int, int] = {}
        unscored: dict[int, int] = {}
        for level in LEVELS:
            items = [c[level] for c in chains.values() if level in c]
            scored = [s for s in items if s.scored]
            hsr[level] = _mean([float(bool(s.hard)) for s in scored])
            ssr[level] = _mean([float(s.soft or 0.0) for s in scored])
            counts[level] = len(scored)
            unscored[level] = len(items) - len(scored)
        consistent = []
        for chain in chains.values():
            levels = [chain.get(level) for level in LEVELS]
            if any(s is None or not s.scored for s in levels):
                continue
            run = 0
            for level_score in levels:
                if level_score is None or not level_score.hard:
                    break
                run += 1
            consistent.append(float(run))
        out[category] = {
            "hsr": hsr,
            "ssr": ssr,
            "csl": _mean(consistent),
            "n_chains": len(chains),
            "n_csl_chains": len(consistent),
            "n_scored": counts,
            "n_unscored": unscored,
        }
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
    tables: dict[str, Any] = {"categories": categories, "level": {}, "category": {}}
    for metric in ("hsr", "ssr"):
        row: dict[str, float | None] = {}
        for level in LEVELS:
            row[str(level)] = _mean_present(per_category[c][metric][level] for c in categories)
        row["avg"] = _mean_present(row[str(level)] for level in LEVELS)
        tables["level"][metric] = row
    for c in categories:
        tables["category"][c] = {
            "hsr": _mean_present(per_category[c]["hsr"].values()),
            "ssr": _mean_present(per_category[c]["ssr"].values()),
            "csl": per_category[c]["csl"],
        }
    tables["csl"] = _mean_present(per_category[c]["csl"] for c in categories)
    return tables


def as_percent(value: float | None, digits: int = 1) -> str:
    """`0.4567` -> `45.7`; None/NaN -> `-`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.{digits}f}"
