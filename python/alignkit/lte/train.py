"""LTE's alignment phase (method-notes §3.4): supervised fine-tuning on the parallel alignment
data of `alignkit lte build-data`, in the model's own chat template, loss on the answer only.

- Text: each row's `messages` end with the assistant's answer. The prompt is the conversation
  before it rendered by the tokenizer's chat template with the generation prompt (what the model
  sees when it is asked later); the response is the rest of the rendered conversation: the answer
  followed by what the template writes after an assistant turn (`<|im_end|>` and a newline for
  ChatML), so the model learns to stop. A template that writes nothing after an assistant turn
  gets the EOS token appended instead. Tokens: `alignkit.sft` (prompt and response tokenized
  separately, no special tokens added, as `apply_chat_template` tokenizes).
- Defaults are the paper's full fine-tuning: 3 epochs, lr 2e-5, cosine with 3% warmup, no weight
  decay, effective batch 128, max length 2048. `LTETrainOptions.paper_lora()` gives the LoRA
  variant: r 8, alpha 16, dropout 0.05, lr 3e-4 (adapters merged into the saved model).
- The stage (`alignkit lte train`) trains on every row of its input files in one task and
  publishes the model folder under `model/` of its output folder.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from alignkit.errors import ConfigError, InputError, InputNotFoundError
from alignkit.sft import SFTOptions, train_sft
from alignkit.stage import Stage, StageConfig, Task, TaskContext, TaskResult, option

log = logging.getLogger(__name__)

RECORD_FILE = "alignkit_lte.json"
MODEL_DIR = "model"
FULL_LEARNING_RATE = 2e-5
LORA_LEARNING_RATE = 3e-4


@dataclasses.dataclass(frozen=True)
class LTETrainOptions(SFTOptions):
    """Alignment-phase settings; the defaults are the paper's full fine-tuning (fields:
    `alignkit.sft.SFTOptions`), the LoRA fields the paper's LoRA variant."""

    micro_batch_size: int = 4  # the paper's per-device batch
    max_length: int = 2048
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05

    @classmethod
    def paper_lora(cls, **overrides: Any) -> LTETrainOptions:
        """The paper's LoRA variant (lr 3e-4, r 8, alpha 16, dropout 0.05); `overrides` win."""
        return cls(**{"lora": True, "learning_rate": LORA_LEARNING_RATE, **overrides})


