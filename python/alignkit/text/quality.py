"""Language identification and document quality filters (Rust core), usable on plain texts.

The same code runs inside `alignkit webr prepare`; these functions expose it for any texts.
Settings and their defaults are described in docs/quality-filters.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from alignkit import _core


class LanguageGuess(NamedTuple):
    lang: str
    """ISO 639-1 code, e.g. "en"."""
    confidence: float
    script: str


class FilterResult(NamedTuple):
    kept: bool
    text: str | None
    """The cleaned text (line cleanup, optional PII scrubbing) when kept."""
    reason: str | None
    """The filter that dropped the document (a `stats.json` key), when dropped."""
    detail: str | None


def default_quality_settings() -> dict[str, Any]:
    """The quality filters' default settings, by name (the Rust core is the source of truth)."""
    return dict(_core.default_quality_config())


def detect_language(text: str) -> LanguageGuess | None:
    guess = _core.detect_language(text)
    return None if guess is None else LanguageGuess(*guess)


def detect_languages(
    texts: Sequence[str], *, workers: int | None = None
) -> list[LanguageGuess | None]:
    return [
        None if g is None else LanguageGuess(*g)
        for g in _core.detect_language_batch(list(texts), workers=workers)
    ]


def filter_texts(
    texts: Sequence[str],
    langs: Sequence[str | None] | None = None,
    *,
    workers: int | None = None,
    **settings: Any,
) -> list[FilterResult]:
    """Apply the quality filters; `settings` override defaults (None turns a filter off)."""
    unknown = sorted(set(settings) - set(default_quality_settings()))
    if unknown:
        raise ValueError(f"unknown quality setting(s): {', '.join(unknown)}")
    results = _core.quality_filter_batch(
        list(texts),
        None if langs is None else list(langs),
        settings,
        workers=workers,
    )
    return [FilterResult(*r) for r in results]


__all__ = [
    "FilterResult",
    "LanguageGuess",
    "default_quality_settings",
    "detect_language",
    "detect_languages",
    "filter_texts",
]
