"""Varied tokens of a (pseudo-winning, losing) pair and the stop words excluded from them.

The matcher is `alignkit._core.sequence_opcodes`, which gives exactly the opcodes of
`difflib.SequenceMatcher(None, a, b).get_opcodes()` (autojunk on) in Rust; the losing response
is `a` and the pseudo-winning one `b`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alignkit import _core

# NLTK's English stop-word list (`nltk.corpus.stopwords.words("english")`, the 179-word
# version of the nltk_data `stopwords` corpus, Apache-2.0; the authors' code pins nltk 3.9.1).
# Written out here because the nltk wheel ships no corpora: the list is a download.
_NLTK_ENGLISH_TEXT = """
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
yourselves he him his himself she she's her hers herself it it's its itself they them their
theirs themselves what which who whom this that that'll these those am is are was were be been
being have has had having do does did doing a an the and but if or because as until while of
at by for with about against between into through during before after above below to from up
down in out on off over under again further then once here there when where why how all any
both each few more most other some such no nor not only own same so than too very s t can will
just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn
didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn
mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn
wouldn't
"""
NLTK_STOP_WORDS: tuple[str, ...] = tuple(_NLTK_ENGLISH_TEXT.split())

# alignkit's own list of common English function words (articles, pronouns, auxiliaries,
# prepositions, conjunctions, a few adverbs): tokens a minimal revision touches without changing
# what is said. Used by the "alignkit" rule.
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
not no only own same so too very just also even ever still already
all any both each few more most other some many much several either neither every
s t don't doesn't didn't isn't aren't wasn't weren't won't can't
"""
STOP_WORDS: tuple[str, ...] = tuple(_STOP_WORD_TEXT.split())

# "nltk" (default): the BMC authors' selection. "alignkit": STOP_WORDS in four spellings each.
STOP_WORD_RULES = ("nltk", "alignkit")


def stop_word_token_ids(
    tokenizer: Any, rule: str = "nltk", *, words: Iterable[str] | None = None
) -> set[int]:
    """Ids of the stop-word tokens left out of the varied tokens.

    `rule="nltk"` (default) selects as the BMC authors' trainer does: every word of `words`
    (default `NLTK_STOP_WORDS`) and, for words longer than one character, its capitalised form,
    kept when `tokenizer.tokenize(word)` is exactly one token, whose id is taken. On byte-level
    BPE vocabularies (GPT-2, Llama 3, SmolLM2) that is the word without a leading space, so
    mid-sentence " the" stays varied.

    `rule="alignkit"` tries each word of `words` (default `STOP_WORDS`) as is, with a leading
    space, capitalised and capitalised with a leading space, and keeps every single-token form:
    more ids are excluded on BPE vocabularies.

    `tokenizer` is a `transformers` tokenizer or a `tokenizers.Tokenizer`.
    """
    if rule == "nltk":
        chosen = NLTK_STOP_WORDS if words is None else tuple(words)
        forms = list(chosen) + [w.capitalize() for w in chosen if len(w) > 1]
        ids: set[int] = set()
        for form in forms:
            token_id = _single_token_id(tokenizer, form)
            if token_id is not None:
                ids.add(token_id)
        return ids
    if rule != "alignkit":
        raise ValueError(f"stop-word rule must be one of {STOP_WORD_RULES}; got {rule!r}")
    ids = set()
    for word in STOP_WORDS if words is None else words:
        for form in {word, word.capitalize()}:
            for text in (form, " " + form):
                encoded = _encode(tokenizer, text)
                if len(encoded) == 1:
                    ids.add(int(encoded[0]))
    return ids


def _single_token_id(tokenizer: Any, word: str) -> int | None:
    """The id of `tokenizer.tokenize(word)` when that is one token, else None."""
    from tokenizers import Tokenizer

    if isinstance(tokenizer, Tokenizer):
        tokens = tokenizer.encode(word, add_special_tokens=False).tokens
        return tokenizer.token_to_id(tokens[0]) if len(tokens) == 1 else None
    tokens = tokenizer.tokenize(word)
    return int(tokenizer.convert_tokens_to_ids(tokens[0])) if len(tokens) == 1 else None


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
