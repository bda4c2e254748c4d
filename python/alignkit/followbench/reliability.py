"""Judge reliability: how far an LLM judge can be trusted, which the original leaves open.

- `judge_vs_rules`: on rule-scored items that the judge also scored, the rule verdict is the
  ground truth; reports agreement, Cohen's kappa and the judge's precision/recall/F1 for
  "satisfied", overall and per category.
- `judge_agreement`: two judges on the same items: agreement and kappa on the item verdict
  (all constraints hold) and on the individual constraint verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def binary_agreement(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """Agreement statistics of (reference, other) boolean pairs.

    `agreement` = share of equal pairs; `kappa` = Cohen's kappa (None when undefined, i.e. both
    raters constant on the same value); `confusion` = counts with the first of each pair as the
    reference: tp (both true), fp (other true only), fn (reference true only), tn.
    """
    n = len(pairs)
    tp = sum(1 for a, b in pairs if a and b)
    tn = sum(1 for a, b in pairs if not a and not b)
    fp = sum(1 for a, b in pairs if not a and b)
    fn = sum(1 for a, b in pairs if a and not b)
    out: dict[str, Any] = {
        "n": n,
        "agreement": None,
        "kappa": None,
        "precision": None,
        "recall": None,
        "f1": None,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }
    if n == 0:
        return out
    observed = (tp + tn) / n
    ref_yes, other_yes = (tp + fn) / n, (tp + fp) / n
    expected = ref_yes * other_yes + (1 - ref_yes) * (1 - other_yes)
    out["agreement"] = observed
    out["kappa"] = None if expected >= 1.0 else (observed - expected) / (1.0 - expected)
    if tp + fp:
        out["precision"] = tp / (tp + fp)
    if tp + fn:
        out["recall"] = tp / (tp + fn)
    if out["precision"] is not None and out["recall"] is not None and tp:
        out["f1"] = 2 * out["precision"] * out["recall"] / (out["precision"] + out["recall"])
    return out


def judge_vs_rules(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Rows with `category`, `rule_hard` (bool) and `judge_hard` (bool or None)."""
    pairs: list[tuple[bool, bool]] = []
    per_category: dict[str, list[tuple[bool, bool]]] = {}
    unparsable = 0
    for row in rows:
        if row.get("rule_hard") is None:
            continue
        if row.get("judge_hard") is None:
            unparsable += 1
            continue
        pair = (bool(row["rule_hard"]), bool(row["judge_hard"]))
        pairs.append(pair)
        per_category.setdefault(row["category"], []).append(pair)
    out = binary_agreement(pairs)
    out["judge_unscored"] = unparsable
    out["per_category"] = {c: binary_agreement(p) for c, p in per_category.items()}
    return out


def judge_agreement(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Rows with `category`, `verdicts` (judge 1) and `verdicts2` (judge 2), lists or None."""
    items: list[tuple[bool, bool]] = []
    constraints: list[tuple[bool, bool]] = []
    per_category: dict[str, list[tuple[bool, bool]]] = {}
    either_unscored = 0
    for row in rows:
        first, second = row.get("verdicts"), row.get("verdicts2")
        if first is None and second is None:
            continue
        if first is None or second is None or len(first) != len(second):
            either_unscored += 1
            continue
        pair = (all(first), all(second))
        items.append(pair)
        per_category.setdefault(row["category"], []).append(pair)
        constraints.extend(zip(first, second, strict=True))
    return {
        "items": binary_agreement(items),
        "constraints": binary_agreement(constraints),
        "either_unscored": either_unscored,
        "per_category": {c: binary_agreement(p) for c, p in per_category.items()},
    }
