"""LTE's inference phase with an EasyEdit-style API: edits go into a retrieval memory, no weights
change, and every edit is scored with EasyEdit's metrics (`alignkit.lte.metrics`).

    editor = LTEEditor("path/to/model")            # or LTEEditor.from_hparams("lte.yaml")
    metrics, editor = editor.edit(
        prompts=["Which family does Epaspidoceras belong to?"],
        target_new=["Noctuidae"],
        rephrase_prompts=["What family are Epaspidoceras?"],
        locality_inputs={"Relation_Specificity": {"prompt": [...], "ground_truth": [...]}},
        portability_inputs={"Reasoning": {"prompt": [...], "ground_truth": [...]}},
    )

Each edit is stored as its fact sentence (`prompt + " " + target_new`) keyed by the embedding of
its prompt (`alignkit.embed.EditMemory`, the shipped MiniLM by default). Every evaluation query
(rewrite, rephrase, portability and locality prompts) retrieves the top `k` facts by cosine
similarity, with no threshold, and is asked with them in the template (`edit_prompt`, label
`Question`). Modes:

- sequential (`edit`, `sequential_edit=True`): edit i is added, then evaluated: the memory holds
  edits 1..i (plus whatever earlier calls stored: the memory persists until `reset`);
- single (`edit`, `sequential_edit=False`): the memory is emptied before each edit, so it holds
  that edit alone, and emptied after the call;
- batch (`batch_edit`): all edits are added first, then each is evaluated;
- gold (`evaluate_requests(..., mode="gold")`): no memory; each query is asked with the edit's
  own fact and the label `Query` (LTE's single-edit evaluation).

Per edit the result is EasyEdit's dictionary: `case_id`, `requested_rewrite` (the request),
`pre` (without the edit: `rewrite_acc`, `rephrase_acc`, `portability` by kind), `post`
(`rewrite_acc`, `rephrase_acc`, `locality` and `portability` by kind as `<kind>_acc`, `fluency`
`{"ngram_entropy", "generated_text"}`, and with a memory `*_retrieved_acc_1` / `_k`), plus
`retrieved` (the facts each query got) and `memory_size` (edits in the memory when the edit was
evaluated). Accuracies are fractions (0..1); several probes of one kind are averaged.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.errors import ConfigError, InputError
from alignkit.llm import load_causal_lm
from alignkit.lte.knowedit import EditRecord
from alignkit.lte.metrics import TeacherForcedScorer, retrieval_hits
from alignkit.lte.template import edit_prompt, fact_sentence, plain_prompt

log = logging.getLogger(__name__)

MODES = ("sequential", "single", "batch", "gold")
# The arguments of `edit`/`batch_edit` that make the requests (`prepare_requests`).
_REQUEST_ARGS = (
    "prompts",
    "target_new",
    "ground_truth",
    "rephrase_prompts",
    "locality_inputs",
    "portability_inputs",
    "subject",
)
# EasyEdit hparams keys that mean nothing here and are accepted silently.
_IGNORED_HPARAMS = {"alg_name", "results_dir", "model_parallel", "max_length", "device_map"}
_HPARAMS = {
    "model_name": "model",
    "model_path": "model",
    "model": "model",
    "sentence_model_name": "embedder",
    "embedder": "embedder",
    "k": "k",
    "wrap": "wrap",
    "device": "device",
    "dtype": "dtype",
    "batch_size": "batch_size",
    "fluency": "fluency",
    "max_new_tokens": "max_new_tokens",
}


def _strings(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        kind = type(value).__name__
        raise InputError(f"{what} must be a string or a list of strings, not {kind}")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise InputError(f"{what}[{i}] must be a non-empty string, not {item!r}")
    return list(items)


def _probes_by_edit(inputs: Any, n: int, what: str) -> list[dict[str, list[tuple[str, str]]]]:
    """EasyEdit's `{kind: {"prompt": [...], "ground_truth": [...]}}` (one entry, or a list of
    them, per edit) as per-edit `{kind: [(prompt, answer), ...]}`."""
    per_edit: list[dict[str, list[tuple[str, str]]]] = [{} for _ in range(n)]
    if inputs is None:
        return per_edit
    if not isinstance(inputs, Mapping):
        shape = "{kind: {'prompt': [...], 'ground_truth': [...]}}"
        raise InputError(f"{what} must be a dict {shape}")
    for kind, table in inputs.items():
        if not isinstance(table, Mapping) or "prompt" not in table or "ground_truth" not in table:
            raise InputError(f"{what}[{kind!r}] needs 'prompt' and 'ground_truth'")
        prompts, answers = table["prompt"], table["ground_truth"]
        if isinstance(prompts, str):
            prompts, answers = [prompts], [answers]
        if not isinstance(prompts, (list, tuple)) or not isinstance(answers, (list, tuple)):
            raise InputError(f"{what}[{kind!r}]: prompt and ground_truth must be lists")
        if len(prompts) != n or len(answers) != n:
            raise InputError(
                f"{what}[{kind!r}]: one prompt and one ground_truth per edit are needed "
                f"({n} edits, {len(prompts)} prompts, {len(answers)} ground truths)"
            )
        for i, (prompt, answer) in enumerate(zip(prompts, answers, strict=True)):
            ps = _strings(prompt, f"{what}[{kind!r}].prompt[{i}]")
            if not answer:
                raise InputError(f"{what}[{kind!r}].ground_truth[{i}] is empty")
            ans = list(answer) if isinstance(answer, (list, tuple)) else [answer]
            # One answer per prompt; KnowEdit's alias lists keep their first alias.
            ans = [a[0] if isinstance(a, (list, tuple)) and a else a for a in ans]
            if len(ps) != len(ans):
                if len(ps) == 1 and ans:
                    ans = ans[:1]
                else:
                    where = f"{what}[{kind!r}][{i}]"
                    raise InputError(f"{where}: {len(ps)} prompts, {len(ans)} answers")
            pairs = list(zip(ps, _strings(ans, f"{what}[{kind!r}].ground_truth[{i}]"), strict=True))
            per_edit[i][str(kind)] = pairs
    return per_edit


def prepare_requests(
    prompts: str | Sequence[str],
    target_new: str | Sequence[str],
    ground_truth: str | Sequence[str] | None = None,
    rephrase_prompts: str | Sequence[str] | None = None,
    locality_inputs: Mapping[str, Any] | None = None,
    portability_inputs: Mapping[str, Any] | None = None,
    subject: str | Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """EasyEdit-shaped inputs as one request dict per edit: prompt, target_new, ground_truth,
    subject, rephrase_prompt (list), locality and portability `{kind: [(prompt, answer)]}`."""
    prompts = _strings(prompts, "prompts")
    targets = _strings(target_new, "target_new")
    n = len(prompts)
    if len(targets) != n:
        raise InputError(f"{n} prompts but {len(targets)} target_new")
    if not n:
        raise InputError("no edits given")
    truths: list[str | None] = [None] * n
    if ground_truth is not None:
        truths = list(_strings(ground_truth, "ground_truth"))
        if len(truths) != n:
            raise InputError(f"{n} prompts but {len(truths)} ground_truth")
    subjects: list[str | None] = [None] * n
    if subject is not None:
        subjects = list(_strings(subject, "subject"))
        if len(subjects) != n:
            raise InputError(f"{n} prompts but {len(subjects)} subjects")
    rephrases: list[list[str]] = [[] for _ in range(n)]
    if rephrase_prompts is not None:
        given = [rephrase_prompts] if isinstance(rephrase_prompts, str) else list(rephrase_prompts)
        if len(given) != n:
            raise InputError(f"{n} prompts but {len(given)} rephrase_prompts")
        rephrases = [_strings(r, f"rephrase_prompts[{i}]") for i, r in enumerate(given)]
    locality = _probes_by_edit(locality_inputs, n, "locality_inputs")
    portability = _probes_by_edit(portability_inputs, n, "portability_inputs")
    return [
        {
            "prompt": prompts[i],
            "target_new": targets[i],
            "ground_truth": truths[i],
            "subject": subjects[i],
            "rephrase_prompt": rephrases[i],
            "locality": locality[i],
            "portability": portability[i],
        }
        for i in range(n)
    ]


def request_from_record(record: EditRecord) -> dict[str, Any]:
    """A KnowEdit record (`load_knowedit`) as an editor request (every probe kept)."""
    return {
        "prompt": record.prompt,
        "target_new": record.target_new,
        "ground_truth": record.ground_truth,
        "subject": record.subject,
        "rephrase_prompt": list(record.rephrase),
        "locality": {k: [tuple(p) for p in v] for k, v in record.locality.items() if v},
        "portability": {k: [tuple(p) for p in v] for k, v in record.portability.items() if v},
        "edit_id": record.edit_id,
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


class _Queries:
    """All teacher-forced items of a set of edits, scored in a few large batches."""

    def __init__(self) -> None:
        self.acc: list[tuple[str, str]] = []
        self.loc: list[tuple[str, str, str]] = []

    def accuracy(self, prompt: str, target: str) -> int:
        self.acc.append((prompt, target))
        return len(self.acc) - 1

    def agreement(self, plain: str, edited: str, target: str) -> int:
        self.loc.append((plain, edited, target))
        return len(self.loc) - 1

    def score(self, scorer: TeacherForcedScorer) -> tuple[list[float], list[float]]:
        acc = scorer.token_accuracy([p for p, _ in self.acc], [t for _, t in self.acc])
        loc = scorer.locality_agreement(
            [p for p, _, _ in self.loc], [e for _, e, _ in self.loc], [t for _, _, t in self.loc]
        )
        return acc, loc


class LTEEditor:
    """Knowledge editing by retrieval into LTE's template (module docstring).

    `model`: a local Hugging Face causal LM folder, or a loaded `(model, tokenizer)` pair.
    `embedder`: None (the shipped MiniLM), a sentence-transformers folder or a callable
    texts -> vectors. `k`: facts retrieved per query. `wrap`: auto, chat or raw
    (`alignkit.lte.metrics`). `fluency`: score generation (slow) unless a call says otherwise."""

    def __init__(
        self,
        model: str | os.PathLike[str] | tuple[Any, Any],
        embedder: Any = None,
        k: int = 1,
        wrap: str = "auto",
        device: str = "cpu",
        *,
        dtype: str = "float32",
        batch_size: int = 16,
        fluency: bool = True,
        max_new_tokens: int = 100,
        embed_backend: str = "auto",
    ) -> None:
        from alignkit.embed import EditMemory

        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be an integer >= 1, not {k!r}")
        if isinstance(model, tuple):
            self.model, self.tokenizer = model
            self.model_name = type(self.model).__name__
        else:
            self.model, self.tokenizer = load_causal_lm(model, device=device, dtype=dtype)
            self.model_name = str(model)
        try:
            self.scorer = TeacherForcedScorer(
                self.model, self.tokenizer, wrap=wrap, batch_size=batch_size
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        self.k = k
        self.fluency = fluency
        self.max_new_tokens = max_new_tokens
        self._embedder = embedder
        self._embed_backend = embed_backend
        self.memory = EditMemory(embedder, k=k, backend=embed_backend)

    @classmethod
    def from_hparams(cls, hparams: str | os.PathLike[str] | Mapping[str, Any]) -> LTEEditor:
        """An editor from a YAML/JSON file or a dict: `model_name` (or `model_path`),
        `sentence_model_name` (or `embedder`), `k`, `wrap`, `device`, `dtype`, `batch_size`,
        `fluency`, `max_new_tokens`; EasyEdit's alg_name, results_dir, model_parallel and
        max_length are ignored, anything else is refused."""
        if not isinstance(hparams, Mapping):
            path = Path(hparams)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot read hparams {path}: {exc}") from exc
            if path.suffix == ".json":
                loaded = json.loads(text)
            else:
                import yaml

                loaded = yaml.safe_load(text)
            if not isinstance(loaded, Mapping):
                raise InputError(f"{path}: hparams must be a mapping of settings")
            hparams = loaded
        kwargs: dict[str, Any] = {}
        for key, value in hparams.items():
            if key in _IGNORED_HPARAMS:
                continue
            if key not in _HPARAMS:
                known = ", ".join(sorted(_HPARAMS))
                raise ConfigError(f"unknown LTE hparam {key!r}; known: {known}")
            kwargs[_HPARAMS[key]] = value
        if "model" not in kwargs:
            raise ConfigError("hparams need model_name (a local model folder)")
        if isinstance(kwargs.get("device"), int):
            kwargs["device"] = f"cuda:{kwargs['device']}"
        return cls(**kwargs)

    def reset(self) -> None:
        """Empties the memory."""
        from alignkit.embed import EditMemory

        self.memory = EditMemory(self._embedder, k=self.k, backend=self._embed_backend)

    def _store(self, requests: Sequence[Mapping[str, Any]]) -> None:
        self.memory.add(
            [r["prompt"] for r in requests],
            [fact_sentence(r["prompt"], r["target_new"]) for r in requests],
        )

    # the EasyEdit entry points

    def edit(
        self,
        prompts: str | Sequence[str],
        target_new: str | Sequence[str],
        ground_truth: str | Sequence[str] | None = None,
        rephrase_prompts: str | Sequence[str] | None = None,
        locality_inputs: Mapping[str, Any] | None = None,
        portability_inputs: Mapping[str, Any] | None = None,
        subject: str | Sequence[str] | None = None,
        sequential_edit: bool = True,
        test_generation: bool | None = None,
        **_easyedit_options: Any,
    ) -> tuple[list[dict[str, Any]], LTEEditor]:
        """Stores and evaluates edits one by one (sequential: memory 1..i at edit i; otherwise
        each edit alone). Returns (metrics per edit, this editor)."""
        arguments = locals()
        requests = prepare_requests(**{name: arguments[name] for name in _REQUEST_ARGS})
        mode = "sequential" if sequential_edit else "single"
        return self.evaluate_requests(requests, mode, test_generation=test_generation), self

    def batch_edit(
        self,
        prompts: Sequence[str],
        target_new: Sequence[str],
        ground_truth: Sequence[str] | None = None,
        rephrase_prompts: Sequence[str] | None = None,
        locality_inputs: Mapping[str, Any] | None = None,
        portability_inputs: Mapping[str, Any] | None = None,
        subject: Sequence[str] | None = None,
        test_generation: bool | None = None,
        **_easyedit_options: Any,
    ) -> tuple[list[dict[str, Any]], LTEEditor]:
        """Stores every edit first, then evaluates each. Returns (metrics, this editor)."""
        arguments = locals()
        requests = prepare_requests(**{name: arguments[name] for name in _REQUEST_ARGS})
        return self.evaluate_requests(requests, "batch", test_generation=test_generation), self

    def edit_records(
        self, records: Sequence[EditRecord], mode: str = "sequential", **options: Any
    ) -> list[dict[str, Any]]:
        """`evaluate_requests` for KnowEdit records (`load_knowedit`)."""
        return self.evaluate_requests([request_from_record(r) for r in records], mode, **options)

    # the work

    def evaluate_requests(
        self,
        requests: Sequence[Mapping[str, Any]],
        mode: str = "sequential",
        *,
        before: Sequence[Mapping[str, Any]] = (),
        after: Sequence[Mapping[str, Any]] = (),
        test_generation: bool | None = None,
        first_case_id: int = 0,
    ) -> list[dict[str, Any]]:
        """Metrics per request (module docstring). `before`: edits stored ahead of these (the
        earlier edits of a sequence evaluated in chunks); `after`: edits stored too in batch
        mode (the rest of the batch)."""
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        fluency = self.fluency if test_generation is None else test_generation
        retrieved: list[dict[str, Any]] = []
        sizes: list[int | None] = []
        if mode == "gold":
            for request in requests:
                retrieved.append(self._gold(request))
                sizes.append(None)
        else:
            if mode == "single":
                self.reset()
            if before:
                self._store(before)
            if mode == "batch":
                self._store([*requests, *after])
            for request in requests:
                if mode == "single":
                    self.reset()
                if mode in ("sequential", "single"):
                    self._store([request])
                retrieved.append(self._retrieve(request))
                sizes.append(len(self.memory))
            if mode == "single":
                self.reset()
        results = self._score(requests, retrieved, mode, fluency)
        for i, (result, size) in enumerate(zip(results, sizes, strict=True)):
            result["case_id"] = first_case_id + i
            result["memory_size"] = size
        return results

    def _gold(self, request: Mapping[str, Any]) -> dict[str, Any]:
        fact = [fact_sentence(request["prompt"], request["target_new"])]
        return {
            "rewrite": fact,
            "rephrase": [fact for _ in request.get("rephrase_prompt", [])],
            "portability": {k: [fact for _ in v] for k, v in request["portability"].items()},
            "locality": {k: [fact for _ in v] for k, v in request["locality"].items()},
        }

    def _retrieve(self, request: Mapping[str, Any]) -> dict[str, Any]:
        queries = [request["prompt"], *request.get("rephrase_prompt", [])]
        for section in ("portability", "locality"):
            for probes in request[section].values():
                queries.extend(p for p, _ in probes)
        hits = [[h.fact for h in row] for row in self.memory.retrieve(queries)]
        n_rephrase = len(request.get("rephrase_prompt", []))
        out: dict[str, Any] = {"rewrite": hits[0], "rephrase": hits[1 : 1 + n_rephrase]}
        at = 1 + n_rephrase
        for section in ("portability", "locality"):
            out[section] = {}
            for kind, probes in request[section].items():
                out[section][kind] = hits[at : at + len(probes)]
                at += len(probes)
        return out

    def _score(
        self,
        requests: Sequence[Mapping[str, Any]],
        retrieved: Sequence[Mapping[str, Any]],
        mode: str,
        fluency: bool,
    ) -> list[dict[str, Any]]:
        label = "Query" if mode == "gold" else "Question"
        queries = _Queries()
        plans = []
        for request, got in zip(requests, retrieved, strict=True):
            target, prompt = request["target_new"], request["prompt"]
            rephrases = request.get("rephrase_prompt", [])
            plan: dict[str, Any] = {
                "pre_rewrite": queries.accuracy(plain_prompt(prompt), target),
                "rewrite": queries.accuracy(edit_prompt(prompt, got["rewrite"], label), target),
                "pre_rephrase": [queries.accuracy(plain_prompt(q), target) for q in rephrases],
                "rephrase": [
                    queries.accuracy(edit_prompt(q, facts, label), target)
                    for q, facts in zip(rephrases, got["rephrase"], strict=True)
                ],
                "portability": {},
                "pre_portability": {},
                "locality": {},
            }
            for kind, probes in request["portability"].items():
                plan["pre_portability"][kind] = [
                    queries.accuracy(plain_prompt(p), a) for p, a in probes
                ]
                plan["portability"][kind] = [
                    queries.accuracy(edit_prompt(p, facts, label), a)
                    for (p, a), facts in zip(probes, got["portability"][kind], strict=True)
                ]
            for kind, probes in request["locality"].items():
                plan["locality"][kind] = [
                    queries.agreement(plain_prompt(p), edit_prompt(p, facts, label), a)
                    for (p, a), facts in zip(probes, got["locality"][kind], strict=True)
                ]
            plans.append(plan)
        acc, loc = queries.score(self.scorer)
        texts = []
        if fluency:
            texts = self.scorer.fluency([r["prompt"] for r in requests], self.max_new_tokens)
        results = []
        for i, (request, got, plan) in enumerate(zip(requests, retrieved, plans, strict=True)):
            fact = fact_sentence(request["prompt"], request["target_new"])
            pre: dict[str, Any] = {"rewrite_acc": acc[plan["pre_rewrite"]], "portability": {}}
            post: dict[str, Any] = {
                "rewrite_acc": acc[plan["rewrite"]],
                "locality": {},
                "portability": {},
            }
            if plan["rephrase"]:
                pre["rephrase_acc"] = _mean([acc[j] for j in plan["pre_rephrase"]])
                post["rephrase_acc"] = _mean([acc[j] for j in plan["rephrase"]])
            for kind, idx in plan["pre_portability"].items():
                pre["portability"][f"{kind}_acc"] = _mean([acc[j] for j in idx])
            for kind, idx in plan["portability"].items():
                post["portability"][f"{kind}_acc"] = _mean([acc[j] for j in idx])
            for kind, idx in plan["locality"].items():
                post["locality"][f"{kind}_acc"] = _mean([loc[j] for j in idx])
            if mode != "gold":
                self._retrieval_fields(post, got, fact)
            if fluency:
                post["fluency"] = texts[i]
            results.append(
                {
                    "requested_rewrite": dict(request),
                    "pre": pre,
                    "post": post,
                    "retrieved": got,
                }
            )
        return results

    def _retrieval_fields(self, post: dict[str, Any], got: Mapping[str, Any], fact: str) -> None:
        k = self.k

        def put(into: dict[str, Any], name: str, rows: Sequence[Sequence[str]]) -> None:
            hits = [retrieval_hits(row, fact) for row in rows]
            into[f"{name}_retrieved_acc_1"] = _mean([h[0] for h in hits])
            into[f"{name}_retrieved_acc_{k}"] = _mean([h[1] for h in hits])

        put(post, "rewrite", [got["rewrite"]])
        if got["rephrase"]:
            put(post, "rephrase", got["rephrase"])
        for section in ("portability", "locality"):
            for kind, rows in got[section].items():
                if rows:
                    put(post[section], kind, rows)
