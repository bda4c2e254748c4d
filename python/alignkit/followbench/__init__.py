"""FollowBench: multi-level constraint-following evaluation.

```python
from alignkit.followbench import EvalConfig, load_followbench, run_followbench

results = run_followbench("FollowBench/data", "out", model="openai:MODEL@http://127.0.0.1:8000/v1",
                          judge="openai:JUDGE@http://127.0.0.1:8001/v1")
results["tables"]["level"]["hsr"]  # {"1": ..., ..., "5": ..., "avg": ...}
```

- `load_followbench(path)`: English or Chinese data from a folder of the JSON files or a
  `datasets.save_to_disk` folder, validated into chains of levels 1..5 (bad records and broken
  chains are skipped and counted).
- Rule checks (`list_checks`, `register_check`, `rule_check`) score the objectively checkable
  items; the LLM judge (`build_judge_prompt`, `parse_verdicts`) the rest.
- Metrics: `category_level_metrics` (HSR/SSR per category and level, CSL) and `paper_tables`
  (the paper's aggregation); `reliability` compares judges with each other and with the rules.
- `run_followbench` does inference, scoring and writes results.json (lm-evaluation-harness
  shape), samples.jsonl and report.html; `rescore_run` re-scores a finished run offline;
  `render_report` compares several runs.
"""

from alignkit.followbench.checks import (
    CheckVerdict,
    RuleCheck,
    find_check,
    get_check,
    list_checks,
    register_check,
    rule_check,
    unregister_check,
)
from alignkit.followbench.data import (
    CATEGORIES,
    Chain,
    FollowBenchData,
    FollowBenchDataError,
    Record,
    load_followbench,
)
from alignkit.followbench.evaluate import (
    EvalConfig,
    build_results,
    load_run,
    rescore_rows,
    rescore_run,
    run_followbench,
)
from alignkit.followbench.judge import ParsedVerdicts, build_judge_prompt, parse_verdicts
from alignkit.followbench.metrics import ItemScore, category_level_metrics, paper_tables
from alignkit.followbench.reliability import binary_agreement, judge_agreement, judge_vs_rules
from alignkit.followbench.report import render_report

__all__ = [
    "CATEGORIES",
    "Chain",
    "CheckVerdict",
    "EvalConfig",
    "FollowBenchData",
    "FollowBenchDataError",
    "ItemScore",
    "ParsedVerdicts",
    "Record",
    "RuleCheck",
    "binary_agreement",
    "build_judge_prompt",
    "build_results",
    "category_level_metrics",
    "find_check",
    "get_check",
    "judge_agreement",
    "judge_vs_rules",
    "list_checks",
    "load_followbench",
    "load_run",
    "paper_tables",
    "parse_verdicts",
    "register_check",
    "render_report",
    "rescore_rows",
    "rescore_run",
    "rule_check",
    "run_followbench",
    "unregister_check",
]
