"""LTE's shipped demo edits (python/alignkit/lte/data, written for alignkit): they ship as package
data, load as the KnowEdit source their names say with nothing skipped, keep the real formats'
fields, never share a subject, and plan into parallel pairs."""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alignkit.lte import BuildDataConfig, FactPool, load_knowedit, plan_pairs

# name: (source guessed from the name, edits)
DEMO_FILES = {
    "demo_train_counterfact.json": ("counterfact", 150),
    "demo_train_zsre.json": ("zsre", 150),
    "demo_heldout_zsre.json": ("zsre", 60),
}
# The top-level fields of KnowEdit's train_cf.json and ZsRE-test-all.json records (ZsRE's
# `cond` is left out: no loader reads it).
FIELDS = {
    "counterfact": {"subject", "prompt", "target_new", "ground_truth", "portability", "locality"},
    "zsre": {
        "subject",
        "prompt",
        "target_new",
        "ground_truth",
        "rephrase_prompt",
        "portability",
        "locality",
    },
}
MAX_ANSWER_WORDS = 4


def demo_path(name: str) -> Path:
    return Path(str(resources.files("alignkit.lte") / "data" / name))


def raw_records(name: str) -> list[dict[str, Any]]:
    return json.loads(demo_path(name).read_text(encoding="utf-8"))


def probes(record: dict[str, Any], section: str, kind: str) -> list[dict[str, Any]]:
    return record[section].get(kind, [])


def test_demo_files_ship_as_package_data_with_their_readme() -> None:
    folder = resources.files("alignkit.lte") / "data"
    names = {entry.name for entry in folder.iterdir()}
    assert set(DEMO_FILES) | {"README.md"} <= names


@pytest.mark.parametrize("name", sorted(DEMO_FILES))
def test_demo_file_loads_as_its_source_with_nothing_skipped(name: str) -> None:
    source, count = DEMO_FILES[name]
    loaded = load_knowedit(demo_path(name))
    assert loaded.source == source
    assert loaded.total == len(loaded.records) == count
    assert not loaded.skipped and not loaded.probes_skipped
    for record in loaded.records:
        assert record.ground_truth and record.target_new != record.ground_truth
        assert record.portability.get("Reasoning"), record.subject
        assert record.locality.get("Relation_Specificity"), record.subject
        if source == "zsre":
            assert len(record.rephrase) == 1 and record.rephrase[0] != record.prompt


def test_no_subject_appears_twice_across_the_demo_files() -> None:
    seen: dict[str, str] = {}
    for name in DEMO_FILES:
        for record in raw_records(name):
            key = record["subject"].casefold()
            assert key not in seen, f"{record['subject']!r} in {name} and {seen[key]}"
            seen[key] = name
    assert len(seen) == sum(count for _, count in DEMO_FILES.values())


@pytest.mark.parametrize("name", sorted(DEMO_FILES))
def test_demo_records_keep_the_real_formats_fields(name: str) -> None:
    source, _ = DEMO_FILES[name]
    for record in raw_records(name):
        assert set(record) == FIELDS[source], record
        subject, target = record["subject"], record["target_new"]
        truth = record["ground_truth"]
        if source == "zsre":
            assert isinstance(truth, list) and len(truth) == 1
            truth = truth[0]
            assert record["prompt"].endswith("?") and record["rephrase_prompt"].endswith("?")
            assert subject in record["rephrase_prompt"]
        assert isinstance(truth, str) and truth.casefold() != target.casefold()
        assert subject in record["prompt"]
        answers = [target, truth]
        for section in ("portability", "locality"):
            for kind, entries in record[section].items():
                for probe in entries:
                    answer = probe["ground_truth"]
                    if source == "zsre" and section == "locality":
                        assert isinstance(answer, list) and len(answer) == 1
                        answer = answer[0]
                    assert isinstance(answer, str) and answer.strip(), (kind, probe)
                    answers.append(answer)
                    if kind in ("Relation_Specificity", "Forgetfulness"):
                        assert subject in probe["prompt"], probe
        assert all(len(a.split()) <= MAX_ANSWER_WORDS for a in answers), answers
        for probe in probes(record, "locality", "Relation_Specificity"):
            assert probe["prompt"] != record["prompt"]


def test_counterfact_aliases_and_forgetfulness_follow_the_edit() -> None:
    records = raw_records("demo_train_counterfact.json")
    with_forgetting = 0
    for record in records:
        assert record["prompt"].endswith(" is")
        for probe in probes(record, "portability", "Subject_Aliasing"):
            assert probe["prompt"] != record["prompt"]  # the same question about another name
            assert probe["ground_truth"] == record["target_new"]
        for probe in probes(record, "locality", "Forgetfulness"):
            assert f"not {record['target_new']}," in probe["prompt"]
            assert probe["ground_truth"] == record["ground_truth"]
            with_forgetting += 1
    assert 0.4 <= with_forgetting / len(records) <= 0.6
    assert sum(bool(probes(r, "portability", "Subject_Aliasing")) for r in records) >= 10


@pytest.mark.parametrize("name", sorted(DEMO_FILES))
def test_demo_file_plans_parallel_pairs_for_every_edit(name: str) -> None:
    loaded = load_knowedit(demo_path(name))
    facts = [record.fact for record in loaded.records]
    embeddings = np.random.default_rng(0).standard_normal((len(facts), 16))
    pool = FactPool(facts, [record.subject for record in loaded.records], embeddings, 5)
    pairs, counts = plan_pairs(loaded, pool, BuildDataConfig(), random.Random(0))
    assert counts["edits_used"] == len(loaded.records)
    assert {pair.edit_id for pair in pairs} == {record.edit_id for record in loaded.records}
    # Only counterfact portability lacks a "without edit" answer in the record (the LLM fills it).
    for pair in pairs:
        assert pair.needs_llm == pair.probe.startswith("portability:"), pair
