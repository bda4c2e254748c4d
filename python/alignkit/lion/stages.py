"""Lion's steps as stages on the kit: seed, imitate, train, discriminate, generate.

Each stage owns one output folder (config record, markers, per-task LLM caches in
`OUT/.alignkit/llm_cache/<task>.sqlite`), so every step resumes where it stopped and a resumed
step sends no request twice. `alignkit.lion.loop` chains them into iterations; users who drive
the loop themselves run them one by one (`alignkit lion imitate|train|discriminate|generate`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.errors import ConfigError, InputError, InputNotFoundError
from alignkit.lion import prompts
from alignkit.lion.pools import (
    instruction_row,
    lion_id,
    load_seed_instructions,
    read_rows,
    request_seed,
    unique_by_id,
    write_rows,
)
from alignkit.stage import (
    LLMUsage,
    OutputFolder,
    Stage,
    StageConfig,
    Task,
    TaskContext,
    TaskResult,
    option,
)

log = logging.getLogger(__name__)

CACHE_DIR = "llm_cache"
INSTRUCTIONS_FILE = "instructions.jsonl.gz"
JUDGEMENTS_FILE = "judgements.jsonl.gz"
HARD_FILE = "hard.jsonl.gz"
EASY_FILE = "easy.jsonl.gz"
STUDENT_DIR = "student"
REFEREE_MODES = ("generate", "logprob")
TOKENIZERS = ("rouge_score", "unicode")
_SPECS = "transformers[:PATH], openai:MODEL[@URL], ..."


def _backend(spec: str, concurrency: int, **options: Any) -> Any:
    from alignkit.llm import make_backend

    # `concurrency` bounds requests in flight on servers; local backends accept and ignore it.
    return make_backend(spec, concurrency=concurrency, **options)


def _is_local(spec: str | None) -> bool:
    return bool(spec) and str(spec).startswith("transformers")


def _chunks(rows: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


def _llm_stats(summary: Mapping[str, Any], usage: LLMUsage | None = None) -> dict[str, Any]:
    got = LLMUsage.from_summary(summary)
    return (usage.merge(got) if usage is not None else got).to_dict()


# -- seed ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SeedConfig(StageConfig):
    """`alignkit lion seed`: seed instructions (Alpaca, self-instruct or plain rows) as Lion
    instruction rows with stable ids."""

    schema_version: ClassVar[int] = 1
    max_seeds: int | None = option(None, help="a seeded uniform sample of N seeds; none: all")
    sample_seed: int = option(0, help="seed of that sample")

    def validate(self) -> None:
        if self.max_seeds is not None and self.max_seeds < 1:
            raise ConfigError("max_seeds must be >= 1")


class SeedStage(Stage[SeedConfig]):
    """No input files: the seed set shipped with alignkit."""

    name = "lion.seed"
    config_class = SeedConfig

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        return [Task(id="seeds", inputs=tuple(sorted(inputs)), payload=tuple(sorted(inputs)))]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        rows, stats = load_seed_instructions(
            task.payload, limit=self.config.max_seeds, sample_seed=self.config.sample_seed
        )
        tmp = ctx.tmp_output(INSTRUCTIONS_FILE)
        write_rows(tmp, rows)
        ctx.progress(1)
        return TaskResult(stats={"seed": stats}, outputs={INSTRUCTIONS_FILE: tmp})


# -- imitate -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImitateConfig(StageConfig):
    """`alignkit lion imitate`: the teacher answers instructions (the Train Pool's responses)."""

    schema_version: ClassVar[int] = 1
    teacher: str = option(DEFAULT_LLM_SPEC, help=f"teacher model: {_SPECS}", llm_spec=True)
    temperature: float = option(0.7, help="teacher sampling temperature (paper: 0.7)")
    max_tokens: int = option(1024, help="teacher answer limit in tokens (paper: 1024)")
    rows_per_task: int = option(200, help="instructions per task (one LLM cache each)")
    concurrency: int = option(8, help="requests in flight (openai)", fingerprint=False)

    def validate(self) -> None:
        if self.max_tokens < 1 or self.rows_per_task < 1 or self.concurrency < 1:
            raise ConfigError("max_tokens, rows_per_task and concurrency must be >= 1")
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError("temperature must be within [0, 2]")


def teacher_request(row: Mapping[str, Any], temperature: float, max_tokens: int) -> Any:
    from alignkit.llm import ChatRequest

    return ChatRequest.from_prompt(
        prompts.instruction_prompt(row["instruction"], row.get("input") or ""),
        system=prompts.TEACHER_SYSTEM,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=request_seed(row["id"], "teacher"),
    )


class ImitateStage(Stage[ImitateConfig]):
    """Tasks: chunks of the instruction rows (in input order); output `responses-K.jsonl.gz`."""

    name = "lion.imitate"
    config_class = ImitateConfig
    progress_unit = "instruction"

    def __init__(self, config: ImitateConfig, *, backend: Any = None) -> None:
        super().__init__(config)
        self.backend = backend
        self.parallel_tasks = backend is None and not _is_local(config.teacher)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "backend": None}

    def teacher(self) -> Any:
        if self.backend is None:
            self.backend = _backend(self.config.teacher, self.config.concurrency)
        return self.backend

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        rows = unique_by_id(read_rows(sorted(inputs)))
        chunks = _chunks(rows, self.config.rows_per_task)
        return [
            Task(
                id=f"responses-{k:05d}",
                inputs=tuple(sorted(inputs)),
                payload=tuple(chunk),
                weight=max(1, len(chunk)),
            )
            for k, chunk in enumerate(chunks)
        ]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit.llm import ResponseCache, run_requests

        cfg = self.config
        rows = list(task.payload)
        usage = LLMUsage()
        kept = []
        if rows:
            requests = [teacher_request(r, cfg.temperature, cfg.max_tokens) for r in rows]
            with ResponseCache(ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite") as cache:
                results, summary = run_requests(self.teacher(), requests, cache, progress=False)
            usage = LLMUsage.from_summary(summary)
            for row, result in zip(rows, results, strict=True):
                if not result.ok:
                    continue  # counted as a failure by the usage; re-sent with --retry-failed
                text = (result.text or "").strip()
                if not text:
                    usage.drop("empty_answer")
                    continue
                kept.append({**row, "response": text, "finish_reason": result.finish_reason})
        name = f"{task.id}.jsonl.gz"
        tmp = ctx.tmp_output(name)
        write_rows(tmp, kept)
        ctx.progress(task.weight)
        llm = usage.to_dict()
        stats = {
            "instructions": len(rows),
            "answered": len(kept),
            "llm": {"teacher": llm},
            "failures": llm.get("failures", 0),
        }
        return TaskResult(stats=stats, outputs={name: tmp})


# -- train ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrainConfig(StageConfig):
    """`alignkit lion train`: fine-tune the student on the Train Pool (paper settings)."""

    schema_version: ClassVar[int] = 1
    student: str = option(
        "default",
        help="base student: a local Hugging Face model folder, or 'default' "
        "(the embedded SmolLM2-135M-Instruct)",
    )
    epochs: float = option(3.0, help="epochs (paper: 3)")
    learning_rate: float = option(2e-5, help="peak learning rate (paper: 2e-5, cosine)")
    warmup_ratio: float = option(0.03, help="warmup share of the steps (paper: 0.03)")
    batch_size: int = option(128, help="examples per optimizer step (paper: 128)")
    micro_batch_size: int = option(4, help="examples per forward pass (gradient accumulation)")
    max_length: int = option(1024, help="tokens per example (paper: 1024)")
    max_steps: int | None = option(None, help="stop after N optimizer steps (demos)")
    lora: bool = option(False, help="train a LoRA adapter (merged into the saved student)")
    lora_r: int = option(16, help="LoRA rank")
    lora_alpha: int = option(32, help="LoRA alpha")
    seed: int = option(42, help="training seed (the authors' default)")
    device: str | None = option(
        None, help="cpu, cuda, ...; none: cuda when available", fingerprint=False
    )

    def validate(self) -> None:
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ConfigError("epochs and learning_rate must be > 0")
        if self.batch_size < 1 or self.micro_batch_size < 1 or self.max_length < 8:
            raise ConfigError("batch_size, micro_batch_size must be >= 1, max_length >= 8")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("max_steps must be >= 1")


def resolve_student(spec: str) -> str:
    """A base-student setting as a model folder ('default': the converted embedded model)."""
    if spec in ("default", "transformers"):
        from alignkit.llm import default_model_dir

        return str(default_model_dir())
    if spec.startswith("transformers:"):
        spec = spec.split(":", 1)[1]
    if not Path(spec).expanduser().is_dir():
        raise InputNotFoundError(f"student model folder not found: {spec}")
    return str(Path(spec).expanduser())


class TrainStage(Stage[TrainConfig]):
    """One task: train on every answered row of the inputs; outputs the model files under
    `student/` (published and recorded by the kit like any output)."""

    name = "lion.train"
    config_class = TrainConfig
    parallel_tasks = False
    verify_outputs = True

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if not inputs:
            raise InputError("lion train needs Train-Pool files (teacher answers)")
        return [Task(id="student", inputs=tuple(sorted(inputs)), payload=tuple(sorted(inputs)))]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit.lion.train import StudentTrainOptions, train_student

        cfg = self.config
        read: Counter[str] = Counter()
        rows = unique_by_id(read_rows(task.payload, read))
        rows = [r for r in rows if r.get("response")]
        if not rows:
            raise InputError("no answered instruction to train on")
        options = StudentTrainOptions(
            epochs=cfg.epochs,
            learning_rate=cfg.learning_rate,
            warmup_ratio=cfg.warmup_ratio,
            batch_size=cfg.batch_size,
            micro_batch_size=cfg.micro_batch_size,
            max_length=cfg.max_length,
            max_steps=cfg.max_steps,
            lora=cfg.lora,
            lora_r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            seed=cfg.seed,
            device=cfg.device,
        )
        with ctx.tmp_folder_outputs(STUDENT_DIR) as (folder, outputs):
            stats = train_student(
                rows, resolve_student(cfg.student), folder, options, progress="log"
            )
        ctx.progress(1)
        return TaskResult(stats={"train": stats, "rows": len(rows)}, outputs=outputs)


class _StudentStage:
    """A stage whose tasks talk to the trained student (a local model of this process, sampled
    with the Lion template as plain text) and to backends by role (`backends` holds ready ones,
    e.g. in tests); the roles' specs are config fields named after them."""

    parallel_tasks = False  # the student is a local model of this process
    config: Any

    def __init__(self, config: Any, *, backends: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)  # type: ignore[call-arg]
        self.backends = dict(backends or {})

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "backends": {}}

    def backend(self, role: str) -> Any:
        if role not in self.backends:
            cfg = self.config
            if role == "student":
                self.backends[role] = _backend(
                    f"transformers:{cfg.student}", cfg.concurrency, prompt_format="plain"
                )
            else:
                spec = getattr(cfg, role)
                # Roles with the same spec (the paper's teacher = referee) share one backend:
                # one local model in memory, not one per role.
                same = [b for r, b in self.backends.items() if getattr(cfg, r, None) == spec]
                self.backends[role] = same[0] if same else _backend(spec, cfg.concurrency)
        return self.backends[role]


