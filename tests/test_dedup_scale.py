"""`webr dedup` at scale: per-shard partition files, union edges per partition, and a reduce that
holds only the documents with a duplicate - with the decisions of the in-memory `dedup`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_dedup_cli import edit, make_docs, read_jsonl, write_jsonl

from alignkit import _core
from alignkit.errors import ConfigMismatchError, InputError, StageFailedError
from alignkit.stage import META_DIR, run_stage
from alignkit.text.dedup import dedup
from alignkit.webr.dedup import (
    CLUSTERS_DIR,
    CLUSTERS_FILE,
    SIGNATURES_DIR,
    DedupClusterStage,
    DedupConfig,
    dedup_files,
    run_dedup,
)


def spread_shards(folder: Path) -> list[Path]:
    """Four shards with exact and near duplicates of each other's documents, chains of near
    copies crossing three shards, and a near copy inside one shard."""
    folder.mkdir(parents=True, exist_ok=True)
    shards = {name: make_docs(seed, 25, name) for seed, name in enumerate("abcd", start=11)}
    a, b, c, d = (shards[n] for n in "abcd")
    b[3] = {**b[3], "text": a[0]["text"].upper()}  # exact after normalisation
    d[24] = {**d[24], "text": a[0]["text"]}
    c[5] = {**c[5], "text": edit(a[1]["text"], 2, 1)}  # a near-copy chain a -> c -> d
    d[0] = {**d[0], "text": edit(c[5]["text"], 2, 2)}
    b[10] = {**b[10], "text": edit(d[7]["text"], 1, 3) + " tail words added"}  # longer copy
    a[20] = {**a[20], "text": edit(a[4]["text"], 1, 4)}
    c[9] = {**c[9], "text": edit(b[12]["text"], 3, 5)}
    return [write_jsonl(folder / f"{name}.jsonl.gz", docs) for name, docs in shards.items()]


def texts_and_ids(paths: list[Path]) -> tuple[list[str], list[str]]:
    rows = [doc for path in sorted(paths) for doc in read_jsonl(path)]
    return [r["text"] for r in rows], [r["id"] for r in rows]


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_outputs_equal_the_in_memory_decisions(tmp_path: Path, keep: str) -> None:
    paths = spread_shards(tmp_path / "in")
    texts, ids = texts_and_ids(paths)
    expected = dedup(texts, keep=keep)
    assert expected.stats["exact_removed"] == 2 and expected.stats["near_removed"] >= 5
    kept_ids = {ids[i] for i in expected.kept_indices}
    members = {
        ids[i]: (int(expected.labels[i]), bool(expected.keep[i]))  # type: ignore[index]
        for i in range(len(ids))
        if np.count_nonzero(expected.labels == expected.labels[i]) >= 2  # type: ignore[operator]
    }
    for partitions, workers in ((1, None), (3, 2), (16, None)):
        out = tmp_path / f"out-{partitions}"
        cfg = DedupConfig(keep=keep, partitions=partitions, write_clusters=True)
        stats = dedup_files(paths, out, cfg, workers=workers, progress=False)
        got = {d["id"] for p in paths for d in read_jsonl(out / p.name)}
        assert got == kept_ids, partitions
        for key in ("exact_removed", "near_removed", "duplicate_clusters"):
            assert stats[key] == expected.stats[key], (key, partitions)
        clusters = read_jsonl(Path(stats["clusters_file"]))
        assert {c["id"]: (c["cluster"], c["kept"]) for c in clusters} == members


def test_the_reduce_holds_only_documents_with_a_duplicate(tmp_path: Path) -> None:
    paths = spread_shards(tmp_path / "in")
    out = tmp_path / "out"
    cfg = DedupConfig(partitions=5, write_clusters=True)
    stats = dedup_files(paths, out, cfg, progress=False)
    clusters, signatures = out / META_DIR / CLUSTERS_DIR, out / META_DIR / SIGNATURES_DIR
    res = _core.dedup_cluster_edges(
        sorted(clusters.glob("partition-*.edges")),
        [signatures / f"{p.name.split('.')[0]}.len" for p in sorted(paths)],
    )
    members = read_jsonl(clusters / CLUSTERS_FILE)
    assert res.docs == stats["docs_in"] == 100
    assert res.nodes.tolist() == sorted(c["doc"] for c in members)
    assert len(res.nodes) < res.docs // 4
    assert res.shard_docs == [25, 25, 25, 25]
    for k, path in enumerate(sorted(paths)):
        mask = np.load(clusters / f"{path.name.split('.')[0]}.keep.npy")
        assert mask.tolist() == res.shard_keep_mask(k).tolist()
    with pytest.raises(ValueError, match="shard 4 out of range"):
        res.shard_keep_mask(4)


def data_files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.parent.name != "done" and p.name not in ("stats.json", "lock")
    }


def test_changed_partitions_are_refused_and_overwrite_gives_the_same_outputs(
    tmp_path: Path,
) -> None:
    paths = spread_shards(tmp_path / "in")
    out = tmp_path / "out"
    run_dedup(DedupConfig(partitions=4), paths, out, progress=False)
    kept = {p.name: (out / p.name).read_bytes() for p in paths}
    with pytest.raises(ConfigMismatchError) as err:
        run_dedup(DedupConfig(partitions=2), paths, out, progress=False)
    assert err.value.keys == ["config.partitions"]
    run_dedup(DedupConfig(partitions=2), paths, out, overwrite=True, progress=False)
    assert {p.name: (out / p.name).read_bytes() for p in paths} == kept
    assert sorted(p.name for p in (out / META_DIR / CLUSTERS_DIR).glob("*.edges")) == [
        "partition-00000.edges",
        "partition-00001.edges",
    ]


def test_missing_or_damaged_intermediate_files_are_clear_errors(tmp_path: Path) -> None:
    paths = [str(p) for p in spread_shards(tmp_path / "in")]
    with pytest.raises(InputError, match="signatures stage"):
        run_stage(DedupClusterStage(DedupConfig(), tmp_path / "none"), paths, tmp_path / "c")
    out = tmp_path / "out"
    run_dedup(DedupConfig(partitions=2), paths, out, progress=False)
    # Same size, another magic: the signatures marker still trusts it; the partition task names it.
    damaged = out / META_DIR / SIGNATURES_DIR / "b.00001.bkt"
    damaged.write_bytes(b"XXXX" + damaged.read_bytes()[4:])
    (out / META_DIR / CLUSTERS_DIR / META_DIR / "done" / "partition-00001.json").unlink()
    with pytest.raises(StageFailedError, match=r"partition-00001.*b\.00001\.bkt.*not a partition"):
        run_dedup(DedupConfig(partitions=2), paths, out, progress=False)
    stats = json.loads((out / META_DIR / CLUSTERS_DIR / META_DIR / "stats.json").read_text())
    assert stats["failures"] and "partition-00001" in stats["failures"]


def test_partition_tasks_read_one_manifest_not_every_shard_file(tmp_path: Path) -> None:
    """A partition task's one input is the signatures' manifest (the driver checks P files, not
    P x shards); the manifest names the shards in plan order and changes when one is redone."""
    paths = [str(p) for p in spread_shards(tmp_path / "in")]
    out = tmp_path / "out"
    run_dedup(DedupConfig(partitions=3), paths, out, progress=False)
    signatures = out / META_DIR / SIGNATURES_DIR
    manifest = signatures / "manifest.json"
    stage = DedupClusterStage(DedupConfig(partitions=3), signatures)
    tasks = stage.plan(paths)
    assert [t.inputs for t in tasks] == [(str(manifest),)] * 3
    recorded = json.loads(manifest.read_text())
    assert [s[0] for s in recorded["shards"]] == [Path(p).name.split(".")[0] for p in sorted(paths)]
    with pytest.raises(InputError, match="other shards or partitions"):
        stage.plan(paths[:-1])
    with pytest.raises(InputError, match="other shards or partitions"):
        DedupClusterStage(DedupConfig(partitions=2), signatures).plan(paths)
