"""FollowBench end to end against a loopback OpenAI-compatible server: scripted model answers,
scripted judge replies (code fences, extra text, PARTIAL/UNKNOWN, unparsable then fixed on
retry, never parsable), resuming from the cache, re-scoring, two judges, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from alignkit.cli.main import main
from alignkit.followbench import (
    EvalConfig,
    RuleCheck,
    load_followbench,
    register_check,
    rescore_run,
    run_followbench,
    unregister_check,
)
from alignkit.followbench.checks import CheckVerdict
from alignkit.llm.testing import FakeChatServer, Fault, always

FIXTURE = Path(__file__).parent / "data" / "followbench"


def _model_answers() -> dict[str, str]:
    """A passing answer for every rule-checked fixture item, except example levels 4-5."""
    answers: dict[str, str] = {}
    for chain in load_followbench(FIXTURE).chains:
        for record in chain.records:
            if chain.source in ("E2E", "text_editing"):
                answers[record.instruction] = record.target
            elif chain.source == "BBH_time":
                answers[record.instruction] = f"So the date is {record.target}."
            elif chain.source == "gigaword":
                answers[record.instruction] = "drivers in the port town strike over wages"
            elif chain.category == "example":
                answers[record.instruction] = (
                    record.answer if record.level <= 3 else "Yes, it is blue."
                )
    return answers


ANSWERS = _model_answers()


def _level(prompt: str) -> int:
    match = re.search(r"list of exactly (\d+) verdicts", prompt)
    assert match, prompt[-300:]
    return int(match.group(1))


def judge_reply(messages: list[dict[str, Any]], flip_level2: bool = False) -> str:
    """Level 1: bare YES; 2: fenced list with NO; 3: list with PARTIAL amid extra text;
    4: unparsable, then fixed on the retry; 5: never parsable."""
    level = _level(messages[0]["content"])
    if level == 1:
        return "The constraint is met.\nYES"
    if level == 2:
        return (
            "Both checked.\n```\n['YES', 'YES']\n```" if flip_level2 else "```\n['YES', 'NO']\n```"
        )
    if level == 3:
        return "Analysis first.\n[YES, PARTIAL, YES]\nI hope this helps."
    if level == 4:
        return "I cannot tell." if len(messages) == 1 else "[YES, YES, YES, UNKNOWN]"
    return "The answer is quite good overall."


def reply(body: dict[str, Any]) -> str:
    messages = body["messages"]
    if body["model"] == "judge":
        return judge_reply(messages)
    if body["model"] == "judge2":
        return judge_reply(messages, flip_level2=True)
    return ANSWERS.get(messages[-1]["content"], "Here is my answer.")


@pytest.fixture()
def server() -> Any:
    with FakeChatServer(reply=reply) as srv:
        yield srv


def test_run_scores_writes_and_resumes(server: FakeChatServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    model, judge = f"openai:tiny@{server.base_url}", f"openai:judge@{server.base_url}"
    config = EvalConfig(judge_retries=2, model_name="tiny", rules="lenient")
    results = run_followbench(FIXTURE, out, model, judge, config, progress=False)

    counts = results["counts"]["by_scorer"]
    assert counts["rule:example_template"] == 5 and counts["rule:summary_constraints"] == 5
    assert counts["rule:data_to_text_attributes"] == 5 and counts["rule:date_reasoning"] == 5
    assert counts["rule:text_editing_exact"] == 5
    assert counts["judge"] == 16 and counts["unscored:judge_unparsable"] == 4
    unscored = results["counts"]["unscored"]
    assert {u["item_id"] for u in unscored} == {
        "content/2/L5",
        "situation/2/L5",
        "style/1/L5",
        "format/1/L5",
    }

    # Judge-scored style chain: L1 YES; L2 [YES, NO]; L3 [YES, PARTIAL, YES]; L4 retried.
    style = results["per_category"]["style"]
    assert style["hsr"] == {"1": 1.0, "2": 0.0, "3": 0.0, "4": 0.0, "5": None}
    assert style["ssr"]["2"] == 0.5 and style["ssr"]["3"] == pytest.approx(2 / 3)
    # L2 failed, so the chain's CSL is 1 whatever its unscored L5 would have been
    assert style["ssr"]["4"] == 0.75 and style["csl"] == 1.0
    # Rule-scored: example passes levels 1-3 only; content mixes a rule and a judged chain.
    example = results["per_category"]["example"]
    assert example["hsr"] == {"1": 1.0, "2": 1.0, "3": 1.0, "4": 0.0, "5": 0.0}
    assert example["ssr"] == example["hsr"] and example["csl"] == 3.0
    assert results["per_category"]["content"]["hsr"] == {
        "1": 1.0,
        "2": 0.5,
        "3": 0.5,
        "4": 0.5,
        "5": 1.0,
    }
    tables = results["tables"]
    assert tables["level"]["hsr"]["1"] == pytest.approx(1.0)
    assert tables["level"]["hsr"]["avg"] == pytest.approx(
        sum(tables["level"]["hsr"][str(lv)] for lv in range(1, 6)) / 5
    )

    # lm-evaluation-harness shape
    for key in ("results", "groups", "group_subtasks", "configs", "versions", "n-samples"):
        assert key in results
    group = results["results"]["followbench"]
    assert group["hsr_avg,none"] == tables["level"]["hsr"]["avg"]
    assert group["csl,none"] == tables["csl"]
    assert results["n-samples"]["followbench_style"] == {"original": 5, "effective": 4}
    assert results["configs"]["followbench_style"]["generation_kwargs"]["max_gen_toks"] == 2048
    assert len(results["samples"]["followbench_example"]) == 5

    # judge vs rules: the judge also scored the 25 rule items (its L5 replies are unparsable)
    vs_rules = results["reliability"]["judge_vs_rules"]
    assert vs_rules["n"] == 20 and vs_rules["judge_unscored"] == 5

    # files: results.json, samples.jsonl (prompts, answers, every judge reply), report.html
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["tables"] == json.loads(json.dumps(tables))
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 45
    retried = next(r for r in rows if r["item_id"] == "style/1/L4")
    assert retried["judge"]["replies"] == ["I cannot tell.", "[YES, YES, YES, UNKNOWN]"]
    assert retried["verdicts"] == [True, True, True, False]
    never = next(r for r in rows if r["item_id"] == "style/1/L5")
    assert len(never["judge"]["replies"]) == 3 and never["hard"] is None
    assert never["messages"][0]["content"].startswith("Write a note")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "tiny" in html

    # generation requests: greedy, 2048 new tokens, one user turn
    gen = [b for b in server.bodies if b["model"] == "tiny"]
    assert len(gen) == 45
    assert all(b["temperature"] == 0.0 and b["max_tokens"] == 2048 for b in gen)
    assert all([m["role"] for m in b["messages"]] == ["user"] for b in gen)

    # resume: everything comes from the cache, nothing is sent again
    hits = server.hits
    again = run_followbench(FIXTURE, out, model, judge, config, progress=False)
    assert server.hits == hits
    assert again["tables"] == tables


def test_two_judges_and_rescoring(server: FakeChatServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_followbench(
        FIXTURE,
        out,
        f"openai:tiny@{server.base_url}",
        f"openai:judge@{server.base_url}",
        EvalConfig(categories=("style", "format"), judge_retries=1, rules="lenient"),
        judge2=f"openai:judge2@{server.base_url}",
        progress=False,
    )
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    agreement = results["reliability"]["judge_agreement"]
    # both judges parse levels 1-4 of 2 chains; they differ only on level 2's second verdict
    assert agreement["items"]["n"] == 8 and agreement["items"]["agreement"] == 0.75
    assert agreement["constraints"]["n"] == 2 * (1 + 2 + 3 + 4)
    assert agreement["constraints"]["agreement"] == pytest.approx(18 / 20)
    assert agreement["either_unscored"] == 0

    # re-scoring with a new rule check needs no model call
    hits = server.hits

    def polite(record: Any, answer: str) -> CheckVerdict:
        return CheckVerdict("tea" in answer.lower())

    register_check(RuleCheck("test_style_rule", "test", lambda r: r.category == "style", polite))
    try:
        rescored = rescore_run(out)
    finally:
        unregister_check("test_style_rule")
    assert server.hits == hits
    assert rescored["counts"]["by_scorer"]["rule:test_style_rule"] == 5
    assert rescored["per_category"]["style"]["hsr"] == {str(lv): 0.0 for lv in range(1, 6)}


def test_failures_are_counted_not_guessed(tmp_path: Path) -> None:
    broken = next(c for c in load_followbench(FIXTURE).chains if c.chain_id == "format/1")
    bad_prompt = broken.record(2).instruction

    def is_bad(body: dict[str, Any]) -> bool:
        return body["messages"][-1]["content"] == bad_prompt

    faults = always(Fault.http(400, "context too long"), match=is_bad)
    with FakeChatServer(reply=reply, faults=faults) as server:
        results = run_followbench(
            FIXTURE,
            tmp_path / "run",
            f"openai:tiny@{server.base_url}",
            None,  # no judge: only rule items are scored
            EvalConfig(categories=("format", "situation")),
            progress=False,
        )
    counts = results["counts"]["by_scorer"]
    assert counts["unscored:generation_failed"] == 1
    assert counts["unscored:not_judged"] == 4 + 5  # format (minus the failure) + situation/2
    assert counts["rule:original:BBH_time"] == 5
    assert results["per_category"]["situation"]["hsr"]["1"] == 1.0
    # by default (original rules) the failed generation counts as not satisfied; items left
    # unjudged because there is no judge stay out of the means
    assert results["per_category"]["format"]["hsr"] == {
        "1": None,
        "2": 0.0,
        "3": None,
        "4": None,
        "5": None,
    }

    # a judge request that keeps failing: that item is unscored, the CLI exits 1
    judged = broken.record(3).instruction

    def judge_fails(body: dict[str, Any]) -> bool:
        return (
            body["model"] == "judge"
            and judged in body["messages"][0]["content"]
            and ("Version 4" not in body["messages"][0]["content"])
        )

    faults = always(Fault.http(400, "bad request"), match=judge_fails)
    with FakeChatServer(reply=reply, faults=faults) as server:
        argv = ["followbench", "run", "--data", str(FIXTURE), "--out", str(tmp_path / "j")]
        argv += ["--model", f"openai:tiny@{server.base_url}", "--categories", "format"]
        argv += ["--judge", f"openai:judge@{server.base_url}"]
        assert main(argv) == 1
    saved = json.loads((tmp_path / "j" / "results.json").read_text(encoding="utf-8"))
    assert {"item_id": "format/1/L3", "why": "judge_failed"} in saved["counts"]["unscored"]


def test_cli_run_score_list(
    server: FakeChatServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--data", str(FIXTURE), "--judge", f"openai:judge@{server.base_url}"]
    assert (
        main(
            [
                "followbench",
                "run",
                *common,
                "--model",
                f"openai:tiny@{server.base_url}",
                "--name",
                "tiny",
                "--out",
                str(tmp_path / "a"),
                "--categories",
                "example,mixed",
                "--rules",
                "lenient",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "FollowBench - tiny" in text and "HSR (%)" in text and "CSL" in text
    config = tmp_path / "b.yaml"
    config.write_text(
        f"model: openai:other@{server.base_url}\nname: other\ncategories: example,mixed\n"
        "max-chains: 1\nrules: lenient\n",
        encoding="utf-8",
    )
    assert (
        main(["followbench", "run", *common, "--config", str(config), "--out", str(tmp_path / "b")])
        == 0
    )
    report = tmp_path / "cmp" / "both.html"
    assert (
        main(
            [
                "followbench",
                "score",
                str(tmp_path / "a"),
                str(tmp_path / "b" / "results.json"),
                "--out",
                str(report),
            ]
        )
        == 0
    )
    html = report.read_text(encoding="utf-8")
    assert "tiny" in html and "other" in html and html.count("<svg") == 3
    assert main(["followbench", "list"]) == 0
    listed = capsys.readouterr().out
    assert "summary_constraints" in listed and "example_template" in listed
    assert (
        main(["followbench", "list", "--data", str(FIXTURE), "--json", "--rules", "lenient"]) == 0
    )
    info = json.loads(capsys.readouterr().out)
    assert {
        "category": "mixed",
        "source": "gigaword",
        "scored_by": "summary_constraints",
        "items": 5,
    } in info["sources"]
    assert main(["followbench", "run", "--out", str(tmp_path / "c")]) == 2  # no --data
