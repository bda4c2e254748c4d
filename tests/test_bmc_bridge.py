"""BMC bridging against the loopback FakeChatServer (real HTTP client), and its command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alignkit.bmc import BridgeConfig, bridge, bridging_prompt, read_pairs
from alignkit.bmc.data import row_to_pair
from alignkit.cli.main import main
from alignkit.llm.testing import FakeChatServer, Fault, always, last_user_content

PAIRS = [
    {
        "prompt": "What is the capital of France?",
        "chosen": "The capital of France is Paris.",
        "rejected": "The capital of France is Berlin, a city on the Seine.",
        "source": "geo",
    },
    {
        "prompt": "How many legs does a spider have?",
        "chosen": "Spiders have eight legs.",
        "rejected": "A spider has six legs, like every insect.",
        "source": "bio",
    },
    {  # the model gives nothing back
        "prompt": "Name a prime number.",
        "chosen": "7 is prime.",
        "rejected": "9 is prime.",
    },
    {  # the model refuses
        "prompt": "Write a haiku about rain.",
        "chosen": "Soft rain on the roof",
        "rejected": "Rain rain rain rain",
    },
    {  # the model returns the draft unchanged
        "prompt": "Say hello.",
        "chosen": "Hello!",
        "rejected": "Hello.",
    },
    {  # the model keeps talking after the revision
        "prompt": "Spell cat.",
        "chosen": "C-A-T",
        "rejected": "K-A-T",
    },
    {  # the server fails this one every time
        "prompt": "Count to three.",
        "chosen": "1, 2, 3",
        "rejected": "1, 3, 2",
    },
    {"prompt": "no responses"},  # a bad row
]

FIXES = {
    "Berlin, a city on the Seine": "Paris, a city on the Seine",
    "six legs, like every insect": "eight legs, unlike insects",
}


def draft_of(body: dict[str, Any]) -> str:
    text = last_user_content(body)
    return text.split("### Draft answer\n", 1)[1].rsplit("\n\nWrite only", 1)[0]


def scripted(body: dict[str, Any]) -> str:
    draft = draft_of(body)
    if "9 is prime" in draft:
        return "   "
    if "Rain rain" in draft:
        return "I'm sorry, but I can't help with that."
    if "Hello." in draft:
        return f"Revised answer: {draft}"
    if "K-A-T" in draft:
        return "C-A-T\n\nThe revised response is: C-A-T, because cat starts with a C."
    for wrong, right in FIXES.items():
        draft = draft.replace(wrong, right)
    return draft


def fails(body: dict[str, Any]) -> bool:
    return "1, 3, 2" in last_user_content(body)


@pytest.fixture()
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PAIRS) + "{broken\n")
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bridge_end_to_end_resume_and_drops(pairs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FakeChatServer(reply=scripted, faults=always(Fault.http(400), match=fails)) as server:
        llm = f"openai:fake@{server.base_url}"
        stats = bridge(pairs_file, out, llm, progress=False)
        rows = _rows(out / "bridged-00000.jsonl")
        assert stats["outputs"] == ["bridged-00000.jsonl"]
        assert stats["written"] == 2 == len(rows)
        assert stats["pairs"] == 7 and stats["rows_read"] == 9
        assert stats["bad_rows"] == {"no_chosen_or_rejected": 1, "invalid_json": 1}
        assert stats["dropped"] == {
            "empty": 1,
            "refusal": 1,
            "unchanged": 1,
            "too_long": 1,
            "llm_failed": 1,
        }
        assert stats["failures"] == 1 and stats["llm"]["failed"] == {"http_400": 1}
        # Answers received but not used; the failed call is counted under `failed`.
        assert stats["llm"]["dropped"] == {"empty": 1, "refusal": 1, "unchanged": 1, "too_long": 1}
        first = rows[0]
        assert first["chosen"] == "The capital of France is Paris, a city on the Seine."
        assert first["rejected"] == PAIRS[0]["rejected"]
        assert first["original_chosen"] == PAIRS[0]["chosen"]
        assert first["prompt"] == PAIRS[0]["prompt"] and first["source"] == "geo"
        assert len(first["pair_id"]) == 16
        # Every prompt carried the winning response as reference and the losing one as draft.
        sent = [last_user_content(b) for b in server.bodies]
        assert any("### Reference answer\nSpiders have eight legs." in p for p in sent)

        hits = server.hits
        again = bridge(pairs_file, out, llm, progress=False)
        assert server.hits == hits  # the finished task is not redone
        assert again == stats and again["failures"] == 1
        assert _rows(out / "bridged-00000.jsonl") == rows

        retried = bridge(pairs_file, out, llm, BridgeConfig(retry_failed=True), progress=False)
        assert server.hits == hits + 1  # only the failed request goes out again
        assert retried["llm"]["cached"] == 6 and retried["llm"]["sent"] == 1

        with pytest.raises(ValueError, match="another configuration"):
            bridge(pairs_file, out, llm, BridgeConfig(temperature=0.5), progress=False)


def test_bridge_conversational_pairs_and_parquet(tmp_path: Path) -> None:
    def msgs(role: str, text: str) -> list[dict[str, str]]:
        return [{"role": role, "content": text}]

    rows = [
        {
            "prompt": msgs("system", "Be brief.") + msgs("user", "Capital of France?"),
            "chosen": msgs("assistant", PAIRS[0]["chosen"]),
            "rejected": msgs("assistant", PAIRS[0]["rejected"]),
        },
        {  # implicit prompt: full conversations sharing their first turn
            "chosen": msgs("user", "Spider legs?") + msgs("assistant", PAIRS[1]["chosen"]),
            "rejected": msgs("user", "Spider legs?") + msgs("assistant", PAIRS[1]["rejected"]),
        },
    ]
    with FakeChatServer(reply=scripted) as server:
        stats = bridge(
            rows,
            tmp_path / "out",
            f"openai:fake@{server.base_url}",
            BridgeConfig(output_format="parquet"),
            progress=False,
        )
        # Requests run concurrently: their order at the server is not fixed.
        sent = [last_user_content(b) for b in server.bodies]
        assert any("system: Be brief.\n\nuser: Capital of France?" in p for p in sent)
    assert stats["written"] == 2
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out" / "bridged-00000.parquet").to_pylist()
    assert table[0]["chosen"] == msgs(
        "assistant", "The capital of France is Paris, a city on the Seine."
    )
    assert table[1]["prompt"] == msgs("user", "Spider legs?")
    assert table[1]["rejected"] == msgs("assistant", PAIRS[1]["rejected"])
    # Bridged output reads back as preference pairs, also as a saved datasets.DatasetDict.
    pairs, bad, _ = read_pairs(tmp_path / "out" / "bridged-00000.parquet")
    assert len(pairs) == 2 and not bad
    datasets = pytest.importorskip("datasets")
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(table)}).save_to_disk(saved)
    for source in (saved, datasets.load_from_disk(str(saved))):
        pairs, bad, _ = read_pairs(source)
        assert [p.chosen for p in pairs] == [r["chosen"] for r in table] and not bad


def test_bridged_revision_keeps_the_losing_responses_whitespace(tmp_path: Path) -> None:
    """TRL's string format puts a space before each response; the stripped revision gets the
    losing response's leading and trailing whitespace back, so chosen and rejected start alike."""
    from transformers import PreTrainedTokenizerFast

    from conftest import gpt2_bpe_tokenizer

    rows = [
        {"prompt": "Capital of France?", "chosen": " Paris.", "rejected": " Berlin, on the Seine."},
        {"prompt": "Spider legs?", "chosen": "  Eight.", "rejected": "  six legs, like insects\n"},
        {"prompt": "No space", "chosen": "C-A-T", "rejected": "K-A-T"},
    ]
    fixes = {
        "Berlin, on the Seine.": "Paris, on the Seine.",
        "six legs, like insects": "eight legs",
        "K-A-T": "C-A-T",
    }

    def reply(body: dict[str, Any]) -> str:
        return fixes[draft_of(body).strip()]  # the draft is sent stripped, the answer too

    with FakeChatServer(reply=reply) as server:
        stats = bridge(rows, tmp_path / "out", f"openai:fake@{server.base_url}", progress=False)
    assert stats["written"] == 3
    got = {r["rejected"]: r["chosen"] for r in _rows(tmp_path / "out" / "bridged-00000.jsonl")}
    assert got == {
        " Berlin, on the Seine.": " Paris, on the Seine.",
        "  six legs, like insects\n": "  eight legs\n",
        "K-A-T": "C-A-T",
    }
    # Only the edited word differs: both start with a space-prefixed token, the rest is shared.
    tok = PreTrainedTokenizerFast(tokenizer_object=gpt2_bpe_tokenizer())
    chosen = tok.tokenize(got[" Berlin, on the Seine."])
    rejected = tok.tokenize(rows[0]["rejected"])
    assert chosen[0] == "\u0120Paris" and rejected[0] == "\u0120Berlin"
    assert chosen[1:] == rejected[1:]


