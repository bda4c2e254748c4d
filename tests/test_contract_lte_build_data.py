"""`lte build-data` on the stage kit: the stage contract, with LLM fills from the loopback fake
server and a bag-of-words embedder, on two small KnowEdit-format files written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_contract import ContractCase, check_stage_contract
from test_lte_build_data import bow_embed, old_answer

from alignkit.llm.testing import FakeChatServer
from alignkit.lte import BuildDataConfig, BuildDataStage

COUNTRIES = ["Avalon", "Brigadoon", "Cockaigne", "Dinotopia", "Elbonia", "Florin", "Genovia"]


def counterfact_rows() -> list[dict]:
    rows = []
    for i, country in enumerate(COUNTRIES * 3):
        town = f"Town{i}"
        rows.append(
            {
                "subject": town,
                "prompt": f"The country {town} belongs to is",
                "target_new": country,
                "ground_truth": COUNTRIES[(i + 1) % len(COUNTRIES)],
                "portability": {
                    "Reasoning": [
                        {"prompt": f"The capital of the country of {town} is", "ground_truth": "X"}
                    ]
                },
                "locality": {
                    "Relation_Specificity": [
                        {"prompt": f"The mayor of {town} is", "ground_truth": f"Mayor {i}"}
                    ]
                },
            }
        )
    return rows


def wikibio_rows() -> list[dict]:
    return [
        {
            "text": f"This is a Wikipedia passage about person {i}. Person {i} was a painter.",
            "labels": f"Person {i} later moved to city {i % 4}.",
            "concept": f"person {i}",
            "locality": {
                "Relation_Specificity": [
                    {"prompt": f"The occupation of person {i} is", "ground_truth": ["painter"]}
                ]
            },
        }
        for i in range(12)
    ]


def write_inputs(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in (
        ("train_cf.json", counterfact_rows()),
        ("wikibio-train.json", wikibio_rows()),
    ):
        path = folder / name
        path.write_text(json.dumps(rows), encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.fixture()
def server():
    with FakeChatServer(reply=old_answer) as fake:
        yield fake


def test_build_data_stage_contract(server, tmp_path: Path) -> None:
    settings = {"llm": f"openai:fake@{server.base_url}", "seed": 5}
    case = ContractCase(
        make_inputs=write_inputs,
        make_stage=lambda **changes: BuildDataStage(
            BuildDataConfig(**{**settings, **changes}), embed=bow_embed
        ),
        changed={"p_rewrite": 0.5},
        changed_keys=["config.p_rewrite"],
        llm_requests=lambda: server.hits,
    )
    check_stage_contract(case, tmp_path)
    caches = sorted(p.name for p in (tmp_path / "out" / ".alignkit" / "llm_cache").iterdir())
    assert caches == ["train_cf.sqlite", "wikibio-train.sqlite"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jsonl.gz")) == [
        "train_cf.jsonl.gz",
        "wikibio-train.jsonl.gz",
    ]
