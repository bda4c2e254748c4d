"""Lion's shipped data: the seed instructions, held-out evaluation questions and demo MCQ rows we
wrote, checked for shape, balance and near-duplicates (ROUGE-L F1 from the reference `rouge_score`
package); and the BIG-bench multiple-choice loader on constructed folders and archives."""

from __future__ import annotations

import io
import itertools
import json
import re
import tarfile
import zipfile
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from alignkit.errors import InputError, InputNotFoundError
from alignkit.lion.evaluate import mcq_row_problem
from alignkit.lion.mcq import load_bigbench_mcq
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
MCQ_DEMO = shipped_rows("mcq_demo.jsonl")


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


# -- demo MCQ rows -------------------------------------------------------------------------------


def test_demo_mcq_rows_are_scorable_with_four_distinct_choices() -> None:
    assert len(MCQ_DEMO) == 30
    assert len({row["id"] for row in MCQ_DEMO}) == 30
    for row in MCQ_DEMO:
        assert set(row) == {"task", "id", "question", "choices", "answer_index"}, row
        assert mcq_row_problem(row) is None, row
        assert len(row["choices"]) == len(set(row["choices"])) == 4, row
    assert len(Counter(row["task"] for row in MCQ_DEMO)) >= 5
    # The right answer sits in every position, so a position-biased model is not rewarded.
    positions = Counter(row["answer_index"] for row in MCQ_DEMO)
    assert set(positions) == {0, 1, 2, 3} and max(positions.values()) <= 10, positions


# -- BIG-bench loader ------------------------------------------------------------------------------

PREFIX = "BIG-bench-main/bigbench/benchmark_tasks"


def bigbench_files() -> dict[str, Any]:
    """A tiny BIG-bench-shaped tree: a plain task, a composite task, a programmatic task."""
    colours = {
        "name": "colours",
        "task_prefix": "Answer the question. ",
        "examples": [
            {"input": "Colour of the sky?", "target_scores": {"blue": 1, "green": 0, "red": 0}},
            {"input": "Colour of grass?", "target_scores": {"red": 0, "green": 1}},
            {"input": "Name a colour.", "target": "blue"},  # generative
            {"input": "Two right answers?", "target_scores": {"a": 1, "b": 1}},
            {"input": "Bad score?", "target_scores": {"a": "yes", "b": 0}},
            {"input": "Snow?", "target_scores": {"black": 0, "white": 1, "grey": 0.5}},
        ],
    }
    return {
        f"{PREFIX}/colours/task.json": colours,
        f"{PREFIX}/colours/README.md": "not a task",
        f"{PREFIX}/sums/task.json": {"name": "sums", "description": "composite"},
        f"{PREFIX}/sums/small/task.json": {
            "name": "small",
            "examples": [{"input": "1+1?", "target_scores": {"2": 1, "3": 0}}],
        },
        f"{PREFIX}/sums/large/task.json": {
            "name": "large",
            "examples": [
                {"input": "10+10?", "target_scores": {"20": 1, "30": 0}},
                {"input": "20+20?", "target_scores": {"40": 1, "50": 0}},
            ],
        },
        f"{PREFIX}/generated/task.py": "# programmatic task: no JSON",
        f"{PREFIX}/only_text/task.json": {
            "name": "only_text",
            "examples": [{"input": "Say hi.", "target": "hi"}],
        },
    }


def as_bytes(content: Any) -> bytes:
    return (content if isinstance(content, str) else json.dumps(content)).encode()


def write_bigbench(tmp_path: Path, kind: str) -> Path:
    files = bigbench_files()
    if kind == "folder":
        for name, content in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(as_bytes(content))
        return tmp_path / PREFIX.split("/")[0]
    if kind == "zip":
        path = tmp_path / "big-bench.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, content in files.items():
                archive.writestr(name, as_bytes(content))
        return path
    path = tmp_path / "big-bench.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            data = as_bytes(content)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", ["folder", "zip", "tar.gz"])
def test_bigbench_loader_reads_plain_and_composite_tasks(tmp_path: Path, kind: str) -> None:
    source = write_bigbench(tmp_path, kind)
    rows, stats = load_bigbench_mcq(source, ["colours", "sums"], shuffle_seed=None)
    assert [row["id"] for row in rows] == [
        "colours/0",
        "colours/1",
        "colours/5",
        "sums/large/0",
        "sums/large/1",
        "sums/small/0",
    ]
    assert rows[0] == {
        "task": "colours",
        "id": "colours/0",
        "question": "Answer the question. Colour of the sky?",
        "choices": ["blue", "green", "red"],
        "answer_index": 0,
    }
    assert rows[2]["choices"][rows[2]["answer_index"]] == "white"
    assert all(mcq_row_problem(row) is None for row in rows)
    assert stats["rows_colours"] == 3 and stats["rows_sums"] == 3
    assert stats["skipped_not_multiple_choice"] == 1
    assert stats["skipped_no_single_best_choice"] == 1
    assert stats["skipped_score_not_a_number"] == 1