# -- discriminate ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DiscriminateConfig(StageConfig):
    """`alignkit lion discriminate`: teacher and student answer the Cache Pool; the referee
    scores both answers in both orders; hard = teacher - student >= threshold."""

    schema_version: ClassVar[int] = 1
    student: str = option("", help="the trained student's model folder (required)")
    referee: str = option(DEFAULT_LLM_SPEC, help=f"referee model: {_SPECS}", llm_spec=True)
    teacher: str = option(
        DEFAULT_LLM_SPEC,
        help="teacher, for Cache-Pool instructions without an answer in --answers",
        llm_spec=True,
    )
    answers: tuple[str, ...] = option((), help="Train-Pool files holding the teacher's answers")
    referee_mode: str = option(
        "generate",
        choices=REFEREE_MODES,
        help="generate: the referee explains, then one score line per assistant, parsed "
        "(the paper); logprob: expected score read from the next-token distribution over 1..10 "
        "after each score line (an addition for small referees: no sampling, no parse failures)",
    )
    threshold: float = option(1.0, help="hard when teacher - student >= this (paper: 1)")
    referee_max_reasks: int = option(3, help="re-asks of an unparsable referee reply")
    student_temperature: float = option(0.7, help="student sampling temperature (paper: 0.7)")
    student_max_tokens: int = option(1024, help="student answer limit (paper: 1024)")
    teacher_temperature: float = option(0.7, help="teacher temperature, as in imitate")
    teacher_max_tokens: int = option(1024, help="teacher answer limit, as in imitate")
    rows_per_task: int = option(100, help="Cache-Pool instructions per task")
    concurrency: int = option(8, help="requests in flight (openai)", fingerprint=False)

    def validate(self) -> None:
        if not self.student:
            raise ConfigError("discriminate needs --student (a trained student folder)")
        if self.referee_max_reasks < 0:
            raise ConfigError("referee_max_reasks must be >= 0")
        if min(self.student_max_tokens, self.teacher_max_tokens, self.rows_per_task) < 1:
            raise ConfigError("token limits and rows_per_task must be >= 1")


