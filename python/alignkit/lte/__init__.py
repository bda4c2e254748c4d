"""LTE (Learning to Edit): the edit template, KnowEdit records, the parallel alignment data, the
retrieval editor (`LTEEditor`), EasyEdit's metrics, the evaluation stage and `run_lte`, the whole
method against its in-context baseline."""

from alignkit.lte.build_data import (
    BuildDataConfig,
    BuildDataStage,
    FactPool,
    PlannedPair,
    build_lte_data,
    draw_facts,
    fill_answers,
    pair_rows,
    plan_pairs,
    top_k_cosine,
)
from alignkit.lte.editor import LTEEditor, prepare_requests, request_from_record
from alignkit.lte.evaluate import EditEvalConfig, EditEvalStage, summarize
from alignkit.lte.knowedit import (
    SOURCES,
    EditRecord,
    KnowEditFile,
    Probe,
    guess_source,
    load_knowedit,
)
from alignkit.lte.metrics import TeacherForcedScorer, fluency_score, word_tokenizer_name
from alignkit.lte.report import (
    render_lte_report,
    render_run_report,
    write_lte_report,
    write_run_report,
)
from alignkit.lte.run import LTERunConfig, LTERunOptions, compare, demo_file, run_lte
from alignkit.lte.template import (
    LABELS,
    TASK_PREFIXES,
    edit_prompt,
    fact_sentence,
    format_facts,
    instruction_sentence,
    plain_prompt,
    task_prompt,
)

__all__ = [
    "LABELS",
    "SOURCES",
    "TASK_PREFIXES",
    "BuildDataConfig",
    "BuildDataStage",
    "EditEvalConfig",
    "EditEvalStage",
    "EditRecord",
    "FactPool",
    "KnowEditFile",
    "LTEEditor",
    "LTERunConfig",
    "LTERunOptions",
    "PlannedPair",
    "Probe",
    "TeacherForcedScorer",
    "build_lte_data",
    "compare",
    "demo_file",
    "draw_facts",
    "edit_prompt",
    "fact_sentence",
    "fill_answers",
    "fluency_score",
    "format_facts",
    "guess_source",
    "instruction_sentence",
    "load_knowedit",
    "pair_rows",
    "plain_prompt",
    "plan_pairs",
    "prepare_requests",
    "render_lte_report",
    "render_run_report",
    "run_lte",
    "request_from_record",
    "summarize",
    "task_prompt",
    "top_k_cosine",
    "word_tokenizer_name",
    "write_lte_report",
    "write_run_report",
]
