"""Type stubs for the Rust extension `alignkit._core` (checked by `make stubtest`)."""

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias, final

__version__: str
__all__ = [
    "Extracted",
    "HttpResponse",
    "MalformedInputError",
    "ShardDocuments",
    "WarcReader",
    "WarcRecord",
    "__version__",
    "default_quality_config",
    "detect_language",
    "detect_language_batch",
    "extract_text",
    "extract_text_batch",
    "prepare_shard",
    "quality_filter_batch",
    "read_warc_batch",
]

_StrPath: TypeAlias = str | os.PathLike[str]

class MalformedInputError(ValueError): ...

@final
class WarcRecord:
    @property
    def record_type(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def offset(self) -> int: ...
    @property
    def block(self) -> bytes: ...
    @property
    def block_length(self) -> int: ...
    @property
    def target_uri(self) -> str | None: ...
    @property
    def date(self) -> str | None: ...
    @property
    def record_id(self) -> str | None: ...
    def header(self, name: str) -> str | None: ...
    def http(self) -> HttpResponse: ...
    def decode_html(self) -> str | None: ...

@final
class HttpResponse:
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def charset(self) -> str | None: ...
    def header(self, name: str) -> str | None: ...

@final
class WarcReader:
    def __new__(
        cls,
        source: _StrPath | bytes,
        *,
        record_types: Sequence[str] | None = None,
        max_block_bytes: int = 67108864,
        compression: str = "auto",
    ) -> WarcReader: ...
    def __iter__(self) -> WarcReader: ...
    def __next__(self) -> WarcRecord: ...
    @property
    def stats(self) -> dict[str, Any]: ...

def read_warc_batch(
    paths: Sequence[_StrPath],
    *,
    record_types: Sequence[str] | None = None,
    max_block_bytes: int = 67108864,
    compression: str = "auto",
    workers: int | None = None,
) -> list[dict[str, Any]]: ...

@final
class Extracted:
    @property
    def text(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def lang_hint(self) -> str | None: ...

def extract_text(
    html: str, *, mode: str = "plain", list_bullets: bool = True, skip_hidden: bool = True
) -> Extracted: ...
def extract_text_batch(
    htmls: Sequence[str],
    *,
    mode: str = "plain",
    list_bullets: bool = True,
    skip_hidden: bool = True,
    workers: int | None = None,
) -> list[Extracted]: ...

class _PrepareOptions(Protocol):
    """What `prepare_shard`/`ShardDocuments` read from their `options` (e.g. PrepareConfig)."""

    @property
    def mode(self) -> str: ...
    @property
    def min_text_chars(self) -> int: ...
    @property
    def max_block_bytes(self) -> int: ...
    @property
    def only_2xx(self) -> bool: ...
    @property
    def languages(self) -> Sequence[str] | None: ...
    @property
    def min_lang_confidence(self) -> float: ...
    @property
    def quality_config(self) -> str | None: ...

def prepare_shard(
    input: _StrPath,
    out_path: _StrPath,
    options: _PrepareOptions,
    *,
    source_shard: str | None = None,
    dropped_path: _StrPath | None = None,
    progress: Callable[[int, int], object] | None = None,
    progress_every: int = 500,
) -> dict[str, Any]: ...

@final
class ShardDocuments:
    def __new__(
        cls,
        input: _StrPath,
        options: _PrepareOptions,
        *,
        source_shard: str | None = None,
        include_dropped: bool = False,
    ) -> ShardDocuments: ...
    def next_batch(self, size: int = 1024) -> dict[str, list[Any]] | None: ...
    def bytes_in(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...

def detect_language(text: str) -> tuple[str, float, str] | None: ...
def detect_language_batch(
    texts: Sequence[str], *, workers: int | None = None
) -> list[tuple[str, float, str] | None]: ...
def quality_filter_batch(
    texts: Sequence[str],
    langs: Sequence[str | None] | None = None,
    config_json: str | None = None,
    *,
    workers: int | None = None,
) -> list[tuple[bool, str | None, str | None, str | None]]: ...
def default_quality_config() -> dict[str, Any]: ...
