"""BMC: Bridging and Modeling Correlations for preference optimisation.

- Bridging: `bridge` (an LLM revises losing responses minimally into pseudo-winning ones).
- Varied tokens: `varied_token_masks`, `sequence_opcodes` (difflib-exact, in Rust),
  `stop_word_token_ids`.
- ``alignkit.bmc.loss`` holds the token-weighted DPO loss fused with the LM head.
"""

from alignkit.bmc.bridge import BridgeConfig, bridge, bridging_prompt
from alignkit.bmc.data import PreferencePair, read_pairs
from alignkit.bmc.loss import (
    BMCFusedLinearLoss,
    BMCLossOutput,
    bmc_loss,
    bmc_token_weights,
    dpo_sigmoid_loss,
    weighted_token_logps,
    weighted_token_logps_from_logits,
)
from alignkit.bmc.varied import (
    STOP_WORDS,
    sequence_opcodes,
    stop_word_token_ids,
    varied_token_masks,
)

__all__ = [
    "STOP_WORDS",
    "BMCFusedLinearLoss",
    "BMCLossOutput",
    "BridgeConfig",
    "PreferencePair",
    "bmc_loss",
    "bmc_token_weights",
    "bridge",
    "bridging_prompt",
    "dpo_sigmoid_loss",
    "read_pairs",
    "sequence_opcodes",
    "stop_word_token_ids",
    "varied_token_masks",
    "weighted_token_logps",
    "weighted_token_logps_from_logits",
]
