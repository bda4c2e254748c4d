"""`train_bmc`: load a causal LM, its tokenizer, a frozen reference and preference pairs, run
`BMCTrainer`, and save the trained model and tokenizer atomically (the backend of
`alignkit bmc train`)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from alignkit.bmc.data import read_pairs
from alignkit.bmc.presets import DEFAULTS, preset_settings

log = logging.getLogger(__name__)

MODEL_DIR = "model"
METRICS_FILE = "train_metrics.json"


# TrainOptions name -> BMCConfig name, for the settings that the shared defaults and the presets
# decide when a run leaves them unset (None).
PRESET_FIELDS = {
    "beta": "beta",
    "delta": "bmc_delta",
    "learning_rate": "learning_rate",
    "lr_scheduler_type": "lr_scheduler_type",
    "warmup_ratio": "warmup_ratio",
    "epochs": "num_train_epochs",
    "batch_size": "per_device_train_batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "max_length": "max_length",
    "seed": "seed",
    "logging_steps": "logging_steps",
    "bf16": "bf16",
}


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """What `alignkit bmc train` needs; every field is a flag / config key of the command.

    A field of `PRESET_FIELDS` left at None takes the value of `preset` (one of
    `alignkit.bmc.presets.PRESETS`), else the shared default (`alignkit.bmc.presets.DEFAULTS`,
    the same as `BMCConfig`'s).
    """

    model: str
    data: str
    out: str
    ref_model: str | None = None
    preset: str | None = None
    beta: float | None = None
    delta: float | None = None
    ref_weighting: str = "reference"
    loss_impl: str = "auto"
    learning_rate: float | None = None
    lr_scheduler_type: str | None = None
    warmup_ratio: float | None = None
    epochs: float | None = None
    max_steps: int = -1
    batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    max_length: int | None = None
    max_pairs: int | None = None
    seed: int | None = None
    logging_steps: int | None = None
    exclude_stop_words: bool = True
    stop_word_rule: str = "nltk"
    bf16: bool | None = None
    use_cpu: bool = False
    report_to: tuple[str, ...] = ()
    use_peft: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] | None = None

    def trainer_settings(self) -> dict[str, Any]:
        """The `BMCConfig` values of the preset-decided fields: set here, else the preset's,
        else the shared default."""
        base = preset_settings(self.preset) if self.preset else dict(DEFAULTS)
        settings = {name: base[name] for name in PRESET_FIELDS.values() if name in base}
        for option, name in PRESET_FIELDS.items():
            value = getattr(self, option)
            if value is not None:
                settings[name] = value
        return settings


def _peft_config(options: TrainOptions) -> Any:
    if not options.use_peft:
        return None
    try:
        from peft import LoraConfig
    except ImportError as exc:
        raise ImportError("use_peft needs the peft package: pip install peft") from exc
    return LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=list(options.lora_target_modules or []) or None,
        task_type="CAUSAL_LM",
    )


def _dataset(options: TrainOptions) -> Any:
    from datasets import Dataset

    pairs, bad, read = read_pairs(options.data, max_pairs=options.max_pairs)
    if bad:
        log.warning("skipped %d of %d rows: %s", sum(bad.values()), read, dict(bad))
    if not pairs:
        raise ValueError(f"{options.data}: no usable prompt/chosen/rejected pairs")
    kinds = {p.conversational for p in pairs}
    if len(kinds) > 1:
        raise ValueError(f"{options.data} mixes string and conversational prompts")
    return Dataset.from_list(
        [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    )


def save_atomically(trainer: Any, tokenizer: Any, target: Path) -> None:
    """Write model + tokenizer into a temporary folder beside `target`, then rename it."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def train_bmc(options: TrainOptions) -> dict[str, Any]:
    """Train with BMC; returns a summary (also written to OUT/train_metrics.json)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignkit.bmc.trainer import BMCConfig, BMCTrainer
    from alignkit.data.io import atomic_write_json

    started = time.perf_counter()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = _dataset(options)
    peft_config = _peft_config(options)
    tokenizer = AutoTokenizer.from_pretrained(options.model)
    model = AutoModelForCausalLM.from_pretrained(options.model)
    # With LoRA the base model without the adapter is the reference, unless one is named.
    ref_model = (
        None
        if peft_config is not None and options.ref_model is None
        else AutoModelForCausalLM.from_pretrained(options.ref_model or options.model)
    )
    config = BMCConfig(
        output_dir=str(out / "checkpoints"),
        ref_weighting=options.ref_weighting,
        loss_impl=options.loss_impl,
        max_steps=options.max_steps,
        exclude_stop_words=options.exclude_stop_words,
        stop_word_rule=options.stop_word_rule,
        use_cpu=options.use_cpu,
        save_strategy="no",
        report_to=list(options.report_to),
        **options.trainer_settings(),
    )
    trainer = BMCTrainer(
        model=model,
        ref_model=ref_model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    result = trainer.train()
    save_atomically(trainer, tokenizer, out / MODEL_DIR)
    summary = {
        "options": dataclasses.asdict(options),
        "pairs": len(dataset),
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "log_history": trainer.state.log_history,
        "model_dir": str(out / MODEL_DIR),
        "seconds": round(time.perf_counter() - started, 3),
    }
    atomic_write_json(out / METRICS_FILE, json.loads(json.dumps(summary, default=str)))
    return summary
