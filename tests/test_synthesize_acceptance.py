"""WebR acceptance, sectioning, page caps and provenance: on real pages (main-content extraction
of ../shared/data/html) and on constructed failures, end to end against the FakeChatServer."""

from __future__ import annotations

import gzip
import json
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from test_synthesize_e2e import VOCAB

from alignkit.llm.testing import FakeChatServer, last_user_content
from alignkit.webr import acceptance, extract_text
from alignkit.webr import synthesize as syn

PAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "html" / "pages"
SEED = 3

pytestmark = pytest.mark.skipif(not PAGES.is_dir(), reason="shared real pages not present")


@lru_cache(maxsize=1)
def real_pages() -> dict[str, str]:
    """Main-content text of every shared real page, by file name."""
    out = {}
    for path in sorted(PAGES.glob("*.html.gz")):
        html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        out[path.name] = extract_text(html, mode="main").text
    return out


# --- sectioning and caps on real pages ----------------------------------------------------------


def test_sections_of_real_pages_are_never_a_bare_title() -> None:
    fell_back = 0
    for name, text in real_pages().items():
        whole = "\n\n".join(syn.paragraphs(text))
        for n in range(20):
            doc_id = f"{name}-{n}"
            page, kept, total = syn.section_page(text, 0, doc_id, min_chars=200)
            raw, raw_kept, _ = syn.section_page(text, 0, doc_id)
            assert len(page) >= 200 or page == whole
            if len(raw) < 200 and raw_kept < total:
                fell_back += 1
                assert (page, kept) == (whole, total)
            else:
                assert (page, kept) == (raw, raw_kept)
    assert fell_back > 0  # the issue saw about 7% of sectioned real pages shrink to a title


@pytest.mark.parametrize("cap", [800, 1000, 3000])
def test_real_pages_are_capped_at_paragraph_or_sentence_ends(cap: int) -> None:
    kinds = []
    for text in real_pages().values():
        text = text.strip()
        cut, kind = syn.cap_page(text, cap)
        assert len(cut) <= cap and text.startswith(cut)
        kinds.append(kind)
        if kind is None:
            assert cut == text
        elif kind == "paragraph":
            assert text[len(cut) :].lstrip(" \t").startswith("\n")
        else:
            assert kind == "sentence", (kind, cut[-120:])
            assert re.search(r"[.!?\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*$", cut)
            assert len(cut) >= cap // 2
    assert "paragraph" in kinds


def test_cap_falls_back_to_a_word_boundary_only_without_sentences() -> None:
    text = "word " * 100
    cut, kind = syn.cap_page(text, 203)
    assert kind == "word" and cut == ("word " * 40).strip()
    text = "Short one. " + "x" * 50 + " " + "y" * 300
    assert syn.cap_page(text, 120) == ("Short one.", "sentence")
    assert syn.cap_page("fits.", 100) == ("fits.", None)


# --- the checks, on real pages and constructed failures -----------------------------------------


def _english_page() -> str:
    return real_pages()["nationalgeographic.co.uk.goats.html.gz"]


def test_web_as_response_request_copying_a_real_page_is_caught() -> None:
    page = _english_page()
    words = page.split()
    copied = "Please explain: " + " ".join(words[40:60]) + "?"
    assert acceptance.copies_page(copied, page, 12, 0.5)
    assert acceptance.longest_shared_run(copied, page) >= 20
    own = (
        "Why do mountain goats climb such steep cliffs, and how do they keep their footing? "
        "Answer in three short paragraphs for curious teenagers, with one surprising fact each."
    )
    assert not acceptance.copies_page(own, page, 12, 0.5)
    for text in real_pages().values():  # a natural request copies no real page
        assert not acceptance.copies_page(own, text, 12, 0.5)


def test_html_and_invented_urls_are_caught_against_the_page() -> None:
    page = _english_page()
    assert acceptance.html_markup("<div>Goats</div> climb cliffs.", page) == "<div>"
    assert acceptance.html_markup("Goats &nbsp;climb.", page) == "&nbsp;"
    assert acceptance.html_markup("Use a < b and x > y; goats climb.", page) is None
    assert acceptance.html_markup("Write <p> tags.", "The <p> element starts a paragraph.") is None
    url = "https://www.nationalgeographic.co.uk/animals/goats"
    assert acceptance.invented_urls("See https://goat-facts.example.com/x.", [page, url]) == [
        "https://goat-facts.example.com/x."
    ]
    assert acceptance.invented_urls(f"Source: {url}/.", [page, url]) == []
    assert acceptance.invented_urls("See www.example.org.", ["Visit https://example.org"]) == []


