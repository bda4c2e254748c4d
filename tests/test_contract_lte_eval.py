"""`lte eval` on the stage kit: the stage contract, with a tiny random Llama, a bag-of-words
embedder and 6 KnowEdit-format edits written here (two chunks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_contract import ContractCase, check_stage_contract
from test_lte_editor import bow_embed

from tiny_models import save_tiny_llama

pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.lte.evaluate import EditEvalConfig, EditEvalStage  # noqa: E402


def zsre_rows() -> list[dict]:
    return [
        {
            "subject": f"Town{i}",
            "prompt": f"Which country is Town{i} in?",
            "target_new": f"Land{i}",
            "ground_truth": [f"Old{i}"],
            "rephrase_prompt": f"Town{i} lies in which country?",
            "locality": {
                "Relation_Specificity": [
                    {"prompt": f"The mayor of Town{i} is", "ground_truth": [f"Mayor{i}"]}
                ]
            },
            "portability": {
                "Reasoning": [
                    {"prompt": f"The capital of Town{i}'s country is", "ground_truth": "C"}
                ]
            },
        }
        for i in range(6)
    ]


def write_inputs(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zsre-small.json"
    path.write_text(json.dumps(zsre_rows()), encoding="utf-8")
    return [str(path)]


@pytest.mark.slow
def test_lte_eval_stage_contract(tmp_path: Path) -> None:
    model = save_tiny_llama(tmp_path / "model", seed=4)
    settings = {"model": str(model), "chunk_size": 3, "fluency": False}
    case = ContractCase(
        make_inputs=write_inputs,
        make_stage=lambda **changes: EditEvalStage(
            EditEvalConfig(**{**settings, **changes}), embed=bow_embed
        ),
        changed={"k": 2},
        changed_keys=["config.k"],
    )
    check_stage_contract(case, tmp_path)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.glob("*.jsonl.gz")) == [
        "zsre-small.00000.jsonl.gz",
        "zsre-small.00003.jsonl.gz",
    ]
    assert json.loads((out / "results.json").read_text())["datasets"]["zsre-small"]["edits"] == 6
