"""LTE build-data's `mquake` source on MQuAKE-format records we wrote ourselves (no MQuAKE data
is available offline, and none may be committed): loading and source guessing, the exact
multi-hop pair, the out-of-scope branch frequencies, general instructions answered through the
loopback fake server, limits and hostile records."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_lte_build_data import bow_embed, pairs_of, read_rows

from alignkit.errors import InputError
from alignkit.llm.testing import FakeChatServer, last_user_content
from alignkit.lte import (
    BuildDataConfig,
    FactPool,
    build_lte_data,
    edit_prompt,
    guess_source,
    load_knowedit,
    plan_pairs,
)
from alignkit.lte.build_data import load_general_instructions


def rewrite(prompt: str, subject: str, new: str, old: str) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "subject": subject,
        "target_new": {"str": new, "id": f"Q{len(new)}"},
        "target_true": {"str": old, "id": f"Q{len(old)}"},
        "question": prompt.replace("{}", subject) + "?",
    }


def hop(question: str, cloze: str, answer: str) -> dict[str, Any]:
    return {"question": question, "cloze": cloze, "answer": answer, "answer_alias": []}


# Invented people, places and facts.
RECORDS: list[dict[str, Any]] = [
    {
        "case_id": 1,
        "requested_rewrite": [
            rewrite("{} is a citizen of", "Orla Brightwater", "Norway", "Canada"),
            rewrite("The capital of {} is", "Norway", "Bergen", "Oslo"),
        ],
        "questions": [
            "What is the capital of the country Orla Brightwater is a citizen of?",
            "Which city is the capital of Orla Brightwater's country?",
            "Orla Brightwater's country has which capital?",
        ],
        "answer": "Ottawa",
        "answer_alias": ["Ottawa, Ontario"],
        "new_answer": "Bergen",
        "new_answer_alias": [],
        "single_hops": [
            hop("Orla Brightwater, citizen of?", "Orla Brightwater is a citizen of", "Canada"),
            hop("What is the capital of Canada?", "The capital of Canada is", "Ottawa"),
        ],
        "new_single_hops": [
            hop("Orla Brightwater, citizen of?", "Orla Brightwater is a citizen of", "Norway"),
            hop("What is the capital of Norway?", "The capital of Norway is", "Bergen"),
        ],
    },
    {
        "case_id": 2,
        "requested_rewrite": [
            rewrite("The author of {} is", "The Glass Orchard", "Pell Varga", "Ines Moor"),
        ],
        "questions": ["Where was the author of The Glass Orchard born?", "q2", "q3"],
        "answer": "Lisbon",
        "new_answer": "Tallinn",
        "single_hops": [
            hop("Who wrote The Glass Orchard?", "The author of The Glass Orchard is", "Ines Moor"),
            hop("Where was Ines Moor born?", "Ines Moor was born in", "Lisbon"),
        ],
        "new_single_hops": [
            hop("Who wrote The Glass Orchard?", "The author of The Glass Orchard is", "Pell Varga"),
            hop("Where was Pell Varga born?", "Pell Varga was born in", "Tallinn"),
        ],
    },
    {
        "case_id": 3,
        "requested_rewrite": [
            rewrite("{} plays for", "Tomas Reyle", "Harbor City FC", "Ridgeback United"),
            rewrite("The home ground of {} is", "Harbor City FC", "Pier Park", "Quay Stadium"),
            rewrite("{} is located in", "Pier Park", "Saltmarsh", "Eastdale"),
        ],
        "questions": ["In which town is the home ground of Tomas Reyle's club?", "q2", "q3"],
        "answer": "Westford",
        "new_answer": "Saltmarsh",
        "single_hops": [
            hop("q", "Tomas Reyle plays for", "Ridgeback United"),
            hop("q", "The home ground of Ridgeback United is", "Fen Arena"),
            hop("q", "Fen Arena is located in", "Westford"),
        ],
        "new_single_hops": [
            hop("q", "Tomas Reyle plays for", "Harbor City FC"),
            hop("q", "The home ground of Harbor City FC is", "Pier Park"),
            hop("q", "Pier Park is located in", "Saltmarsh"),
        ],
    },
    {
        "case_id": 4,
        "requested_rewrite": [rewrite("{} speaks", "Anneli Korhoven", "Basque", "Finnish")],
        "questions": ["Which language family does Anneli Korhoven's language belong to?"],
        "answer": "Uralic",
        "new_answer": "language isolate",
        "single_hops": [
            hop("q", "Anneli Korhoven speaks", "Finnish"),
            hop("q", "Finnish belongs to the language family of", "Uralic"),
        ],
        "new_single_hops": [
            hop("q", "Anneli Korhoven speaks", "Basque"),
            hop("q", "Basque belongs to the language family of", "language isolate"),
        ],
    },
    {
        "case_id": 5,
        "requested_rewrite": [rewrite("{} founded by", "Lumen Dynamics", "A. Quist", "B. Holm")],
        "questions": ["What is the nationality of the founder of Lumen Dynamics?"],
        "answer": "Danish",
        "new_answer": "Swedish",
        "single_hops": [
            hop("q", "Lumen Dynamics founded by", "B. Holm"),
            hop("q", "B. Holm is a citizen of", "Danish"),
        ],
        "new_single_hops": [
            hop("q", "Lumen Dynamics founded by", "A. Quist"),
            hop("q", "A. Quist is a citizen of", "Swedish"),
        ],
    },
]

INSTRUCTIONS = [
    "Write a haiku about a lighthouse in winter.",
    "Explain why the sky looks blue, for a ten-year-old.",
    "List three ways to keep basil fresh.",
]


def many_records(n: int) -> list[dict[str, Any]]:
    """`n` generated two-hop records (invented places and rulers)."""
    out = []
    for i in range(n):
        town, new_ruler, old_ruler = f"Town{i}", f"Ruler{i}a", f"Ruler{i}b"
        out.append(
            {
                "case_id": i,
                "requested_rewrite": [rewrite("The mayor of {} is", town, new_ruler, old_ruler)],
                "questions": [f"Where was the mayor of {town} born?"],
                "answer": f"Village{i}b",
                "new_answer": f"Village{i}a",
                "single_hops": [
                    hop("q", f"The mayor of {town} is", old_ruler),
                    hop("q", f"{old_ruler} was born in", f"Village{i}b"),
                ],
                "new_single_hops": [
                    hop("q", f"The mayor of {town} is", new_ruler),
                    hop("q", f"{new_ruler} was born in", f"Village{i}a"),
                ],
            }
        )
    return out


def general_answer(body: dict[str, Any]) -> str:
    return f"GEN<{last_user_content(body)[:24]}>"


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text(json.dumps(rows))
    return path


NO_DISTRACTORS = {"p_one_distractor": 0.0, "p_two_distractors": 0.0}


# -- loading -------------------------------------------------------------------------------------


def test_mquake_records_load_and_the_source_is_guessed(tmp_path: Path) -> None:
    by_name = load_knowedit(write(tmp_path / "MQuAKE-CF-3k.json", RECORDS))
    by_fields = load_knowedit(write(tmp_path / "edits.json", RECORDS))
    assert by_name.source == by_fields.source == "mquake"
    assert guess_source("data/mquake-t.json") == "mquake"
    assert guess_source("x.json", {"requested_rewrite": [], "new_single_hops": []}) == "mquake"
    assert by_name.records == by_fields.records and len(by_name.records) == 5
    first = by_name.records[0]
    assert first.subject == "Orla Brightwater" and first.target_new == "Norway"
    assert first.prompt == "Orla Brightwater is a citizen of" and first.ground_truth == "Canada"
    assert first.fact == "Orla Brightwater is a citizen of Norway"
    assert first.multi_hop.facts == (
        "Orla Brightwater is a citizen of Norway",
        "The capital of Norway is Bergen",
    )
    assert first.multi_hop.question == RECORDS[0]["questions"][0]
    assert first.multi_hop.with_edit_answer == (
        "Bergen\nOrla Brightwater is a citizen of Norway\nThe capital of Norway is Bergen"
    )
    assert first.multi_hop.without_edit_answer == (
        "Ottawa\nOrla Brightwater is a citizen of Canada\nThe capital of Canada is Ottawa"
    )


# -- the in-scope pair ---------------------------------------------------------------------------


def test_multi_hop_pair_texts(tmp_path: Path) -> None:
    path = write(tmp_path / "mquake_cf.json", RECORDS)
    config = BuildDataConfig(seed=3, **NO_DISTRACTORS)
    stats = build_lte_data([path], tmp_path / "out", config, embed=bow_embed, progress=False)
    rows = read_rows(tmp_path / "out")
    in_scope = [r for r in rows if r["scope"] == "in"]
    assert len(in_scope) == 2 * 5 and {r["probe"] for r in in_scope} == {"multi_hop"}
    with_edit, without = [r for r in in_scope if r["edit_id"] == "mquake-00002"]
    assert with_edit["with_edit"] and not without["with_edit"]
    question = "In which town is the home ground of Tomas Reyle's club?"
    assert with_edit["messages"][0]["content"] == edit_prompt(
        question,
        [
            "Tomas Reyle plays for Harbor City FC",
            "The home ground of Harbor City FC is Pier Park",
            "Pier Park is located in Saltmarsh",
        ],
    )
    assert (
        "1. Tomas Reyle plays for Harbor City FC\n2. The home ground"
        in (with_edit["messages"][0]["content"])
    )
    assert with_edit["messages"][1]["content"] == (
        "Saltmarsh\nTomas Reyle plays for Harbor City FC\n"
        "The home ground of Harbor City FC is Pier Park\nPier Park is located in Saltmarsh"
    )
    assert without["messages"] == [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": "Westford\nTomas Reyle plays for Ridgeback United\n"
            "The home ground of Ridgeback United is Fen Arena\nFen Arena is located in Westford",
        },
    ]
    assert without["answer_from"] == with_edit["answer_from"] == "record"
    # No general-instruction file: every out-of-scope pair is skipped and counted.
    mquake = stats["sources"]["mquake"]
    assert mquake["out_of_scope_skipped"] == {"no_general_instructions": 5}
    assert mquake["pairs"] == {"in": 5}


def test_rewrites_come_first_then_distractors_of_the_first_rewrite(tmp_path: Path) -> None:
    records = many_records(60) + RECORDS
    path = write(tmp_path / "mquake.json", records)
    loaded = load_knowedit(path)
    subject_of = {r.fact: r.subject for r in loaded.records}
    config = BuildDataConfig(seed=1, p_one_distractor=0.0, p_two_distractors=1.0)
    build_lte_data([path], tmp_path / "out", config, embed=bow_embed, progress=False)
    rows = [r for r in read_rows(tmp_path / "out") if r["with_edit"]]
    shown = 0
    for row in rows:
        record = loaded.records[int(row["edit_id"].split("-")[1])]
        own = list(record.multi_hop.facts)
        assert row["facts"][: len(own)] == own
        for distractor in row["facts"][len(own) :]:
            assert subject_of[distractor] != record.subject and distractor not in own
            shown += 1
    assert shown > 0


# -- the out-of-scope branch ---------------------------------------------------------------------


def plan(records: list[dict[str, Any]], tmp_path: Path, **options: Any):
    loaded = load_knowedit(write(tmp_path / "mquake.json", records))
    facts = [r.fact for r in loaded.records]
    pool = FactPool(facts, [r.subject for r in loaded.records], bow_embed(facts), 5)
    config = BuildDataConfig(**{**NO_DISTRACTORS, **options})
    return plan_pairs(loaded, pool, config, random.Random(7), INSTRUCTIONS)


def test_out_of_scope_branch_frequencies(tmp_path: Path) -> None:
    n = 3000
    pairs, counts = plan(many_records(n), tmp_path, mquake_max_records=None)
    branch = counts["out_of_scope_branch"]
    assert sum(branch.values()) == n
    assert abs(branch["earlier"] / n - 0.5) < 0.03, branch
    out = [p for p in pairs if p.scope == "out"]
    assert len(out) == n  # one per record: the first falls back, none is skipped
    # Only the first record can find no earlier pair (it then asks a general instruction).
    fallbacks = counts.get("out_of_scope_fallback", {}).get("no_earlier_pair", 0)
    assert fallbacks <= 1
    probes = Counter(p.probe for p in out)
    assert set(probes) == {"general", "reused:general"}
    assert probes["reused:general"] == branch["earlier"] - fallbacks
    # A reused pair repeats one planned before it, with the record's own facts.
    seen: set[str] = set()
    for pair in pairs:
        if pair.scope == "out":
            if pair.probe == "reused:general":
                assert pair.question in seen
            seen.add(pair.question)
            assert pair.needs_llm and pair.llm_answers_both and pair.llm_task == "instruction"
    assert {p.question for p in out} == set(INSTRUCTIONS)
    # Only general instructions, or only reuse after the first record.
    pairs, counts = plan(many_records(50), tmp_path, p_earlier_out_of_scope=0.0)
    assert Counter(p.probe for p in pairs if p.scope == "out") == {"general": 50}
    pairs, counts = plan(many_records(50), tmp_path, p_earlier_out_of_scope=1.0)
    assert counts["out_of_scope_fallback"] == {"no_earlier_pair": 1}
    assert Counter(p.probe for p in pairs if p.scope == "out") == {
        "general": 1,
        "reused:general": 49,
    }


def test_the_first_records_of_a_file_only(tmp_path: Path) -> None:
    pairs, counts = plan(many_records(40), tmp_path, mquake_max_records=15)
    assert counts["edits_used"] == 15
    assert {p.edit_id for p in pairs} == {f"mquake-{i:05d}" for i in range(15)}


# -- general instructions answered by the LLM ----------------------------------------------------


def test_general_instructions_are_answered_by_the_llm(tmp_path: Path) -> None:
    instructions = tmp_path / "general.jsonl"
    lines = [
        json.dumps({"instruction": INSTRUCTIONS[0], "output": "not used"}),
        INSTRUCTIONS[1],
        json.dumps({"no_instruction": 1}),
        "",
        json.dumps({"instruction": INSTRUCTIONS[2]}),
    ]
    instructions.write_text("\n".join(lines) + "\n")
    assert load_general_instructions(instructions) == (INSTRUCTIONS, 1)
    path = write(tmp_path / "mquake_t.json", many_records(40) + RECORDS)
    with FakeChatServer(reply=general_answer, record_bodies=True) as fake:
        config = BuildDataConfig(
            seed=2,
            llm=f"openai:fake@{fake.base_url}",
            general_instructions=str(instructions),
        )
        stats = build_lte_data([path], tmp_path / "out", config, embed=bow_embed, progress=False)
        asked = fake.prompts
    # Each instruction is sent once, as it is (no task prefix), whatever reused it.
    assert asked == Counter({text: 1 for text in INSTRUCTIONS})
    mquake = stats["sources"]["mquake"]
    assert mquake["general_instructions"] == 3 and mquake["general_instructions_skipped"] == 1
    assert mquake["pairs"] == {"in": 45, "out": 45}
    assert mquake["llm_fill"] == {"needs_llm": 45, "filled": 45}
    rows = read_rows(tmp_path / "out")
    out_pairs = [v for v in pairs_of(rows).values() if v[0]["scope"] == "out"]
    assert len(out_pairs) == 45
    for with_edit, without in out_pairs:
        question = without["messages"][0]["content"]
        expected = f"GEN<{question[:24]}>"
        assert with_edit["messages"][1]["content"] == without["messages"][1]["content"] == expected
        assert with_edit["answer_from"] == without["answer_from"] == "llm"
        assert with_edit["messages"][0]["content"] == edit_prompt(question, with_edit["facts"])
    in_rows = [r for r in rows if r["scope"] == "in"]
    assert all(r["answer_from"] == "record" for r in in_rows)


def test_without_an_llm_general_pairs_are_left_out_and_counted(tmp_path: Path) -> None:
    instructions = tmp_path / "general.txt"
    instructions.write_text("\n".join(INSTRUCTIONS))
    path = write(tmp_path / "mquake.json", RECORDS)
    config = BuildDataConfig(general_instructions=str(instructions))
    stats = build_lte_data([path], tmp_path / "out", config, embed=bow_embed, progress=False)
    assert stats["sources"]["mquake"]["llm_fill"] == {"needs_llm": 5, "left_out": {"no_llm": 5}}
    assert {r["scope"] for r in read_rows(tmp_path / "out")} == {"in"}


def test_unusable_general_instruction_files_are_input_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "mquake.json", RECORDS)
    empty = tmp_path / "general.jsonl"
    empty.write_text(json.dumps({"text": "no instruction key"}) + "\n")
    for name, unusable in (("absent", tmp_path / "absent.jsonl"), ("empty", empty)):
        config = BuildDataConfig(general_instructions=str(unusable))
        with pytest.raises(InputError, match="general"):
            build_lte_data([path], tmp_path / name, config, embed=bow_embed, progress=False)


# -- hostile records -----------------------------------------------------------------------------


def test_hostile_mquake_records_are_counted_and_skipped(tmp_path: Path) -> None:
    good = RECORDS[1]
    hostile = [
        "not a record",
        {**good, "requested_rewrite": []},
        {**good, "requested_rewrite": "a string"},
        {**good, "requested_rewrite": [None]},
        {**good, "requested_rewrite": [{**good["requested_rewrite"][0], "prompt": "no slot"}]},
        {**good, "requested_rewrite": [{**good["requested_rewrite"][0], "target_new": {"s": 1}}]},
        {**good, "questions": None},
        {**good, "questions": [7]},
        {**good, "new_answer": ["list"]},
        {**good, "answer": ""},
        {**good, "single_hops": [{"cloze": "c"}]},
        {**good, "new_single_hops": {"cloze": "c", "answer": "a"}},
    ]
    path = write(tmp_path / "mquake.json", [good, *hostile])
    loaded = load_knowedit(path)
    assert [r.index for r in loaded.records] == [0]
    assert loaded.skipped == Counter(
        {
            "not_an_object": 1,
            "missing_requested_rewrite": 1,
            "bad_requested_rewrite": 2,
            "bad_prompt": 1,
            "missing_target_new": 1,
            "missing_questions": 1,
            "bad_questions": 1,
            "bad_new_answer": 1,
            "missing_answer": 1,
            "bad_single_hops": 1,
            "bad_new_single_hops": 1,
        }
    )
    stats = build_lte_data([path], tmp_path / "out", embed=bow_embed, progress=False)
    mquake = stats["sources"]["mquake"]
    assert mquake["records"] == 13 and sum(mquake["records_skipped"].values()) == 12
    assert mquake["pairs"] == {"in": 1}
