"""Atomic file writes shared by every job: a reader sees the old file or the whole new one."""

from __future__ import annotations

import gzip
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to a uniquely named temporary file beside `path` (two writers never share
    one), fsync it, then rename it over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """`payload` as indented, key-sorted JSON, written atomically."""
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def open_gzip_text_writer(path: str | os.PathLike[str], level: int = 6) -> io.TextIOWrapper:
    """A UTF-8 text writer into a gzip file whose bytes depend on the text only (no name, no
    mtime in the header), so the same rows give byte-identical shards on any run or executor."""
    raw = open(path, "wb")  # noqa: SIM115 - closed with the returned wrapper
    try:
        packed = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0)
    except BaseException:
        raw.close()
        raise
    writer = io.TextIOWrapper(packed, encoding="utf-8", newline="\n")
    # Closing the GzipFile does not close a fileobj it was given; close both together.
    original_close = writer.close

    def close() -> None:
        try:
            original_close()
        finally:
            raw.close()

    writer.close = close  # type: ignore[method-assign]
    return writer
