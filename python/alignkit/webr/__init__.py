"""WebR (Web Reconstruction): raw web documents to instruction-response pairs.

This layer covers reading Common Crawl shards and turning them into clean text documents; the
heavy lifting happens in Rust (``alignkit._core``).
"""

from alignkit._core import (
    ExactDeduper,
    Extracted,
    HttpResponse,
    LshIndex,
    MalformedInputError,
    MinHasher,
    ShardDocuments,
    WarcReader,
    WarcRecord,
    extract_text,
    extract_text_batch,
    read_warc_batch,
)
from alignkit.text.dedup import DedupConfigError, DedupResult, minhash_signatures
from alignkit.text.quality import (
    FilterResult,
    LanguageGuess,
    default_quality_settings,
    detect_language,
    detect_languages,
    filter_texts,
)
from alignkit.webr.dedup import DedupConfig, dedup_files
from alignkit.webr.prepare import PrepareConfig, PrepareConfigError, prepare

__all__ = [
    "DedupConfig",
    "DedupConfigError",
    "DedupResult",
    "ExactDeduper",
    "Extracted",
    "FilterResult",
    "LanguageGuess",
    "default_quality_settings",
    "detect_language",
    "detect_languages",
    "filter_texts",
    "HttpResponse",
    "LshIndex",
    "MalformedInputError",
    "MinHasher",
    "PrepareConfig",
    "PrepareConfigError",
    "ShardDocuments",
    "WarcReader",
    "WarcRecord",
    "dedup",
    "dedup_files",
    "extract_text",
    "extract_text_batch",
    "minhash_signatures",
    "prepare",
    "read_warc_batch",
]

# Imported last: `alignkit.webr.dedup` is the in-memory function (see the README), and loading the
# submodule of the same name (for DedupConfig above) binds the module to that name.
from alignkit.text.dedup import dedup  # noqa: E402
