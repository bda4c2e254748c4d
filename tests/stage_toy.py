"""A toy stage for the stage-kit tests: upper-cases the `text` of JSONL documents, one output
shard per input file. Module-level so that spawn workers can import it."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

from alignkit.data.io import open_gzip_text_writer
from alignkit.stage import Stage, StageConfig, Task, TaskContext, TaskResult, option


@dataclasses.dataclass(frozen=True)
class ToyConfig(StageConfig):
    suffix: str = option("", help="appended to every text")
    min_chars: int = option(0, help="drop texts shorter than this")
    langs: tuple[str, ...] = option((), help="keep only these languages")
    workers: int = option(1, help="processes", fingerprint=False)


class ToyStage(Stage[ToyConfig]):
    name = "test.toy"
    config_class = ToyConfig
    progress_unit = "doc"

    def __init__(self, config: ToyConfig, fail_on: str = "", sleep_after_write: float = 0.0):
        super().__init__(config)
        self.fail_on = fail_on
        self.sleep_after_write = sleep_after_write

    def plan(self, inputs):
        return [
            Task(id=Path(p).name.split(".")[0], inputs=(p,), payload=p, weight=1)
            for p in sorted(inputs)
        ]

    def run_task(self, task: TaskContext, ctx):  # type: ignore[override]
        name = f"{task.id}.jsonl.gz"
        tmp = ctx.tmp_output(name)
        stats = {"docs": 0, "dropped": {}}
        with open_gzip_text_writer(tmp) as out:
            for line in Path(task.payload).read_text(encoding="utf-8").splitlines():
                doc = json.loads(line)
                if len(doc["text"]) < self.config.min_chars:
                    stats["dropped"]["too_short"] = stats["dropped"].get("too_short", 0) + 1
                    continue
                if self.config.langs and doc.get("lang") not in self.config.langs:
                    stats["dropped"]["lang"] = stats["dropped"].get("lang", 0) + 1
                    continue
                doc["text"] = doc["text"].upper() + self.config.suffix
                out.write(json.dumps(doc) + "\n")
                stats["docs"] += 1
                if task.id == self.fail_on:
                    raise RuntimeError("injected failure")
        if self.sleep_after_write:
            Path(os.environ["TOY_READY"]).write_text("ready")
            time.sleep(self.sleep_after_write)
        ctx.progress(1)
        return TaskResult(stats=stats, outputs={name: tmp})


def write_inputs(folder: Path, n: int = 3, docs: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        path = folder / f"shard{k}.jsonl"
        rows = [
            {"id": f"{k}-{i}", "text": "x" * i + f" doc {k} {i}", "lang": "en" if i % 2 else "de"}
            for i in range(docs)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(path)
    return paths


class ToyReduceStage(ToyStage):
    """The toy stage plus parts (a doc count per task) and a reduce writing their total."""

    name = "test.toy-reduce"

    def run_task(self, task, ctx):  # type: ignore[no-untyped-def]
        result = super().run_task(task, ctx)
        part = ctx.tmp_part(f"{task.id}.count")
        part.write_text(str(result.stats["docs"]), encoding="utf-8")
        return TaskResult(
            stats=result.stats, outputs=result.outputs, parts={f"{task.id}.count": part}
        )

    def reduce(self, folder, tasks, results):  # type: ignore[no-untyped-def]
        total = sum(int(folder.part_path(f"{t.id}.count").read_text()) for t in tasks)
        tmp = folder.tmp_path("total.txt")
        tmp.write_text(f"{total}\n", encoding="utf-8")
        return TaskResult(stats={"total": total}, outputs={"total.txt": tmp})