def chat_texts(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> tuple[str, str]:
    """(prompt, response) texts of a conversation that ends with an assistant turn, rendered by
    `tokenizer`'s chat template. ValueError when the template renders the conversation so that
    the prompt is not its start or the answer is not in the rest."""
    answer = messages[-1]["content"]
    full = tokenizer.apply_chat_template(list(messages), tokenize=False)
    prompt = tokenizer.apply_chat_template(
        list(messages[:-1]), tokenize=False, add_generation_prompt=True
    )
    if not full.startswith(prompt):
        raise ValueError("the rendered conversation does not start with the rendered prompt")
    response = full[len(prompt) :]
    at = response.find(answer.strip())
    if at < 0:
        raise ValueError("the rendered answer is not the assistant's text")
    if not response[at + len(answer.strip()) :].strip():  # nothing marks the end of the turn
        response += tokenizer.eos_token
    return prompt, response


def _conversation(row: Any) -> tuple[list[dict[str, str]] | None, str]:
    """The row's messages, or None and why not."""
    if not isinstance(row, Mapping):
        return None, "not_an_object"
    messages = row.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        return None, "no_messages"
    turns = []
    for message in messages:
        if not isinstance(message, Mapping):
            return None, "bad_message"
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            return None, "bad_message"
        turns.append({"role": role, "content": content})
    if turns[-1]["role"] != "assistant":
        return None, "no_final_answer"
    if not turns[-1]["content"].strip():
        return None, "empty_answer"
    return turns, ""


def chat_pairs(
    rows: Iterable[Any], tokenizer: Any
) -> tuple[list[tuple[str, str]], collections.Counter[str]]:
    """(prompt, response) texts of chat rows in `tokenizer`'s chat template; counts `rows` and
    one key per skip reason (`not_an_object`, `no_messages`, `bad_message`, `no_final_answer`,
    `empty_answer`, `template_mismatch`)."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "the model's tokenizer has no chat template; LTE trains in the model's chat format"
        )
    if tokenizer.eos_token is None:
        raise ConfigError("the model's tokenizer has no EOS token; it could not learn to stop")
    counts: collections.Counter[str] = collections.Counter()
    pairs: list[tuple[str, str]] = []
    for row in rows:
        counts["rows"] += 1
        messages, why = _conversation(row)
        if messages is None:
            counts[why] += 1
            continue
        try:
            pairs.append(chat_texts(tokenizer, messages))
        except ValueError as exc:
            counts["template_mismatch"] += 1
            if counts["template_mismatch"] == 1:
                log.warning("lte train: a row is left out: %s", exc)
    return pairs, counts


def train_lte(
    rows: Iterable[Any],
    base_model: str | Path,
    out_dir: str | Path,
    options: LTETrainOptions | None = None,
    *,
    progress: bool | str | None = None,
) -> dict[str, Any]:
    """Align `base_model` on LTE chat rows and save it into `out_dir` (replaced whole, with
    `alignkit_lte.json`). Returns `alignkit.sft.train_sft`'s statistics."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    pairs, counts = chat_pairs(rows, tokenizer)
    return train_sft(
        pairs,
        base_model,
        out_dir,
        options or LTETrainOptions(),
        tokenizer=tokenizer,
        prompt_special_tokens=False,
        append_eos=False,
        row_counts=counts,
        record={"template": "chat", "method": "lte"},
        record_file=RECORD_FILE,
        label="lte train",
        progress=progress,
    )


# -- the stage -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LTETrainConfig(StageConfig):
    """`alignkit lte train`: the alignment phase on `lte build-data` rows (paper settings)."""

    schema_version: ClassVar[int] = 1

    model: str = option(
        "", help="base model: a local Hugging Face model folder; empty: the embedded "
        "SmolLM2-135M-Instruct",
    )  # fmt: skip
    epochs: float = option(3.0, help="epochs (paper: 3)")
    learning_rate: float | None = option(
        None, help="peak learning rate, cosine; none: the paper's 2e-5 (full) or 3e-4 (LoRA)"
    )
    warmup_ratio: float = option(0.03, help="warmup share of the steps (paper: 0.03)")
    batch_size: int = option(128, help="examples per optimizer step (paper: 128)")
    micro_batch_size: int = option(4, help="examples per forward pass (gradient accumulation)")
    max_length: int = option(2048, help="tokens per example (paper: 2048)")
    max_steps: int | None = option(None, help="stop after N optimizer steps (demos)")
    lora: bool = option(False, help="train a LoRA adapter (merged into the saved model)")
    lora_r: int = option(8, help="LoRA rank (paper: 8)")
    lora_alpha: int = option(16, help="LoRA alpha (paper: 16)")
    lora_dropout: float = option(0.05, help="LoRA dropout (paper: 0.05)")
    lora_target_modules: tuple[str, ...] = option(
        (), help="modules LoRA adapts; empty: PEFT's default for the model type"
    )
    gradient_checkpointing: bool = option(False, help="recompute activations (less memory)")
    seed: int = option(42, help="training seed")
    device: str | None = option(
        None, help="cpu, cuda, ...; none: cuda when available", fingerprint=False
    )

    def validate(self) -> None:
        if self.epochs <= 0 or (self.learning_rate is not None and self.learning_rate <= 0):
            raise ConfigError("epochs and learning_rate must be > 0")
        if min(self.batch_size, self.micro_batch_size, self.lora_r) < 1 or self.max_length < 8:
            raise ConfigError("batch_size, micro_batch_size, lora_r must be >= 1, max_length >= 8")
        if self.batch_size % self.micro_batch_size:
            raise ConfigError("batch_size must be a multiple of micro_batch_size")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("max_steps must be >= 1")
        if not 0.0 <= self.warmup_ratio < 1.0 or not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError("warmup_ratio and lora_dropout must be in [0, 1)")

    def options(self) -> LTETrainOptions:
        """The training options these settings stand for."""
        default_lr = LORA_LEARNING_RATE if self.lora else FULL_LEARNING_RATE
        return LTETrainOptions(
            epochs=self.epochs,
            learning_rate=default_lr if self.learning_rate is None else self.learning_rate,
            warmup_ratio=self.warmup_ratio,
            batch_size=self.batch_size,
            micro_batch_size=self.micro_batch_size,
            max_length=self.max_length,
            max_steps=self.max_steps,
            lora=self.lora,
            lora_r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            lora_target_modules=self.lora_target_modules or None,
            gradient_checkpointing=self.gradient_checkpointing,
            seed=self.seed,
            device=self.device,
        )


def base_model_dir(spec: str) -> Path:
    """A base-model setting as a folder (empty or 'default': the embedded model, converted)."""
    if spec.strip() in ("", "default"):
        from alignkit.llm import default_model_dir

        return default_model_dir()
    folder = Path(spec.removeprefix("transformers:")).expanduser()
    if not folder.is_dir():
        raise InputNotFoundError(f"base model folder not found: {folder}")
    return folder


def _read_rows(paths: Sequence[str], counts: collections.Counter[str]) -> list[Any]:
    from alignkit.data.rows import RowReader

    rows: list[Any] = []
    for path in paths:
        if not Path(path).is_file():
            raise InputNotFoundError(f"alignment data file not found: {path}")
        reader = RowReader(path)
        rows.extend(row.value for row in reader)
        counts.update(reader.skipped)
        counts.update({f"fault_{k}": v for k, v in reader.faults.items()})
    return rows


class LTETrainStage(Stage[LTETrainConfig]):
    """One task: align the base model on every row of the inputs (`lte build-data` files); the
    model files are outputs under `model/`, published and recorded by the kit. The base model's
    weight files are task inputs, so a changed base model trains again."""

    name = "lte.train"
    config_class = LTETrainConfig
    parallel_tasks = False  # one local model of this process

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if not inputs:
            raise InputError("lte train needs the alignment data of `alignkit lte build-data`")
        data = tuple(sorted(inputs))
        folder = base_model_dir(self.config.model)
        weights = sorted(str(p) for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
        return [Task(id="model", inputs=(*data, *weights), payload=(data, str(folder)))]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        data, folder = task.payload
        unreadable: collections.Counter[str] = collections.Counter()
        rows = _read_rows(data, unreadable)
        if not rows:
            raise InputError(f"no readable row in {', '.join(data)}")
        with ctx.tmp_folder_outputs(MODEL_DIR) as (trained, outputs):
            stats = train_lte(rows, folder, trained, self.config.options(), progress="log")
        ctx.progress(1)
        return TaskResult(stats={"train": stats, "unreadable": dict(unreadable)}, outputs=outputs)
