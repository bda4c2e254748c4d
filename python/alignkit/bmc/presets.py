"""BMC training settings: the defaults shared by `BMCConfig`, `TrainOptions` and
`alignkit bmc train`, and the paper's setups as named presets.

Values from the authors' training configs (`training_configs/*/*-dpo-bmc.yaml`, BMC repository):
learning rate 5e-7, cosine schedule, warmup ratio 0.1, one epoch, seed 42, bf16, max length 2048,
2 pairs per device and an effective batch of 128 (4 GPUs x 2 x 16 accumulation there; 2 x 64 on
one device here). Keys are `BMCConfig` field names. Torch-free, so the command line reads it
without loading the trainer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# The shared defaults: the paper's optimisation settings with the config default delta (2.0)
# and the QA/math beta (0.05). Batch and precision stay small and portable (float32 runs on any
# CPU; TRL's own default is bf16); the presets set the paper's.
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "beta": 0.05,
        "bmc_delta": 2.0,
        "learning_rate": 5e-7,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
        "num_train_epochs": 1.0,
        "seed": 42,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "max_length": 2048,
        "logging_steps": 10,
        "bf16": False,
    }
)

# Shared by every paper setup: 2 x 64 = 128 pairs per optimiser step on one device, bf16.
_PAPER = {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 64, "bf16": True}

PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        # ECQA + QASC, Llama-2-7B SFT.
        "qa": MappingProxyType({**_PAPER, "beta": 0.05, "bmc_delta": 3.0}),
        # Math word problems, Llama-2-7B SFT.
        "math": MappingProxyType({**_PAPER, "beta": 0.05, "bmc_delta": 2.5}),
        # UltraFeedback, princeton-nlp/Llama-3-Base-8B-SFT.
        "ultrafeedback-llama3": MappingProxyType({**_PAPER, "beta": 0.01, "bmc_delta": 1.5}),
        # UltraFeedback, alignment-handbook/zephyr-7b-sft-full.
        "ultrafeedback-mistral": MappingProxyType({**_PAPER, "beta": 0.01, "bmc_delta": 2.0}),
    }
)


def preset_settings(name: str) -> dict[str, Any]:
    """The shared defaults updated with preset `name` (a ValueError lists the known names)."""
    if name not in PRESETS:
        raise ValueError(f"unknown BMC preset {name!r}; choose one of {', '.join(PRESETS)}")
    return {**DEFAULTS, **PRESETS[name]}
