"""Defaults shared across subpackages, in a module that imports next to nothing (CLI start-up
stays fast).

`alignkit.llm` re-exports them for users."""

from __future__ import annotations

import os
from pathlib import Path

# The embedded SmolLM2-135M-Instruct of the `transformers` backend (alignkit.llm.local).
DEFAULT_LLM_SPEC = "transformers"


def cache_root() -> Path:
    """alignkit's cache folder: `$ALIGNKIT_CACHE_DIR`, `$XDG_CACHE_HOME/alignkit` or
    `~/.cache/alignkit`."""
    explicit = os.environ.get("ALIGNKIT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "alignkit"
    return Path("~/.cache/alignkit").expanduser()
