"""Triton kernels: per-token log-probs from logits the caller already holds.

One program per token row streams the row in ``BLOCK_V`` tiles with an online log-sum-exp
(float32), so no float32 copy of the logits is made; the backward streams the row again and
writes ``g * (onehot - softmax)`` in the logits' dtype, the only ``[N, V]`` tensor it allocates
(the gradient itself).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from alignkit.kernels.reference import check_targets, logits_logprobs_torch

BLOCK_V = 4096


@triton.jit
def _row_lse_kernel(
    logits_ptr, targets_ptr, lse_ptr, target_logit_ptr, n_vocab, stride_row, BLOCK_V: tl.constexpr
):
    row = tl.program_id(0)
    row_ptr = logits_ptr + row.to(tl.int64) * stride_row
    offs = tl.arange(0, BLOCK_V)
    running_max = tl.full((BLOCK_V,), float("-inf"), dtype=tl.float32)
    running_sum = tl.zeros((BLOCK_V,), dtype=tl.float32)
    for start in range(0, n_vocab, BLOCK_V):
        cols = start + offs
        x = tl.load(row_ptr + cols, mask=cols < n_vocab, other=float("-inf")).to(tl.float32)
        new_max = tl.maximum(running_max, x)
        # Lanes still at -inf would give exp(nan); keep their sum at 0.
        scale = tl.where(new_max == float("-inf"), 0.0, tl.exp(running_max - new_max))
        gain = tl.where(new_max == float("-inf"), 0.0, tl.exp(x - new_max))
        running_sum = running_sum * scale + gain
        running_max = new_max
    row_max = tl.max(running_max, axis=0)
    lane_sum = tl.where(running_max == float("-inf"), 0.0, tl.exp(running_max - row_max))
    lse = row_max + tl.log(tl.sum(running_sum * lane_sum, axis=0))
    tl.store(lse_ptr + row, lse)
    target = tl.load(targets_ptr + row)
    safe = tl.where(target >= 0, target, 0)
    picked = tl.load(row_ptr + safe).to(tl.float32)
    tl.store(target_logit_ptr + row, tl.where(target >= 0, picked, 0.0))


@triton.jit
def _row_grad_kernel(
    logits_ptr,
    targets_ptr,
    lse_ptr,
    grad_ptr,
    out_ptr,
    n_vocab,
    stride_row,
    stride_out,
    BLOCK_V: tl.constexpr,
):
    row = tl.program_id(0)
    row_ptr = logits_ptr + row.to(tl.int64) * stride_row
    out_row = out_ptr + row.to(tl.int64) * stride_out
    lse = tl.load(lse_ptr + row)
    g = tl.load(grad_ptr + row)
    target = tl.load(targets_ptr + row)
    offs = tl.arange(0, BLOCK_V)
    for start in range(0, n_vocab, BLOCK_V):
        cols = start + offs
        ok = cols < n_vocab
        x = tl.load(row_ptr + cols, mask=ok, other=0.0).to(tl.float32)
        d = g * ((cols == target).to(tl.float32) - tl.exp(x - lse))
        tl.store(out_row + cols, d.to(out_ptr.dtype.element_ty), mask=ok)


class LogitsLogprob(torch.autograd.Function):
    """Triton twin of ``reference.ChunkedLogitsLogprob``."""

    @staticmethod
    def forward(ctx, logits, targets, ignore_index):  # type: ignore[override]
        n_rows, n_vocab = logits.shape
        valid = targets != ignore_index
        kernel_targets = torch.where(valid, targets, -1).to(torch.int32).contiguous()
        lse = torch.empty(n_rows, dtype=torch.float32, device=logits.device)
        target_logit = torch.empty_like(lse)
        if n_rows:
            _row_lse_kernel[(n_rows,)](
                logits, kernel_targets, lse, target_logit, n_vocab, logits.stride(0), BLOCK_V
            )
        ctx.save_for_backward(logits, kernel_targets, valid, lse)
        return torch.where(valid, target_logit - lse, torch.zeros_like(lse))

    @staticmethod
    def backward(ctx, grad_logps):  # type: ignore[override]
        logits, kernel_targets, valid, lse = ctx.saved_tensors
        grad = torch.where(valid, grad_logps.float(), torch.zeros_like(lse)).contiguous()
        out = torch.empty_like(logits)
        if logits.shape[0]:
            _row_grad_kernel[(logits.shape[0],)](
                logits,
                kernel_targets,
                lse,
                grad,
                out,
                logits.shape[1],
                logits.stride(0),
                out.stride(0),
                BLOCK_V,
            )
        return out, None, None


def logits_logprobs_triton(
    logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Per-token log-probs ``[N]`` (float32) from ``logits [N, V]``; float64 uses the reference."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be [N, V]; got {tuple(logits.shape)}")
    check_targets(targets, logits.shape[0], logits.shape[1], ignore_index)
    if logits.dtype == torch.float64:
        return logits_logprobs_torch(logits, targets, ignore_index)
    logits = logits if logits.stride(-1) == 1 else logits.contiguous()
    return LogitsLogprob.apply(logits, targets, ignore_index)
