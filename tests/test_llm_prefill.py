"""Assistant prefill and the plain prompt format: what the openai backend sends (checked on the
FakeChatServer over loopback HTTP), what the transformers backend tokenizes and continues (a
tiny random model against direct greedy decoding), and the errors of messages that a plain
prompt cannot express."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alignkit.llm import BackendSpecError, ChatRequest, make_backend
from alignkit.llm.testing import FakeChatServer, write_tiny_chat_model

QUESTION = {"role": "user", "content": "Name three colours."}
PREFILL = {"role": "assistant", "content": "Response: red,"}


def greedy(**params: Any) -> dict[str, Any]:
    return {"temperature": 0, "max_tokens": 6, **params}


# --- openai -----------------------------------------------------------------------------------


def test_openai_sends_the_prefill_extension_only_for_a_final_assistant_message() -> None:
    with FakeChatServer() as server:
        backend = make_backend(f"openai:fake@{server.base_url}")
        results = backend.generate(
            [
                ChatRequest(messages=[QUESTION, PREFILL]),
                ChatRequest(messages=[QUESTION]),
                ChatRequest(messages=[QUESTION, PREFILL, {"role": "user", "content": "More."}]),
            ]
        )
        bodies = sorted(server.bodies, key=lambda body: len(body["messages"]))
    assert all(r.ok for r in results)
    prefilled, plain, multi = bodies[1], bodies[0], bodies[2]
    assert prefilled["messages"][-1] == PREFILL
    assert prefilled["continue_final_message"] is True
    assert prefilled["add_generation_prompt"] is False
    for body in (plain, multi):
        assert "continue_final_message" not in body and "add_generation_prompt" not in body


# --- transformers, chat template --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return write_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat"), bos=True)


def direct_greedy_text(folder: Path, ids: list[int], steps: int) -> str:
    """Greedy decoding by full forward passes from `ids`, decoded (special tokens dropped)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    out: list[int] = []
    with torch.inference_mode():
        for _ in range(steps):
            logits = model(torch.tensor([ids + out])).logits[0, -1]
            out.append(int(logits.argmax()))
            if out[-1] == tokenizer.eos_token_id:
                break
    return tokenizer.decode(out, skip_special_tokens=True)


def tokenizer_of(folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def test_prefill_continues_the_open_assistant_message(tiny: Path) -> None:
    backend = make_backend(f"transformers:{tiny}", device="cpu", dtype="float32")
    prefilled, fresh = backend.generate(
        [ChatRequest(messages=[QUESTION, PREFILL], **greedy()), ChatRequest([QUESTION], **greedy())]
    )
    assert prefilled.ok and fresh.ok
    # the prompt is the chat with the assistant's turn left open after its text
    tokenizer = tokenizer_of(tiny)
    opened = tokenizer.apply_chat_template([QUESTION], add_generation_prompt=True, tokenize=False)
    prompt = opened + PREFILL["content"]
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert prefilled.prompt_tokens == len(ids)
    assert prefilled.text == direct_greedy_text(tiny, ids, prefilled.completion_tokens)
    assert not prefilled.text.startswith(PREFILL["content"])
    assert prefilled.text != fresh.text


def test_prefill_flags_in_extra_must_agree(tiny: Path) -> None:
    backend = make_backend(f"transformers:{tiny}", device="cpu", dtype="float32")
    agreeing = {"continue_final_message": True, "add_generation_prompt": False}
    ok, wrong, wrong_fresh = backend.generate(
        [
            ChatRequest(messages=[QUESTION, PREFILL], extra=agreeing, **greedy()),
            ChatRequest(messages=[QUESTION, PREFILL], extra={"add_generation_prompt": True}),
            ChatRequest(messages=[QUESTION], extra={"continue_final_message": True}),
        ]
    )
    assert ok.ok
    assert wrong.error_kind == "bad_parameter" and "add_generation_prompt" in (wrong.error or "")
    assert wrong_fresh.error_kind == "bad_parameter"


# --- transformers, plain prompts --------------------------------------------------------------


def test_plain_format_tokenizes_the_text_as_it_is(tiny: Path) -> None:
    backend = make_backend(f"transformers:{tiny}", device="cpu", prompt_format="plain")
    text = "### Instruction:\nName three colours.\n\n### Response:\n"
    request = ChatRequest.from_prompt(text, **greedy())
    prefilled = ChatRequest(
        messages=[{"role": "user", "content": text}, {"role": "assistant", "content": "red,"}],
        **greedy(),
    )
    result, continued = backend.generate([request, prefilled])
    tokenizer = tokenizer_of(tiny)
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id  # this tokenizer adds a BOS; plain keeps it
    assert tokenizer.decode(ids[1:]) == text
    assert result.prompt_tokens == len(ids)
    assert result.text == direct_greedy_text(tiny, ids, result.completion_tokens)
    ids = tokenizer(text + "red,")["input_ids"]
    assert continued.prompt_tokens == len(ids)
    assert continued.text == direct_greedy_text(tiny, ids, continued.completion_tokens)


def test_plain_format_refuses_chat_it_cannot_express(tiny: Path) -> None:
    backend = make_backend(f"transformers:{tiny}", device="cpu", prompt_format="plain")
    system = ChatRequest.from_prompt("Hi", system="Be brief.", **greedy())
    turns = ChatRequest(messages=[QUESTION, PREFILL, QUESTION], **greedy())
    alone = ChatRequest(messages=[PREFILL], **greedy())
    results = backend.generate([system, turns, alone])
    for result in results:
        assert result.error_kind == "bad_messages" and "plain" in (result.error or "")
    assert "system" in (results[0].error or "")


def test_plain_format_is_part_of_the_identity_and_needs_no_template(
    tiny: Path, tmp_path: Path
) -> None:
    chat = make_backend(f"transformers:{tiny}", device="cpu", dtype="float32")
    plain = make_backend(
        f"transformers:{tiny}", device="cpu", dtype="float32", prompt_format="plain"
    )
    request = ChatRequest.from_prompt("Hi", **greedy())
    assert chat.endpoint.endswith(":float32") and plain.endpoint == chat.endpoint + ":plain"
    assert chat.cache_key(request) != plain.cache_key(request)
    assert plain.describe()["prompt_format"] == "plain"
    with pytest.raises(BackendSpecError, match="prompt_format"):
        make_backend(f"transformers:{tiny}", prompt_format="raw")
    # a base model without a chat template serves plain prompts
    bare = write_tiny_chat_model(tmp_path / "bare", chat_template=False)
    [result] = make_backend(f"transformers:{bare}", device="cpu", prompt_format="plain").generate(
        [request]
    )
    assert result.ok
    [refused] = make_backend(f"transformers:{bare}", device="cpu").generate([request])
    assert refused.error_kind == "model_load" and "prompt_format='plain'" in (refused.error or "")


def test_prefill_through_the_model_server(tiny: Path) -> None:
    """openai client -> `alignkit llm serve`'s server -> transformers: the extension's flags
    arrive, agree with the messages, and the continuation equals the local backend's."""
    from alignkit.llm.serve import ModelServer

    backend = make_backend(f"transformers:{tiny}", device="cpu", dtype="float32")
    request = ChatRequest(messages=[QUESTION, PREFILL], **greedy())
    [local] = backend.generate([request])
    with ModelServer(backend, record_bodies=True) as server:
        client = make_backend(f"openai:{server.model_name}@{server.base_url}")
        [served] = client.generate([request])
        [body] = list(server.bodies)
    assert body["continue_final_message"] is True
    assert served.ok and served.text == local.text and served.prompt_tokens == local.prompt_tokens
