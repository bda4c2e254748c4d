"""`LTEEditor`: what the memory holds when each edit is scored (sequential 1..i, batch all,
single one, gold none), retrieval against brute force, the template each query is asked in,
EasyEdit-shaped and KnowEdit inputs, and hostile inputs - on a tiny random Llama."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from tiny_models import save_tiny_llama

pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.errors import ConfigError, InputError  # noqa: E402
from alignkit.lte import edit_prompt, fact_sentence, load_knowedit, plain_prompt  # noqa: E402
from alignkit.lte.editor import LTEEditor, prepare_requests, request_from_record  # noqa: E402

ZSRE = Path(__file__).resolve().parents[2] / "shared/data/knowedit/ZsRE/ZsRE-test-all.json"
DIM = 48


def bow_embed(texts):
    """Bag of lower-cased words hashed into DIM buckets (stable across runs)."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().replace("?", " ").split():
            out[row, zlib.crc32(word.encode()) % DIM] += 1.0
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama", seed=1)
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def make_editor(loaded, **options) -> LTEEditor:
    options.setdefault("fluency", False)
    return LTEEditor(loaded, embedder=bow_embed, **options)


class RecordingScorer:
    """Wraps the real scorer and keeps every (prompt, target) it was asked to score."""

    def __init__(self, scorer) -> None:
        self.scorer, self.asked, self.locality = scorer, [], []

    def token_accuracy(self, prompts, targets):
        self.asked.extend(zip(prompts, targets, strict=True))
        return self.scorer.token_accuracy(prompts, targets)

    def locality_agreement(self, plain, edited, targets):
        self.locality.extend(zip(plain, edited, targets, strict=True))
        return self.scorer.locality_agreement(plain, edited, targets)


EDITS = {
    "prompts": [
        "Who is the king of Foo?",
        "Where is the city of Bar?",
        "Who is the queen of Foo?",
        "What river runs through Bar?",
        "Who founded the city of Bar?",
    ],
    "target_new": ["Alice", "Mars", "Beth", "Nile", "Remus"],
}


def brute_force(query: str, prompts: list[str], facts: list[str], k: int) -> list[str]:
    keys = bow_embed(prompts)
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    q = bow_embed([query])[0]
    scores = keys @ (q / np.linalg.norm(q))
    order = sorted(range(len(prompts)), key=lambda i: (-round(float(scores[i]), 5), i))
    return [facts[i] for i in order[:k]]


@pytest.mark.parametrize("k", [1, 2])
def test_sequential_retrieval_equals_brute_force_over_edits_one_to_i(loaded, k) -> None:
    editor = make_editor(loaded, k=k)
    rephrases = ["king of Foo is who?", "Bar city location?", "queen Foo?", "Bar river?", "Bar?"]
    locality = {"prompt": ["The city of Bar is in", "Foo borders", "x", "y", "z"]}
    locality["ground_truth"] = ["a", "b", "c", "d", "e"]
    metrics, same = editor.edit(
        **EDITS, rephrase_prompts=rephrases, locality_inputs={"Relation_Specificity": locality}
    )
    assert same is editor
    facts = [fact_sentence(p, t) for p, t in zip(*EDITS.values(), strict=True)]
    for i, result in enumerate(metrics):
        assert result["case_id"] == i and result["memory_size"] == i + 1
        seen_prompts, seen_facts = EDITS["prompts"][: i + 1], facts[: i + 1]
        got = result["retrieved"]
        assert got["rewrite"] == brute_force(EDITS["prompts"][i], seen_prompts, seen_facts, k)
        assert got["rephrase"] == [brute_force(rephrases[i], seen_prompts, seen_facts, k)]
        assert got["locality"]["Relation_Specificity"] == [
            brute_force(locality["prompt"][i], seen_prompts, seen_facts, k)
        ]
        hit = float(got["rewrite"][0] == facts[i])
        assert result["post"]["rewrite_retrieved_acc_1"] == hit
        assert result["post"][f"rewrite_retrieved_acc_{k}"] == float(facts[i] in got["rewrite"])
    assert len(editor.memory) == 5  # the memory persists after the call


def test_sequential_never_sees_a_later_edit_but_batch_does(loaded) -> None:
    # Edit 0's rephrase is edit 1's prompt word for word: only a memory holding edit 1 finds it.
    prompts = ["Who leads Foo?", "Who is the boss of Foo today?"]
    kwargs = {"prompts": prompts, "target_new": ["Ann", "Bob"]}
    rephrase = [prompts[1], "Foo boss?"]
    seq, _ = make_editor(loaded).edit(**kwargs, rephrase_prompts=rephrase)
    assert seq[0]["retrieved"]["rephrase"] == [[fact_sentence(prompts[0], "Ann")]]
    batch, _ = make_editor(loaded).batch_edit(**kwargs, rephrase_prompts=rephrase)
    assert batch[0]["retrieved"]["rephrase"] == [[fact_sentence(prompts[1], "Bob")]]
    assert [r["memory_size"] for r in batch] == [2, 2]
    assert [r["memory_size"] for r in seq] == [1, 2]


