"""BMC: Bridging and Modeling Correlations for preference optimisation.

``alignkit.bmc.loss`` holds the token-weighted DPO loss fused with the LM head.
"""

from alignkit.bmc.loss import (
    BMCFusedLinearLoss,
    BMCLossOutput,
    bmc_loss,
    bmc_token_weights,
    dpo_sigmoid_loss,
    weighted_token_logps,
    weighted_token_logps_from_logits,
)

__all__ = [
    "BMCFusedLinearLoss",
    "BMCLossOutput",
    "bmc_loss",
    "bmc_token_weights",
    "dpo_sigmoid_loss",
    "weighted_token_logps",
    "weighted_token_logps_from_logits",
]
