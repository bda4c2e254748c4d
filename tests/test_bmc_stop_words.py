"""The default stop-word selection is the BMC authors' rule: NLTK's English stop words and their
capitalised forms (words longer than one character), each kept when `tokenizer.tokenize(word)`
is one token. Checked on GPT-2's and SmolLM2's byte-level BPE tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.bmc import NLTK_STOP_WORDS, STOP_WORDS, stop_word_token_ids

from conftest import gpt2_bpe_tokenizer

transformers = pytest.importorskip("transformers")


def authors_selection(tokenizer) -> set[int]:
    """The selection written as the authors' trainer writes it (a transformers tokenizer)."""
    words = set(NLTK_STOP_WORDS)
    words.update([w.capitalize() for w in list(words) if len(w) > 1])
    return {
        tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word))[0]
        for word in words
        if len(tokenizer.tokenize(word)) == 1
    }


def check_default_is_the_authors_rule(tokenizer) -> None:
    expected = authors_selection(tokenizer)
    assert stop_word_token_ids(tokenizer) == expected
    assert stop_word_token_ids(tokenizer, "nltk") == expected
    # Byte-level BPE: the space-less word is excluded, the mid-sentence " the" stays varied.
    the, space_the = (
        tokenizer.convert_tokens_to_ids(tokenizer.tokenize(t)) for t in ("the", " the")
    )
    assert len(the) == 1 and len(space_the) == 1
    assert the[0] in expected and space_the[0] not in expected
    # alignkit's own rule (kept as an option) excludes the spaced forms too.
    own = stop_word_token_ids(tokenizer, "alignkit")
    assert space_the[0] in own and len(own) > len(expected)


def test_nltk_list_is_the_179_word_english_list() -> None:
    assert len(NLTK_STOP_WORDS) == 179 == len(set(NLTK_STOP_WORDS))
    assert all(w == w.lower() for w in NLTK_STOP_WORDS)
    for word in ("i", "the", "should've", "ain", "ma", "wouldn't", "that'll"):
        assert word in NLTK_STOP_WORDS
    assert "many" not in NLTK_STOP_WORDS and "many" in STOP_WORDS  # the two lists differ


def test_default_selection_is_the_authors_rule_on_gpt2() -> None:
    raw = gpt2_bpe_tokenizer()
    wrapped = transformers.PreTrainedTokenizerFast(tokenizer_object=raw)
    check_default_is_the_authors_rule(wrapped)
    assert stop_word_token_ids(raw) == authors_selection(wrapped)  # tokenizers.Tokenizer path
    # "Don't" is two tokens in GPT-2, so neither case of it is selected.
    assert len(wrapped.tokenize("Don't")) > 1
    with pytest.raises(ValueError, match="stop-word rule"):
        stop_word_token_ids(raw, "spacy")


@pytest.mark.slow  # converts the embedded model once per session (tens of seconds)
def test_default_selection_is_the_authors_rule_on_smollm2(smol_dir: Path) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(smol_dir)
    check_default_is_the_authors_rule(tokenizer)
