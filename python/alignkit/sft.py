"""Supervised fine-tuning on (prompt, response) text pairs with the loss on the response only, in
a plain PyTorch loop; the methods' trainers (Lion's student, LTE's alignment phase) put their own
templates in front of it.

- Tokens: the prompt and the response are tokenized separately and concatenated, so the label
  mask is exact and the prompt's tokens are the ones the model sees when it is sampled later.
  Plain-text prompts get the tokenizer's special tokens (BOS) and the response gets EOS appended;
  text already rendered by a chat template gets neither (`prompt_special_tokens=False`,
  `append_eos=False`), as `apply_chat_template` tokenizes it.
- Loss: the model body's final hidden states and the LM head go through
  `alignkit.kernels.linear_logprobs` (Triton on CUDA, vocabulary-chunked PyTorch elsewhere), only
  at response positions; the full `[batch, seq, vocab]` logits never exist. The loss is the
  token-level mean over the whole effective batch (every micro-batch of one optimizer step is
  divided by that step's response-token count), as HF's causal-LM loss with gradient accumulation.
- Defaults are the recipe the methods share: 3 epochs, lr 2e-5, cosine with 3% warmup, no weight
  decay, effective batch 128, max length 1024, bf16 autocast where the device supports it,
  gradient clipping 1.0.
- Pad token: a tokenizer without one gets `[PAD]`, its embedding rows (input and output) set to
  the mean of the existing rows (`add_pad_token=False` reuses EOS instead). Padding is on the
  right and is masked out of attention and labels either way.
- Saved: always a full model + tokenizer (LoRA adapters are merged into the base weights), so the
  folder loads with `AutoModelForCausalLM.from_pretrained` and `transformers:OUT_DIR`. The folder
  is written beside `out_dir` and renamed into place; a JSON record (`record_file`) holds the
  options and the statistics.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RECORD_FILE = "alignkit_sft.json"
PAD_TOKEN = "[PAD]"
IGNORE_INDEX = -100
SCHEDULES = ("cosine", "linear", "constant")
TOKENIZE_BATCH = 1024


@dataclasses.dataclass(frozen=True)
class SFTOptions:
    """Fine-tuning settings.

    `batch_size` is the effective batch (rows per optimizer step), reached by
    `micro_batch_size` rows per forward times `gradient_accumulation_steps`. `epochs` may be
    fractional. `device=None` means CUDA when available. `bf16=None` means bf16 autocast on a
    CUDA device that supports it, float32 elsewhere. `max_steps` (for demos) stops after that
    many optimizer steps and sizes the schedule to them, as HF's Trainer does. With `lora`,
    only adapters are trained (the base weights load in bf16 when bf16 is on) and then merged.
    """

    epochs: float = 3.0
    learning_rate: float = 2e-5
    lr_schedule: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    batch_size: int = 128
    micro_batch_size: int = 2
    max_length: int = 1024
    max_grad_norm: float = 1.0
    bf16: bool | None = None
    seed: int = 42
    max_steps: int | None = None
    device: str | None = None
    loss_impl: str = "auto"
    gradient_checkpointing: bool = False
    add_pad_token: bool = True
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "micro_batch_size", "max_length", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size "
                f"({self.micro_batch_size})"
            )
        if self.epochs <= 0:
            raise ValueError(f"epochs must be > 0; got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None; got {self.max_steps}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0; got {self.learning_rate}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1); got {self.warmup_ratio}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}; got {self.lr_schedule!r}")
        if self.loss_impl not in ("auto", "triton", "torch"):
            raise ValueError(f"loss_impl must be auto, triton or torch; got {self.loss_impl!r}")

    @property
    def gradient_accumulation_steps(self) -> int:
        return self.batch_size // self.micro_batch_size


@dataclasses.dataclass(frozen=True)
class SFTExample:
    """One tokenized row: `labels` is `input_ids` with the prompt positions set to -100."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool


