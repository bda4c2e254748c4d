"""LTE's parallel alignment data, built from KnowEdit-format files as the authors' notebook does.

Every example appears twice: once with the edit in the template (`edit_prompt`) and once as the
bare question. In-scope examples answer the new target with the edit and the old answer without
it; out-of-scope examples give the record's answer on both sides.

Per edit the `[Updated Information]` block holds the edit's fact alone (p = 0.5), with one
distractor (p = 0.25) or with two (p = 0.25), true fact first. Distractors are drawn uniformly
from the `top_k` (5) facts of the same file nearest to the edit's fact by cosine similarity of
sentence embeddings (the fact itself is among them), leaving out facts about the same subject or
with the same text; when fewer remain than wanted the fact stands alone (as in the notebook).

Per source (in-scope pairs: answer with the edit / without it):
- zsre: p = 0.3 the rewrite prompt, else the first rephrase: new target / ground truth; every
  locality probe out of scope; stop once `zsre_max_rows` rows (4000) are planned.
- counterfact: p = 0.3 the rewrite prompt: new target / ground truth, else every portability
  probe: its answer / LLM; every locality probe out of scope; stop once the in-scope and
  out-of-scope pair counts are equal and the in-scope count exceeds `min_in_scope` (1200).
- recent: the rewrite prompt: new target / LLM, and every portability probe: its answer / LLM;
  the first `recent_locality_per_kind` (3) locality probes of each kind; the counterfact stop.
- wikibio: the passage: its continuation / LLM; the first `wikibio_locality_per_kind` (1)
  locality probe of each kind; the first `wikibio_max_records` (250) records.
- mquake (MQuAKE-CF-3k, MQuAKE-T): the first multi-hop question, with every requested rewrite
  of the record as a fact: the new answer and its hop chain / the old answer and its chain. A
  chain is the record's single-hop clozes (`new_single_hops` with the edits, `single_hops`
  without), each completed by its hop's answer ("cloze answer"), one per line in hop order after
  the final answer: the reasoning path from the question's subject to the answer, which is how
  we read the notes' "chain of clozes" (aliases are not used). Out of scope, per record: with
  p = `p_earlier_out_of_scope` (0.5) a random out-of-scope pair planned earlier for the same
  file (the record has none of its own; with none yet, the other branch), else a random line of
  `general_instructions` (the authors: WizardLM evol-instruct V2) answered by the LLM the same
  way on both sides; without the file such pairs are skipped and counted. The first
  `mquake_max_records` (2500, MQuAKE-CF; the authors took 1500 of MQuAKE-T) records.

Counterfact and recent edits are taken in the order of how many portability and locality kinds
they have, most first (a stable sort, as the notebook's). One seeded RNG per input file draws,
per edit, the distractor count, the distractors and (zsre, counterfact) the rewrite/other choice,
so a build is deterministic and a file's rows do not depend on the other inputs.

A "without edit" answer the record lacks is `needs_llm`: it is asked of `llm` (the authors used
GPT-4) with a task prefix (`task_prompt`: complete the sentence for counterfact and recent, the
text for WikiBio, answer the question for zsre records without a ground truth) and filled in;
with no LLM, or when the call fails or comes back empty, the pair is left out and counted.

Deviations from the notebook, all in records it would mishandle: a probe without a usable answer
is skipped before the per-kind limit is applied (the notebook counted it against the limit), a
zsre or counterfact record without a ground truth goes to the LLM instead of being dropped, and
the WikiBio distractor pool embeds the same "text + labels" sentence that is shown (the notebook
embedded "labels + text"). MQuAKE's distractors are drawn for the record's first rewrite (its
fact in the pool, its subject excluded) and shown after all its rewrites; the earlier
out-of-scope pairs come from the same file only (the notebook drew from everything built so far),
so a file's rows do not depend on the other inputs.

Rows are chat `messages` (user, assistant) plus `source`, `edit_id`, `pair_id`, `scope` (in or
out), `with_edit`, `n_facts` (0 without the edit), `facts`, `probe` and `answer_from` (record or
llm; both sides of a general instruction come from the LLM), written as gzip JSON Lines, one
file per input (`<stem>.jsonl.gz`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from alignkit import _core
from alignkit.data.io import open_gzip_text_writer
from alignkit.embed import BACKENDS, ModelNotFoundError, embed_texts
from alignkit.errors import ConfigError, InputError, NothingProducedError, StageFailedError
from alignkit.lte.knowedit import (
    SOURCES,
    EditRecord,
    KnowEditFile,
    load_knowedit,
    read_text_file,
)
from alignkit.lte.template import edit_prompt, plain_prompt, task_prompt
from alignkit.stage import (
    Counts,
    LLMUsage,
    LocalExecutor,
    Stage,
    StageConfig,
    Task,
    TaskContext,
    TaskResult,
    option,
    run_stage,
)

log = logging.getLogger(__name__)

CACHE_DIR = "llm_cache"
_KnnIndex = getattr(_core, "KnnIndex", None)  # absent from extensions built before it
Embedder = Callable[[Sequence[str]], np.ndarray]
"""Texts -> float array [n, dim]; rows need not be normalised."""

# The task prefix of the LLM request that fills each source's missing answers.
# MQuAKE's only missing answers are general instructions, sent as they are (GENERAL_TASK).
GENERAL_TASK = "instruction"
LLM_TASK = {
    "zsre": "question",
    "counterfact": "sentence",
    "recent": "sentence",
    "wikibio": "text",
    "mquake": GENERAL_TASK,
}
_SPECS = "transformers[:PATH], openai:MODEL[@URL], ..."


@dataclasses.dataclass(frozen=True)
class BuildDataConfig(StageConfig):
    """`alignkit lte build-data`: LTE's parallel alignment data from KnowEdit-format files."""

    schema_version: ClassVar[int] = 1

    seed: int = option(0, help="seed of the per-file random draws")
    source: str | None = option(
        None,
        choices=SOURCES,
        help="source rules for every input (the KnowEdit sources, or mquake for MQuAKE-CF/-T); "
        "none: from each file's name, then its fields",
    )
    p_one_distractor: float = option(0.25, help="share of edits shown with one distractor")
    p_two_distractors: float = option(0.25, help="share of edits shown with two distractors")
    top_k: int = option(5, help="distractors come from the K facts nearest to the edit's fact")
    p_rewrite: float = option(
        0.3,
        help="zsre and counterfact: share of edits asked by their rewrite prompt (zsre: else "
        "the rephrase; counterfact: else the portability probes)",
    )
    zsre_max_rows: int | None = option(4000, help="zsre: stop once this many rows; none: all")
    min_in_scope: int | None = option(
        1200,
        help="counterfact and recent: stop once in-scope and out-of-scope pairs are equal in "
        "number and the in-scope pairs exceed this; none: all edits",
    )
    recent_locality_per_kind: int = option(3, help="recent: locality probes used per kind")
    wikibio_max_records: int | None = option(250, help="wikibio: the first N records; none: all")
    wikibio_locality_per_kind: int = option(1, help="wikibio: locality probes used per kind")
    mquake_max_records: int | None = option(
        2500, help="mquake: the first N records (MQuAKE-CF 2500, MQuAKE-T 1500); none: all"
    )
    p_earlier_out_of_scope: float = option(
        0.5,
        help="mquake: share of out-of-scope pairs that reuse an earlier out-of-scope pair of "
        "the file (else a general instruction)",
    )
    general_instructions: str | None = option(
        None,
        help="mquake: general instructions (JSON Lines with `instruction`, or plain text lines) "
        "answered by --llm as out-of-scope pairs; none: those pairs are skipped and counted",
    )
    max_edits: int | None = option(None, help="at most N edits per file (small slices)")
    embedder: str | None = option(
        None, help="sentence-transformers model folder; none: the shipped MiniLM"
    )
    embed_backend: str = option("auto", choices=BACKENDS, help="encoder backend", fingerprint=False)
    llm: str | None = option(
        None,
        help=f"LLM that answers the 'without edit' side when a record lacks it: {_SPECS}; "
        "none: such pairs are left out and counted",
        llm_spec=True,
    )
    llm_max_tokens: int = option(128, help="answer limit of those LLM calls")
    llm_temperature: float = option(0.0, help="sampling temperature of those LLM calls")
    concurrency: int = option(8, help="requests in flight (openai)", fingerprint=False)
    retry_failed: bool = option(False, help="re-send earlier failed LLM calls", fingerprint=False)

    def validate(self) -> None:
        if self.llm is not None and self.llm.strip().lower() in ("", "none", "off"):
            object.__setattr__(self, "llm", None)
        probs = (
            self.p_one_distractor,
            self.p_two_distractors,
            self.p_rewrite,
            self.p_earlier_out_of_scope,
        )
        if any(not 0.0 <= p <= 1.0 for p in probs):
            raise ConfigError(
                "p_one_distractor, p_two_distractors, p_rewrite and p_earlier_out_of_scope "
                "must be in [0, 1]"
            )
        if self.p_one_distractor + self.p_two_distractors > 1.0:
            raise ConfigError("p_one_distractor + p_two_distractors must be <= 1")
        if self.top_k < 1:
            raise ConfigError("top_k must be >= 1")
        for name in ("zsre_max_rows", "wikibio_max_records", "mquake_max_records", "max_edits"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 (or none)")
        if self.min_in_scope is not None and self.min_in_scope < 0:
            raise ConfigError("min_in_scope must be >= 0 (or none)")
        if self.recent_locality_per_kind < 0 or self.wikibio_locality_per_kind < 0:
            raise ConfigError("locality probes per kind must be >= 0")
        if self.llm_max_tokens < 1 or self.concurrency < 1:
            raise ConfigError("llm_max_tokens and concurrency must be >= 1")
        if not 0.0 <= self.llm_temperature <= 2.0:
            raise ConfigError("llm_temperature must be within [0, 2]")


# -- distractors ---------------------------------------------------------------------------------


class CosineIndex:
    """Exact top-k by cosine similarity over fixed rows: the Rust `alignkit._core.KnnIndex` where
    the extension has it, numpy otherwise. Equal scores rank by row index in both."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = _unit_rows(np.atleast_2d(rows))
        self._knn: Any = None
        if _KnnIndex is not None and self.rows.shape[0]:
            # Rows are already unit (or zero, which the index's own normalisation refuses).
            self._knn = _KnnIndex(self.rows.shape[1], normalize=False)
            self._knn.add(self.rows, np.arange(self.rows.shape[0], dtype=np.uint64))

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Row indices (int64 [n_queries, min(k, n_rows)]), best first."""
        queries = _unit_rows(np.atleast_2d(queries))
        k = min(k, self.rows.shape[0])
        if self._knn is not None:
            ids, _ = self._knn.search(queries, k)
            return ids.astype(np.int64)
        out = np.empty((queries.shape[0], k), dtype=np.int64)
        for start in range(0, queries.shape[0], 256):
            scores = queries[start : start + 256] @ self.rows.T
            for row, score in enumerate(scores):
                order = np.lexsort((np.arange(score.shape[0]), -score))
                out[start + row] = order[:k]
        return out


def top_k_cosine(queries: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """Exact top-`k` pool indices per query by cosine similarity, best first (`CosineIndex`)."""
    return CosineIndex(pool).search(queries, k)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Float32 rows scaled to unit length (zero rows stay zero); non-finite values refused."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if not np.isfinite(matrix).all():
        raise ValueError("embeddings must be finite")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)


class FactPool:
    """The facts of one file with their embeddings: the `top_k` nearest facts of each, and the
    distractor candidates among them."""

    def __init__(
        self, facts: Sequence[str], subjects: Sequence[str], embeddings: np.ndarray, top_k: int
    ) -> None:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(facts) or len(subjects) != len(facts):
            raise ValueError(
                f"{len(facts)} facts, {len(subjects)} subjects and embeddings of shape "
                f"{embeddings.shape} do not match"
            )
        self.facts = list(facts)
        self.subjects = list(subjects)
        self.embeddings = embeddings
        self.top_k = top_k
        self._index: CosineIndex | None = None
        self._nearest: dict[int, list[int]] = {}

    def nearest(self, index: int) -> list[int]:
        """The `top_k` facts nearest to fact `index` (itself included), best first."""
        if index not in self._nearest:
            if self._index is None:
                self._index = CosineIndex(self.embeddings)
            found = self._index.search(self.embeddings[index], self.top_k)[0]
            self._nearest[index] = [int(i) for i in found]
        return self._nearest[index]

    def candidates(self, index: int) -> list[str]:
        """The distractor candidates of fact `index`: its nearest facts minus those about the
        same subject or with the same text, in rank order."""
        fact, subject = self.facts[index], self.subjects[index]
        return [
            self.facts[i]
            for i in self.nearest(index)
            if self.subjects[i] != subject and self.facts[i] != fact
        ]


def draw_facts(
    rng: random.Random, pool: FactPool, index: int, config: BuildDataConfig, counts: Counts
) -> list[str]:
    """The facts shown with edit `index`: its own first, then 0, 1 or 2 distractors."""
    draw = rng.random()
    wanted = 0
    if draw >= 1.0 - config.p_one_distractor - config.p_two_distractors:
        wanted = 1 if draw < 1.0 - config.p_two_distractors else 2
    counts.reason("distractors_drawn", str(wanted))
    fact = pool.facts[index]
    if wanted == 0:
        return [fact]
    candidates = pool.candidates(index)
    if len(candidates) < wanted:
        counts.reason("distractors_short", str(wanted))
        return [fact]
    return [fact, *rng.sample(candidates, wanted)]


# -- planning ------------------------------------------------------------------------------------


@dataclasses.dataclass
class PlannedPair:
    """One parallel pair before LLM fills: `without_answer` None means `needs_llm`."""

    edit_id: str
    pair_id: str
    scope: str  # "in" or "out"
    probe: str  # rewrite, rephrase, passage, portability:<kind>, locality:<kind>
    question: str
    facts: tuple[str, ...]
    with_answer: str
    without_answer: str | None
    llm_task: str | None = None
    answer_from: str = "record"
    llm_answers_both: bool = False
    """The LLM's answer is also the with-edit answer (general instructions)."""

    @property
    def needs_llm(self) -> bool:
        return self.without_answer is None


class _Planner:
    def __init__(self, source: str, counts: Counts) -> None:
        self.source, self.counts = source, counts
        self.pairs: list[PlannedPair] = []
        self.out_of_scope: list[PlannedPair] = []  # what mquake's records may reuse
        self._per_edit: Counter[str] = Counter()

    def add(
        self,
        record: EditRecord,
        scope: str,
        probe: str,
        question: str,
        facts: Sequence[str],
        with_answer: str,
        without_answer: str | None,
        llm_answers_both: bool = False,
    ) -> None:
        k = self._per_edit[record.edit_id]
        self._per_edit[record.edit_id] += 1
        pair = PlannedPair(
            edit_id=record.edit_id,
            pair_id=f"{record.edit_id}-{k}",
            scope=scope,
            probe=probe,
            question=question,
            facts=tuple(facts),
            with_answer=with_answer,
            without_answer=without_answer,
            llm_task=LLM_TASK[self.source] if without_answer is None else None,
            llm_answers_both=llm_answers_both,
        )
        self.pairs.append(pair)
        if scope == "out":
            self.out_of_scope.append(pair)
        self.counts.reason("pairs", scope)

    def rewrite(self, record: EditRecord, facts: Sequence[str]) -> None:
        new, old = record.target_new, record.ground_truth
        self.add(record, "in", "rewrite", record.prompt, facts, new, old)

    def locality(self, record: EditRecord, facts: Sequence[str], per_kind: int | None) -> int:
        added = 0
        for kind, probes in record.locality.items():
            for probe in probes[:per_kind]:
                answer = probe.answer
                self.add(record, "out", f"locality:{kind}", probe.prompt, facts, answer, answer)
                added += 1
        return added

    def portability(self, record: EditRecord, facts: Sequence[str]) -> int:
        added = 0
        for kind, probes in record.portability.items():
            for probe in probes:
                name = f"portability:{kind}"
                self.add(record, "in", name, probe.prompt, facts, probe.answer, None)
                added += 1
        return added

    def multi_hop(
        self,
        record: EditRecord,
        drawn: Sequence[str],
        config: BuildDataConfig,
        rng: random.Random,
        instructions: Sequence[str],
    ) -> None:
        """MQuAKE: the multi-hop pair and one out-of-scope pair (module docstring)."""
        hop = record.multi_hop
        if hop is None:
            raise ValueError(f"{record.edit_id} is not an MQuAKE record")
        # All rewrites first, then the distractors drawn for the first one.
        facts = list(dict.fromkeys((*hop.facts, *drawn[1:])))
        if len(facts) < len(hop.facts) + len(drawn) - 1:
            self.counts.reason("distractors_short", "same_as_a_rewrite")
        new, old = hop.with_edit_answer, hop.without_edit_answer
        self.add(record, "in", "multi_hop", hop.question, facts, new, old)
        branch = "earlier" if rng.random() < config.p_earlier_out_of_scope else "general"
        self.counts.reason("out_of_scope_branch", branch)
        earlier = self.out_of_scope
        if branch == "earlier" and not earlier:
            self.counts.reason("out_of_scope_fallback", "no_earlier_pair")
            branch = "general"
        if branch == "earlier":
            reused = rng.choice(earlier)
            probe = reused.probe if reused.probe.startswith("reused:") else f"reused:{reused.probe}"
            self.add(
                record,
                "out",
                probe,
                reused.question,
                facts,
                reused.with_answer,
                reused.without_answer,
                reused.llm_answers_both,
            )
        elif instructions:
            self.add(record, "out", "general", rng.choice(instructions), facts, "", None, True)
        else:
            self.counts.reason("out_of_scope_skipped", "no_general_instructions")


def _by_probe_kinds(records: Sequence[EditRecord]) -> list[EditRecord]:
    return sorted(records, key=lambda r: -(len(r.portability) + len(r.locality)))


def plan_pairs(
    loaded: KnowEditFile,
    pool: FactPool,
    config: BuildDataConfig,
    rng: random.Random,
    instructions: Sequence[str] = (),
) -> tuple[list[PlannedPair], Counts]:
    """The pairs of one file under its source's rules (module docstring); `pool` holds the
    facts of `loaded.records` in order; `instructions`: mquake's general instructions."""
    counts = Counts()
    source = loaded.source
    planner = _Planner(source, counts)
    index_of = {id(r): i for i, r in enumerate(loaded.records)}
    records = list(loaded.records)
    if source in ("counterfact", "recent"):
        records = _by_probe_kinds(records)
    elif source == "wikibio" and config.wikibio_max_records is not None:
        records = records[: config.wikibio_max_records]
    elif source == "mquake" and config.mquake_max_records is not None:
        records = records[: config.mquake_max_records]
    n_in = n_out = 0
    used = 0
    for record in records:
        if config.max_edits is not None and used >= config.max_edits:
            counts.reason("stopped", "max_edits")
            break
        zsre_limit = config.zsre_max_rows if source == "zsre" else None
        if zsre_limit is not None and 2 * len(planner.pairs) >= zsre_limit:
            counts.reason("stopped", "zsre_max_rows")
            break
        wiki_limit = config.min_in_scope if source in ("counterfact", "recent") else None
        if wiki_limit is not None and n_in == n_out and n_in > wiki_limit:
            counts.reason("stopped", "min_in_scope")
            break
        used += 1
        facts = draw_facts(rng, pool, index_of[id(record)], config, counts)
        counts.reason("n_facts", str(len(facts)))
        if source == "zsre":
            if rng.random() < config.p_rewrite:
                probe, question = "rewrite", record.prompt
            else:
                probe, question = "rephrase", record.rephrase[0] if record.rephrase else None
            if question is None:
                counts.reason("in_scope_skipped", "no_rephrase")
            else:
                new, old = record.target_new, record.ground_truth
                planner.add(record, "in", probe, question, facts, new, old)
            planner.locality(record, facts, None)
        elif source == "counterfact":
            if rng.random() < config.p_rewrite:
                planner.rewrite(record, facts)
                n_in += 1
            else:
                n_in += planner.portability(record, facts)
            n_out += planner.locality(record, facts, None)
        elif source == "recent":
            planner.rewrite(record, facts)
            n_in += 1 + planner.portability(record, facts)
            n_out += planner.locality(record, facts, config.recent_locality_per_kind)
        elif source == "mquake":
            planner.multi_hop(record, facts, config, rng, instructions)
        else:  # wikibio
            planner.add(record, "in", "passage", record.prompt, facts, record.target_new, None)
            planner.locality(record, facts, config.wikibio_locality_per_kind)
    counts.add("edits_used", used)
    return planner.pairs, counts


# -- LLM fills -----------------------------------------------------------------------------------


def fill_requests(
    pairs: Sequence[PlannedPair], config: BuildDataConfig
) -> tuple[list[tuple[str, str]], list[Any]]:
    """The distinct (task, question) keys among the pairs that need an LLM answer, and one
    ChatRequest per key (task prefix + question, see `task_prompt`)."""
    from alignkit.llm import ChatRequest

    keys = list(
        dict.fromkeys((p.llm_task, p.question) for p in pairs if p.needs_llm and p.llm_task)
    )
    requests = [
        ChatRequest.from_prompt(
            question if task == GENERAL_TASK else task_prompt(task, question),
            temperature=config.llm_temperature,
            max_tokens=config.llm_max_tokens,
        )
        for task, question in keys
    ]
    return keys, requests


def fill_answers(
    pairs: Sequence[PlannedPair], backend: Any, cache: Any, config: BuildDataConfig
) -> tuple[list[PlannedPair], Counts, dict[str, Any]]:
    """Pairs with every `needs_llm` answer filled by `backend` (None: such pairs left out), the
    counts by outcome and the LLM usage. A failed or empty answer leaves its pairs out."""
    counts = Counts()
    waiting = sum(p.needs_llm for p in pairs)
    if not waiting:
        return list(pairs), counts, LLMUsage().to_dict()
    counts.add("needs_llm", waiting)
    if backend is None:
        counts.reason("left_out", "no_llm", waiting)
        return [p for p in pairs if not p.needs_llm], counts, LLMUsage().to_dict()
    from alignkit.llm import run_requests

    keys, requests = fill_requests(pairs, config)
    results, summary = run_requests(
        backend, requests, cache, progress=False, retry_failed=config.retry_failed, desc="lte fill"
    )
    usage = LLMUsage.from_summary(summary)
    answers: dict[tuple[str, str], str] = {}
    problems: dict[tuple[str, str], str] = {}
    for key, result in zip(keys, results, strict=True):
        text = (result.text or "").strip() if result.ok else ""
        if text:
            answers[key] = text
        else:
            problems[key] = "llm_empty" if result.ok else "llm_failed"
            if result.ok:
                usage.drop("empty_answer")
    kept: list[PlannedPair] = []
    for pair in pairs:
        key = (pair.llm_task or "", pair.question)
        if not pair.needs_llm:
            kept.append(pair)
        elif key in answers:
            counts.add("filled")
            answer = answers[key]
            with_answer = answer if pair.llm_answers_both else pair.with_answer
            filled = dataclasses.replace(
                pair, with_answer=with_answer, without_answer=answer, answer_from="llm"
            )
            kept.append(filled)
        else:
            counts.reason("left_out", problems.get(key, "llm_failed"))
    return kept, counts, usage.to_dict()


# -- rows ----------------------------------------------------------------------------------------


def pair_rows(pair: PlannedPair, source: str) -> list[dict[str, Any]]:
    """The two chat rows of a filled pair: with the edit, then without it."""
    if pair.without_answer is None:
        raise ValueError(f"pair {pair.pair_id} still needs an LLM answer")
    common = {
        "source": source,
        "edit_id": pair.edit_id,
        "pair_id": pair.pair_id,
        "scope": pair.scope,
        "probe": pair.probe,
    }
    with_edit = {
        "messages": [
            {"role": "user", "content": edit_prompt(pair.question, pair.facts)},
            {"role": "assistant", "content": pair.with_answer},
        ],
        **common,
        "with_edit": True,
        "n_facts": len(pair.facts),
        "facts": list(pair.facts),
        "answer_from": pair.answer_from if pair.llm_answers_both else "record",
    }
    without_edit = {
        "messages": [
            {"role": "user", "content": plain_prompt(pair.question)},
            {"role": "assistant", "content": pair.without_answer},
        ],
        **common,
        "with_edit": False,
        "n_facts": 0,
        "facts": [],
        "answer_from": pair.answer_from,
    }
    return [with_edit, without_edit]


# -- the stage -----------------------------------------------------------------------------------


def load_general_instructions(path: str | os.PathLike[str]) -> tuple[list[str], int]:
    """The instructions of a file (JSON Lines rows with a string `instruction`, or plain text
    lines) and how many lines were skipped (a JSON row without one). InputError when the file
    cannot be read or holds no instruction."""
    path = Path(path)
    text = read_text_file(path, "general-instructions file")
    instructions: list[str] = []
    skipped = 0
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("{"):
            instructions.append(line)
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        instruction = row.get("instruction") if isinstance(row, dict) else None
        if isinstance(instruction, str) and instruction.strip():
            instructions.append(instruction.strip())
        else:
            skipped += 1
            if skipped <= 3:
                log.warning("%s: line %d has no `instruction` string; skipped", path, number)
    if not instructions:
        raise InputError(f"{path}: no general instruction (JSON Lines `instruction` or text lines)")
    return instructions, skipped


def input_task_id(path: str) -> str:
    """The task id of an input file (its name without .json/.jsonl/.gz, safe characters), shared
    by the stages that make one task per file or name tasks after it."""
    stem = Path(path).name
    for suffix in (".gz", ".jsonl", ".json"):
        stem = stem.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem) or "input"


