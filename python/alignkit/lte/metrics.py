"""EasyEdit's knowledge-editing metrics, teacher-forced on a local Hugging Face causal LM.

- Token accuracy of a target given a prompt: the prompt (wrapped, see below) is followed by the
  target's tokens; at every target position the argmax of the logits one step earlier is the
  predicted token; the accuracy is the share of positions where it equals the target token.
  Edit success is this for the new target given the rewrite prompt with the edit; portability
  is it for each portability answer asked with the edit.
- Locality agreement: the argmax tokens at the target positions of a locality probe asked
  without the edit (plain prompt) and with it (template + edit); the share of positions where
  they agree. The probe's answer only fixes the positions: it is never compared with.
- Fluency: greedy generation of up to `max_new_tokens` (100) tokens from the rewrite prompt;
  the n-gram entropy mean((2/3) H2, (4/3) H3), H_n = -sum f log2 f over the relative
  frequencies of the word n-grams of the prompt followed by the generated text (EasyEdit scores
  the whole decoded sequence, NFKD-normalised, blank lines joined).

Words come from NLTK's `word_tokenize` when its `punkt_tab`/`punkt` data is installed; without it
from NLTK's Treebank word tokenizer over sentences split by the regex `(?<=[.!?])\\s+` (what
`word_tokenize` does, minus Punkt's abbreviation handling), and without NLTK from the regex
`\\w+|[^\\w\\s]`. `word_tokenizer_name()` says which one is in use; results record it.

Wrapping: `chat` puts the text in the model's chat template as the user turn (the target is then
the start of the assistant turn), `raw` feeds the text and a space before the target (EasyEdit's
`x + " " + target` for models without a template), `auto` is `chat` when the tokenizer has a
chat template and `raw` otherwise. Prompt and target are tokenised apart and joined as ids, so
the target positions are exact; a prompt too long for the model is cut from the left and
counted (`TeacherForcedScorer.truncated`).

Differences from EasyEdit, on purpose: generation is greedy (EasyEdit samples from the top 5)
and limited to new tokens (EasyEdit's limit of 100 counts the prompt too).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

WRAPS = ("auto", "chat", "raw")
NGRAM_ORDERS = (2, 3)
NGRAM_WEIGHTS = (2 / 3, 4 / 3)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_WORD_RE = re.compile(r"\w+|[^\w\s]")


# -- words and n-gram entropy -------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _word_tokenizer() -> tuple[str, Callable[[str], list[str]]]:
    try:
        import nltk
    except ImportError:
        return "regex", _WORD_RE.findall
    try:
        nltk.word_tokenize("A test. Another one.")
        return "nltk.word_tokenize", nltk.word_tokenize
    except LookupError:
        pass
    treebank = nltk.tokenize.NLTKWordTokenizer()

    def split(text: str) -> list[str]:
        return [w for s in _SENTENCE_SPLIT.split(text) if s for w in treebank.tokenize(s)]

    return "nltk.treebank+regex-sentences", split


def word_tokenizer_name() -> str:
    """Which word tokenizer the fluency metric uses here (see the module docstring)."""
    return _word_tokenizer()[0]


def words(text: str) -> list[str]:
    """The words of `text` as the fluency metric counts them."""
    return _word_tokenizer()[1](text)


def ngram_entropy(text: str, n: int) -> float:
    """H_n = -sum f log2 f over the relative frequencies f of the word n-grams of `text`
    (0 when it has none)."""
    tokens = words(text)
    grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    total = sum(grams.values())
    if not total:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in grams.values())


def fluency_score(text: str) -> float:
    """EasyEdit's n-gram entropy of one text: mean((2/3) H2, (4/3) H3)."""
    text = unicodedata.normalize("NFKD", text).replace("\n\n", " ")
    parts = [w * ngram_entropy(text, n) for n, w in zip(NGRAM_ORDERS, NGRAM_WEIGHTS, strict=True)]
    return sum(parts) / len(parts)


# -- retrieval ----------------------------------------------------------------------------------


def retrieval_hits(retrieved: Sequence[str], fact: str) -> tuple[float, float]:
    """(top-1, top-k) retrieval accuracy of one query: whether the first retrieved fact, and
    whether any of them, is the edit's own fact sentence (compared as text, as LTE does)."""
    return float(bool(retrieved) and retrieved[0] == fact), float(fact in retrieved)


# -- teacher forcing ----------------------------------------------------------------------------


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {type(value).__name__}")
    return value


