"""Lion's shipped data: the seed instructions and held-out evaluation questions we wrote, checked
for shape, balance and near-duplicates (ROUGE-L F1 from the reference `rouge_score` package)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from alignkit.lion.pools import load_seed_instructions

SEED_CATEGORIES = {
    "brainstorming",
    "open_qa",
    "classification",
    "rewriting",
    "summarization",
    "extraction",
    "math",
    "code",
    "creative_writing",
    "advice",
    "explanation",
    "comparison",
    "planning",
}
EVAL_CATEGORIES = {
    "generic",
    "knowledge",
    "roleplay",
    "common-sense",
    "fermi",
    "counterfactual",
    "coding",
    "math",
    "writing",
}


def shipped_rows(name: str) -> list[dict[str, Any]]:
    path = Path(str(resources.files("alignkit.lion") / "data" / name))
    text = path.read_text(encoding="utf-8")
    assert text.isascii(), f"{name} has non-ASCII text"
    return [json.loads(line) for line in text.splitlines()]


SEEDS = shipped_rows("seed_instructions.jsonl")
EVAL_QUESTIONS = shipped_rows("eval_questions.jsonl")


def rouge_l_pairs_above(
    left: list[str], right: list[str] | None, threshold: float
) -> list[tuple[float, str, str]]:
    """Pairs (all pairs of `left` when `right` is None) whose ROUGE-L F1 reaches `threshold`.
    F1 = 2 * LCS / (len_a + len_b) <= 2 * min / (len_a + len_b), so pairs of very different
    lengths are skipped without scoring."""
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    tokenizers = pytest.importorskip("rouge_score.tokenizers")
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer=False)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    lengths = {text: len(tokenizer.tokenize(text)) for text in left + (right or [])}
    pairs = itertools.combinations(left, 2) if right is None else itertools.product(left, right)
    found = []
    for a, b in pairs:
        if 2 * min(lengths[a], lengths[b]) < threshold * (lengths[a] + lengths[b]):
            continue
        f1 = scorer.score(a, b)["rougeL"].fmeasure
        if f1 >= threshold:
            found.append((f1, a, b))
    return found


def test_seed_rows_have_the_documented_fields() -> None:
    assert len(SEEDS) == 300
    for row in SEEDS:
        assert set(row) == {"instruction", "input", "category"}, row
        assert isinstance(row["input"], str)
        assert row["category"] in SEED_CATEGORIES, row
        instruction = row["instruction"]
        assert isinstance(instruction, str) and instruction == instruction.strip() != ""
        # Lion's generator filters would reject these; seeds should pass the same bar.
        assert instruction[0].isalnum(), instruction
        assert "instruction" not in (instruction + row["input"]).lower(), instruction
        assert len(instruction.split()) > 3, instruction


def test_seed_mix_covers_every_category_and_about_a_quarter_has_input() -> None:
    counts = Counter(row["category"] for row in SEEDS)
    assert set(counts) == SEED_CATEGORIES
    assert min(counts.values()) >= 15, counts
    with_input = sum(1 for row in SEEDS if row["input"])
    assert 0.2 <= with_input / len(SEEDS) <= 0.3, with_input
    # Tasks that act on a given text always carry it.
    for row in SEEDS:
        if row["category"] in {"rewriting", "summarization"}:
            assert row["input"], row


def test_seed_instructions_are_not_near_duplicates() -> None:
    instructions = [row["instruction"] for row in SEEDS]
    assert len(set(instructions)) == len(instructions)
    assert rouge_l_pairs_above(instructions, None, 0.7) == []


def test_eval_questions_have_fields_ids_and_vicuna_categories() -> None:
    assert len(EVAL_QUESTIONS) == 40
    ids = [row["id"] for row in EVAL_QUESTIONS]
    assert len(set(ids)) == len(ids)
    for row in EVAL_QUESTIONS:
        assert set(row) == {"id", "question", "category"}, row
        assert row["question"] == row["question"].strip() != ""
        assert row["question"][0].isalnum(), row
    counts = Counter(row["category"] for row in EVAL_QUESTIONS)
    assert set(counts) == EVAL_CATEGORIES
    assert min(counts.values()) >= 4, counts


def test_eval_questions_are_held_out_from_the_seeds_and_each_other() -> None:
    questions = [row["question"] for row in EVAL_QUESTIONS]
    seeds = [row["instruction"] for row in SEEDS]
    assert rouge_l_pairs_above(questions, seeds, 0.5) == []
    assert rouge_l_pairs_above(questions, None, 0.5) == []


def test_near_duplicate_check_finds_a_close_pair() -> None:
    # The check above must be able to fail: a light rewording is caught.
    found = rouge_l_pairs_above(
        ["Give five ideas for a rainy-day activity with two kids."],
        ["Give six ideas for a rainy-day activity with two small kids."],
        0.7,
    )
    assert len(found) == 1 and found[0][0] > 0.8


def test_packaged_seeds_load_through_pools_without_skips() -> None:
    rows, stats = load_seed_instructions()
    assert len(rows) == len(SEEDS) == stats["seeds"]
    assert not any(key.startswith("skipped") for key in stats), stats
    assert {row["origin"] for row in rows} == {"seed"}
    with_input = [row for row in rows if row["input"]]
    assert len(with_input) == sum(1 for row in SEEDS if row["input"])