@pytest.mark.parametrize(
    "text,refusal",
    [
        ("I'm sorry, but I can't help with that.", True),
        ("I\u2019m sorry, but I cannot provide that.", True),
        ("I apologize, but I am unable to write this.", True),
        ("I can't assist with that request.", True),
        ("Unfortunately, I am unable to browse the web.", True),
        ("As an AI language model, I cannot browse the internet.", True),
        ("Sorry, I can't do that.", True),
        ("As an AI researcher at DeepMind, I work on reinforcement learning.", False),
        ("I cannot help but notice how steep these cliffs are.", False),
        ("I'm sorry to hear your goats escaped. Here is how to fence them in.", False),
        ("I cannot stress enough how important fencing is.", False),
        ("I cannot give veterinary advice, but here are general tips.", False),
        ("Goats climb dams to lick salt. I can't think of a stranger habit.", False),
    ],
)
def test_refusals_only_when_the_task_is_declined(text: str, refusal: bool) -> None:
    assert acceptance.is_refusal(text) is refusal


@pytest.mark.parametrize(
    "text,leak",
    [
        ("As an AI language model, I think goats are great.", True),
        ("I am SmolLM, and here is your summary.", True),
        ("As an AI, I have no opinions on goats.", True),
        ("I'm a large language model trained to help.", True),
        ("My knowledge cutoff is 2023.", True),
        ("I was trained by OpenAI to answer questions.", True),
        ("As an AI researcher at DeepMind, I study goats.", False),
        ("I am an assistant professor of zoology.", False),
        ("As an AI and robotics consultant, I write about automation.", False),
        ("Mountain goats are not true goats.", False),
    ],
)
def test_identity_leaks(text: str, leak: bool) -> None:
    assert (acceptance.identity_leak(text) is not None) is leak


@pytest.mark.parametrize(
    "text,ok",
    [
        ("How do mountain goats keep their footing on a dam wall?", True),
        ("Summarise the page in 80 words for children.", True),
        ("In a formal tone, explain why goats lick salt from rocks.", True),
        ("I need a table of the five largest goat breeds with their weights.", True),
        ("Your task is to write a guide for first-time goat keepers, 150 words.", True),
        ("The author is a wildlife photographer who writes about alpine animals.", False),
        ("Sure! Here is a request about goats.", False),
        ("Mountain goats climb the Cingino dam to lick salt.", False),
        ("", False),
    ],
)
def test_request_shape(text: str, ok: bool) -> None:
    assert acceptance.is_request(text) is ok


# --- end to end on real pages, one constructed failure per page ---------------------------------

ROLES = {
    # role: family the document must have
    "ok_wi": "instruction",
    "ok_wr": "response",
    "ok_wr_researcher": "response",
    "not_request": "instruction",
    "over_limit": "instruction",
    "copies": "response",
    "html": "instruction",
    "url": "instruction",
    "identity": "instruction",
    "refusal": "instruction",
    "truncated": "instruction",
}
REAL = [
    "nationalgeographic.co.uk.goats.html.gz",
    "theguardian.com.academics.html.gz",
    "phys.org.tool.html.gz",
    "lemire.me.json.html.gz",
    "blog.python.org.html.gz",
    "reuters.com.parasite.html.gz",
    "salon.com.emissions.html.gz",
    "theverge.com.ios13.html.gz",
    "vice.com.amazon.html.gz",
    "threatpost.com.android.html.gz",
    "gregoryszorc.com.python3.html.gz",
]


def _doc_id(role: str) -> str:
    for n in range(1000):
        doc_id = f"{role}-{n}"
        if syn.family(syn.assign_category(SEED, doc_id)) == ROLES[role]:
            return doc_id
    raise AssertionError(role)


def _docs(path: Path) -> list[dict[str, Any]]:
    pages = real_pages()
    docs = []
    for k, (role, name) in enumerate(zip(ROLES, REAL, strict=True)):
        docs.append(
            {
                "id": _doc_id(role),
                "url": f"https://{name.removesuffix('.html.gz')}/",
                "text": pages[name],
                "date": f"2024-05-0{k % 9 + 1}T10:00:00Z",
                "source_shard": "CC-MAIN-TEST-00000.warc.gz",
                "record_offset": 1000 * (k + 1),
            }
        )
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(d) + "\n" for d in docs)
    return docs


