"""WebR synthesis end to end against the loopback FakeChatServer, and its command line."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from alignkit.cli.main import main
from alignkit.llm.testing import FakeChatServer, Fault, always, last_user_content
from alignkit.webr import synthesize as syn
from alignkit.webr import synthesize_prompts as prompts

SEED = 11
VOCAB = [
    "explain",
    "compare",
    "list",
    "summarise",
    "describe",
    "outline",
    "evaluate",
    "contrast",
    "justify",
    "estimate",
    "budget",
    "schedule",
    "weekly",
    "daily",
    "cheap",
    "quick",
    "safe",
    "beginner",
    "expert",
    "table",
    "checklist",
    "essay",
    "letter",
    "dialogue",
    "haiku",
    "tweet",
    "memo",
    "report",
    "slides",
    "quiz",
    "glossary",
    "timeline",
    "diagram",
    "steps",
    "mistakes",
    "risks",
    "costs",
    "benefits",
    "history",
    "future",
    "tools",
    "materials",
    "alternatives",
    "examples",
    "children",
    "seniors",
    "students",
    "managers",
    "tourists",
    "neighbours",
    "formal",
    "casual",
    "humorous",
]

TOPICS = [
    "tomato seedlings",
    "sourdough starters",
    "bicycle chains",
    "tax deadlines",
    "knitting socks",
    "river kayaking",
    "roof insulation",
    "espresso grinders",
    "chess openings",
    "birdwatching gear",
    "budget travel in Portugal",
    "learning Rust lifetimes",
    "compost bins",
    "winter running shoes",
    "home network routers",
    "watercolour paper",
    "beekeeping basics",
    "bread flour protein",
]


def _id_in(fam: str, prefix: str) -> str:
    for n in range(1000):
        doc_id = f"{prefix}-{n}"
        if syn.family(syn.assign_category(SEED, doc_id)) == fam:
            return doc_id
    raise AssertionError("no id found")


def _page(topic: str, marker: str = "") -> str:
    return (
        f"All about {topic}. {marker}\n\n"
        f"People often ask how to get started with {topic}; here are the basics.\n\n"
        f"Second, mind the common mistakes with {topic} and how to avoid them.\n\n"
        f"Finally, a few advanced tips on {topic} for experienced readers."
    )


def write_docs(path: Path) -> list[dict[str, Any]]:
    docs = [
        {"id": f"doc-{i}", "url": f"https://example.org/{i}", "text": _page(topic)}
        for i, topic in enumerate(TOPICS)
    ]
    docs += [
        # two pages whose requests come back nearly identical
        {"id": "dup-a", "url": "https://example.org/dup-a", "text": _page("ducks", "MARKDUPA")},
        {"id": "dup-b", "url": "https://example.org/dup-b", "text": _page("geese", "MARKDUPB")},
        # the LLM keeps saying "rewrite" for this one
        {
            "id": _id_in("instruction", "stubborn"),
            "url": "https://example.org/stubborn",
            "text": _page("origami cranes", "MARKSTUBBORN"),
        },
        # says "rewrite" once, then complies after the reminder
        {
            "id": _id_in("instruction", "fixable"),
            "url": "https://example.org/fixable",
            "text": _page("paper boats", "MARKFIXABLE"),
        },
        # the answer to its request is a refusal
        {"id": "refused", "url": "https://example.org/r", "text": _page("locks", "MARKREFUSE")},
        # its author call fails (HTTP 400, not retried)
        {"id": "broken", "url": "https://example.org/b", "text": _page("glue", "MARKFAIL")},
        {"id": "blank", "url": "https://example.org/blank", "text": "   "},
    ]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for doc in docs:
            fh.write(json.dumps(doc) + "\n")
    return docs


def _topic(text: str) -> str:
    start = text.find("All about ")
    return text[start + 10 : text.find(".", start)] if start >= 0 else "things"


def scripted(body: dict[str, Any]) -> str | None:
    """Replies by stage, recognised from the prompt text."""
    messages = body["messages"]
    assert messages[0] == {"role": "system", "content": prompts.SYSTEM_MESSAGE}
    first = next(m["content"] for m in messages if m["role"] == "user")
    last = last_user_content(body)
    if "work out who most likely wrote it" in first:
        return "A keen hobbyist " + "who writes friendly practical guides " * 10
    if last == prompts.FORBIDDEN_REMINDER:
        if "MARKSTUBBORN" in first:
            return "Fine: rewrite the page as a haiku."
        return "Turn the paper boats page into a numbered list of five folding steps."
    if re.search(r"Output the (?:request|instruction|question) only", first):
        if "MARKDUPA" in first:
            return "How do I care for tomato plants in the hot summer months?"
        if "MARKDUPB" in first:
            return "How do I care for tomato plants in hot summer months?"
        if "MARKSTUBBORN" in first or "MARKFIXABLE" in first:
            return "Please rewrite this text as a short poem."
        if "MARKREFUSE" in first:
            return "Explain how to open locks without keys, step by step, refuseme."
        topic = _topic(first)
        words = random.Random(topic).sample(VOCAB, 8)
        return f"About {topic}: {' '.join(words)}?"
    if "<draft>" in last:
        return "Refined answer: " + last.split("<request>")[1].split("</request>")[0].strip()
    if "refuseme" in last:
        return "I'm sorry, but I can't help with that."
    return "Draft answer to: " + last[-80:]


def fails(body: dict[str, Any]) -> bool:
    return "MARKFAIL" in last_user_content(body)


@pytest.fixture()
def docs_file(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl.gz"
    write_docs(path)
    return path


def _read(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_end_to_end_and_resume(docs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    server = FakeChatServer(reply=scripted, faults=always(Fault.http(400), match=fails)).start()
    try:
        _end_to_end_and_resume(server, docs_file, out)
    finally:
        server.stop()


def _end_to_end_and_resume(server: FakeChatServer, docs_file: Path, out: Path) -> None:
    llm = f"openai:fake@{server.base_url}"
    stats = syn.synthesize([docs_file], out, llm, syn.SynthesizeConfig(seed=SEED), progress=False)
    assert server.hits > 0
    rows = _read(out / "synthetic.jsonl.gz")
    assert stats["written"] == len(rows)
    st = stats["llm"]
    assert sorted(st) == sorted(syn.LLM_STEPS)
    assert all(set(usage) == set(st["author"]) for usage in st.values())  # one scheme
    assert st["author"]["failures"] == 1 and st["author"]["failed"] == {"http_400": 1}
    assert st["author"]["dropped"] == {"llm_failed": 1}
    assert stats["documents"]["empty_text"] == 1
    assert st["request_retry"]["requests"] == 2
    assert st["request_retry"]["dropped"] == {"forbidden_words": 1}
    assert st["response"]["dropped"] == {"refusal": 1}
    assert stats["dropped"] == {
        "forbidden_words": 1,
        "llm_failed": 1,
        "near_duplicate_request": 1,
        "refusal": 1,
    }
    assert stats["failures"] == 1
    assert stats["sent_now"] == server.hits
    assert stats["written"] == stats["documents"]["used"] - 4  # fail, stubborn, dup, refusal
    assert stats["families"]["instruction"] + stats["families"]["response"] == len(rows)
    assert sum(c["written"] for c in stats["categories"].values()) == len(rows)
    recorded = json.loads((out / ".alignkit" / "stats.json").read_text())
    assert recorded["stats"]["written"] == len(rows)
    assert sorted(p.name for p in out.iterdir()) == [".alignkit", "synthetic.jsonl.gz"]

    by_doc = {r["metadata"]["doc_id"]: r for r in rows}
    assert not {"broken", "refused", "blank"} & set(by_doc)
    assert ("dup-a" in by_doc) != ("dup-b" in by_doc)
    fixable = next(d for d in by_doc if d.startswith("fixable"))
    assert by_doc[fixable]["metadata"]["request_attempts"] == 2
    assert "folding steps" in by_doc[fixable]["metadata"]["request"]
    for row in rows:
        meta = row["metadata"]
        msgs = row["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in msgs)
        assert meta["source_url"].startswith("https://example.org/")
        assert meta["category"] == syn.assign_category(SEED, meta["doc_id"])
        assert len(meta["author_profile"].split()) == syn.AUTHOR_MAX_WORDS
        assert set(meta) == set(rows[0]["metadata"])
        if meta["family"] == "web_as_instruction":
            assert meta["request"] in msgs[0]["content"] and "All about" in msgs[0]["content"]
            starts_with_page = msgs[0]["content"].startswith("All about")
            assert starts_with_page == meta["page_first"]
            assert meta["length_limit"] in syn.LENGTH_LIMITS and meta["rollout"] is None
            assert msgs[1]["content"].startswith("Draft answer to:")
        else:
            assert msgs[0]["content"] == meta["request"]
            assert meta["rollout"].startswith("Draft answer to:")
            assert msgs[1]["content"] == "Refined answer: " + meta["request"]
    assert {r["metadata"]["family"] for r in rows} == {"web_as_instruction", "web_as_response"}

    # resume: everything comes from the cache (the failure is skipped and counted again)
    server.reset_counters()
    again = syn.synthesize([docs_file], out, llm, syn.SynthesizeConfig(seed=SEED), progress=False)
    assert server.hits == 0
    assert again["written"] == stats["written"]
    assert again["sent_now"] == 0 and again["tasks"]["run"] == 0
    assert _read(out / "synthetic.jsonl.gz") == rows
    assert again["llm"]["author"]["failures"] == 1  # skipped, still counted

    # --retry-failed re-sends only the failed request (it fails again here)
    server.reset_counters()
    retried = syn.synthesize(
        [docs_file], out, llm, syn.SynthesizeConfig(seed=SEED), progress=False, retry_failed=True
    )
    assert server.hits == 1 and retried["llm"]["author"]["sent"] == 1
    assert retried["sent_now"] == 1 and _read(out / "synthetic.jsonl.gz") == rows


def test_target_size_mixes_two_to_one(docs_file: Path, tmp_path: Path) -> None:
    with FakeChatServer(reply=scripted) as server:
        llm = f"openai:fake@{server.base_url}"
        stats = syn.synthesize(
            [docs_file],
            tmp_path / "out",
            llm,
            syn.SynthesizeConfig(seed=SEED, target_size=6, compress=False),
            progress=False,
        )
    rows = [json.loads(x) for x in (tmp_path / "out" / "synthetic.jsonl").read_text().splitlines()]
    assert len(rows) == 6 == stats["written"]
    assert stats["families"] == {"instruction": 4, "response": 2}


def test_dry_run_sends_nothing(docs_file: Path, tmp_path: Path, capsys: Any) -> None:
    with FakeChatServer(reply=scripted) as server:
        code = main(
            [
                "webr",
                "synthesize",
                str(docs_file),
                "--out",
                str(tmp_path / "dry"),
                "--llm",
                f"openai:fake@{server.base_url}",
                "--dry-run",
            ]
        )
        assert server.hits == 0
    assert code == 0
    printed = capsys.readouterr().out
    for stage in ("author", "request (instruction_whole)", "refine (web as response)"):
        assert f"===== {stage} =====" in printed
    assert not (tmp_path / "dry" / "synthetic.jsonl.gz").exists()


def test_cli_runs_and_reports(docs_file: Path, tmp_path: Path, capsys: Any) -> None:
    with FakeChatServer(reply=scripted) as server:
        args = [
            "webr",
            "synthesize",
            str(docs_file),
            "--out",
            str(tmp_path / "cli"),
            "--llm",
            f"openai:fake@{server.base_url}",
            "--seed",
            str(SEED),
            "--no-progress",
        ]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "examples written" in out and "request_retry" in out
        # another configuration in the same directory is refused
        assert main([*args, "--seed", "12"]) == 2
        assert "another configuration" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--llm", "openai:m@http://127.0.0.1:9/v1"], "no input"),
        (["DOCS", "--llm", ""], "--llm must not be empty"),
        (["DOCS", "--llm", "nonsense"], "KIND:MODEL"),
        (["DOCS", "--llm", "nokind:m"], "unknown backend kind"),
        (["DOCS", "--llm", "openai:m@http://127.0.0.1:9/v1", "--target-size", "0"], "target_size"),
        (["missing.jsonl.gz", "--llm", "openai:m@http://127.0.0.1:9/v1"], "not found"),
    ],
)
def test_cli_errors(
    extra: list[str], message: str, docs_file: Path, tmp_path: Path, capsys: Any
) -> None:
    extra = [str(docs_file) if x == "DOCS" else x for x in extra]
    code = main(["webr", "synthesize", "--out", str(tmp_path / "e"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_help_lists_options(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["webr", "synthesize", "--help"])
    text = capsys.readouterr().out
    for flag in ("--llm", "--target-size", "--max-docs", "--dry-run", "--concurrency"):
        assert flag in text


def test_config_file_and_parquet_input(tmp_path: Path, capsys: Any) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    docs = write_docs(tmp_path / "docs.jsonl.gz")[:6]
    pq.write_table(pa.Table.from_pylist(docs), tmp_path / "docs.parquet")
    with FakeChatServer(reply=scripted) as server:
        config = tmp_path / "synth.json"
        config.write_text(
            json.dumps(
                {
                    "llm": f"openai:fake@{server.base_url}",
                    "max-docs": 4,
                    "gzip": False,
                    "seed": SEED,
                    "no-progress": True,
                }
            )
        )
        args = ["webr", "synthesize", str(tmp_path / "docs.parquet"), "--config", str(config)]
        assert main([*args, "--out", str(tmp_path / "o")]) == 0
    stats = json.loads((tmp_path / "o" / ".alignkit" / "stats.json").read_text())["stats"]
    assert stats["documents"]["used"] == 4
    assert stats["llm"]["author"]["requests"] == 4
    assert (tmp_path / "o" / "synthetic.jsonl").is_file()
