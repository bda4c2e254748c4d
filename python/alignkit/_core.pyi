"""Type stubs for the Rust extension `alignkit._core` (checked by `make stubtest`)."""

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, final

__version__: str

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
def prepare_shard(
    input: _StrPath,
    out_path: _StrPath,
    *,
    source_shard: str | None = None,
    mode: str = "plain",
    min_text_chars: int = 1,
    max_block_bytes: int = 16777216,
    only_2xx: bool = True,
    progress: Callable[[int, int], object] | None = None,
    progress_every: int = 500,
) -> dict[str, Any]: ...

@final
class ShardDocuments:
    def __new__(
        cls,
        input: _StrPath,
        *,
        source_shard: str | None = None,
        mode: str = "plain",
        min_text_chars: int = 1,
        max_block_bytes: int = 16777216,
        only_2xx: bool = True,
    ) -> ShardDocuments: ...
    def next_batch(self, size: int = 1024) -> dict[str, list[Any]] | None: ...
    def stats(self) -> dict[str, Any]: ...
