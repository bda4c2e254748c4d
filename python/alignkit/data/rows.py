"""One reader for row files: JSON lines (plain or gzip, also `.json` holding JSON lines or one
JSON array) and already-parsed rows (Parquet, `datasets`).

Every job that reads rows (`webr dedup`, `webr score`, `bmc bridge`, FollowBench) goes through
`RowReader`, so hostile input is handled once:

- a row that is not UTF-8, not JSON, nested too deeply for the parser, not an object, or holds a
  lone surrogate (`"\\ud800"`, which no tokenizer or UTF-8 writer accepts) is skipped (never
  repaired), counted by reason in `skipped` and logged as `FILE: row N` (N: the line of a
  JSON-lines file, the position in a JSON array);
- a row longer than `max_row_bytes` is skipped without being held in memory;
- a truncated or corrupt gzip file keeps every row decoded before the damage; the damage is
  counted in `faults` and logged naming the file (a row cut by it is counted as `cut_by_damage`);
- a `.gz` file that is not gzip at all, or a JSON array file that does not parse, is an
  `InputError` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from alignkit.errors import InputError

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 16
# After a zlib error, the failing chunk is decoded again in steps this small (then the failing
# step byte by byte), so only the output of the damaged byte itself is lost.
SALVAGE_STEP = 256
DEFAULT_MAX_ROW_BYTES = 1 << 30
# Skips logged one by one per file; the rest only in the closing summary.
LOGGED_SKIPS = 5
GZIP_MAGIC = b"\x1f\x8b"
# Only a row holding one of these escapes can decode to a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclasses.dataclass(frozen=True)
class Row:
    """One good row: its object, where it came from and (JSON lines) its bytes as read."""

    value: dict[str, Any]
    line: int  # its line in a JSON-lines file, else its position (1-based) among the rows
    where: str  # `file: row N` (N = line), for messages
    raw: bytes = b""


class _Damage(Exception):
    """The compressed stream cannot be read past this point."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _salvage(decoder: Any, data: bytes, step: int = SALVAGE_STEP) -> Iterator[bytes]:
    """What `decoder` yields from `data` up to the first undecodable byte: fed in small steps,
    the failing step again byte by byte (a bad checksum in the trailer then costs no row)."""
    for start in range(0, len(data), step):
        saved = decoder.copy()
        try:
            out = decoder.decompress(data[start : start + step])
        except zlib.error:
            if step > 1:
                yield from _salvage(saved, data[start : start + step], 1)
            return
        if out:
            yield out


def _gunzip(fh: BinaryIO, path: Path) -> Iterator[bytes]:
    """Decompressed bytes of every gzip member of `fh`; raises `_Damage` after yielding all that
    decoded before a corrupt region or the end of a truncated file."""
    pending = fh.read(READ_CHUNK)
    if pending and not pending.startswith(GZIP_MAGIC):
        raise InputError(f"{path}: not a gzip file (starts with {pending[:8]!r})")
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
    while pending:
        saved = decoder.copy()
        try:
            out = decoder.decompress(pending)
        except zlib.error as exc:
            yield from _salvage(saved, pending)
            raise _Damage("corrupt_gzip", f"corrupt gzip data ({exc})") from None
        if out:
            yield out
        if decoder.eof:  # next member, if any (zero padding after the last one is allowed)
            pending = decoder.unused_data or fh.read(READ_CHUNK)
            while pending and not pending.strip(b"\0"):
                pending = fh.read(READ_CHUNK)
            if pending:
                decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
        else:
            pending = fh.read(READ_CHUNK)
    if not decoder.eof:
        raise _Damage("truncated", "file ends inside a gzip member")


