"""Defaults shared across subpackages, in a module that imports nothing (CLI start-up stays fast).

`alignkit.llm` re-exports them for users."""

# The embedded SmolLM2-135M-Instruct of the `transformers` backend (alignkit.llm.local).
DEFAULT_LLM_SPEC = "transformers"