def test_single_edits_see_only_themselves_and_leave_the_memory_empty(loaded) -> None:
    editor = make_editor(loaded)
    metrics, _ = editor.edit(**EDITS, sequential_edit=False)
    assert [r["memory_size"] for r in metrics] == [1] * 5
    for result, prompt, target in zip(metrics, *EDITS.values(), strict=True):
        assert result["retrieved"]["rewrite"] == [fact_sentence(prompt, target)]
    assert len(editor.memory) == 0


@pytest.mark.slow
def test_chunks_with_earlier_edits_before_equal_one_sequential_run(loaded) -> None:
    requests = prepare_requests(**EDITS, rephrase_prompts=[p + " now" for p in EDITS["prompts"]])
    whole = make_editor(loaded).evaluate_requests(requests, "sequential")
    editor = make_editor(loaded)
    parts = editor.evaluate_requests(requests[:2], "sequential")
    editor.reset()
    parts += editor.evaluate_requests(
        requests[2:], "sequential", before=requests[:2], first_case_id=2
    )
    assert parts == whole
    batch = make_editor(loaded).evaluate_requests(requests, "batch")
    editor.reset()
    tail = editor.evaluate_requests(requests[3:], "batch", before=requests[:3], first_case_id=3)
    assert tail == batch[3:]


def test_queries_are_asked_in_the_template_with_the_retrieved_facts(loaded) -> None:
    editor = make_editor(loaded, k=2)
    editor.scorer = RecordingScorer(editor.scorer)
    portability = {"Reasoning": {"prompt": ["What is Alice's title?"], "ground_truth": ["king"]}}
    locality = {"Relation_Specificity": {"prompt": ["Foo's capital is"], "ground_truth": ["Z"]}}
    editor.edit(
        prompts=["Who is the king of Foo?"],
        target_new=["Alice"],
        rephrase_prompts=["Foo's king?"],
        portability_inputs=portability,
        locality_inputs=locality,
    )
    facts = [fact_sentence("Who is the king of Foo?", "Alice")]
    asked = editor.scorer.asked
    assert (plain_prompt("Who is the king of Foo?"), "Alice") in asked  # pre
    assert (edit_prompt("Who is the king of Foo?", facts), "Alice") in asked
    assert (edit_prompt("Foo's king?", facts), "Alice") in asked
    assert (edit_prompt("What is Alice's title?", facts), "king") in asked
    assert editor.scorer.locality == [
        ("Foo's capital is", edit_prompt("Foo's capital is", facts), "Z")
    ]
    assert all("[Question]:" in p for p, _ in asked if p.startswith("Please"))


def test_gold_mode_uses_the_own_fact_and_the_query_label(loaded) -> None:
    editor = make_editor(loaded)
    editor.scorer = RecordingScorer(editor.scorer)
    requests = prepare_requests(**EDITS)
    results = editor.evaluate_requests(requests, "gold")
    assert len(editor.memory) == 0
    for result, prompt, target in zip(results, *EDITS.values(), strict=True):
        assert result["memory_size"] is None
        assert result["retrieved"]["rewrite"] == [fact_sentence(prompt, target)]
        assert "rewrite_retrieved_acc_1" not in result["post"]
        label_prompt = edit_prompt(prompt, [fact_sentence(prompt, target)], "Query")
        assert (label_prompt, target) in editor.scorer.asked


def test_metrics_are_the_scorers_values(loaded) -> None:
    editor = make_editor(loaded)
    locality = {"L": {"prompt": ["Foo's capital is"], "ground_truth": ["Zed"]}}
    portability = {"P1": {"prompt": ["q1"], "ground_truth": ["a1"]}}
    portability["P2"] = {"prompt": [["q2", "q3"]], "ground_truth": [["a2", "a3"]]}
    (result,), _ = editor.edit(
        prompts=["Who is the king of Foo?"],
        target_new="Alice",
        locality_inputs=locality,
        portability_inputs=portability,
    )
    facts = result["retrieved"]["rewrite"]
    scorer = editor.scorer
    pre, post = result["pre"], result["post"]
    assert pre["rewrite_acc"] == scorer.token_accuracy(["Who is the king of Foo?"], ["Alice"])[0]
    assert (
        post["rewrite_acc"]
        == scorer.token_accuracy([edit_prompt("Who is the king of Foo?", facts)], ["Alice"])[0]
    )
    p2 = scorer.token_accuracy([edit_prompt("q2", facts), edit_prompt("q3", facts)], ["a2", "a3"])
    assert post["portability"]["P2_acc"] == pytest.approx(sum(p2) / 2)
    assert (
        post["locality"]["L_acc"]
        == scorer.locality_agreement(
            ["Foo's capital is"], [edit_prompt("Foo's capital is", facts)], ["Zed"]
        )[0]
    )
    assert "rephrase_acc" not in post and set(post["portability"]) >= {"P1_acc", "P2_acc"}


