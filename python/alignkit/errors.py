"""alignkit's one exception hierarchy.

Every error a user can cause (a bad option, an input in the wrong format, an output folder made
with another configuration, a run that produced nothing) is an `AlignkitError`. The command line
turns each into one clear line on stderr and the error's `exit_code`; library callers can catch
the whole family at once. Errors also subclass the built-in they refine (`ValueError`,
`FileNotFoundError`, ...), so code written against the built-ins keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence


class AlignkitError(Exception):
    """Base of every error alignkit raises on purpose."""

    exit_code = 1


class ConfigError(AlignkitError, ValueError):
    """An option value is invalid, or a config file cannot be used."""

    exit_code = 2


class ConfigMismatchError(ConfigError):
    """An output folder holds results of another configuration."""

    def __init__(self, folder: str, keys: Sequence[str]) -> None:
        self.folder = folder
        self.keys = list(keys)
        super().__init__(
            f"{folder} holds results of another configuration (differs in: "
            f"{', '.join(self.keys)}); use a new --out directory or pass --overwrite"
        )


class InputError(AlignkitError, ValueError):
    """An input is missing, unreadable or not in the expected format or schema."""

    exit_code = 2


class InputNotFoundError(InputError, FileNotFoundError):
    """An input file or glob matched nothing."""


class OutputError(AlignkitError, OSError):
    """The output folder cannot be written, or is in use by another run."""

    exit_code = 2


class FolderLockedError(OutputError):
    """Another live run holds the output folder."""


class NothingProducedError(AlignkitError):
    """A run finished without producing anything useful (the message says why)."""


class StageFailedError(AlignkitError):
    """Some tasks of a stage failed; the others are complete and a re-run redoes only these."""

    def __init__(self, stage: str, failures: dict[str, str]) -> None:
        self.stage = stage
        self.failures = dict(failures)
        shown = "; ".join(f"{k}: {v}" for k, v in list(self.failures.items())[:3])
        more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
        super().__init__(f"{stage}: {len(self.failures)} task(s) failed: {shown}{more}")


class MissingDependencyError(AlignkitError, ImportError):
    """An optional dependency is not installed; the message names the pip command."""

    exit_code = 2