def encode_pairs(
    pairs: Iterable[tuple[str, str]],
    tokenizer: Any,
    max_length: int,
    *,
    prompt_special_tokens: bool = True,
    append_eos: bool = True,
) -> tuple[list[SFTExample], collections.Counter[str]]:
    """Tokenize (prompt, response) text pairs into examples labelled on the response only.

    Returns the examples and counts: `truncated` and `prompt_too_long` (pairs left out because
    the prompt alone fills `max_length`). Truncation keeps the start (the prompt and the
    beginning of the response).
    """
    eos = tokenizer.eos_token_id
    if append_eos and eos is None:
        raise ValueError("the tokenizer has no EOS token; the model could not learn to stop")
    counts: collections.Counter[str] = collections.Counter()
    examples: list[SFTExample] = []
    texts = list(pairs)
    for start in range(0, len(texts), TOKENIZE_BATCH):  # batched: fast tokenizers run in Rust
        chunk = texts[start : start + TOKENIZE_BATCH]
        prompts = tokenizer([p for p, _ in chunk], add_special_tokens=prompt_special_tokens)
        responses = tokenizer([r for _, r in chunk], add_special_tokens=False)
        for prompt_ids, response_ids in zip(
            prompts["input_ids"], responses["input_ids"], strict=True
        ):
            if len(prompt_ids) >= max_length:
                counts["prompt_too_long"] += 1
                continue
            ids = [*prompt_ids, *response_ids, *([eos] if append_eos else [])]
            truncated = len(ids) > max_length
            if truncated:
                counts["truncated"] += 1
                ids = ids[:max_length]
            labels = [IGNORE_INDEX] * len(prompt_ids) + ids[len(prompt_ids) :]
            examples.append(SFTExample(ids, labels, truncated))
    return examples, counts


def collate(examples: list[SFTExample], pad_id: int) -> dict[str, Any]:
    """Right-padded `input_ids`, `attention_mask` and `labels` tensors `[B, T]`."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        input_ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        attention[i, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def _causal_lm(model: Any) -> Any:
    """The `...ForCausalLM` inside a PEFT wrapper, or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def response_nll(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    labels: Any,
    impl: str = "auto",
) -> tuple[Any, int]:
    """Summed negative log-prob of the labelled tokens and their count.

    Token t is predicted from position t - 1 (labels are shifted as HF's causal-LM loss shifts
    them). Only the positions with a label reach the LM head, through the memory-bounded kernel;
    under autocast the head runs in the autocast dtype, as `nn.Linear` would.
    """
    import torch

    from alignkit.kernels import linear_logprobs

    lm = _causal_lm(model)
    body = lm.base_model
    hidden = body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    hidden = hidden.last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    head = lm.get_output_embeddings()
    if hasattr(head, "base_layer"):  # a PEFT adapter on the head: `head.weight` would skip it
        raise ValueError("LoRA on the LM head is not supported; leave it out of the targets")
    weight, bias = head.weight, getattr(head, "bias", None)
    device_type = hidden.device.type
    if torch.is_autocast_enabled(device_type):
        dtype = torch.get_autocast_dtype(device_type)
        weight = weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
        hidden = hidden.to(dtype)
    else:
        hidden = hidden.to(weight.dtype)
    logps = linear_logprobs(hidden[keep], weight, bias, targets[keep], impl=impl)
    return -logps.float().sum(), int(keep.sum())


def check_linear_head(model: Any, input_ids: Any) -> None:
    """Refuse a model whose logits are not its LM head applied to the body's hidden states
    (soft-capped or scaled logits): the kernel loss would silently train something else."""
    import torch

    lm = _causal_lm(model)
    was_training = lm.training
    lm.eval()
    try:
        with torch.no_grad():
            logits = lm(input_ids=input_ids, use_cache=False).logits.float()
            hidden = lm.base_model(input_ids=input_ids, use_cache=False).last_hidden_state
            ours = lm.get_output_embeddings()(hidden).float()
    finally:
        lm.train(was_training)
    if not torch.allclose(logits, ours, rtol=1e-2, atol=1e-2):
        raise ValueError(
            f"{type(lm).__name__}'s logits are not its LM head applied to the final hidden "
            "states (soft-capping or a logit scale?); the response loss cannot be computed from "
            "the hidden states"
        )