def test_bigbench_loader_shuffles_choices_per_row_and_keeps_the_answer(tmp_path: Path) -> None:
    source = write_bigbench(tmp_path, "folder")
    plain, _ = load_bigbench_mcq(source, ["colours", "sums"], shuffle_seed=None)
    first, _ = load_bigbench_mcq(source, ["colours", "sums"])
    again, _ = load_bigbench_mcq(source, ["colours", "sums"])
    other, _ = load_bigbench_mcq(source, ["colours", "sums"], shuffle_seed=7)
    assert first == again
    for before, after in zip(plain, first, strict=True):
        assert sorted(after["choices"]) == sorted(before["choices"])
        answer = before["choices"][before["answer_index"]]
        assert after["choices"][after["answer_index"]] == answer
    # Every file lists the answer first; the shuffle moves it for some rows and seeds differ.
    assert {row["answer_index"] for row in first} != {0}
    assert [row["choices"] for row in first] != [row["choices"] for row in other]


def test_bigbench_loader_limit_samples_per_task(tmp_path: Path) -> None:
    source = write_bigbench(tmp_path, "zip")
    rows, stats = load_bigbench_mcq(source, ["sums", "colours"], limit=2)
    assert Counter(row["task"] for row in rows) == {"sums": 2, "colours": 2}
    assert [row["task"] for row in rows] == ["sums", "sums", "colours", "colours"]
    assert stats["not_sampled_sums"] == 1 and stats["not_sampled_colours"] == 1
    assert load_bigbench_mcq(source, ["sums", "colours"], limit=2)[0] == rows


def test_bigbench_loader_accepts_the_benchmark_tasks_folder_itself(tmp_path: Path) -> None:
    write_bigbench(tmp_path, "folder")
    rows, _ = load_bigbench_mcq(tmp_path / PREFIX, ["sums"], shuffle_seed=None)
    assert [row["question"] for row in rows] == ["10+10?", "20+20?", "1+1?"]


@pytest.mark.parametrize(
    ("tasks", "limit", "message"),
    [
        (["generated"], None, "no task.json for task(s) generated"),
        (["colours", "nowhere"], None, "no task.json for task(s) nowhere"),
        (["only_text"], None, "task(s) only_text in"),
        ([], None, "name at least one BIG-bench task"),
        (["colours"], 0, "limit must be at least 1"),
    ],
)
def test_bigbench_loader_rejects_bad_requests(
    tmp_path: Path, tasks: list[str], limit: int | None, message: str
) -> None:
    source = write_bigbench(tmp_path, "tar.gz")
    with pytest.raises(InputError, match=re.escape(message)):
        load_bigbench_mcq(source, tasks, limit)


def test_bigbench_loader_rejects_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="not found"):
        load_bigbench_mcq(tmp_path / "absent.zip", ["colours"])
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")
    with pytest.raises(InputError, match="neither a folder nor a zip or tar archive"):
        load_bigbench_mcq(not_archive, ["colours"])
    whole = write_bigbench(tmp_path, "tar.gz").read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="damaged or cut-off download"):
        load_bigbench_mcq(cut, ["colours"])
    broken = tmp_path / "bigbench" / "benchmark_tasks" / "colours" / "task.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"examples": [')
    with pytest.raises(InputError, match="task.json is not valid JSON"):
        load_bigbench_mcq(tmp_path / "bigbench", ["colours"])
    broken.write_text('{"examples": {"input": "x"}}')
    with pytest.raises(InputError, match="'examples' is not a list"):
        load_bigbench_mcq(tmp_path / "bigbench", ["colours"])


PYPI_SDIST = Path("/tmp/bigbench/bigbench-0.0.1.tar.gz")


@pytest.mark.skipif(not PYPI_SDIST.is_file(), reason=f"{PYPI_SDIST} not downloaded")
def test_bigbench_pypi_sdist_has_no_task_json_and_says_so() -> None:
    # `pip download --no-deps bigbench` gives 0.0.1: programmatic tasks only, no JSON tasks.
    with pytest.raises(
        InputError, match=re.escape("no task.json for task(s) boolean_expressions, web_of_lies")
    ):
        load_bigbench_mcq(PYPI_SDIST, ["boolean_expressions", "web_of_lies"])