def _default_embedder(config: BuildDataConfig) -> Embedder:
    def embed(texts: Sequence[str]) -> np.ndarray:
        try:
            return embed_texts(texts, config.embedder, backend=config.embed_backend)
        except ModelNotFoundError as exc:
            raise ConfigError(str(exc)) from exc

    return embed


class BuildDataStage(Stage[BuildDataConfig]):
    """LTE's alignment data on the stage kit: one task per input file, output
    `<stem>.jsonl.gz`; LLM fills cached per task in OUT/.alignkit/llm_cache/<task>.sqlite.

    `backend` (a ready ChatBackend) replaces `config.llm`; `embed` (texts -> vectors) replaces
    the sentence encoder of `config.embedder` (recorded by its name in the fingerprint)."""

    name = "lte.build_data"
    config_class = BuildDataConfig
    progress_unit = "file"

    def __init__(
        self, config: BuildDataConfig, *, backend: Any = None, embed: Embedder | None = None
    ) -> None:
        super().__init__(config)
        self.backend = backend
        self.embed = embed
        local_llm = bool(config.llm) and str(config.llm).startswith("transformers")
        self.parallel_tasks = backend is None and embed is None and not local_llm

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "backend": None}

    def fingerprint(self) -> dict[str, Any]:
        fingerprint = super().fingerprint()
        if self.embed is not None:
            fingerprint["embed"] = getattr(self.embed, "__qualname__", type(self.embed).__name__)
        if self.backend is not None:
            fingerprint["backend"] = f"{self.backend.kind}:{self.backend.model}"
        return fingerprint

    def llm_backend(self) -> Any:
        if self.backend is None and self.config.llm is not None:
            from alignkit.llm import make_backend

            options = (
                {"concurrency": self.config.concurrency}
                if self.config.llm.startswith("openai")
                else {}
            )
            self.backend = make_backend(self.config.llm, **options)
        return self.backend

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if not inputs:
            raise InputError("lte build-data needs at least one KnowEdit-format file")
        if self.config.general_instructions is not None:
            load_general_instructions(self.config.general_instructions)  # fail before any task
        return [
            Task(id=input_task_id(path), inputs=(path,), payload=path) for path in sorted(inputs)
        ]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit.llm import ResponseCache

        config = self.config
        loaded = load_knowedit(task.payload, config.source)
        facts = [r.fact for r in loaded.records]
        embed = self.embed or _default_embedder(config)
        wants_distractors = config.p_one_distractor + config.p_two_distractors > 0
        vectors = embed(facts) if facts and wants_distractors else np.zeros((len(facts), 1))
        pool = FactPool(facts, [r.subject for r in loaded.records], vectors, config.top_k)
        rng = random.Random(f"lte-build-data:{config.seed}:{task.id}")
        instructions: list[str] = []
        if loaded.source == "mquake" and config.general_instructions is not None:
            instructions, bad_lines = load_general_instructions(config.general_instructions)
        pairs, counts = plan_pairs(loaded, pool, config, rng, instructions)
        if loaded.source == "mquake" and config.general_instructions is not None:
            counts.add("general_instructions", len(instructions))
            if bad_lines:
                counts.add("general_instructions_skipped", bad_lines)
        cache_path = ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite"
        backend = self.llm_backend() if any(p.needs_llm for p in pairs) else None
        if backend is not None:
            with ResponseCache(cache_path) as cache:
                pairs, filled, llm = fill_answers(pairs, backend, cache, config)
        else:
            pairs, filled, llm = fill_answers(pairs, None, None, config)
        name = f"{task.id}.jsonl.gz"
        tmp = ctx.tmp_output(name)
        rows = 0
        written = Counts()
        with open_gzip_text_writer(tmp) as out:
            for pair in pairs:
                for row in pair_rows(pair, loaded.source):
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    rows += 1
                written.reason("pairs_written", pair.scope)
        ctx.progress(1)
        per_source = Counts(
            {
                "files": 1,
                "records": loaded.total,
                "records_skipped": dict(loaded.skipped),
                "probes_skipped": dict(loaded.probes_skipped),
                "rows": rows,
            }
        )
        per_source.merge(counts).merge(written).merge({"llm_fill": filled})
        stats = {
            "rows": rows,
            "sources": {loaded.source: per_source.plain()},
            "llm": llm,
            "failures": llm.get("failures", 0),
        }
        return TaskResult(stats=stats, outputs={name: tmp})


def build_lte_data(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: BuildDataConfig | None = None,
    *,
    backend: Any = None,
    embed: Embedder | None = None,
    workers: int = 1,
    progress: bool | str = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build LTE alignment data from KnowEdit-format `inputs` into `out_dir`; returns the
    statistics (also in OUT/.alignkit/stats.json). Raises StageFailedError naming failed tasks
    (a re-run redoes only them) and NothingProducedError when no row was written."""
    config = config or BuildDataConfig()
    report = run_stage(
        BuildDataStage(config, backend=backend, embed=embed),
        [os.fspath(p) for p in inputs],
        out_dir,
        executor=LocalExecutor(workers),
        overwrite=overwrite,
        progress=progress,
        retry_failed=config.retry_failed,
    )
    if report.failures:
        raise StageFailedError(report.stage, report.failures)
    if not report.stats.get("rows"):
        raise NothingProducedError(
            f"lte build-data wrote no rows; see {report.folder}/.alignkit/stats.json "
            "(with no --llm, pairs that need an LLM answer are left out)"
        )
    return dict(report.stats)
