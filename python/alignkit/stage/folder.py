"""The output-folder contract every stage follows.

    OUT/                     the data, and only the data (a `datasets`/datatrove folder)
    OUT/.alignkit/config.json    the stage name and fingerprint of the config that made OUT
    OUT/.alignkit/done/ID.json   one completion marker per finished task
    OUT/.alignkit/stats.json     merged, typed statistics of the last run
    OUT/.alignkit/parts/NAME     a task's intermediate results for the reduce step (not data)
    OUT/.alignkit/tmp/           outputs being written (unique names, never read back)
    OUT/.alignkit/lock           held (flock) by the run using OUT

- A marker is written only after the task's outputs were verified (gzip members decompress with
  a good CRC), fsynced and renamed into place; it records the identity of the task's inputs (size,
  mtime) and of each output (size, sha256). A marker whose input changed or whose output is
  missing or of another size is not trusted, so a killed task leaves nothing a re-run trusts.
- Temporary names are unique per process and attempt, so two writers never share a file.
- The lock is an `flock` on OUT/.alignkit/lock: a second run waits (up to `lock_wait` seconds) or
  refuses with a clear message naming the holder; the kernel drops the lock of a dead process, so a
  stale lock is taken over by the next run without any clean-up.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import json
import logging
import os
import shutil
import stat
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from alignkit.data.io import atomic_write_json
from alignkit.errors import ConfigMismatchError, FolderLockedError, OutputError

log = logging.getLogger(__name__)

META_DIR = ".alignkit"
CONFIG_FILE = "config.json"
STATS_FILE = "stats.json"
DONE_DIR = "done"
TMP_DIR = "tmp"
PARTS_DIR = "parts"
LOCK_FILE = "lock"
MARKER_VERSION = 1


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a marker remembers of an input: its resolved path, size and mtime. A pipe or device
    (`/dev/stdin`) has neither and cannot be read twice: its identity is new on every call, so a
    task reading it is never trusted done and always redone."""
    info = os.stat(path)
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        return {"path": os.fspath(path), "stream": uuid.uuid4().hex}
    return {"path": str(Path(path).resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_output(path: Path, name: str) -> None:
    """Reject a truncated or corrupt output before it is published: every gzip member must
    decompress with a good CRC and length; a Parquet file must have a readable footer whose row
    groups add up. Other formats are checked by their writers."""
    if name.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError:  # only written when pyarrow is there; nothing to check it with
            return
        try:
            meta = pq.ParquetFile(path).metadata
            rows = sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        except (OSError, ValueError) as exc:
            raise OutputError(f"{name}: written output is not valid Parquet ({exc})") from exc
        if rows != meta.num_rows:
            raise OutputError(
                f"{name}: Parquet row groups hold {rows} rows, footer says {meta.num_rows}"
            )
    if name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as exc:
            raise OutputError(f"{name}: written output is not valid gzip ({exc})") from exc


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    else:
        out[prefix] = value


def differing_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ (nested settings named precisely)."""
    flat_old: dict[str, Any] = {}
    flat_new: dict[str, Any] = {}
    _flatten("", old, flat_old)
    _flatten("", new, flat_new)
    keys = flat_old.keys() | flat_new.keys()
    return sorted(k for k in keys if flat_old.get(k) != flat_new.get(k))


class OutputFolder:
    """One stage's output folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.meta = self.root / META_DIR
        self._lock_fd: int | None = None

    # -- layout -------------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the folder and prove it is writable before any work starts."""
        try:
            for sub in (self.root, self.meta, self.meta / DONE_DIR, self.meta / TMP_DIR):
                sub.mkdir(parents=True, exist_ok=True)
            probe = self.meta / TMP_DIR / f".write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"output directory {self.root} is not writable: {exc}") from exc

    def path(self, name: str) -> Path:
        """An output's final path; `name` is relative to the folder and may hold subfolders."""
        if Path(name).is_absolute() or ".." in Path(name).parts or name.startswith(META_DIR):
            raise OutputError(f"output name {name!r} must stay inside the folder's data area")
        return self.root / name

    def part_path(self, name: str) -> Path:
        """A task's intermediate result (bookkeeping, never data) by its name."""
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise OutputError(f"part name {name!r} must stay inside the parts folder")
        return self.meta / PARTS_DIR / name

    def _recorded_path(self, entry: Mapping[str, Any]) -> Path:
        if entry.get("external"):
            return Path(entry["name"])
        return self.part_path(entry["name"]) if entry.get("part") else self.path(entry["name"])

    def tmp_path(self, name: str) -> Path:
        """A unique temporary path for `name` (per process and call)."""
        safe = name.replace(os.sep, "__")
        unique = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        return self.meta / TMP_DIR / f"{safe}.{unique}.partial"

    def marker_path(self, task_id: str) -> Path:
        safe = task_id.replace(os.sep, "__")
        return self.meta / DONE_DIR / f"{safe}.json"

    # -- lock ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the folder for this run (see the module docstring)."""
        self.meta.mkdir(parents=True, exist_ok=True)
        path = self.meta / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(wait, 0.0)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                        raise FolderLockedError(
                            f"{self.root} is in use by another run ({holder or 'unknown'}); "
                            "wait for it to finish or use another --out"
                        ) from None
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
            self._lock_fd = fd
            yield
        finally:
            self._lock_fd = None
            os.close(fd)  # closing drops the flock

    # -- configuration ------------------------------------------------------------------------

    def recorded_config(self) -> dict[str, Any] | None:
        try:
            value = json.loads((self.meta / CONFIG_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"unreadable": True}
        return value if isinstance(value, dict) else {"unreadable": True}

    def record_config(self, stage: str, fingerprint: Mapping[str, Any], overwrite: bool) -> bool:
        """Record the config of this run. A different recorded config is refused, naming the
        keys that differ, unless `overwrite`; returns True when one was replaced (the caller then
        clears the old results)."""
        wanted = {"stage": stage, "config": json.loads(json.dumps(fingerprint))}
        existing = self.recorded_config()
        replaced = False
        if existing is not None and existing != wanted:
            if not overwrite:
                raise ConfigMismatchError(str(self.root), differing_keys(existing, wanted))
            replaced = True
        if existing != wanted:
            atomic_write_json(self.meta / CONFIG_FILE, wanted)
        return replaced

    # -- markers and outputs ------------------------------------------------------------------

    def publish(
        self,
        tmp: Path,
        name: str,
        *,
        verify: bool = True,
        part: bool = False,
        external: bool = False,
    ) -> dict[str, Any]:
        """Verify, fsync and rename a finished temporary file to its final name (a data output,
        a part with `part=True`, or with `external=True` an absolute path the user chose outside
        the folder); returns its identity for the marker."""
        if external:
            final = Path(name)
            if not final.is_absolute():
                raise OutputError(f"external output {name!r} must be an absolute path")
        else:
            final = self.part_path(name) if part else self.path(name)
        if verify:
            verify_output(tmp, name)
        identity: dict[str, Any] = {
            "name": name,
            "size": tmp.stat().st_size,
            "sha256": sha256_file(tmp),
        }
        if part:
            identity["part"] = True
        if external:
            identity["external"] = True
        if (
            final.is_file()
            and final.stat().st_size == identity["size"]
            and sha256_file(final) == identity["sha256"]
        ):
            # An identical output stays as it is (same mtime): whatever was made from it is
            # still valid, e.g. the tasks of a later stage that list it as an input.
            tmp.unlink()
            return identity
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        fsync_dir(final.parent)
        return identity

    def write_marker(
        self,
        task_id: str,
        inputs: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
        stats: Mapping[str, Any],
    ) -> None:
        marker = {
            "version": MARKER_VERSION,
            "task": task_id,
            "inputs": inputs,
            "outputs": outputs,
            "stats": dict(stats),
        }
        atomic_write_json(self.marker_path(task_id), marker)

    def trusted_marker(
        self, task_id: str, inputs: list[dict[str, Any]], *, deep: bool = False
    ) -> dict[str, Any] | None:
        """The marker of `task_id` if it proves the task is done for these inputs: same inputs,
        every output present with its recorded size (and checksum when `deep`)."""
        try:
            marker = json.loads(self.marker_path(task_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(marker, dict) or marker.get("version") != MARKER_VERSION:
            return None
        if marker.get("inputs") != inputs:
            log.info("%s: inputs changed since it was done; redoing it", task_id)
            return None
        for output in marker.get("outputs", []):
            try:
                path = self._recorded_path(output)
                if path.stat().st_size != output["size"]:
                    return None
                if deep and sha256_file(path) != output["sha256"]:
                    return None
            except (OSError, KeyError, TypeError):
                return None
        return marker

    def markers(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted((self.meta / DONE_DIR).glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                found.append(json.loads(path.read_text(encoding="utf-8")))
        return found

    def clear(self) -> None:
        """Forget every finished task and delete the outputs their markers name."""
        for marker in self.markers():
            for output in marker.get("outputs", []):
                with contextlib.suppress(OSError, KeyError, TypeError, OutputError):
                    self._recorded_path(output).unlink(missing_ok=True)
        shutil.rmtree(self.meta / DONE_DIR, ignore_errors=True)
        shutil.rmtree(self.meta / PARTS_DIR, ignore_errors=True)
        (self.meta / DONE_DIR).mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            (self.meta / STATS_FILE).unlink()

    def clean_tmp(self) -> None:
        """Remove temporaries of earlier runs (only called while holding the lock)."""
        for tmp in (self.meta / TMP_DIR).glob("*.partial"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def write_stats(self, stats: Mapping[str, Any]) -> None:
        atomic_write_json(self.meta / STATS_FILE, dict(stats))

    def read_stats(self) -> dict[str, Any] | None:
        try:
            value = json.loads((self.meta / STATS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None
