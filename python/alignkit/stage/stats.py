"""Typed, mergeable statistics: what every task reports and every stage sums.

`Counts` is a nested mapping of numbers (`{"records": 12, "dropped": {"too_short": 3}}`) that
merges by adding leaf values, so per-task statistics from any executor, in any completion order,
sum to the same totals. Drops and skips are always counted reasons, never free text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

Number = int | float


class Counts(dict[str, Any]):
    """A nested dict of numbers that adds up (see the module docstring)."""

    def add(self, key: str, amount: Number = 1) -> Counts:
        self[key] = self.get(key, 0) + amount
        return self

    def reason(self, group: str, reason: str, amount: int = 1) -> Counts:
        """Count one occurrence of `reason` under `group` (e.g. "dropped", "too_few_words")."""
        sub = self.setdefault(group, Counts())
        if not isinstance(sub, Counts):
            sub = self[group] = Counts(sub)
        sub.add(reason, amount)
        return self

    def merge(self, other: Mapping[str, Any]) -> Counts:
        """Add `other` into this (in place); returns self. Non-numeric leaves must agree."""
        for key, value in other.items():
            mine = self.get(key)
            if isinstance(value, Mapping):
                sub = mine if isinstance(mine, Counts) else Counts(mine or {})
                self[key] = sub.merge(value)
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                if mine is not None and mine != value:
                    raise ValueError(f"cannot merge {key}: {mine!r} != {value!r}")
                self[key] = value
            else:
                self[key] = (mine or 0) + value
        return self

    @classmethod
    def total(cls, parts: Iterable[Mapping[str, Any]]) -> Counts:
        merged = cls()
        for part in parts:
            merged.merge(part)
        return merged

    def plain(self) -> dict[str, Any]:
        return {
            k: (v.plain() if isinstance(v, Counts) else dict(v) if isinstance(v, Mapping) else v)
            for k, v in sorted(self.items())
        }


@dataclasses.dataclass
class LLMUsage:
    """One accounting scheme for every batch of LLM calls (synthesis, bridging, judging...).

    `requests`: asked for; `unique`: after identical requests were folded; `cached`: answered from
    the response cache; `sent`: sent now; `failed`: by error kind (sent now);
    `skipped_failed`: failed in an earlier run and not retried; `dropped`: answers received but not
    used, by reason (refusal, truncated, ...); tokens as the backend reported them.
    """

    requests: int = 0
    unique: int = 0
    cached: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped_failed: int = 0
    retried_failed: int = 0
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        """Requests without an answer now: failed this run or skipped as failed before."""
        return sum(self.failed.values()) + self.skipped_failed

    def drop(self, reason: str, amount: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + amount

    def merge(self, other: LLMUsage) -> LLMUsage:
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, dict):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
            else:
                setattr(self, f.name, mine + theirs)
        return self

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> LLMUsage:
        """From the summary `alignkit.llm.run_requests` returns."""
        return cls(
            requests=int(summary.get("requests", 0)),
            unique=int(summary.get("unique", 0)),
            cached=int(summary.get("from_cache", 0)),
            sent=int(summary.get("sent", 0)),
            succeeded=int(summary.get("succeeded", 0)),
            failed={str(k): int(v) for k, v in (summary.get("error_kinds") or {}).items()},
            skipped_failed=int(summary.get("skipped_failed", 0)),
            retried_failed=int(summary.get("retried_failed", 0)),
            attempts=int(summary.get("attempts", 0)),
            prompt_tokens=int(summary.get("prompt_tokens", 0)),
            completion_tokens=int(summary.get("completion_tokens", 0)),
            seconds=float(summary.get("elapsed_s", 0.0)),
        )

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> LLMUsage:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["seconds"] = round(self.seconds, 3)
        out["failures"] = self.failures
        return out
