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

log = logging.getLogger(__name__)

MODEL_DIR = "model"
METRICS_FILE = "train_metrics.json"


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """What `alignkit bmc train` needs; every field is a flag / config key of the command."""

    model: str
    data: str
    out: str
    ref_model: str | None = None
    beta: float = 0.05
    delta: float = 2.0
    ref_weighting: str = "reference"
    loss_impl: str = "auto"
    learning_rate: float = 5e-7
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 2
    gradient_accumulation_steps: int = 1
    max_length: int | None = 1024
    max_pairs: int | None = None
    seed: int = 0
    logging_steps: int = 10
    exclude_stop_words: bool = True
    bf16: bool = False
    use_cpu: bool = False


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
    tokenizer = AutoTokenizer.from_pretrained(options.model)
    model = AutoModelForCausalLM.from_pretrained(options.model)
    ref_model = AutoModelForCausalLM.from_pretrained(options.ref_model or options.model)
    config = BMCConfig(
        output_dir=str(out / "checkpoints"),
        beta=options.beta,
        bmc_delta=options.delta,
        ref_weighting=options.ref_weighting,
        loss_impl=options.loss_impl,
        learning_rate=options.learning_rate,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        max_length=options.max_length,
        seed=options.seed,
        logging_steps=options.logging_steps,
        exclude_stop_words=options.exclude_stop_words,
        bf16=options.bf16,
        use_cpu=options.use_cpu,
        save_strategy="no",
        report_to=[],
    )
    trainer = BMCTrainer(
        model=model,
        ref_model=ref_model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
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
