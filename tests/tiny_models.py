"""Tiny random causal LMs with a byte-level tokenizer, saved as real Hugging Face folders, for
tests that need a local model (training, local generation) without any download."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def byte_tokenizer() -> Any:
    """Byte-level BPE without merges: 256 byte tokens plus <s> and </s>, no pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    vocab.update({"<s>": len(vocab), "</s>": len(vocab) + 1})
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    raw.decoder = decoders.ByteLevel()
    raw.add_special_tokens(["<s>", "</s>"])
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>")


def save_tiny_llama(path: Path, *, seed: int = 0, max_positions: int = 512) -> Path:
    """A 2-layer, 32-wide random Llama and its byte tokenizer saved into `path`."""
    from alignkit.llm.testing import write_tiny_llama

    tok = byte_tokenizer()
    write_tiny_llama(path, tok, context=max_positions, seed=seed)
    tok.save_pretrained(path)
    return path


# A ChatML-like template whose end-of-turn marker is the EOS token, followed by a newline.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def save_tiny_chat_llama(path: Path, *, max_positions: int = 1024) -> Path:
    """`save_tiny_llama` whose tokenizer carries `CHAT_TEMPLATE` (a local chat model)."""
    from transformers import AutoTokenizer

    save_tiny_llama(path, max_positions=max_positions)
    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(path)
    return path
