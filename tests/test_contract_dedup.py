"""`webr dedup` on the stage kit: the contract for its three stages (signatures, clusters, kept
documents), outputs independent of worker count and input order, a changed input redoing only
what it affects, and the output folder as a dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stage_contract import ContractCase, check_stage_contract
from test_dedup_cli import edit, make_docs, read_jsonl, write_jsonl

from alignkit.cli.main import main
from alignkit.errors import NothingProducedError
from alignkit.stage import Stage, run_stage
from alignkit.webr.dedup import (
    DedupClusterStage,
    DedupConfig,
    DedupSignatureStage,
    DedupStage,
    check_deduped,
    dedup_files,
    run_dedup,
)


def write_shards(folder: Path) -> list[str]:
    """Three shards with exact and near duplicates across them."""
    folder.mkdir(parents=True, exist_ok=True)
    a, b, c = make_docs(1, 30, "a"), make_docs(2, 30, "b"), make_docs(3, 20, "c")
    b[4] = {**b[4], "text": a[0]["text"]}
    c[0] = {**c[0], "text": edit(a[2]["text"], 1, 1)}
    a[29] = {**a[29], "text": edit(b[7]["text"], 2, 2)}
    return [
        str(write_jsonl(folder / f"{n}.jsonl.gz", d)) for n, d in zip("abc", (a, b, c), strict=True)
    ]


def cli_pair(args: list[str], keys: dict):
    def cli_args(inputs: list[str], out: Path) -> list[str]:
        return ["webr", "dedup", *inputs, "--out", str(out), *args, "--no-progress"]

    def cli_config(inputs: list[str], out: Path, config: Path) -> list[str]:
        config.write_text(json.dumps({**keys, "no_progress": True}))
        return ["webr", "dedup", *inputs, "--out", str(out), "--config", str(config)]

    return cli_args, cli_config


def dedup_case(
    make_inputs: Callable[[Path], list[str]],
    make_stage: Callable[..., Stage[Any]],
    changed: dict[str, Any],
    changed_keys: list[str],
    cli: tuple[list[str], dict[str, Any]],
) -> ContractCase:
    """A contract case whose command line is `webr dedup` with `cli` (flags, config keys)."""
    cli_args, cli_config = cli_pair(*cli)
    return ContractCase(
        make_inputs=make_inputs,
        make_stage=make_stage,
        changed=changed,
        changed_keys=changed_keys,
        run_cli=main,
        cli_args=cli_args,
        cli_config=cli_config,
    )


def test_signature_stage_contract(tmp_path: Path) -> None:
    case = dedup_case(
        write_shards,
        lambda **c: DedupSignatureStage(DedupConfig(num_perm=64, keep="longest", **c)),
        {"threshold": 0.5},
        ["config.bands", "config.rows", "config.threshold"],
        (["--num-perm", "64", "--keep", "longest"], {"num_perm": 64, "keep": "longest"}),
    )
    check_stage_contract(case, tmp_path)


def test_cluster_stage_contract(tmp_path: Path) -> None:
    """Partition tasks: a killed one leaves nothing trusted and is the only one redone."""
    signatures = tmp_path / "signatures"
    config = {"num_perm": 64, "keep": "longest", "partitions": 3}

    def make_inputs(folder: Path) -> list[str]:
        inputs = write_shards(folder)
        done = run_stage(DedupSignatureStage(DedupConfig(**config)), inputs, signatures)
        assert done.complete
        return inputs

    case = dedup_case(
        make_inputs,
        lambda **c: DedupClusterStage(DedupConfig(**{**config, **c}), signatures),
        {"keep": "first", "partitions": 4},
        ["config.keep", "config.partitions"],
        (["--num-perm", "64", "--keep", "longest", "--partitions", "3"], config),
    )
    check_stage_contract(case, tmp_path)


def run_clusters(inputs: list[str], meta: Path, config: DedupConfig | None = None) -> Path:
    """The signatures and clusters stages into `meta`; returns the clusters folder."""
    config = config or DedupConfig()
    run_stage(DedupSignatureStage(config), inputs, meta / "signatures", progress="off")
    done = run_stage(
        DedupClusterStage(config, meta / "signatures"), inputs, meta / "clusters", progress="off"
    )
    assert done.complete and done.stats["exact_removed"] == 1
    return meta / "clusters"


def test_kept_documents_stage_contract(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters"

    def make_inputs(folder: Path) -> list[str]:
        inputs = write_shards(folder)
        run_clusters(inputs, tmp_path)
        return inputs

    case = dedup_case(
        make_inputs,
        lambda **c: DedupStage(DedupConfig(**c), clusters),
        {"keep": "longest", "seed": 2},
        ["config.keep", "config.seed"],
        (["--no-exact"], {"exact": False}),
    )
    check_stage_contract(case, tmp_path)


def test_outputs_do_not_depend_on_workers_or_input_order(tmp_path: Path) -> None:
    inputs = write_shards(tmp_path / "in")
    one = dedup_files(inputs, tmp_path / "one", progress=False)
    three = dedup_files(list(reversed(inputs)), tmp_path / "three", workers=3, progress=False)
    assert one["docs_in"] == 80 and one["exact_removed"] == 1 and one["near_removed"] == 2
    for key in ("docs_kept", "exact_removed", "near_removed", "duplicate_clusters", "per_shard"):
        assert one[key] == three[key]
    for name in ("a.jsonl.gz", "b.jsonl.gz", "c.jsonl.gz"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "three" / name).read_bytes()


def test_changed_input_redoes_only_the_shards_it_affects(tmp_path: Path) -> None:
    inputs = write_shards(tmp_path / "in")
    out = tmp_path / "out"
    first = run_dedup(DedupConfig(), inputs, out, progress=False)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl.gz")}
    # c gains a copy of one of a's documents: a and b keep their decisions
    c_docs = read_jsonl(Path(inputs[2]))
    write_jsonl(
        Path(inputs[2]), [*c_docs, {**c_docs[1], "text": read_jsonl(Path(inputs[0]))[5]["text"]}]
    )
    again = run_dedup(DedupConfig(), inputs, out, progress=False)
    assert again.tasks_run == 1 and again.stats["exact_removed"] == first.stats["exact_removed"] + 1
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl.gz")}
    assert (
        after["a.jsonl.gz"] == mtimes["a.jsonl.gz"] and after["b.jsonl.gz"] == mtimes["b.jsonl.gz"]
    )
    assert len(read_jsonl(out / "c.jsonl.gz")) == len(c_docs) - 1  # the new copy and c's near dup


def test_dedup_of_a_prepare_folder_reads_only_its_documents(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    inputs = write_shards(tmp_path / "in")
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / ".alignkit").mkdir()
    (prepared / ".alignkit" / "stats.jsonl.gz").write_bytes(b"")  # bookkeeping is not input
    for path in inputs:
        (prepared / Path(path).name).write_bytes(Path(path).read_bytes())
    out = tmp_path / "out"
    stats = dedup_files([str(prepared / "*.jsonl.gz")], out, progress=False)
    assert stats["shards_total"] == 3
    ds = datasets.load_dataset("json", data_dir=str(out), split="train")
    assert len(ds) == stats["docs_kept"] == 77
    assert sorted(ds["id"]) == sorted(
        d["id"] for p in out.glob("*.jsonl.gz") for d in read_jsonl(p)
    )


def test_empty_inputs_produce_nothing(tmp_path: Path) -> None:
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    report = run_dedup(DedupConfig(), [empty], tmp_path / "out", progress=False)
    with pytest.raises(NothingProducedError, match="no documents"):
        check_deduped(report)
    assert main(["webr", "dedup", str(empty), "--out", str(tmp_path / "cli")]) == 1
