"""FollowBench metrics and reliability statistics on hand-computed cases."""

from __future__ import annotations

import pytest

from alignkit.followbench import (
    ItemScore,
    binary_agreement,
    category_level_metrics,
    judge_agreement,
    judge_vs_rules,
    paper_tables,
)


def _chain(category: str, chain: str, verdicts: list[tuple[bool | None, float | None]]) -> list:
    return [
        ItemScore(chain, category, level, hard, soft, "test")
        for level, (hard, soft) in enumerate(verdicts, start=1)
    ]


@pytest.fixture()
def scores() -> list[ItemScore]:
    t, f = True, False
    return (
        _chain("content", "a", [(t, 1.0), (f, 0.5), (t, 1.0), (f, 0.75), (f, 0.6)])
        + _chain("content", "b", [(t, 1.0), (t, 1.0), (f, 2 / 3), (f, 0.25), (t, 1.0)])
        + _chain("style", "c", [(t, 1.0)] * 5)
        # level 3 unscored (e.g. an unparsable judge reply): out of L3's mean; the chain failed
        # level 1, so its CSL is 0 whatever comes later
        + _chain("style", "d", [(f, 0.0), (f, 0.0), (None, None), (t, 1.0), (t, 1.0)])
    )


def test_per_category_hsr_ssr_csl(scores: list[ItemScore]) -> None:
    m = category_level_metrics(scores)
    assert list(m) == ["content", "style"]
    content, style = m["content"], m["style"]
    assert content["hsr"] == pytest.approx({1: 1.0, 2: 0.5, 3: 0.5, 4: 0.0, 5: 0.5})
    assert content["ssr"] == pytest.approx({1: 1.0, 2: 0.75, 3: 5 / 6, 4: 0.5, 5: 0.8})
    assert content["csl"] == pytest.approx(1.5)  # chain a: 1 level, chain b: 2 levels
    assert style["hsr"] == pytest.approx({1: 0.5, 2: 0.5, 3: 1.0, 4: 1.0, 5: 1.0})
    assert style["ssr"] == pytest.approx({1: 0.5, 2: 0.5, 3: 1.0, 4: 1.0, 5: 1.0})
    assert style["csl"] == pytest.approx(2.5)  # chain c: 5, chain d: 0 (never 5 for d)
    assert style["n_scored"][3] == 1 and style["n_unscored"][3] == 1
    assert style["n_csl_chains"] == 2 and style["n_chains"] == 2


def test_csl_leaves_out_only_a_run_ending_at_an_unscored_level() -> None:
    t = True
    scores = _chain("format", "x", [(t, 1.0), (t, 1.0), (None, None), (False, 0.0), (t, 1.0)])
    scores += _chain("format", "y", [(t, 1.0), (False, 0.0), (None, None), (t, 1.0), (t, 1.0)])
    m = category_level_metrics(scores)["format"]
    assert m["csl"] == 1.0 and m["n_csl_chains"] == 1  # x's run length is unknown: left out


def test_standard_errors_hand_computed(scores: list[ItemScore]) -> None:
    m = category_level_metrics(scores)
    # content L2 hard values [0, 1]: sample std 0.7071, stderr 0.5; L1 [1, 1]: 0
    assert m["content"]["stderr"]["hsr"][2] == pytest.approx(0.5)
    assert m["content"]["stderr"]["hsr"][1] == pytest.approx(0.0)
    # content L2 soft values [0.5, 1.0]: std 0.35355, stderr 0.25
    assert m["content"]["stderr"]["ssr"][2] == pytest.approx(0.25)
    # style L3 has one scored item: no stderr
    assert m["style"]["stderr"]["hsr"][3] is None
    # CSL per chain: content [1, 2] -> stderr 0.5; style [5, 0] -> 2.5
    assert m["content"]["stderr"]["csl"] == pytest.approx(0.5)
    assert m["style"]["stderr"]["csl"] == pytest.approx(2.5)
    tables = paper_tables(m)
    # level 2 over content and style: sqrt(0.5^2 + 0.5^2) / 2
    assert tables["level_stderr"]["hsr"]["2"] == pytest.approx((0.5**2 + 0.5**2) ** 0.5 / 2)
    assert tables["csl_stderr"] == pytest.approx((0.5**2 + 2.5**2) ** 0.5 / 2)
    # content per-chain HSR averages over levels: a 0.4, b 0.6 -> stderr 0.1
    assert tables["category"]["content"]["hsr_stderr"] == pytest.approx(0.1)


