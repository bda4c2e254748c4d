"""BMC: Bridging and Modeling Correlations for preference optimisation.

- Bridging: `bridge` (an LLM revises losing responses minimally into pseudo-winning ones).
- Varied tokens: `varied_token_masks`, `sequence_opcodes` (difflib-exact, in Rust),
  `stop_word_token_ids` (the authors' NLTK rule by default).
- ``alignkit.bmc.loss`` holds the token-weighted DPO loss fused with the LM head.
- Training: `BMCTrainer` / `BMCConfig` (TRL `DPOTrainer` subclass), `train_bmc`.

The loss and trainer names need torch (and TRL); they load on first use, so bridging and the
command line work without them.
"""

from __future__ import annotations

import importlib
from typing import Any

from alignkit.bmc.bridge import BridgeConfig, bridge, bridging_prompt
from alignkit.bmc.data import PreferencePair, read_pairs
from alignkit.bmc.varied import (
    NLTK_STOP_WORDS,
    STOP_WORD_RULES,
    STOP_WORDS,
    sequence_opcodes,
    stop_word_token_ids,
    varied_token_masks,
)

# name -> submodule, imported on first access (torch / trl are heavy and optional).
_LAZY = {
    "BMCFusedLinearLoss": "loss",
    "BMCLossOutput": "loss",
    "bmc_loss": "loss",
    "bmc_token_weights": "loss",
    "dpo_sigmoid_loss": "loss",
    "weighted_token_logps": "loss",
    "weighted_token_logps_from_logits": "loss",
    "BMCConfig": "trainer",
    "BMCTrainer": "trainer",
    "DataCollatorForBMC": "trainer",
    "TrainOptions": "train",
    "train_bmc": "train",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alignkit.bmc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"alignkit.bmc.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "NLTK_STOP_WORDS",
    "STOP_WORDS",
    "STOP_WORD_RULES",
    "BMCConfig",
    "BMCFusedLinearLoss",
    "BMCLossOutput",
    "BMCTrainer",
    "BridgeConfig",
    "DataCollatorForBMC",
    "PreferencePair",
    "TrainOptions",
    "bmc_loss",
    "bmc_token_weights",
    "bridge",
    "bridging_prompt",
    "dpo_sigmoid_loss",
    "read_pairs",
    "sequence_opcodes",
    "stop_word_token_ids",
    "train_bmc",
    "varied_token_masks",
    "weighted_token_logps",
    "weighted_token_logps_from_logits",
]
