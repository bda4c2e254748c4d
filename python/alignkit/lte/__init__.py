"""LTE (Learning to Edit): the edit template, KnowEdit records and the parallel alignment data."""

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
from alignkit.lte.knowedit import (
    SOURCES,
    EditRecord,
    KnowEditFile,
    Probe,
    guess_source,
    load_knowedit,
)
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
    "EditRecord",
    "FactPool",
    "KnowEditFile",
    "PlannedPair",
    "Probe",
    "build_lte_data",
    "draw_facts",
    "edit_prompt",
    "fact_sentence",
    "fill_answers",
    "format_facts",
    "guess_source",
    "instruction_sentence",
    "load_knowedit",
    "pair_rows",
    "plain_prompt",
    "plan_pairs",
    "task_prompt",
    "top_k_cosine",
]
