"""The Lion run report: numbers from the summary on the page, well-formed HTML, hostile text
escaped, partial summaries (no evaluation, missing fields, no iteration) rendered."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from alignkit.lion.evaluate import mcq_accuracy, relative_quality
from alignkit.lion.report import render_lion_report, write_lion_report
from alignkit.report.html import line_chart_svg

HOSTILE = '<script>alert("x")</script>&<b onload=1>'
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr"}


class Checker(HTMLParser):
    """Records the tags and text of a page; fails on a closing tag that does not match."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, _ in attrs:
            if name.startswith("on"):
                self.errors.append(f"event attribute {name} on <{tag}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [], checker.errors[:5]
    assert checker.stack == [], f"unclosed: {checker.stack}"
    return checker


def judgements(student_scores: list[float]) -> list[dict[str, Any]]:
    cats = ["writing", "math", HOSTILE]
    return [
        {
            "id": f"q{i}",
            "category": cats[i % 3],
            "order_teacher_first": [8, s],
            "order_student_first": [s, 8],
        }
        for i, s in enumerate(student_scores)
    ]


def mcq(correct: int) -> dict[str, Any]:
    rows = [
        {
            "task": "arith" if i < 4 else HOSTILE,
            "answer_index": 0,
            "choice_logprobs": [-1.0, -2.0] if i < correct else [-3.0, -2.0],
            "choice_tokens": [1, 1],
        }
        for i in range(6)
    ]
    return mcq_accuracy(rows)


def iteration(k: int, **overrides: Any) -> dict[str, Any]:
    entry = {
        "iteration": k,
        "train_pool": 1000 + 250 * k,
        "cache_pool": 1200 + 250 * k,
        "hard": 30 + k,
        "easy": 50 - k,
        "hard_ratio": (30 + k) / 80,
        "teacher_mean": 8.25,
        "student_mean": 5.5 + k / 4,
        "gap_mean": 2.75 - k / 4,
        "generated": {"hard": 100 + k, "easy": 90 + k},
        "generation_drops": {"contains_instruction": 7 * k, "too_similar": 11, HOSTILE: 1},
        "relative_quality": relative_quality(judgements([4 + k, 5, 6])),
        "mcq": mcq(2 + k),
        "timings": {"imitate": 12.5, "train": 301.25 * k, "discriminate": 44.0},
    }
    entry.update(overrides)
    return entry


def summary() -> dict[str, Any]:
    return {
        "iterations": [iteration(1), iteration(2, relative_quality=None, mcq=None), iteration(3)],
        "settings": {
            "run": {"teacher": "openai:gpt@http://h/v1", "iterations": 3, "note": HOSTILE},
            "sections": {"generate": {"per_kind": 100, "prefill": True}},
        },
        "additions": ["referee_mode=logprob: expected scores", HOSTILE],
        "final": {"train_pool": 2100, "timings": {"train": 999.5}},
        "student": "/runs/lion/final/train/student",
    }


def test_page_shows_the_numbers_and_is_well_formed(tmp_path: Path) -> None:
    data = summary()
    path = write_lion_report(data, tmp_path / "sub" / "report.html", title="Lion demo")
    page = path.read_text(encoding="utf-8")
    checker = parse(page)
    text = " ".join(checker.text)
    # pools, split and scores of iteration 3
    assert "1,750" in text and "1,950" in text and "33" in text and "47" in text
    assert f"{100 * 33 / 80:.1f}" in text  # hard ratio 41.2 %
    assert "8.25" in text and "6.25" in text and "2.00" in text
    assert "103" in text and "93" in text  # kept hard / easy
    # relative quality of iteration 3: student (7+5+6) / teacher (3*8), both orders alike
    rq = data["iterations"][2]["relative_quality"]
    assert rq["average"] == pytest.approx(75.0)
    assert "75.0" in text
    assert f"{relative_quality(judgements([5, 5, 6]))['Setting1']:.1f}" in text  # iteration 1
    # MCQ: iteration 3 gets 5 of 6 right; arith 4/4; chance 50 %
    assert f"{100 * 5 / 6:.1f}" in text and "100.0 (4)" in text and "50.0" in text
    # timings, drops, final, student, settings
    assert "903.8" in text or "903.7" in text  # 301.25 * 3
    assert "contains_instruction" in text and "21" in text
    assert "999.5" in text and "2,100" in text and "/runs/lion/final/train/student" in text
    assert "openai:gpt@http://h/v1" in text and "sections.generate.per_kind" in text
    # charts: one per curve family, the evaluation ones included
    titles = re.findall(r'font-weight="600">([^<]+)</text>', page)
    for wanted in ("Pool sizes", "Hard ratio", "Referee scores", "Generation", "Relative", "MCQ"):
        assert any(t.startswith(wanted) for t in titles), (wanted, titles)
    assert checker.tags.count("svg") == 7 and "polyline" in checker.tags
    assert "<title>Lion demo</title>" in page


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    page = render_lion_report(summary(), title=HOSTILE)
    checker = parse(page)
    assert "script" not in checker.tags and "b" not in checker.tags
    assert "<script" not in page and "<b onload" not in page
    assert "&lt;script&gt;" in page
    assert HOSTILE in " ".join(checker.text)  # shown as text, verbatim


def test_partial_summaries_render() -> None:
    empty = render_lion_report({"iterations": []})
    assert "No iteration has finished yet" in " ".join(parse(empty).text)

    bare = {"iterations": [{"iteration": 1, "hard_ratio": "n/a", "teacher_mean": float("nan")}]}
    page = render_lion_report(bare)
    checker = parse(page)
    text = " ".join(checker.text)
    assert "n/a" in text and "nan" not in text.lower().replace("n/a", "")
    assert "Relative quality" not in text and "MCQ accuracy" not in text
    assert "svg" not in checker.tags  # nothing to plot

    one = copy.deepcopy(summary())
    one["iterations"] = one["iterations"][:1]
    parse(render_lion_report(one))  # a single point per curve

    with pytest.raises(TypeError, match="mapping"):
        render_lion_report([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterations"):
        render_lion_report({"iterations": "abc"})


def test_line_chart_gaps_and_points() -> None:
    svg = line_chart_svg(
        [1, 2, 3, 4],
        {"a": [1.0, None, 3.0, 4.0], "b <&>": [2.0, 2.0, 2.0, 2.0]},
        {"a": "#111", "b <&>": "#222"},
        title="t",
        xlabel="x",
        ylabel="y",
    )
    checker = parse(svg)
    # "a": one 2-point polyline (3, 4) and 3 dots; "b": one 4-point polyline and 4 dots
    polylines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert sorted(len(p.split()) for p in polylines) == [2, 4]
    assert checker.tags.count("circle") == 7
    assert "b &lt;&amp;&gt;: 2.000" in svg