class TeacherForcedScorer:
    """Token-level predictions of a causal LM for (prompt, target) pairs, batched.

    `model`, `tokenizer`: a loaded Hugging Face causal LM and its tokenizer. `wrap`: `auto`,
    `chat` or `raw` (module docstring). `max_length`: the longest sequence fed (default: the
    model's `max_position_embeddings`, else 2048)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        wrap: str = "auto",
        batch_size: int = 16,
        max_length: int | None = None,
    ) -> None:
        if wrap not in WRAPS:
            raise ValueError(f"wrap must be one of {', '.join(WRAPS)}, not {wrap!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if wrap == "chat" and not has_template:
            raise ValueError("wrap='chat' but the tokenizer has no chat template; use 'raw'")
        self.model, self.tokenizer = model, tokenizer
        self.wrap = ("chat" if has_template else "raw") if wrap == "auto" else wrap
        self.batch_size = batch_size
        limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        self.max_length = max_length or (int(limit) if limit else 2048)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)
        self.truncated = 0

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    # token ids

    def prompt_ids(self, text: str) -> list[int]:
        """The ids that precede a target: the chat-wrapped user turn with the assistant turn
        opened, or the raw text with the tokenizer's special tokens (BOS)."""
        text = _text(text, "a prompt")
        if self.wrap == "chat":
            wrapped = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
            return list(self.tokenizer(wrapped, add_special_tokens=False)["input_ids"])
        return list(self.tokenizer(text)["input_ids"])

    def target_ids(self, target: str) -> list[int]:
        """The target's ids: after a space in `raw` mode, as the assistant's first words in
        `chat` mode. An empty target is refused."""
        target = _text(target, "a target")
        if not target.strip():
            raise ValueError("a target must be a non-empty string")
        text = target if self.wrap == "chat" else " " + target
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if not ids:
            raise ValueError(f"target {target!r} has no tokens")
        return ids

    def _fit(self, prompt: list[int], target: list[int]) -> list[int]:
        room = self.max_length - len(target)
        if room < 1:
            raise ValueError(
                f"a target of {len(target)} tokens does not fit the model's {self.max_length}"
            )
        if len(prompt) > room:
            self.truncated += 1
            prompt = prompt[len(prompt) - room :]
        return prompt

    def predict(self, prompts: Sequence[str], targets: Sequence[str]) -> list[tuple[list, list]]:
        """Per pair (predicted ids, target ids) at the target positions, teacher-forced."""
        if isinstance(prompts, str) or isinstance(targets, str):
            raise ValueError("prompts and targets must be sequences of strings")
        if len(prompts) != len(targets):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        encoded = []
        for prompt, target in zip(prompts, targets, strict=True):
            tgt = self.target_ids(target)
            encoded.append((self._fit(self.prompt_ids(prompt), tgt), tgt))
        out: list[tuple[list, list] | None] = [None] * len(encoded)
        # Similar lengths share a batch: less padding.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]) + len(encoded[i][1]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            for i, predicted in zip(rows, self._forward([encoded[i] for i in rows]), strict=True):
                out[i] = (predicted, encoded[i][1])
        return out  # type: ignore[return-value]

    def _forward(self, pairs: Sequence[tuple[list[int], list[int]]]) -> list[list[int]]:
        import torch

        width = max(len(p) + len(t) for p, t in pairs)
        keep = max(len(t) for _, t in pairs) + 1
        ids = torch.full((len(pairs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(pairs), width), dtype=torch.long)
        for row, (prompt, target) in enumerate(pairs):
            seq = prompt + target
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
        # Left padding puts every target at the end, so only the last `keep` positions need the
        # (vocabulary-wide) logits; positions count real tokens only.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        inputs = {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": positions.to(self.device),
        }
        with torch.no_grad():
            try:
                logits = self.model(**inputs, logits_to_keep=keep).logits
            except TypeError:  # a model without logits_to_keep
                logits = self.model(**inputs).logits
            best = logits[:, -keep:].argmax(dim=-1).cpu()
        out = []
        for row, (_, target) in enumerate(pairs):
            # best[:, j] follows input position width - keep + j; the logits at i predict i + 1.
            start = keep - 1 - len(target)
            out.append(best[row, start : start + len(target)].tolist())
        return out

    def token_accuracy(self, prompts: Sequence[str], targets: Sequence[str]) -> list[float]:
        """Per pair the share of target tokens the model predicts (teacher-forced)."""
        return [
            sum(int(a == b) for a, b in zip(pred, tgt, strict=True)) / len(tgt)
            for pred, tgt in self.predict(prompts, targets)
        ]

    def locality_agreement(
        self, plain_prompts: Sequence[str], edit_prompts: Sequence[str], targets: Sequence[str]
    ) -> list[float]:
        """Per probe the share of target positions whose argmax token is the same without the
        edit (`plain_prompts`) and with it (`edit_prompts`)."""
        if len(plain_prompts) != len(edit_prompts):
            raise ValueError(f"{len(plain_prompts)} plain but {len(edit_prompts)} edit prompts")
        both = self.predict([*plain_prompts, *edit_prompts], [*targets, *targets])
        n = len(plain_prompts)
        return [
            sum(int(a == b) for a, b in zip(both[i][0], both[n + i][0], strict=True))
            / len(both[i][0])
            for i in range(n)
        ]

    # generation

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 100) -> list[str]:
        """Greedy continuations (decoded, special tokens skipped) of the wrapped prompts."""
        import torch

        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        room = self.max_length - max_new_tokens
        if room < 1:
            raise ValueError(f"max_new_tokens must be below the model's {self.max_length}")
        texts: list[str] = [""] * len(prompts)
        encoded = [self.prompt_ids(p) for p in prompts]
        for i, ids in enumerate(encoded):
            if len(ids) > room:
                self.truncated += 1
                encoded[i] = ids[len(ids) - room :]
        eos = self.tokenizer.eos_token_id
        for start in range(0, len(encoded), self.batch_size):
            batch = encoded[start : start + self.batch_size]
            width = max(len(b) for b in batch)
            # Left padding for generation, with positions taken from the mask.
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, seq in enumerate(batch):
                ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
                mask[row, width - len(seq) :] = 1
            with torch.no_grad():
                out = self.model.generate(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.pad_id,
                    eos_token_id=eos,
                )
            for row in range(len(batch)):
                new = out[row, width:].tolist()
                texts[start + row] = self.tokenizer.decode(new, skip_special_tokens=True)
        return texts

    def fluency(self, prompts: Sequence[str], max_new_tokens: int = 100) -> list[dict[str, Any]]:
        """Per prompt EasyEdit's `{"ngram_entropy", "generated_text"}` (prompt + continuation)."""
        generated = self.generate(prompts, max_new_tokens)
        out = []
        for prompt, text in zip(prompts, generated, strict=True):
            full = f"{prompt} {text.strip()}"
            out.append({"ngram_entropy": fluency_score(full), "generated_text": full})
        return out