def _plain(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(READ_CHUNK):
        yield chunk


def has_lone_surrogate(value: Any) -> bool:
    """True when a string anywhere in `value` holds a lone surrogate (not encodable as UTF-8)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class RowReader:
    """Rows of one file with what was skipped (see the module docstring). Iterate once; after
    that `rows_read` (good and bad rows), `skipped` and `faults` are final."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
        values: Iterable[Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_row_bytes = max_row_bytes
        self._values = values
        self.rows_read = 0
        self.skipped: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.first_skips: list[str] = []  # "row 3: reason" of the first LOGGED_SKIPS

    @classmethod
    def of_values(cls, path: str | os.PathLike[str], values: Iterable[Any]) -> RowReader:
        """Rows already parsed by another reader (Parquet, `datasets`): only checked."""
        return cls(path, values=values)

    def stats(self) -> dict[str, Any]:
        """`skipped_rows` and `read_faults` by reason, for a stage's statistics."""
        return {"skipped_rows": dict(self.skipped), "read_faults": dict(self.faults)}

    def where(self, number: int) -> str:
        return f"{self.path}: row {number}"

    def skip(self, number: int, reason: str) -> None:
        """Count and log bad row `number` (callers use it for their own row checks too)."""
        self.skipped[reason] += 1
        if len(self.first_skips) < LOGGED_SKIPS:
            self.first_skips.append(f"row {number}: {reason}")
            log.warning("%s skipped (%s)", self.where(number), reason)

    def __iter__(self) -> Iterator[Row]:
        try:
            if self._values is not None:
                yield from self._checked(self._values)
            elif self.is_json_array():
                yield from self._checked(self._json_array(), array=True)
            else:
                yield from self._json_lines()
        finally:
            self._summarise()

    def _summarise(self) -> None:
        if self.skipped:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items()))
            log.warning(
                "%s: skipped %d of %d rows (%s)",
                self.path,
                sum(self.skipped.values()),
                self.rows_read,
                reasons,
            )

    def _checked(self, values: Iterable[Any], array: bool = False) -> Iterator[Row]:
        for number, value in enumerate(values, start=1):
            self.rows_read += 1
            if not isinstance(value, dict):
                self.skip(number, "not_an_object")
            elif array and has_lone_surrogate(value):
                self.skip(number, "lone_surrogate")
            else:
                yield Row(value=value, line=number, where=self.where(number))

    def _open(self) -> BinaryIO:
        try:
            return open(self.path, "rb")  # noqa: SIM115 - closed by the callers' with
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read ({exc.strerror or exc})") from None

    def is_json_array(self) -> bool:
        """A `.json` file starting with `[` holds one array of rows; anything else is lines."""
        if not self.path.name.lower().endswith((".json", ".json.gz")):
            return False
        with self._open() as fh:
            head = b"".join(self._decoded(fh, first=True))
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")

    def _decoded(self, fh: BinaryIO, first: bool = False) -> Iterator[bytes]:
        chunks = _gunzip(fh, self.path) if self.path.name.lower().endswith(".gz") else _plain(fh)
        if first:
            try:
                yield next(chunks, b"")
            except _Damage:
                return
            return
        yield from chunks

    def _json_array(self) -> Iterator[Any]:
        with self._open() as fh:
            try:
                data = b"".join(self._decoded(fh))
            except _Damage as exc:
                raise InputError(
                    f"{self.path}: {exc}; a JSON array cannot be read in part"
                ) from None
        try:
            values = json.loads(data.decode("utf-8-sig"))
        except RecursionError:
            raise InputError(f"{self.path}: JSON nested too deeply") from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise InputError(f"{self.path}: not valid JSON ({exc})") from None
        del data
        if not isinstance(values, list):
            raise InputError(f"{self.path}: expected a JSON array of rows or JSON lines")
        return iter(values)

    def _json_lines(self) -> Iterator[Row]:
        with self._open() as fh:
            lines = self._lines(self._decoded(fh))
            for number, line in lines:
                row = self._parse(line, number)
                if row is not None:
                    yield row

    def _lines(self, chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
        """(line number, line) for each line; an over-long line is skipped as it streams by."""
        parts: list[bytes] = []
        size = number = 0
        try:
            for chunk in chunks:
                start = 0
                while start < len(chunk):
                    end = chunk.find(b"\n", start)
                    stop = len(chunk) if end < 0 else end + 1
                    if size + stop - start <= self.max_row_bytes:
                        parts.append(chunk[start:stop])
                    size += stop - start
                    start = stop
                    if end < 0:
                        break
                    number += 1
                    yield from self._finish_line(number, parts, size)
                    parts, size = [], 0
        except _Damage as exc:
            self.faults[exc.reason] += 1
            if size and any(p.strip() for p in parts):
                self.rows_read += 1
                self.skip(number + 1, "cut_by_damage")
            log.warning(
                "%s: %s after line %d; kept the %d rows before it",
                self.path,
                exc,
                number,
                self.rows_read - sum(self.skipped.values()),
            )
            return
        except OSError as exc:
            self.faults["read_error"] += 1
            log.warning("%s: read error after line %d (%s)", self.path, number, exc)
            return
        if size:
            yield from self._finish_line(number + 1, parts, size)

    def _finish_line(
        self, number: int, parts: list[bytes], size: int
    ) -> Iterator[tuple[int, bytes]]:
        if size > self.max_row_bytes:
            self.rows_read += 1
            self.skip(number, "row_too_long")
            return
        line = parts[0] if len(parts) == 1 else b"".join(parts)
        if line.strip():
            yield number, line

    def _parse(self, line: bytes, number: int) -> Row | None:
        self.rows_read += 1
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            self.skip(number, "invalid_utf8")
            return None
        try:
            value = json.loads(text)
        except RecursionError:
            self.skip(number, "nested_too_deeply")
            return None
        except ValueError:
            self.skip(number, "invalid_json")
            return None
        del text
        if not isinstance(value, dict):
            self.skip(number, "not_an_object")
            return None
        if _SURROGATE_ESCAPE.search(line) and has_lone_surrogate(value):
            self.skip(number, "lone_surrogate")
            return None
        return Row(value=value, line=number, where=self.where(number), raw=line)
