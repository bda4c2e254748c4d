"""One progress scheme for every job and LLM batch: a bar on a terminal, a log line every few
seconds otherwise (CI, files, pipes), or nothing. In the base layer, so the LLM layer and the
stage kit share it.

`progress_mode(True | False | "auto" | "bar" | "log" | "off")` resolves a setting; `Progress`
shows one counter (items, bytes or requests) with extra fields such as docs/s or failures.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

log = logging.getLogger("alignkit.progress")

Mode = Literal["bar", "log", "off"]
LOG_EVERY_SECONDS = 15.0


def progress_mode(setting: bool | str | None = "auto") -> Mode:
    """ "auto"/True: a bar when stderr is a terminal, log lines otherwise; False/None: off."""
    if setting is None or setting is False or setting == "off":
        return "off"
    if setting in ("bar", "log"):
        return setting  # type: ignore[return-value]
    if setting is True or setting == "auto":
        return "bar" if sys.stderr.isatty() else "log"
    raise ValueError(f"progress must be auto, bar, log or off, not {setting!r}")


class Progress:
    """A counter shown as `mode` says; `unit="B"` scales bytes."""

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        unit: str = "it",
        mode: bool | str | None = "auto",
        initial: int = 0,
    ) -> None:
        self.mode = progress_mode(mode)
        self.total = total
        self.desc = desc
        self.unit = unit
        self.done = initial
        self.fields: dict[str, Any] = {}
        self._bar: Any = None
        self._initial = initial
        self._shown = 0.0
        self._started = self._logged = time.monotonic()
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=desc,
                unit=unit,
                unit_scale=unit == "B",
                unit_divisor=1024 if unit == "B" else 1000,
                dynamic_ncols=True,
                smoothing=0.1,
            )

    def advance(self, amount: int = 1, **fields: Any) -> None:
        self.done += amount
        self.fields.update(fields)
        if self._bar is not None:
            now = time.monotonic()
            if fields and now - self._shown >= 0.25:  # postfix updates are not free
                self._shown = now
                self._bar.set_postfix(self.fields, refresh=False)
            if amount:
                self._bar.update(amount)
        elif self.mode == "log" and time.monotonic() - self._logged >= LOG_EVERY_SECONDS:
            self._log_line()

    def set(self, **fields: Any) -> None:
        self.advance(0, **fields)

    def _log_line(self) -> None:
        self._logged = time.monotonic()
        elapsed = self._logged - self._started
        fresh = self.done - self._initial  # done by this run (not found done before)
        rate = fresh / elapsed if elapsed > 0 else 0.0
        of = f"/{self.total}" if self.total is not None else ""
        eta = ""
        if self.total is not None and fresh > 0:
            eta = f", ETA {(self.total - self.done) / rate:.0f}s"
        extra = "".join(f", {k}={v}" for k, v in self.fields.items())
        log.info("%s: %d%s %s (%.1f/s%s)%s", self.desc, self.done, of, self.unit, rate, eta, extra)

    def close(self) -> None:
        if self._bar is not None:
            if self.fields:
                self._bar.set_postfix(self.fields, refresh=False)
            self._bar.close()
            self._bar = None
        elif self.mode == "log" and self.done:
            self._log_line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