def _scripted(docs: list[dict[str, Any]]) -> Any:
    heads = {syn.paragraphs(d["text"])[0][:60]: (k, d) for k, d in enumerate(docs)}
    roles = list(ROLES)

    def which(text: str) -> tuple[int, dict[str, Any]]:
        marker = re.search(r"ref K(\d+)", text)
        if marker:
            k = int(marker.group(1))
            return k, docs[k]
        return next(v for head, v in heads.items() if head in text)

    def reply(body: dict[str, Any]) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        last = last_user_content(body)
        if "work out who most likely wrote it" in user:
            return "A science journalist who explains research to general readers."
        k, doc = which(last)
        role = roles[k]
        if re.search(r"Output the (?:request|instruction|question) only", user):
            topic = " ".join(random.Random(k).sample(VOCAB, 10))
            if role == "not_request":
                return "The author is a science journalist writing for general readers."
            if role == "over_limit":
                limit = syn.length_limit(SEED, doc["id"])
                return "Please condense the text " + "carefully " * limit + f"ref K{k}."
            if role == "copies":
                return "Please explain: " + " ".join(doc["text"].split()[5:30]) + f" ref K{k}?"
            if ROLES[role] == "response":
                return f"How should a newcomer think about {topic}? Use a short guide, ref K{k}."
            return f"Turn the text into a 120-word brief on {topic}, ref K{k}."
        if "<draft>" in last:
            if role == "ok_wr_researcher":
                return "As an AI researcher at DeepMind, I would start with the basics."
            return "I cannot help but notice three points worth knowing; first, start small."
        if ROLES[role] == "response":
            return "A first draft answer."
        return {
            "html": "<div>A short brief.</div>",
            "url": "Read more at https://invented-source.example.com/brief today.",
            "identity": "I am SmolLM, and here is the brief you asked for.",
            "refusal": "I'm sorry, but I can't help with that.",
            "truncated": "A long brief " * 120,
        }.get(role, "A careful 120-word brief with the key facts.")

    return reply


def _run(tmp_path: Path, name: str, **settings: Any) -> tuple[dict[str, Any], list[dict]]:
    docs_file = tmp_path / "docs.jsonl.gz"
    docs = _docs(docs_file)
    with FakeChatServer(reply=_scripted(docs)) as server:
        config = syn.SynthesizeConfig(
            llm=f"openai:fake@{server.base_url}", seed=SEED, max_tokens=300, **settings
        )
        stats = syn.synthesize([docs_file], tmp_path / name, config=config, progress=False)
    with gzip.open(tmp_path / name / "synthetic.jsonl.gz", "rt", encoding="utf-8") as fh:
        return stats, [json.loads(line) for line in fh]


def test_acceptance_end_to_end_on_real_pages(tmp_path: Path) -> None:
    stats, rows = _run(tmp_path, "out")
    assert stats["dropped"] == {
        "not_a_request": 1,
        "over_word_limit": 1,
        "copies_page": 1,
        "html": 1,
        "invented_url": 1,
        "identity_leak": 1,
        "refusal": 1,
    }
    assert stats["truncated_kept"] == {"response": 1}  # kept, as the original keeps them
    by_role = {r["metadata"]["doc_id"].rsplit("-", 1)[0]: r for r in rows}
    assert set(by_role) == {"ok_wi", "ok_wr", "ok_wr_researcher", "truncated"}
    assert by_role["truncated"]["metadata"]["truncated"] == ["response"]
    assert by_role["ok_wr_researcher"]["messages"][1]["content"].startswith("As an AI researcher")
    assert by_role["ok_wr"]["messages"][1]["content"].startswith("I cannot help but notice")
    assert stats["request_dedup"]["tokenizer"]["unit"] in ("tokens", "words")
    assert stats["mix"]["quota"] == {"instruction": 66666, "response": 33333}

    docs = {d["id"]: d for d in _docs(tmp_path / "again.jsonl.gz")}
    for row in rows:
        meta = row["metadata"]
        doc = docs[meta["doc_id"]]
        assert row["prompt_id"] == syn.example_id(meta["doc_id"], meta["category"], SEED)
        assert meta["source_shard"] == "CC-MAIN-TEST-00000.warc.gz"
        assert meta["record_offset"] == doc["record_offset"]
        assert meta["crawl_date"] == doc["date"] and meta["source_url"] == doc["url"]
        assert meta["llm"].startswith("openai:fake@http://127.0.0.1")
        assert meta["seeds"]["run"] == SEED
        assert meta["seeds"]["llm"]["request"] == syn.doc_seed(SEED, meta["doc_id"], "request")
        assert meta["length_limit"] in syn.LENGTH_LIMITS
        assert len(meta["request"].split()) <= meta["length_limit"]

    # the option drops them instead; nothing else changes
    strict, strict_rows = _run(tmp_path, "strict", keep_truncated=False)
    assert strict["dropped"] == {**stats["dropped"], "truncated": 1}
    assert strict["truncated_kept"] == {}
    assert len(strict_rows) == len(rows) - 1


def test_a_changed_dedup_tokenizer_is_refused(tmp_path: Path) -> None:
    from alignkit.errors import ConfigMismatchError

    _run(tmp_path, "out", tokenizer="words")
    with pytest.raises(ConfigMismatchError, match="request_dedup_tokenizer|tokenizer"):
        _run(tmp_path, "out")