@pytest.mark.slow
def test_fluency_is_scored_on_request(loaded) -> None:
    editor = make_editor(loaded, max_new_tokens=6)
    asked = {"prompts": ["Tell me about Foo."], "target_new": ["ok"]}
    (result,), _ = editor.edit(**asked, test_generation=True)
    fluency = result["post"]["fluency"]
    assert fluency["generated_text"].startswith("Tell me about Foo. ")
    assert isinstance(fluency["ngram_entropy"], float)
    (quiet,), _ = editor.edit(**asked)
    assert "fluency" not in quiet["post"]


def test_easyedit_single_strings_and_knowedit_alias_lists(loaded) -> None:
    requests = prepare_requests(
        "Where is Bar?",
        "Mars",
        ground_truth="Earth",
        rephrase_prompts="Bar is where?",
        locality_inputs={"NH": {"prompt": "Bar's mayor is", "ground_truth": [["Bob", "Robert"]]}},
        subject="Bar",
    )
    assert requests == [
        {
            "prompt": "Where is Bar?",
            "target_new": "Mars",
            "ground_truth": "Earth",
            "subject": "Bar",
            "rephrase_prompt": ["Bar is where?"],
            "locality": {"NH": [("Bar's mayor is", "Bob")]},
            "portability": {},
        }
    ]


@pytest.mark.skipif(not ZSRE.exists(), reason="shared KnowEdit data absent")
def test_knowedit_records_run_through_edit_records(loaded) -> None:
    records = load_knowedit(ZSRE).records[:3]
    request = request_from_record(records[0])
    assert request["rephrase_prompt"] == [records[0].rephrase[0]]
    assert (
        request["locality"]["Relation_Specificity"][0]
        == records[0].locality["Relation_Specificity"][0]
    )
    results = make_editor(loaded).edit_records(records, "sequential")
    assert [r["memory_size"] for r in results] == [1, 2, 3]
    assert all(0.0 <= r["post"]["rewrite_acc"] <= 1.0 for r in results)
    assert all("Relation_Specificity_acc" in r["post"]["locality"] for r in results)
    json.dumps(results)  # rows are JSON


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompts": ["a", "b"], "target_new": ["x"]}, "2 prompts but 1 target_new"),
        ({"prompts": [], "target_new": []}, "no edits"),
        ({"prompts": ["a"], "target_new": [""]}, r"target_new\[0\] must be a non-empty"),
        ({"prompts": [3], "target_new": ["x"]}, r"prompts\[0\] must be a non-empty string"),
        ({"prompts": 7, "target_new": ["x"]}, "must be a string or a list"),
        ({"prompts": ["a"], "target_new": ["x"], "ground_truth": ["g", "h"]}, "2 ground_truth"),
        ({"prompts": ["a"], "target_new": ["x"], "rephrase_prompts": []}, "0 rephrase"),
        ({"prompts": ["a"], "target_new": ["x"], "locality_inputs": ["p"]}, "must be a dict"),
        (
            {"prompts": ["a"], "target_new": ["x"], "locality_inputs": {"L": {"prompt": ["p"]}}},
            "needs 'prompt' and 'ground_truth'",
        ),
        (
            {
                "prompts": ["a", "b"],
                "target_new": ["x", "y"],
                "portability_inputs": {"P": {"prompt": ["p"], "ground_truth": ["q"]}},
            },
            "one prompt and one ground_truth per edit",
        ),
        (
            {
                "prompts": ["a"],
                "target_new": ["x"],
                "portability_inputs": {"P": {"prompt": ["p"], "ground_truth": [None]}},
            },
            r"ground_truth\[0\]",
        ),
    ],
)
def test_hostile_inputs_are_clear_errors(kwargs, message) -> None:
    with pytest.raises(InputError, match=message):
        prepare_requests(**kwargs)


def test_bad_settings_and_hparams(loaded, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="k must be"):
        make_editor(loaded, k=0)
    with pytest.raises(ConfigError, match="no chat template"):
        make_editor(loaded, wrap="chat")
    with pytest.raises(ConfigError, match="mode must be one of"):
        make_editor(loaded).evaluate_requests(prepare_requests(**EDITS), "parallel")
    with pytest.raises(ConfigError, match="unknown LTE hparam 'lr'"):
        LTEEditor.from_hparams({"model_name": "x", "lr": 1})
    with pytest.raises(ConfigError, match="model_name"):
        LTEEditor.from_hparams({"k": 1})
    with pytest.raises(InputError, match="model folder not found"):
        LTEEditor.from_hparams({"model_name": str(tmp_path / "absent")})
    with pytest.raises(InputError, match="cannot read hparams"):
        LTEEditor.from_hparams(tmp_path / "absent.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="mapping"):
        LTEEditor.from_hparams(listed)


def test_from_hparams_yaml_like_easyedit(loaded, tmp_path: Path) -> None:
    model_dir = Path(loaded[0].name_or_path)
    hparams = tmp_path / "lte.yaml"
    hparams.write_text(
        f"alg_name: LTE\nmodel_name: {model_dir}\nk: 2\ndevice: cpu\nwrap: raw\n"
        "results_dir: ./results\nfluency: false\n"
    )
    editor = LTEEditor.from_hparams(hparams)
    assert (editor.k, editor.scorer.wrap, editor.fluency) == (2, "raw", False)
    assert editor.memory.encoder_name == "default"  # the shipped MiniLM unless named
