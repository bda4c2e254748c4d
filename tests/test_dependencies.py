"""A preprocessing-only install (`pip install .`, no extras) runs prepare and dedup without torch.

The CLI runs in a subprocess whose `sitecustomize` makes the heavy packages unimportable, as if
they were not installed, and logs every attempt to import them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from alignkit.data.demo import write_demo_shards

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "triton", "trl", "accelerate")

BLOCKER = textwrap.dedent(
    """
    import os
    import sys

    BLOCKED = {blocked!r}


    class BlockHeavy:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                with open(os.environ["ALIGNKIT_TEST_IMPORT_LOG"], "a") as log:
                    log.write(name + "\\n")
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
            return None


    sys.meta_path.insert(0, BlockHeavy())
    """
).format(blocked=set(HEAVY))


def _project() -> dict:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower() for req in requirements}


class BlockedPython:
    """Runs Python code or the `alignkit` entry point with the heavy packages blocked."""

    def __init__(self, folder: Path) -> None:
        site = folder / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
        self.folder = folder
        self.log = folder / "blocked-imports.txt"
        self.env = dict(os.environ, ALIGNKIT_TEST_IMPORT_LOG=str(self.log))
        self.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(site), os.environ.get("PYTHONPATH")])
        )

    def python(self, code: str, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        """The result and the heavy modules the process tried to import."""
        self.log.unlink(missing_ok=True)
        result = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.folder,
            timeout=300,
        )
        return result, self.log.read_text().split() if self.log.exists() else []

    def cli(self, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        module, _, func = _project()["scripts"]["alignkit"].partition(":")
        return self.python(f"import sys\nfrom {module} import {func}\nsys.exit({func}())", *args)


@pytest.fixture
def blocked(tmp_path: Path) -> BlockedPython:
    return BlockedPython(tmp_path)


def test_core_dependencies_hold_no_heavy_package() -> None:
    project = _project()
    core = _names(project["dependencies"])
    assert not core & {*HEAVY, "gguf", "datasets", "sentence-transformers"}, core
    extras = project["optional-dependencies"]
    assert {"torch", "transformers"} <= _names(extras["llm"])
    assert {"torch", "transformers", "trl"} <= _names(extras["train"])
    # `make install` (.[test]) must still bring every extra the tests exercise.
    assert "alignkit[llm,train,parquet]" in extras["test"]
    assert "alignkit[llm,train,parquet,ray]" in extras["all"]
    # Ray is an opt-in executor: its own extra, never pulled in by the tests' install.
    assert _names(extras["ray"]) == {"ray"} and "ray" not in _names(extras["test"])


def test_blocker_hides_heavy_packages(blocked: BlockedPython) -> None:
    result, attempts = blocked.python("import transformers")
    assert result.returncode != 0 and "blocked" in result.stderr
    assert attempts == ["transformers"]


def test_imports_and_help_touch_no_heavy_package(blocked: BlockedPython) -> None:
    result, attempts = blocked.python("import alignkit, alignkit.webr, alignkit.llm")
    assert result.returncode == 0, result.stderr
    assert attempts == []
    for args in (["--help"], ["webr", "--help"], ["webr", "run", "--help"]):
        result, attempts = blocked.cli(*args)
        assert result.returncode == 0, result.stderr
        assert attempts == [], args


def test_prepare_and_dedup_run_without_heavy_packages(blocked: BlockedPython) -> None:
    shards = write_demo_shards(blocked.folder / "shards", n_shards=1, docs_per_shard=30, seed=5)
    prepared = blocked.folder / "prepared"
    result, attempts = blocked.cli(
        "webr", "prepare", *map(str, shards), "--out", str(prepared), "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    assert attempts == []
    docs = sorted(prepared.glob("*.jsonl.gz"))
    assert docs

    deduped = blocked.folder / "deduped"
    result, attempts = blocked.cli(
        "webr", "dedup", *map(str, docs), "--out", str(deduped), "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    assert attempts == []
    assert sorted(deduped.glob("*.jsonl.gz"))

    # Asking for local generation names the missing extra and the pip command, no traceback.
    result, _ = blocked.cli(
        "webr",
        "synthesize",
        *map(str, docs),
        "--out",
        str(blocked.folder / "synth"),
        "--llm",
        "transformers",
        "--no-progress",
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "`llm` extra" in result.stderr and "`pip install " in result.stderr, result.stderr
