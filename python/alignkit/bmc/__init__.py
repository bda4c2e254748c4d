"""BMC: Bridging and Modeling Correlations for preference optimisation.

- Varied tokens: `varied_token_masks`, `sequence_opcodes` (difflib-exact, in Rust),
  `stop_word_token_ids`.
"""

from alignkit.bmc.varied import (
    STOP_WORDS,
    sequence_opcodes,
    stop_word_token_ids,
    varied_token_masks,
)

__all__ = [
    "STOP_WORDS",
    "sequence_opcodes",
    "stop_word_token_ids",
    "varied_token_masks",
]