def set_pad_token(tokenizer: Any, model: Any, add: bool) -> str:
    """Give the tokenizer a pad token; returns how: `existing`, `added` or `eos`.

    `added`: a new `[PAD]` token whose input and output embedding rows are the mean of the rows
    of the tokens before it (Lion's authors' initialisation); the embeddings grow by one row
    unless the model already has spare rows beyond the tokenizer's vocabulary.
    """
    import torch

    if tokenizer.pad_token_id is not None:
        how = "existing"
    elif not add:
        tokenizer.pad_token = tokenizer.eos_token
        how = "eos"
    else:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
        pad_id: int = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
        if pad_id >= model.get_input_embeddings().weight.shape[0]:
            model.resize_token_embeddings(pad_id + 1, mean_resizing=False)
        with torch.no_grad():
            for layer in (model.get_input_embeddings(), model.get_output_embeddings()):
                if layer is not None:
                    layer.weight[pad_id] = layer.weight[:pad_id].mean(dim=0)
        how = "added"
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return how


def _device(name: str | None) -> Any:
    import torch

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _use_bf16(setting: bool | None, device: Any) -> bool:
    import torch

    if setting is not None:
        return setting
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def _lora_model(model: Any, options: SFTOptions) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ImportError("lora=True needs the peft package: pip install peft") from exc
    config = LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=list(options.lora_target_modules) if options.lora_target_modules else None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def _optimizer(model: Any, options: SFTOptions) -> Any:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    # As HF's Trainer: no weight decay on biases and norm weights (1-D parameters).
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": options.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=options.learning_rate)


def _step_batches(n_examples: int, batch_size: int, generator: Any) -> Any:
    """Endless index lists, one per optimizer step, reshuffled every epoch (the last batch of an
    epoch may be smaller, as HF's Trainer keeps it)."""
    import torch

    while True:
        order = torch.randperm(n_examples, generator=generator).tolist()
        for start in range(0, n_examples, batch_size):
            yield order[start : start + batch_size]


