"""Memory-bounded per-token log-prob kernels (Triton on CUDA, chunked PyTorch elsewhere).

- ``reference``: pure PyTorch, chunked over the vocabulary; the CPU path and the test oracle.
- ``fused_linear_weighted_logprob``: Triton, hidden states and LM head in, never full logits.
- ``weighted_logprob_from_logits``: Triton, for callers that already hold the logits.

The Triton modules are imported only when a Triton implementation is asked for, so this package
works without Triton (and without alignkit's compiled extension).
"""

from __future__ import annotations

import importlib.util

import torch

from alignkit.kernels.reference import (
    linear_logprobs_torch,
    logits_logprobs_torch,
    naive_linear_logprobs,
    naive_logits_logprobs,
)

IMPLS = ("auto", "triton", "torch")

__all__ = [
    "IMPLS",
    "linear_logprobs",
    "linear_logprobs_torch",
    "logits_logprobs",
    "logits_logprobs_torch",
    "naive_linear_logprobs",
    "naive_logits_logprobs",
    "resolve_impl",
    "triton_available",
]


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def resolve_impl(impl: str, device: torch.device) -> str:
    """``auto`` means Triton for CUDA tensors when Triton is importable, else PyTorch."""
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    if impl == "auto":
        return "triton" if device.type == "cuda" and triton_available() else "torch"
    if impl == "triton" and not triton_available():
        raise RuntimeError("impl='triton' needs the triton package, which is not importable")
    return impl


def linear_logprobs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    ignore_index: int = -100,
    chunk_size: int | None = None,
    impl: str = "auto",
) -> torch.Tensor:
    """Per-token log-probs ``[N]`` of ``hidden [N, H] @ weight [V, H].T (+ bias)`` at ``targets``.

    Positions equal to ``ignore_index`` give 0 and no gradient. Differentiable w.r.t. hidden,
    weight and bias for any upstream gradient; the logits are recomputed in the backward.
    """
    if resolve_impl(impl, hidden.device) == "triton":
        from alignkit.kernels.fused_linear_weighted_logprob import linear_logprobs_triton

        return linear_logprobs_triton(hidden, weight, bias, targets, ignore_index, chunk_size)
    return linear_logprobs_torch(hidden, weight, bias, targets, ignore_index, chunk_size)


def logits_logprobs(
    logits: torch.Tensor,
    targets: torch.Tensor,
    ignore_index: int = -100,
    chunk_size: int | None = None,
    impl: str = "auto",
) -> torch.Tensor:
    """Per-token log-probs ``[N]`` from ``logits [N, V]``; same semantics as ``linear_logprobs``."""
    if resolve_impl(impl, logits.device) == "triton":
        from alignkit.kernels.weighted_logprob_from_logits import logits_logprobs_triton

        return logits_logprobs_triton(logits, targets, ignore_index)
    return logits_logprobs_torch(logits, targets, ignore_index, chunk_size)
