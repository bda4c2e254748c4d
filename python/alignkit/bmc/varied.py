"""Varied tokens of a (pseudo-winning, losing) pair and the stop words excluded from them.

The matcher is `alignkit._core.sequence_opcodes`, which gives exactly the opcodes of
`difflib.SequenceMatcher(None, a, b).get_opcodes()` (autojunk on) in Rust; the losing response
is `a` and the pseudo-winning one `b`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alignkit import _core

# Common English function words (articles, pronouns, auxiliaries, prepositions, conjunctions,
# a few adverbs): tokens a minimal revision touches without changing what is said.
_STOP_WORD_TEXT = """
a an the this that these those there here
i me my mine myself we us our ours ourselves you your yours yourself yourselves
he him his himself she her hers herself it its itself they them their theirs themselves
who whom whose which what when where why how
am is are was were be been being have has had having do does did doing done
will would shall should can could may might must ought
and or but nor so yet if then else than because while although though unless until
as at by for from in into of off on onto out over under up down to with without
about above after again against along among around before behind below beneath beside
between beyond during except inside near since through throughout toward towards upon
within across via per
not no only own same such too very just also even ever still already
all any both each few more most other some many much several either neither every
s t don't doesn't didn't isn't aren't wasn't weren't won't can't
"""
STOP_WORDS: tuple[str, ...] = tuple(_STOP_WORD_TEXT.split())


def stop_word_token_ids(tokenizer: Any, words: Iterable[str] = STOP_WORDS) -> set[int]:
    """Ids of the stop words that `tokenizer` encodes as one token.

    Each word is tried as is, with a leading space, capitalised, and capitalised with a leading
    space (BPE vocabularies keep these apart). `tokenizer` is a `transformers` tokenizer or a
    `tokenizers.Tokenizer`.
    """
    ids: set[int] = set()
    for word in words:
        for form in {word, word.capitalize()}:
            for text in (form, " " + form):
                encoded = _encode(tokenizer, text)
                if len(encoded) == 1:
                    ids.add(int(encoded[0]))
    return ids


def _encode(tokenizer: Any, text: str) -> list[int]:
    from tokenizers import Tokenizer

    if isinstance(tokenizer, Tokenizer):
        return list(tokenizer.encode(text, add_special_tokens=False).ids)
    return list(tokenizer.encode(text, add_special_tokens=False))


def sequence_opcodes(a: Sequence[int], b: Sequence[int]) -> list[tuple[str, int, int, int, int]]:
    """`difflib.SequenceMatcher(None, a, b).get_opcodes()` for integer sequences, in Rust."""
    return _core.sequence_opcodes(a, b)


def varied_token_masks(
    pseudo_chosen_ids: Sequence[Sequence[int]],
    rejected_ids: Sequence[Sequence[int]],
    stop_token_ids: Iterable[int] | None = None,
    *,
    workers: int | None = None,
) -> tuple[list[list[bool]], list[list[bool]]]:
    """Per-token varied masks of each (pseudo-winning, losing) pair.

    Losing tokens in `replace`/`delete` opcodes and pseudo-winning tokens in `replace`/`insert`
    opcodes are varied, except stop-word tokens. Returns `(chosen_masks, rejected_masks)`.
    Pairs run in parallel in Rust (`workers` threads, default all cores), GIL released.
    """
    stop = None if stop_token_ids is None else list(stop_token_ids)
    return _core.varied_token_masks(pseudo_chosen_ids, rejected_ids, stop, workers=workers)
