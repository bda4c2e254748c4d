"""`alignkit lion run` end to end against the loopback fake server (scripted teacher, referee and
generator) with a tiny random student: pools grow, hard/easy come from swapped scores, outputs
and the report are written, a re-run sends nothing, a killed run resumes without re-sending."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.cli.main import main as cli_main  # noqa: E402
from alignkit.errors import StageFailedError  # noqa: E402
from alignkit.lion import prompts  # noqa: E402
from alignkit.lion import stages as lion_stages  # noqa: E402
from alignkit.lion.loop import LionRunConfig, LionRunOptions, run_lion  # noqa: E402
from alignkit.llm.testing import FakeChatServer  # noqa: E402

from tiny_models import save_tiny_llama  # noqa: E402

pytestmark = pytest.mark.slow

WORDS = [
    "river",
    "mountain",
    "violin",
    "engine",
    "garden",
    "planet",
    "recipe",
    "museum",
    "harbor",
    "lantern",
    "glacier",
    "meadow",
    "comet",
    "orchard",
    "bridge",
    "canyon",
    "falcon",
    "piano",
    "tunnel",
    "island",
    "forest",
    "desert",
    "volcano",
    "library",
]


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def scripted(body: dict[str, Any]) -> str | None:
    """Teacher, referee and generator by their system message / prompt."""
    messages = body["messages"]
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    user = next(m["content"] for m in messages if m["role"] == "user")
    if system == prompts.TEACHER_SYSTEM:
        task = user.split("### Instruction:\n", 1)[1].split("\n\n", 1)[0]
        return f"A careful teacher answer about {task}"
    if system == prompts.REFEREE_SYSTEM:
        answers = re.findall(r"A careful teacher answer about ([^\n]*)", user)
        first_is_teacher = user.find("A careful teacher answer") < user.find("Assistant 2")
        task = answers[0] if answers else ""
        hard = _digest(task) % 2 == 0  # half the instructions are hard
        teacher, student = (9, 3) if hard else (8, 8)
        s1, s2 = (teacher, student) if first_is_teacher else (student, teacher)
        first_line, second_line = prompts.SCORE_LABELS
        return f"Evaluation evidence: compared.\n{first_line} {s1}\n{second_line} {s2}"
    if prompts.CREATED_MARKER in user:
        pick = _digest(json.dumps(body, sort_keys=True))
        chosen = [WORDS[(pick >> (5 * i)) % len(WORDS)] for i in range(5)]
        return f"Write a short story about a {' '.join(chosen)} at dawn"
    return None


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("student"))


def options(student: Path, url: str, **run: Any) -> LionRunOptions:
    spec = f"openai:fake@{url}"
    config = LionRunConfig.from_mapping(
        {
            "max_seeds": 6,
            "iterations": 2,
            "per_kind": 2,
            "teacher": spec,
            "student": str(student),
            **run,
        }
    )
    sections = {
        "imitate": {"max_tokens": 32},
        "train": {
            "epochs": 1.0,
            "batch_size": 2,
            "micro_batch_size": 2,
            "max_length": 128,
            "learning_rate": 1e-3,
            "device": "cpu",
        },
        "discriminate": {"student_max_tokens": 6, "teacher_max_tokens": 32},
        "generate": {"batch_size": 4, "max_rounds": 3},
    }
    return LionRunOptions(run=config, sections=sections)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def test_loop_runs_resumes_and_sends_nothing_twice(student: Path, tmp_path: Path):
    out = tmp_path / "lion"
    with FakeChatServer(reply=scripted) as server:
        summary = run_lion(out, options(student, server.base_url), progress=False)
        sent = server.hits
        assert [e["iteration"] for e in summary["iterations"]] == [1, 2]
        first, second = summary["iterations"]
        assert first["train_pool"] == 6 and first["cache_pool"] == 6
        assert first["hard"] + first["easy"] == 6
        assert first["hard"] and first["easy"]  # the scripted referee makes both
        assert first["generated"] == {"hard": 2, "easy": 2}
        assert second["cache_pool"] == 6 + sum(first["generated"].values())
        judged = rows(out / "iter-1" / "discriminate" / "judgements.jsonl.gz")
        for j in judged:
            # swap-averaged: teacher = (s12[0] + s21[1]) / 2
            assert (
                j["teacher_score"]
                == (j["order_teacher_first"][0] + j["order_student_first"][1]) / 2
            )
            assert (j["label"] == "hard") == (j["gap"] >= 1.0)
        hard = rows(out / "iter-1" / "discriminate" / "hard.jsonl.gz")
        assert [h["gap"] for h in hard] == sorted((h["gap"] for h in hard), reverse=True)
        new = rows(out / "iter-1" / "generate" / "hard.jsonl.gz")
        assert all(r["origin"] == "hard" and r["iteration"] == 1 for r in new)
        assert all("instruction" not in r["instruction"].lower() for r in new)
        final = summary["final"]
        assert final["train_pool"] == second["cache_pool"] + sum(second["generated"].values())
        assert (out / "final" / "train" / "student" / "config.json").is_file()
        assert (out / "report.html").is_file() and (out / "lion_summary.json").is_file()
        # A second run redoes nothing and sends nothing.
        run_lion(out, options(student, server.base_url), progress=False)
        assert server.hits == sent


def test_killed_run_resumes_without_resending(student: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "lion"
    original = lion_stages.GenerateStage.run_task
    calls = {"n": 0}

    def dies_on_second_generate(self, task, ctx):
        if self.config.iteration == 2:
            raise KeyboardInterrupt  # a kill in the middle of iteration 2
        calls["n"] += 1
        return original(self, task, ctx)

    with FakeChatServer(reply=scripted) as server:
        monkeypatch.setattr(lion_stages.GenerateStage, "run_task", dies_on_second_generate)
        with pytest.raises((KeyboardInterrupt, StageFailedError)):
            run_lion(out, options(student, server.base_url, final_training=False), progress=False)
        before = server.hits
        prompts_before = dict(server.prompts)
        monkeypatch.setattr(lion_stages.GenerateStage, "run_task", original)
        summary = run_lion(
            out, options(student, server.base_url, final_training=False), progress=False
        )
        assert len(summary["iterations"]) == 2
        # Only iteration 2's generation went to the server after the restart.
        resent = {p: n for p, n in server.prompts.items() if prompts_before.get(p, 0) < n}
        assert resent and all(prompts.CREATED_MARKER in p for p in resent)
        assert server.hits > before


def test_changed_setting_is_refused_naming_the_key(student: Path, tmp_path: Path):
    out = tmp_path / "lion"
    with FakeChatServer(reply=scripted) as server:
        run_lion(
            out,
            options(student, server.base_url, iterations=1, final_training=False),
            progress=False,
        )
        changed = options(student, server.base_url, iterations=1, final_training=False)
        sections = {**changed.sections, "imitate": {"max_tokens": 40}}
        with pytest.raises(Exception, match="max_tokens"):
            run_lion(out, LionRunOptions(run=changed.run, sections=sections), progress=False)


def test_cli_stage_commands_chain(student: Path, tmp_path: Path, capsys):
    with FakeChatServer(reply=scripted) as server:
        spec = f"openai:fake@{server.base_url}"
        assert (
            cli_main(
                [
                    "lion",
                    "seed",
                    "--out",
                    str(tmp_path / "seeds"),
                    "--max-seeds",
                    "4",
                    "--no-progress",
                ]
            )
            == 0
        )
        seeds = tmp_path / "seeds" / "instructions.jsonl.gz"
        assert len(rows(seeds)) == 4
        assert (
            cli_main(
                [
                    "lion",
                    "imitate",
                    str(seeds),
                    "--out",
                    str(tmp_path / "imitate"),
                    "--teacher",
                    spec,
                    "--max-tokens",
                    "16",
                    "--no-progress",
                ]
            )
            == 0
        )
        answered = rows(tmp_path / "imitate" / "responses-00000.jsonl.gz")
        assert len(answered) == 4 and all(r["response"].startswith("A careful") for r in answered)
        capsys.readouterr()
        code = cli_main(
            [
                "lion",
                "generate",
                str(seeds),
                "--out",
                str(tmp_path / "g"),
                "--generator",
                spec,
                "--no-progress",
            ]
        )
        assert code == 2  # not hard/easy files: a clear error, no traceback
        assert "hard.jsonl.gz" in capsys.readouterr().err


def test_evaluate_stage_writes_quality_and_mcq(student: Path, tmp_path: Path):
    from alignkit.lion.stages import EvaluateConfig, EvaluateStage
    from alignkit.stage import run_stage

    with FakeChatServer(reply=scripted) as server:
        spec = f"openai:fake@{server.base_url}"
        config = EvaluateConfig.from_mapping(
            {
                "student": str(student),
                "teacher": spec,
                "referee": spec,
                "max_questions": 4,
                "answer_max_tokens": 6,
            }
        )
        report = run_stage(EvaluateStage(config), [], tmp_path / "eval", progress=False)
        sent = server.hits
        results = json.loads((tmp_path / "eval" / "results.json").read_text())
        quality = results["relative_quality"]
        assert quality["items"] == 4
        # The scripted referee never scores the (non-teacher) student above the teacher.
        for setting in ("Setting1", "Setting2"):
            assert quality[setting] is None or quality[setting] <= 100.0
        assert results["mcq"]["counts"]["scored"] == 30
        assert 0.0 <= results["mcq"]["accuracy"] <= 1.0
        assert len(rows(tmp_path / "eval" / "quality.jsonl.gz")) == 4
        assert report.stats["result"]["mcq"]["accuracy"] == results["mcq"]["accuracy"]
        run_stage(EvaluateStage(config), [], tmp_path / "eval", progress=False)
        assert server.hits == sent


def test_a_local_role_model_is_loaded_once_for_all_roles(student: Path, tmp_path: Path):
    from alignkit.lion.loop import LionRun
    from alignkit.lion.stages import DiscriminateConfig, DiscriminateStage

    spec = f"transformers:{student}"
    run = LionRun(
        tmp_path,
        options(student, "http://127.0.0.1:9/v1", teacher=spec),
        overwrite=False,
        progress=False,
    )
    teacher = run._role_backend("teacher")
    assert teacher is run._role_backend("referee") is run._role_backend("generator")
    served = LionRun(
        tmp_path, options(student, "http://127.0.0.1:9/v1"), overwrite=False, progress=False
    )
    assert served._role_backend("teacher") is None  # server specs: each stage makes its own
    # A stage run on its own shares one backend between roles with the same spec too.
    stage = DiscriminateStage(DiscriminateConfig(student=str(student), teacher=spec, referee=spec))
    assert stage.backend("teacher") is stage.backend("referee")
    assert stage.backend("student") is not stage.backend("teacher")


def test_run_config_sections_must_be_tables(tmp_path: Path, capsys):
    config = tmp_path / "lion.yaml"
    config.write_text("iterations: 1\nimitate: 5\n")
    code = cli_main(["lion", "run", "--config", str(config), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "imitate: expected a table" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