class DiscriminateStage(_StudentStage, Stage[DiscriminateConfig]):
    """Tasks: chunks of the Cache Pool; each keeps its judgements as a part; the reduce splits
    them into hard and easy (sorted by gap, then teacher score, descending, as the original)."""

    name = "lion.discriminate"
    config_class = DiscriminateConfig
    progress_unit = "instruction"

    def _student_files(self) -> tuple[str, ...]:
        folder = Path(self.config.student)
        if not folder.is_dir():
            raise InputNotFoundError(f"student model folder not found: {folder}")
        return tuple(
            str(p) for p in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors"))
        )

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        rows = unique_by_id(read_rows(sorted(inputs)))
        if not rows:
            raise InputError("the Cache Pool is empty")
        identity = (
            tuple(sorted(inputs)) + tuple(sorted(self.config.answers)) + self._student_files()
        )
        return [
            Task(
                id=f"judged-{k:05d}",
                inputs=identity,
                payload=tuple(chunk),
                weight=max(1, len(chunk)),
            )
            for k, chunk in enumerate(_chunks(rows, self.config.rows_per_task))
        ]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit.lion.referee import judge
        from alignkit.llm import ChatRequest, ResponseCache, run_requests

        cfg = self.config
        rows = list(task.payload)
        answers = {r["id"]: r["response"] for r in read_rows(cfg.answers) if r.get("response")}
        llm: dict[str, Any] = {}
        counts: Counter[str] = Counter()
        with ResponseCache(ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite") as cache:
            missing = [r for r in rows if r["id"] not in answers]
            if missing:
                requests = [
                    teacher_request(r, cfg.teacher_temperature, cfg.teacher_max_tokens)
                    for r in missing
                ]
                results, summary = run_requests(
                    self.backend("teacher"), requests, cache, progress=False
                )
                llm["teacher"] = _llm_stats(summary)
                for row, result in zip(missing, results, strict=True):
                    if result.ok and (result.text or "").strip():
                        answers[row["id"]] = result.text.strip()
            counts["teacher_answer_reused"] = len(rows) - len(missing)
            student_requests = [
                ChatRequest.from_prompt(
                    prompts.instruction_prompt(r["instruction"], r.get("input") or ""),
                    temperature=cfg.student_temperature,
                    max_tokens=cfg.student_max_tokens,
                    seed=request_seed(r["id"], "student"),
                )
                for r in rows
            ]
            results, summary = run_requests(
                self.backend("student"), student_requests, cache, progress=False
            )
            llm["student"] = _llm_stats(summary)
            items = []
            for row, result in zip(rows, results, strict=True):
                teacher_text = answers.get(row["id"])
                if teacher_text is None:
                    counts["no_teacher_answer"] += 1
                    continue
                if not result.ok:
                    counts["no_student_answer"] += 1
                    continue
                items.append((row, teacher_text, (result.text or "").strip()))
            judgements, judged = judge(
                self.backend("referee"),
                cache,
                items,
                mode=cfg.referee_mode,
                max_reasks=cfg.referee_max_reasks,
                threshold=cfg.threshold,
            )
            llm["referee"] = judged.pop("llm", {})
            counts.update(judged)
        part = ctx.tmp_part(f"{task.id}.jsonl")
        part.write_text(
            "".join(json.dumps(j, ensure_ascii=False, sort_keys=True) + "\n" for j in judgements),
            encoding="utf-8",
        )
        ctx.progress(task.weight)
        failures = sum(int(v.get("failures", 0)) for v in llm.values())
        stats = {
            "instructions": len(rows),
            "judged": len(judgements),
            "llm": llm,
            "judging": dict(counts),
            "failures": failures,
        }
        return TaskResult(stats=stats, parts={f"{task.id}.jsonl": part})

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult | None:
        from alignkit.lion.referee import split_hard_easy

        judgements = []
        for task in tasks:
            path = folder.part_path(f"{task.id}.jsonl")
            if path.is_file():
                judgements.extend(
                    json.loads(line)
                    for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip()
                )
        hard, easy = split_hard_easy(judgements, self.config.threshold)
        outputs = {}
        for name, rows in ((JUDGEMENTS_FILE, hard + easy), (HARD_FILE, hard), (EASY_FILE, easy)):
            tmp = folder.tmp_path(name)
            write_rows(tmp, rows)
            outputs[name] = tmp
        return TaskResult(stats={"summary": judgement_summary(judgements, hard)}, outputs=outputs)


def judgement_summary(judgements: Sequence[Mapping[str, Any]], hard: Sequence[Any]) -> dict:
    n = len(judgements)
    if not n:
        return {"judged": 0, "hard": 0, "easy": 0}
    teacher = sum(j["teacher_score"] for j in judgements) / n
    student = sum(j["student_score"] for j in judgements) / n
    return {
        "judged": n,
        "hard": len(hard),
        "easy": n - len(hard),
        "hard_ratio": len(hard) / n,
        "teacher_mean": teacher,
        "student_mean": student,
        "gap_mean": teacher - student,
    }


# -- generate ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GenerateConfig(StageConfig):
    """`alignkit lion generate`: new instructions from hard and easy seeds, kept only when they
    pass Lion's filters and are novel against the Cache Pool and everything kept so far."""

    schema_version: ClassVar[int] = 1
    generator: str = option(DEFAULT_LLM_SPEC, help=f"generator model: {_SPECS}", llm_spec=True)
    cache_pool: tuple[str, ...] = option((), help="Cache-Pool instruction files (novelty)")
    per_kind: int = option(3000, help="new instructions to keep per kind (paper: 3000 each)")
    similarity_threshold: float = option(
        0.7, help="rejected when ROUGE-L F1 with a pool instruction exceeds this (paper: 0.7)"
    )
    tokenizer: str = option(
        "rouge_score",
        choices=TOKENIZERS,
        help="ROUGE-L tokens: rouge_score (the original; drops every non-ASCII character) or "
        "unicode (keeps non-Latin words)",
    )
    prefill: bool = option(
        False,
        help="pre-fill the answer with the created-instruction marker and cut at the first "
        "blank line (an addition for small generators)",
    )
    batch_size: int = option(16, help="generation requests per round")
    max_rounds: int = option(1000, help="give up after this many rounds (counted)")
    iteration: int = option(1, help="the iteration recorded in the new rows")
    seed: int = option(0, help="seed of the seed draws")
    concurrency: int = option(8, help="requests in flight (openai)", fingerprint=False)

    def validate(self) -> None:
        if self.per_kind < 0 or self.batch_size < 1 or self.max_rounds < 1:
            raise ConfigError("per_kind must be >= 0, batch_size and max_rounds >= 1")
        if not 0.0 <= self.similarity_threshold <= 1.0:
            raise ConfigError("similarity_threshold must be within [0, 1]")


class GenerateStage(Stage[GenerateConfig]):
    """Two tasks, `hard` and `easy`, reading the discriminate stage's hard.jsonl.gz and
    easy.jsonl.gz (found among the inputs by name)."""

    name = "lion.generate"
    config_class = GenerateConfig
    progress_unit = "instruction"

    def __init__(self, config: GenerateConfig, *, backend: Any = None) -> None:
        super().__init__(config)
        self.backend = backend
        self.parallel_tasks = backend is None and not _is_local(config.generator)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "backend": None}

    def generator(self) -> Any:
        if self.backend is None:
            self.backend = _backend(self.config.generator, self.config.concurrency)
        return self.backend

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        by_kind: dict[str, list[str]] = {"hard": [], "easy": []}
        for path in sorted(inputs):
            name = Path(path).name
            kind = (
                "hard" if name.startswith("hard") else "easy" if name.startswith("easy") else None
            )
            if kind is None:
                raise InputError(
                    f"{path}: generate reads the discriminate stage's hard.jsonl.gz and "
                    "easy.jsonl.gz (or files named hard*/easy*)"
                )
            by_kind[kind].append(path)
        pool = tuple(sorted(self.config.cache_pool))
        return [
            Task(
                id=kind,
                inputs=tuple(files) + pool,
                payload=(kind, tuple(files)),
                weight=max(1, self.config.per_kind),
            )
            for kind, files in by_kind.items()
        ]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit._core import RougeLPool
        from alignkit.lion.generation import generate_instructions
        from alignkit.llm import ResponseCache

        cfg = self.config
        kind, files = task.payload
        seeds = unique_by_id(read_rows(files))
        pool_rows = unique_by_id(read_rows(cfg.cache_pool))
        novelty = RougeLPool([r["instruction"] for r in pool_rows], tokenizer=cfg.tokenizer)
        counts: dict[str, Any] = {"seeds": len(seeds)}
        rows: list[dict[str, Any]] = []
        llm: dict[str, Any] = {}
        if not seeds or cfg.per_kind == 0:
            counts["no_seeds" if not seeds else "none_asked"] = 1
        else:
            with ResponseCache(ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite") as cache:
                kept, outcome = generate_instructions(
                    self.generator(),
                    cache,
                    seeds,
                    kind,
                    cfg.per_kind,
                    novelty,
                    rng_seed=cfg.seed,
                    batch_size=cfg.batch_size,
                    max_rounds=cfg.max_rounds,
                    prefill=cfg.prefill,
                    threshold=cfg.similarity_threshold,
                )
            llm = outcome.pop("llm", {})
            counts.update(outcome)
            for item in kept:
                rows.append(
                    instruction_row(
                        item["instruction"],
                        "",
                        origin=kind,
                        iteration=cfg.iteration,
                        seed_id=item.get("seed_id"),
                        seed_instruction=item.get("seed_instruction"),
                        most_similar=item.get("most_similar", []),
                        avg_similarity=item.get("avg_similarity"),
                    )
                )
        name = f"{kind}.jsonl.gz"
        tmp = ctx.tmp_output(name)
        write_rows(tmp, rows)
        ctx.progress(task.weight)
        stats = {
            "generated": {kind: len(rows)},
            "generation": {kind: counts},
            "llm": {f"generator_{kind}": llm},
            "failures": int(llm.get("failures", 0)),
        }
        return TaskResult(stats=stats, outputs={name: tmp})


# -- evaluate ------------------------------------------------------------------------------------

QUALITY_FILE = "quality.jsonl.gz"
RESULTS_FILE = "results.json"
MCQ_DEMO = "demo"


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(StageConfig):
    """`alignkit lion evaluate`: the student against the teacher on held-out questions (the
    paper's relative quality, swap-averaged referee) and zero-shot MCQ accuracy."""

    schema_version: ClassVar[int] = 1
    student: str = option("", help="the trained student's model folder (required)")
    teacher: str = option(DEFAULT_LLM_SPEC, help=f"teacher model: {_SPECS}", llm_spec=True)
    referee: str = option(DEFAULT_LLM_SPEC, help=f"referee model: {_SPECS}", llm_spec=True)
    questions: str | None = option(
        None, help="held-out questions (JSON lines: question, category); none: the 40 shipped"
    )
    max_questions: int | None = option(None, help="only the first N questions")
    answer_temperature: float = option(0.7, help="teacher and student sampling temperature")
    answer_max_tokens: int = option(1024, help="answer limit in tokens")
    referee_mode: str = option("generate", choices=REFEREE_MODES, help="as in discriminate")
    referee_max_reasks: int = option(3, help="re-asks of an unparsable referee reply")
    mcq: str | None = option(
        MCQ_DEMO,
        help="multiple-choice rows (task, id, question, choices, answer_index); 'demo': the 30 "
        "shipped questions; none: no MCQ",
    )
    mcq_score: str = option(
        "sum",
        choices=("sum", "mean"),
        help="choice score: summed or per-token mean log-probability",
    )
    seed: int = option(0, help="referee re-ask seed")
    concurrency: int = option(8, help="requests in flight (openai)", fingerprint=False)

    def validate(self) -> None:
        if not self.student:
            raise ConfigError("evaluate needs --student (a trained student folder)")
        if self.max_questions is not None and self.max_questions < 1:
            raise ConfigError("max_questions must be >= 1")
        if self.answer_max_tokens < 1 or self.referee_max_reasks < 0:
            raise ConfigError("answer_max_tokens must be >= 1, referee_max_reasks >= 0")
        if self.mcq is not None and self.mcq.lower() in ("none", ""):
            object.__setattr__(self, "mcq", None)


class EvaluateStage(_StudentStage, Stage[EvaluateConfig]):
    """Tasks `quality` and (unless mcq is off) `mcq`; the reduce writes results.json."""

    name = "lion.evaluate"
    config_class = EvaluateConfig

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if inputs:
            raise InputError("lion evaluate takes no input files: use --questions / --mcq")
        student = Path(self.config.student)
        if not student.is_dir():
            raise InputNotFoundError(f"student model folder not found: {student}")
        identity = tuple(str(p) for p in sorted(student.glob("*.safetensors")))
        extra = tuple(p for p in (self.config.questions,) if p)
        tasks = [Task(id="quality", inputs=identity + extra, payload="quality")]
        if self.config.mcq is not None:
            mcq = () if self.config.mcq == MCQ_DEMO else (self.config.mcq,)
            tasks.append(Task(id="mcq", inputs=identity + mcq, payload="mcq"))
        return tasks

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        if task.payload == "mcq":
            return self._mcq(ctx)
        from alignkit.lion.evaluate import evaluate_relative_quality, load_eval_questions
        from alignkit.llm import ResponseCache

        cfg = self.config
        questions, read = load_eval_questions(cfg.questions)
        if cfg.max_questions is not None:
            questions = questions[: cfg.max_questions]
        with ResponseCache(ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite") as cache:
            judgements, result = evaluate_relative_quality(
                self.backend("teacher"),
                self.backend("student"),
                self.backend("referee"),
                questions,
                cache,
                referee_mode=cfg.referee_mode,
                max_reasks=cfg.referee_max_reasks,
                seed=cfg.seed,
                teacher_temperature=cfg.answer_temperature,
                teacher_max_tokens=cfg.answer_max_tokens,
                student_temperature=cfg.answer_temperature,
                student_max_tokens=cfg.answer_max_tokens,
            )
        tmp = ctx.tmp_output(QUALITY_FILE)
        write_rows(tmp, judgements)
        ctx.progress(1)
        llm = result.pop("llm", {})
        failures = sum(int(v.get("failures", 0)) for v in llm.values())
        stats = {
            "result": {"relative_quality": result["relative_quality"]},
            "quality_counts": _numbers(result.get("counts", {})),
            "llm": llm,
            "failures": failures,
            "questions_read": _numbers(read),
        }
        return TaskResult(stats=stats, outputs={QUALITY_FILE: tmp})

    def _mcq(self, ctx: TaskContext) -> TaskResult:
        from alignkit.lion.evaluate import evaluate_mcq, load_mcq_rows
        from alignkit.llm import load_causal_lm

        cfg = self.config
        rows, read = load_mcq_rows(() if cfg.mcq == MCQ_DEMO else (cfg.mcq,))
        model, tokenizer = load_causal_lm(cfg.student)
        result = evaluate_mcq(model, tokenizer, rows, score=cfg.mcq_score)
        ctx.progress(1)
        return TaskResult(stats={"result": {"mcq": result}, "mcq_read": _numbers(read)})

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult | None:
        merged: dict[str, Any] = {}
        for task in tasks:
            merged.update(results.get(task.id, {}).get("result", {}))
        tmp = folder.tmp_path(RESULTS_FILE)
        tmp.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return TaskResult(stats={}, outputs={RESULTS_FILE: tmp})


def _numbers(counts: Mapping[str, Any]) -> dict[str, Any]:
    """Only the numeric (and nested numeric) counts: statistics must add up."""
    out: dict[str, Any] = {}
    for key, value in counts.items():
        if isinstance(value, Mapping):
            out[key] = _numbers(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = value
    return out


__all__ = [
    "DiscriminateConfig",
    "EvaluateConfig",
    "EvaluateStage",
    "DiscriminateStage",
    "GenerateConfig",
    "GenerateStage",
    "ImitateConfig",
    "ImitateStage",
    "SeedConfig",
    "SeedStage",
    "TrainConfig",
    "TrainStage",
    "judgement_summary",
    "lion_id",
    "resolve_student",
    "teacher_request",
]
