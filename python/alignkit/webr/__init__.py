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
from alignkit.webr.dedup import (
    DedupConfig,
    DedupConfigError,
    DedupResult,
    dedup,
    dedup_files,
    minhash_signatures,
)
from alignkit.webr.prepare import (
    PrepareConfig,
    PrepareConfigError,
    default_quality_settings,
    prepare,
)
from alignkit.webr.quality import (
    FilterResult,
    LanguageGuess,
    detect_language,
    detect_languages,
    filter_texts,
)

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
