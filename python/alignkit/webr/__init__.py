"""WebR (Web Reconstruction): raw web documents to instruction-response pairs.

This layer covers reading Common Crawl shards and turning them into clean text documents; the
heavy lifting happens in Rust (``alignkit._core``).
"""

from alignkit._core import (
    Extracted,
    HttpResponse,
    MalformedInputError,
    ShardDocuments,
    WarcReader,
    WarcRecord,
    extract_text,
    extract_text_batch,
    read_warc_batch,
)
from alignkit.webr.prepare import PrepareConfig, PrepareConfigError, prepare

__all__ = [
    "Extracted",
    "HttpResponse",
    "MalformedInputError",
    "PrepareConfig",
    "PrepareConfigError",
    "ShardDocuments",
    "WarcReader",
    "WarcRecord",
    "extract_text",
    "extract_text_batch",
    "prepare",
    "read_warc_batch",
]
