"""tools/check_private_imports.py: private names may be shared inside a package, not across."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_private_imports.py"


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_private_imports", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "alignkit" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


ALLOWED = {
    "__init__.py": "",
    "_defaults.py": "X = 1\n",
    "data/__init__.py": "",
    "data/chat.py": "def _helper(): ...\ndef public(): ...\n",
    "data/io.py": "from alignkit.data.chat import _helper\nfrom .chat import _helper as h\n",
    "webr/__init__.py": "",
    "webr/a.py": (
        "from alignkit import _core, _defaults\nfrom alignkit._defaults import X\n"
        "from alignkit.data.chat import public\nfrom alignkit import __version__\n"
    ),
}


def test_sharing_inside_a_package_and_shared_private_modules_pass(checker, tmp_path: Path) -> None:
    assert checker.main(["check", str(_tree(tmp_path, ALLOWED))]) == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("from alignkit.data.chat import _helper", "private name alignkit.data.chat._helper"),
        ("from ..data.chat import public, _helper", "private name alignkit.data.chat._helper"),
        ("import alignkit.data._vocab", "private module alignkit.data._vocab"),
        ("from alignkit.data import _vocab", "private name alignkit.data._vocab"),
    ],
)
def test_private_names_of_another_package_fail(
    checker, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    root = _tree(tmp_path, {**ALLOWED, "webr/b.py": line + "\n"})
    assert checker.main(["check", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"alignkit.webr.b imports the {message}" in out
