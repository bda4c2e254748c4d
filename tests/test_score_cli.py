"""End-to-end tests of `alignkit webr score` on small datasets built here."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from alignkit.cli.main import main

# Few templates with slot changes: the kind of set a lazy generator produces.
_TEMPLATES = (
    "Write a short poem about {}.",
    "Give me three fun facts about {}.",
    "Explain to a child what {} are.",
)
_SLOTS = (
    "cats",
    "dogs",
    "horses",
    "rabbits",
    "parrots",
    "goldfish",
    "hamsters",
    "turtles",
    "ferrets",
    "owls",
    "foxes",
    "wolves",
    "bears",
)
REPETITIVE = [t.format(s) for t in _TEMPLATES for s in _SLOTS]

# Different topics and tasks, one each.
VARIED = [
    "Write a Python function that checks whether a string is a palindrome.",
    "What caused the fall of the Western Roman Empire?",
    "Translate 'Where is the train station?' into German.",
    "Summarise the plot of Moby-Dick in three sentences.",
    "How do I unclog a kitchen sink without chemicals?",
    "Explain the difference between mitosis and meiosis.",
    "Draft a polite email asking my landlord to fix the heating.",
    "What is the derivative of x^3 * sin(x)?",
    "Suggest a vegetarian dinner menu for six guests.",
    "Why is the sky blue during the day and red at sunset?",
    "Write a haiku about the first snow of winter.",
    "Compare the interest of a fixed and a variable rate mortgage.",
    "How does public-key cryptography work?",
    "Give me a 20-minute bodyweight workout for beginners.",
    "What are the main symptoms of vitamin D deficiency?",
    "Write a SQL query returning the ten customers with the largest total orders.",
    "Explain the offside rule in football.",
    "What should I pack for a week of hiking in the Alps in September?",
    "Describe how a bill becomes a law in the United States.",
    "Rewrite this sentence in the passive voice: The committee approved the budget.",
    "What is the capital of Mongolia, and what is it known for?",
    "Help me name a bakery that specialises in sourdough bread.",
    "How do vaccines train the immune system?",
    "Write a limerick about a forgetful robot.",
    "Explain what a p-value means to a non-statistician.",
    "List the steps to change a flat tyre on a bicycle.",
    "What are good strategies for negotiating a higher salary?",
    "Explain how photosynthesis converts light into chemical energy.",
    "Write a bash one-liner that counts lines in every .py file in a directory.",
    "Recommend three classic science fiction novels and say why.",
    "How do I repot an orchid?",
    "What was the significance of the Magna Carta?",
    "Create a weekly budget template for a university student.",
    "Explain the rules of chess castling.",
    "How does a refrigerator keep food cold?",
    "Write a motivational message for a friend starting a new job.",
    "What is the difference between weather and climate?",
    "Outline a lesson plan introducing fractions to ten-year-olds.",
    "Why do cats purr?",
]


def _chat_rows(instructions: list[str]) -> list[dict]:
    return [
        {
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": text},
                {"role": "assistant", "content": f"Here is an answer to: {text.lower()}"},
            ]
        }
        for text in instructions
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture()
def two_sets(tmp_path: Path) -> tuple[Path, Path]:
    rep = write_jsonl(tmp_path / "repetitive.jsonl", _chat_rows(REPETITIVE))
    var = write_jsonl(
        tmp_path / "varied.jsonl.gz",
        [{"prompt": t, "completion": "An answer."} for t in VARIED],
    )
    return rep, var


def test_repetitive_vs_varied(tmp_path: Path, two_sets: tuple[Path, Path], capsys) -> None:
    rep, var = two_sets
    out = tmp_path / "report"
    rc = main(
        [
            "webr",
            "score",
            str(rep),
            str(var),
            "--out",
            str(out),
            "--names",
            "repetitive,varied",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    by_name = {d["name"]: d for d in report["datasets"]}
    assert set(by_name) == {"repetitive", "varied"}
    r = by_name["repetitive"]["diversity"]["instruction"]
    v = by_name["varied"]["diversity"]["instruction"]
    assert v["embedding_diversity"] > r["embedding_diversity"]
    assert v["vendi_score"] > r["vendi_score"]
    assert v["nn_distance"]["mean"] > r["nn_distance"]["mean"]
    assert by_name["repetitive"]["examples"] == len(REPETITIVE)
    assert by_name["repetitive"]["turns"]["mean"] == 2.0
    assert by_name["varied"]["format"] == "jsonl"
    assert max(by_name["varied"]["languages"], key=by_name["varied"]["languages"].get) == "en"
    cov = report["cross"]["instruction"]
    assert cov["names"] == ["repetitive", "varied"]
    assert np.array(cov["coverage"]).shape == (2, 2)
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 4 and "repetitive" in page and "varied" in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
