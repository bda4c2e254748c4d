"""The stage kit: what every alignkit job is built on.

- `StageConfig` + `option()`: one dataclass per stage = CLI flags, config-file keys, fingerprint;
  `RunOptions`: a run that chains stages, its config and per-stage sections.
- `OutputFolder`: the output-folder contract (config record, lock, markers, atomic outputs).
- `Stage`, `Task`, `TaskResult`, `TaskContext`, `run_stage`: plan tasks, run them, reduce;
  `run_chained_stage`: one step of a run that chains stages, and its record.
- `LocalExecutor` (and any `Executor`): where tasks run.
- `Counts`, `LLMUsage`: typed, mergeable statistics and LLM-call accounting.
- `Progress`, `progress_mode`: bar on a terminal, log lines otherwise, or off.
"""

from alignkit.progress import Progress, progress_mode
from alignkit.stage.config import (
    RunOptions,
    StageConfig,
    add_config_arguments,
    config_from_args,
    option,
)
from alignkit.stage.executor import (
    Executor,
    LocalExecutor,
    Task,
    TaskContext,
    TaskResult,
    execute_task,
)
from alignkit.stage.folder import META_DIR, OutputFolder, file_identity
from alignkit.stage.stage import Stage, StageReport, peak_rss_mb, run_chained_stage, run_stage
from alignkit.stage.stats import Counts, LLMUsage

__all__ = [
    "META_DIR",
    "Counts",
    "Executor",
    "LLMUsage",
    "LocalExecutor",
    "OutputFolder",
    "Progress",
    "RunOptions",
    "Stage",
    "StageConfig",
    "StageReport",
    "Task",
    "TaskContext",
    "TaskResult",
    "add_config_arguments",
    "config_from_args",
    "execute_task",
    "file_identity",
    "option",
    "peak_rss_mb",
    "progress_mode",
    "run_chained_stage",
    "run_stage",
]
