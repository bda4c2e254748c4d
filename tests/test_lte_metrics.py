"""EasyEdit's metrics (`alignkit.lte.metrics`) against values computed by hand from a tiny random
Llama's logits (byte tokenizer: one token per byte), the n-gram entropy against hand-worked
texts, and bad inputs."""

from __future__ import annotations

import math

import pytest

from tiny_models import save_tiny_llama

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.lte.metrics import (  # noqa: E402
    TeacherForcedScorer,
    fluency_score,
    ngram_entropy,
    retrieval_hits,
    word_tokenizer_name,
    words,
)

CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant: {% endif %}"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama", seed=3)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    return model, AutoTokenizer.from_pretrained(path)


def _argmax_after(model, ids: list[int]) -> list[int]:
    """The argmax token after each position of one unpadded sequence."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    return logits.argmax(-1).tolist()


def _bytes(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def _by_hand(model, tok, prefix_ids: list[int], target: str) -> tuple[list[int], list[int]]:
    """(predicted, target) ids at the target positions, from one unbatched forward pass."""
    target_ids = _bytes(tok, target)
    best = _argmax_after(model, prefix_ids + target_ids)
    start = len(prefix_ids) - 1
    return best[start : start + len(target_ids)], target_ids


def test_raw_token_accuracy_equals_hand_computed(tiny) -> None:
    model, tok = tiny
    scorer = TeacherForcedScorer(model, tok, wrap="auto", batch_size=2)
    assert scorer.wrap == "raw"  # the byte tokenizer has no chat template
    prompts = ["Who wrote Hamlet?", "The capital of France is", "x", "A much longer prompt here."]
    targets = ["Shakespeare", "Paris", "yes", "no"]
    got = scorer.token_accuracy(prompts, targets)
    predicted = scorer.predict(prompts, targets)
    for prompt, target, value, pair in zip(prompts, targets, got, predicted, strict=True):
        # raw: the prompt as the tokenizer encodes it alone, then " " + target bytes
        pred, gold = _by_hand(model, tok, tok(prompt)["input_ids"], " " + target)
        assert pair == (pred, gold)
        matches = sum(a == b for a, b in zip(pred, gold, strict=True))
        assert value == pytest.approx(matches / len(gold))
        assert len(gold) == len(target) + 1


def test_a_target_made_of_the_models_own_argmax_scores_one(tiny) -> None:
    model, tok = tiny
    scorer = TeacherForcedScorer(model, tok, wrap="raw")
    prefix = scorer.prompt_ids("Seed text") + scorer.target_ids("a")[:1]  # prompt, space
    ids = list(prefix)
    for _ in range(6):  # greedy continuation, one byte token at a time
        ids.append(_argmax_after(model, ids)[-1])
    continuation = ids[len(prefix) - 1 :]  # the space and what followed it
    pred = scorer._forward([(scorer.prompt_ids("Seed text"), continuation)])[0]
    assert pred[1:] == continuation[1:]  # teacher forcing reproduces the greedy tokens


def test_padding_and_batch_size_do_not_change_predictions(tiny) -> None:
    model, tok = tiny
    prompts = ["short", "a considerably longer prompt than the first", "mid size one"]
    targets = ["t", "target two", "tgt"]
    one = TeacherForcedScorer(model, tok, batch_size=1).predict(prompts, targets)
    many = TeacherForcedScorer(model, tok, batch_size=3).predict(prompts, targets)
    assert one == many


def test_chat_wrap_uses_the_template_and_no_space(tiny) -> None:
    model, tok = tiny
    tok = type(tok).from_pretrained(tok.name_or_path)
    tok.chat_template = CHAT_TEMPLATE
    scorer = TeacherForcedScorer(model, tok)
    assert scorer.wrap == "chat"
    wrapped = tok.apply_chat_template(
        [{"role": "user", "content": "Q?"}], tokenize=False, add_generation_prompt=True
    )
    assert wrapped == "<s>user: Q?\n<s>assistant: "
    assert scorer.prompt_ids("Q?") == tok(wrapped, add_special_tokens=False)["input_ids"]
    assert scorer.target_ids("Paris") == _bytes(tok, "Paris")
    value = scorer.token_accuracy(["Q?"], ["Paris"])[0]
    pred, gold = _by_hand(model, tok, scorer.prompt_ids("Q?"), "Paris")
    assert value == pytest.approx(sum(a == b for a, b in zip(pred, gold, strict=True)) / 5)
    raw = TeacherForcedScorer(model, tok, wrap="raw")
    assert raw.prompt_ids("Q?") == tok("Q?")["input_ids"]


def test_locality_compares_argmax_tokens_not_the_answer(tiny) -> None:
    model, tok = tiny
    scorer = TeacherForcedScorer(model, tok, wrap="raw")
    plain, answer = "The mayor of Springfield is", "Quimby"
    edits = ["[Fact] X.", "zzzz", "0123456789 {}", "Please note: the mayor is Bob.\n\nQ:"]
    got = scorer.locality_agreement([plain] * 5, [*edits, plain], [answer] * 5)
    pre, _ = _by_hand(model, tok, tok(plain)["input_ids"], " " + answer)
    differing = 0
    for edited, value in zip(edits, got, strict=False):
        post, _ = _by_hand(model, tok, tok(edited)["input_ids"], " " + answer)
        differing += pre != post
        assert value == pytest.approx(sum(a == b for a, b in zip(pre, post, strict=True)) / 7)
    assert differing  # some case is not trivial
    assert got[-1] == 1.0  # the same prompt on both sides agrees everywhere, right or wrong


def test_long_prompts_are_cut_from_the_left_and_counted(tiny) -> None:
    model, tok = tiny
    scorer = TeacherForcedScorer(model, tok, wrap="raw", max_length=40)
    long_prompt = "word " * 50
    value = scorer.token_accuracy([long_prompt], ["end"])[0]
    assert scorer.truncated == 1
    kept = tok(long_prompt)["input_ids"][-(40 - 4) :]
    pred, gold = _by_hand(model, tok, kept, " end")
    assert value == pytest.approx(sum(a == b for a, b in zip(pred, gold, strict=True)) / 4)


@pytest.mark.parametrize(
    ("prompts", "targets", "message"),
    [
        (["q"], [""], "non-empty"),
        (["q"], ["   "], "non-empty"),
        (["q"], [3], "must be a string"),
        ([None], ["a"], "must be a string"),
        (["q", "r"], ["a"], "2 prompts but 1 targets"),
        ("q", ["a"], "sequences of strings"),
    ],
)
def test_bad_pairs_are_clear_errors(tiny, prompts, targets, message) -> None:
    model, tok = tiny
    with pytest.raises(ValueError, match=message):
        TeacherForcedScorer(model, tok).token_accuracy(prompts, targets)


def test_bad_settings_are_clear_errors(tiny) -> None:
    model, tok = tiny
    with pytest.raises(ValueError, match="wrap must be one of"):
        TeacherForcedScorer(model, tok, wrap="jinja")
    with pytest.raises(ValueError, match="no chat template"):
        TeacherForcedScorer(model, tok, wrap="chat")
    with pytest.raises(ValueError, match="batch_size"):
        TeacherForcedScorer(model, tok, batch_size=0)


def test_ngram_entropy_by_hand() -> None:
    assert words("a b a b") == ["a", "b", "a", "b"]
    # bigrams ab, ba, ab -> (2/3, 1/3); trigrams aba, bab -> (1/2, 1/2)
    h2 = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert ngram_entropy("a b a b", 2) == pytest.approx(h2)
    assert ngram_entropy("a b a b", 3) == pytest.approx(1.0)
    assert fluency_score("a b a b") == pytest.approx((2 / 3 * h2 + 4 / 3 * 1.0) / 2)
    assert fluency_score("same same same same same") == 0.0  # one n-gram each: no entropy
    assert fluency_score("") == 0.0
    assert fluency_score("one") == 0.0


def test_words_split_punctuation_like_nltk() -> None:
    assert word_tokenizer_name() in ("nltk.word_tokenize", "nltk.treebank+regex-sentences", "regex")
    assert words("Paris, France. It's big!")[:4] == ["Paris", ",", "France", "."]


def test_fluency_generates_greedily_and_scores_prompt_plus_text(tiny) -> None:
    model, tok = tiny
    scorer = TeacherForcedScorer(model, tok, wrap="raw", batch_size=2)
    prompts = ["Hello there", "A second, longer prompt"]
    first = scorer.fluency(prompts, max_new_tokens=8)
    again = TeacherForcedScorer(model, tok, wrap="raw", batch_size=1).fluency(prompts, 8)
    assert first == again  # greedy and independent of batching (left padding)
    for prompt, item in zip(prompts, first, strict=True):
        assert item["generated_text"].startswith(prompt + " ")
        assert item["ngram_entropy"] == pytest.approx(fluency_score(item["generated_text"]))
    with pytest.raises(ValueError, match="max_new_tokens"):
        scorer.generate(["x"], 0)


def test_retrieval_hits() -> None:
    assert retrieval_hits(["f1", "f2"], "f1") == (1.0, 1.0)
    assert retrieval_hits(["f2", "f1"], "f1") == (0.0, 1.0)
    assert retrieval_hits(["f2"], "f1") == (0.0, 0.0)
    assert retrieval_hits([], "f1") == (0.0, 0.0)
