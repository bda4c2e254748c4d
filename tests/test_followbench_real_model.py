"""FollowBench with the embedded default model (SmolLM2-135M-Instruct, `transformers` backend) as
judge and as the model under test. Kept tiny - a handful of items, short generations - because
it runs on CPU; what it proves is that the real path works end to end (chat template, greedy
decoding, judge replies of a real model parsed or re-asked and reported, tables and report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alignkit.cli.main import main
from alignkit.followbench import EvalConfig, load_followbench, parse_verdicts
from alignkit.followbench.evaluate import run_judge
from alignkit.llm import BackendSpecError, ResponseCache, make_backend

pytestmark = pytest.mark.slow  # real models, training or whole scripts

FIXTURE = Path(__file__).parent / "data" / "followbench"


@pytest.fixture(scope="module")
def smollm() -> Any:
    try:
        return make_backend("transformers")
    except (BackendSpecError, ImportError, FileNotFoundError) as exc:
        pytest.skip(f"the embedded default model is not available: {exc}")


def test_judge_path_with_the_embedded_model(smollm: Any, tmp_path: Path) -> None:
    chain = next(c for c in load_followbench(FIXTURE).chains if c.chain_id == "style/1")
    record = chain.record(2)
    jobs = [(chain, record, "hey, tea at 5? bring biscuits")]
    config = EvalConfig(judge_max_tokens=16, judge_retries=1)
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        outcomes, summary = run_judge(smollm, jobs, cache, config, progress=False)
        assert summary["failed"] == 0
        (outcome,) = outcomes
        assert outcome["error"] is None and outcome["replies"]
        assert all(isinstance(r, str) and r.strip() for r in outcome["replies"])
        parsed = parse_verdicts(outcome["replies"][-1], record.level)
        if parsed.ok:
            assert len(parsed.verdicts or ()) == 2 and summary["unparsable"] == 0
        else:  # re-asked once with the reminder, then reported instead of guessed
            assert len(outcome["replies"]) == 2 and summary["unparsable"] == 1
        again, summary2 = run_judge(smollm, jobs, cache, config, progress=False)
    assert summary2["sent"] == 0 and again == outcomes  # greedy + cached: identical, not re-run


def test_small_run_with_the_embedded_model(
    smollm: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["followbench", "run", "--data", str(FIXTURE), "--out", str(out), "--name", "smollm2"]
    argv += ["--categories", "situation", "--max-chains", "1", "--max-new-tokens", "12"]
    argv += ["--judge-max-tokens", "8", "--judge-retries", "0"]
    # no --model/--judge: both default to the embedded model; the judge also scores the rule
    # items, which fills the judge-vs-rules reliability numbers
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "FollowBench - smollm2" in printed and "HSR (%)" in printed

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["config"]["model"] == "transformers"
    assert results["config"]["judge"] == "transformers"
    assert results["counts"]["by_scorer"] == {"rule:original:BBH_time": 5}
    for metric in ("hsr", "ssr"):
        for level in "12345":
            assert results["per_category"]["situation"][metric][level] in (0.0, 1.0)
    hsr = results["tables"]["level"]["hsr"]
    assert set(hsr) == {"1", "2", "3", "4", "5", "avg"}
    assert results["results"]["followbench"]["hsr_avg,none"] == hsr["avg"]
    vs_rules = results["reliability"]["judge_vs_rules"]
    assert vs_rules["n"] + vs_rules["judge_unscored"] == 5

    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all(r["answer"] and r["judge"]["replies"] for r in rows)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "smollm2" in html