def test_paper_tables(scores: list[ItemScore]) -> None:
    tables = paper_tables(category_level_metrics(scores))
    hsr, ssr = tables["level"]["hsr"], tables["level"]["ssr"]
    assert [hsr[str(lv)] for lv in range(1, 6)] == pytest.approx([0.75, 0.5, 0.75, 0.5, 0.75])
    assert hsr["avg"] == pytest.approx(0.65)
    assert [ssr[str(lv)] for lv in range(1, 6)] == pytest.approx(
        [0.75, 0.625, (5 / 6 + 1) / 2, 0.75, 0.9]
    )
    assert ssr["avg"] == pytest.approx((0.75 + 0.625 + (5 / 6 + 1) / 2 + 0.75 + 0.9) / 5)
    assert tables["category"]["content"]["hsr"] == pytest.approx(0.5)
    assert tables["category"]["style"]["hsr"] == pytest.approx(0.8)
    assert tables["category"]["content"]["ssr"] == pytest.approx((1 + 0.75 + 5 / 6 + 0.5 + 0.8) / 5)
    assert tables["csl"] == pytest.approx(2.0)


def test_rule_items_count_the_same_for_hsr_and_ssr() -> None:
    scores = _chain(
        "example", "e", [(True, 1.0), (False, 0.0), (True, 1.0), (True, 1.0), (False, 0.0)]
    )
    m = category_level_metrics(scores)["example"]
    assert m["hsr"] == m["ssr"] == {1: 1.0, 2: 0.0, 3: 1.0, 4: 1.0, 5: 0.0}
    assert m["csl"] == 1.0


def test_binary_agreement_hand_computed() -> None:
    t, f = True, False
    stats = binary_agreement([(t, t), (t, f), (f, f), (f, f), (t, t)])
    assert stats["confusion"] == {"tp": 2, "fp": 0, "fn": 1, "tn": 2}
    assert stats["agreement"] == pytest.approx(0.8)
    assert stats["kappa"] == pytest.approx((0.8 - 0.48) / 0.52)
    assert stats["precision"] == 1.0 and stats["recall"] == pytest.approx(2 / 3)
    assert stats["f1"] == pytest.approx(0.8)
    assert binary_agreement([(t, t), (t, t)])["kappa"] is None  # undefined, not 1 or 0
    assert binary_agreement([])["agreement"] is None


def test_judge_vs_rules_and_judge_agreement() -> None:
    rows = [
        {"category": "example", "rule_hard": True, "judge_hard": True},
        {"category": "example", "rule_hard": False, "judge_hard": True},
        {"category": "situation", "rule_hard": False, "judge_hard": None},
    ]
    out = judge_vs_rules(rows)
    assert out["n"] == 2 and out["agreement"] == 0.5 and out["judge_unscored"] == 1
    assert out["confusion"]["fp"] == 1 and set(out["per_category"]) == {"example"}
    pairs = [
        {"category": "style", "verdicts": [True, False], "verdicts2": [True, True]},
        {"category": "style", "verdicts": [True, True, True], "verdicts2": [True, True, True]},
        {"category": "format", "verdicts": None, "verdicts2": [True]},
    ]
    agree = judge_agreement(pairs)
    assert agree["items"]["n"] == 2 and agree["items"]["agreement"] == 0.5
    assert agree["constraints"]["n"] == 5 and agree["constraints"]["agreement"] == 0.8
    assert agree["either_unscored"] == 1