def save_model_folder(
    model: Any, tokenizer: Any, out_dir: Path, record: Mapping[str, Any], record_file: str
) -> None:
    """Write model, tokenizer and `record_file` into a folder beside `out_dir`, then rename it
    into place (an existing `out_dir` is replaced whole)."""
    from alignkit.data.io import atomic_write_json

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / record_file, json.loads(json.dumps(dict(record), default=str)))
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def train_sft(
    pairs: Iterable[tuple[str, str]],
    base_model: str | Path,
    out_dir: str | Path,
    options: SFTOptions | None = None,
    *,
    tokenizer: Any = None,
    prompt_special_tokens: bool = True,
    append_eos: bool = True,
    row_counts: Mapping[str, int] | None = None,
    record: Mapping[str, Any] | None = None,
    record_file: str = RECORD_FILE,
    label: str = "sft",
    progress: bool | str | None = None,
) -> dict[str, Any]:
    """Fine-tune `base_model` on (prompt, response) `pairs` and save it into `out_dir` (replaced
    whole).

    `tokenizer` (default: `base_model`'s) is the one the caller rendered the texts for; it gains
    the pad token and is saved with the model. `row_counts` are the caller's own row checks:
    `rows` (rows read) and one key per skip reason; without them every pair is one row.
    `record` adds keys to the saved record (e.g. the template's name); `label` names the run in
    logs and the progress bar. `progress` is an `alignkit.progress` mode (None/False: off).

    Returns statistics: `steps`, `examples`, `tokens` (all non-pad tokens seen),
    `response_tokens`, `first_loss`, `last_loss`, `loss_history`, `epochs`, `seconds`, `rows`,
    `skipped` (per reason), `truncated`, `pad_token`, `device`, `bf16`, `lora`, `out_dir`.
    Raises ValueError when no pair is usable.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler

    from alignkit.progress import Progress

    options = options or SFTOptions()
    out_dir = Path(out_dir)
    started = time.perf_counter()
    device = _device(options.device)
    bf16 = _use_bf16(options.bf16, device)
    torch.manual_seed(options.seed)

    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    pairs = list(pairs)
    examples, encoded = encode_pairs(
        pairs,
        tokenizer,
        options.max_length,
        prompt_special_tokens=prompt_special_tokens,
        append_eos=append_eos,
    )
    counts = collections.Counter(row_counts or {"rows": len(pairs)})
    counts.update(encoded)
    skipped = {k: v for k, v in counts.items() if k not in ("rows", "truncated")}
    if skipped:
        log.warning("%s: skipped %d of %d rows: %s", label, sum(skipped.values()),
                    counts["rows"], skipped)  # fmt: skip
    if not examples:
        raise ValueError(f"no usable training rows among {counts['rows']}: skipped {skipped}")

    # Full fine-tuning keeps float32 master weights (bf16 only in autocast); frozen LoRA bases
    # may sit in bf16.
    load_dtype = torch.bfloat16 if options.lora and bf16 else torch.float32
    model: Any = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=load_dtype)
    pad_how = set_pad_token(tokenizer, model, options.add_pad_token)
    model.config.use_cache = False
    model.to(device)
    check_linear_head(model, torch.tensor([examples[0].input_ids[:32]], device=device))
    if options.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if options.lora:
        model = _lora_model(model, options)
    model.train()

    steps_per_epoch = math.ceil(len(examples) / options.batch_size)
    total_steps = options.max_steps or math.ceil(steps_per_epoch * options.epochs)
    optimizer = _optimizer(model, options)
    scheduler = get_scheduler(
        options.lr_schedule,
        optimizer,
        num_warmup_steps=math.ceil(options.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    )
    generator = torch.Generator().manual_seed(options.seed)
    losses: list[float] = []
    tokens = response_tokens = 0
    with Progress(total_steps, desc=label, unit="step", mode=progress) as bar:
        batches = _step_batches(len(examples), options.batch_size, generator)
        while len(losses) < total_steps:
            indices = next(batches)
            chosen = [examples[i] for i in indices]
            # Divide by the whole step's response tokens: a token-level mean over the batch.
            step_tokens = sum(sum(1 for t in e.labels[1:] if t != IGNORE_INDEX) for e in chosen)
            step_loss = 0.0
            for start in range(0, len(chosen), options.micro_batch_size):
                batch = collate(
                    chosen[start : start + options.micro_batch_size],
                    tokenizer.pad_token_id,
                )
                batch = {k: v.to(device) for k, v in batch.items()}
                with autocast:
                    nll, _ = response_nll(model, impl=options.loss_impl, **batch)
                loss = nll / step_tokens
                loss.backward()
                step_loss += loss.item()
                tokens += int(batch["attention_mask"].sum())
            torch.nn.utils.clip_grad_norm_(trainable, options.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            response_tokens += step_tokens
            losses.append(step_loss)
            bar.advance(1, loss=f"{step_loss:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")

    if options.lora:
        model = model.merge_and_unload()
    model.config.use_cache = True
    stats: dict[str, Any] = {
        "steps": len(losses),
        "examples": len(examples),
        "tokens": tokens,
        "response_tokens": response_tokens,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "loss_history": [round(x, 6) for x in losses],
        "epochs": round(len(losses) / steps_per_epoch, 3),
        "rows": counts["rows"],
        "skipped": skipped,
        "truncated": counts["truncated"],
        "pad_token": pad_how,
        "device": str(device),
        "bf16": bf16,
        "lora": options.lora,
        "out_dir": str(out_dir),
    }
    stats["seconds"] = round(time.perf_counter() - started, 3)
    saved = {
        "base_model": str(base_model),
        **(record or {}),
        "saved": "full model (LoRA merged)" if options.lora else "full model",
        "options": dataclasses.asdict(options),
        "stats": stats,
    }
    save_model_folder(model, tokenizer, out_dir, saved, record_file)
    log.info(
        "%s: %d steps on %d examples, loss %.4f -> %.4f, %.1fs",
        label, stats["steps"], stats["examples"], stats["first_loss"], stats["last_loss"],
        stats["seconds"],
    )  # fmt: skip
    return stats