def test_bridging_prompt_and_row_checks() -> None:
    pair, why = row_to_pair(PAIRS[0])
    assert why is None and pair is not None
    prompt = bridging_prompt(pair)
    assert prompt.index(pair.prompt_text) < prompt.index(pair.chosen_text)
    assert prompt.index(pair.chosen_text) < prompt.index(pair.rejected_text)
    assert row_to_pair({"prompt": "q", "chosen": "", "rejected": "x"}) == (None, "empty_response")
    assert row_to_pair({"prompt": 3, "chosen": "a", "rejected": "b"})[1] == "bad_field_type"
    assert row_to_pair(["not", "a", "dict"])[1] == "not_an_object"


def test_bridge_cli(pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeChatServer(reply=scripted, faults=always(Fault.http(400), match=fails)) as server:
        config = tmp_path / "bridge.yaml"
        config.write_text(f"llm: openai:fake@{server.base_url}\nmax_pairs: 2\n")
        code = main(
            [
                "bmc",
                "bridge",
                str(pairs_file),
                "--out",
                str(tmp_path / "o"),
                "--config",
                str(config),
            ]
        )
    assert code == 0  # the failing pair is beyond --max-pairs
    assert "2 of 2 pairs bridged" in capsys.readouterr().out
    assert main(["bmc", "bridge", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path)]) == 2
    assert main(["bmc", "bridge", str(pairs_file), "--out", str(tmp_path / "d"), "--dry-run"]) == 0
    shown = capsys.readouterr().out
    assert "### Draft answer\nThe capital of France is Berlin" in shown
    assert not (tmp_path / "d").exists()
