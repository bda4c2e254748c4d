"""Triton kernels: per-token log-probs of a linear LM head without writing the logits.

Forward: one program per ``[BLOCK_M tokens, BLOCK_N vocab]`` tile computes the logits tile with
``tl.dot`` (fp32 accumulation) and keeps only the tile's log-sum-exp per token and, where the
target falls in the tile, the target's logit; a ``[N, V / BLOCK_N]`` float32 table of tile
log-sum-exps is reduced afterwards (``BLOCK_N`` times smaller than the logits). Programs are
ordered in groups of ``GROUP_M`` token blocks so that tiles running together share LM-head rows
in L2, as in a grouped GEMM.

Backward: per vocabulary chunk, a kernel recomputes the logits tile and writes
``dlogits = g * (onehot - exp(logit - lse))`` for that chunk only (``[N, chunk]``, input dtype);
cuBLAS then forms ``dweight[chunk] = dlogits.T @ hidden`` (one rounding per element) and
accumulates ``dhidden += dlogits @ weight[chunk]`` in float32. Peak extra memory is the chunk
plus the fp32 ``dhidden`` accumulator; nothing of size ``[N, V]`` is allocated.

The arithmetic is the one of ``alignkit.kernels.reference`` (the test oracle).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import torch
import triton
import triton.language as tl

from alignkit.kernels.reference import check_linear_inputs, linear_logprobs_torch

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
LOG2E = 1.4426950408889634


@dataclass(frozen=True)
class TileConfig:
    """Tile shape and launch settings of both kernels."""

    block_m: int = 128
    block_n: int = 256
    block_k: int = 64
    group_m: int = 8
    num_warps: int = 8
    num_stages: int = 3
    # Load tiles through the bulk tensor copy engine (TMA descriptors; Hopper and later).
    tma: bool = False


# Tuned on an H100 (BENCHMARKS.md): TMA loads took the forward from 572 to 710 TFLOP/s there;
# GPUs before Hopper fall back to pointer loads. fp32 runs in full fp32 ("ieee"), smaller tiles.
HALF_CONFIG = TileConfig(group_m=16, tma=True)
FP32_CONFIG = TileConfig(block_m=64, block_n=128, block_k=32, num_warps=4, num_stages=3)
INTERPRETER_CONFIG = TileConfig(block_m=16, block_n=32, block_k=16, group_m=2, num_warps=1)


def pick_config(dtype: torch.dtype, device: torch.device | None = None) -> TileConfig:
    if INTERPRET:
        return INTERPRETER_CONFIG
    cfg = FP32_CONFIG if dtype == torch.float32 else HALF_CONFIG
    if cfg.tma and not (device is not None and device.type == "cuda" and _has_tma(device)):
        cfg = replace(cfg, tma=False)
    return cfg


def _has_tma(device: torch.device) -> bool:
    return torch.cuda.get_device_capability(device)[0] >= 9


def _tma_compatible(t: torch.Tensor) -> bool:
    # TMA needs 16-byte aligned base and row stride.
    size = t.element_size()
    return t.data_ptr() % 16 == 0 and (t.stride(0) * size) % 16 == 0


@triton.jit
def _tile_coords(
    pid, n_rows, n_cols, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr
):
    # Grouped order: GROUP_M token blocks sweep the vocabulary together, sharing weight tiles.
    pids_m = tl.cdiv(n_rows, BLOCK_M)
    pids_n = tl.cdiv(n_cols, BLOCK_N)
    per_group = GROUP_M * pids_n
    first_m = (pid // per_group) * GROUP_M
    group_rows = tl.minimum(pids_m - first_m, GROUP_M)
    pid_m = first_m + (pid % per_group) % group_rows
    pid_n = (pid % per_group) // group_rows
    return pid_m, pid_n


@triton.jit
def _logits_tile(
    hidden_ptr,
    weight_ptr,
    bias_ptr,
    offs_m,
    offs_n,
    n_tokens,
    n_vocab,
    n_hidden,
    stride_h,
    stride_w,
    HAS_BIAS: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    offs_k = tl.arange(0, BLOCK_K)
    row_ok = offs_m < n_tokens
    col_ok = offs_n < n_vocab
    h_ptrs = hidden_ptr + offs_m[:, None].to(tl.int64) * stride_h + offs_k[None, :]
    w_ptrs = weight_ptr + offs_n[:, None].to(tl.int64) * stride_w + offs_k[None, :]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(n_hidden, BLOCK_K)):
        k_ok = offs_k < n_hidden - k * BLOCK_K
        a = tl.load(h_ptrs, mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        b = tl.load(w_ptrs, mask=col_ok[:, None] & k_ok[None, :], other=0.0)
        acc = tl.dot(a, tl.trans(b), acc, input_precision=DOT_PRECISION)
        h_ptrs += BLOCK_K
        w_ptrs += BLOCK_K
    if HAS_BIAS:
        acc += tl.load(bias_ptr + offs_n, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    return acc


@triton.jit
def _logits_tile_tma(
    hidden_desc,
    weight_desc,
    bias_ptr,
    row0,
    col0,
    offs_n,
    n_vocab,
    n_hidden,
    HAS_BIAS: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # The descriptors zero-fill out-of-bounds rows and columns, so no masks are needed.
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(n_hidden, BLOCK_K)):
        a = hidden_desc.load([row0, k * BLOCK_K])
        b = weight_desc.load([col0, k * BLOCK_K])
        acc = tl.dot(a, tl.trans(b), acc, input_precision=DOT_PRECISION)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + offs_n, mask=offs_n < n_vocab, other=0.0).to(tl.float32)[None, :]
    return acc


@triton.jit
def _forward_kernel(
    hidden_ptr,
    weight_ptr,
    bias_ptr,
    targets_ptr,
    tile_lse_ptr,
    target_logit_ptr,
    n_tokens,
    n_vocab,
    n_hidden,
    stride_h,
    stride_w,
    n_vocab_tiles,
    HAS_BIAS: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    USE_TMA: tl.constexpr,
):
    pid_m, pid_n = _tile_coords(tl.program_id(0), n_tokens, n_vocab, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    if USE_TMA:
        logits = _logits_tile_tma(
            hidden_ptr, weight_ptr, bias_ptr, pid_m * BLOCK_M, pid_n * BLOCK_N, offs_n, n_vocab,
            n_hidden, HAS_BIAS, DOT_PRECISION, BLOCK_M, BLOCK_N, BLOCK_K,
        )  # fmt: skip
    else:
        logits = _logits_tile(
            hidden_ptr, weight_ptr, bias_ptr, offs_m, offs_n, n_tokens, n_vocab, n_hidden,
            stride_h, stride_w, HAS_BIAS, DOT_PRECISION, BLOCK_M, BLOCK_N, BLOCK_K,
        )  # fmt: skip
    row_ok = offs_m < n_tokens
    logits = tl.where((offs_n < n_vocab)[None, :], logits, float("-inf"))
    tile_max = tl.max(logits, axis=1)
    tile_sum = tl.sum(tl.exp2((logits - tile_max[:, None]) * 1.4426950408889634), axis=1)
    tile_lse = tile_max + tl.log(tile_sum)
    tl.store(tile_lse_ptr + offs_m.to(tl.int64) * n_vocab_tiles + pid_n, tile_lse, mask=row_ok)
    # Each kept target lies in exactly one tile, so exactly one program writes its logit.
    targets = tl.load(targets_ptr + offs_m, mask=row_ok, other=-1)
    in_tile = (targets >= pid_n * BLOCK_N) & (targets < pid_n * BLOCK_N + BLOCK_N)
    picked = tl.sum(tl.where(offs_n[None, :] == targets[:, None], logits, 0.0), axis=1)
    tl.store(target_logit_ptr + offs_m, picked, mask=row_ok & in_tile)


@triton.jit
def _dlogits_kernel(
    hidden_ptr,
    weight_ptr,
    bias_ptr,
    targets_ptr,
    lse_ptr,
    grad_ptr,
    dlogits_ptr,
    n_tokens,
    n_vocab,
    n_hidden,
    stride_h,
    stride_w,
    stride_d,
    vocab_start,
    chunk_cols,
    HAS_BIAS: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    USE_TMA: tl.constexpr,
):
    pid_m, pid_n = _tile_coords(tl.program_id(0), n_tokens, chunk_cols, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    local_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_n = vocab_start + local_n
    chunk_end = tl.minimum(vocab_start + chunk_cols, n_vocab)
    if USE_TMA:
        logits = _logits_tile_tma(
            hidden_ptr, weight_ptr, bias_ptr, pid_m * BLOCK_M, vocab_start + pid_n * BLOCK_N,
            offs_n, chunk_end, n_hidden, HAS_BIAS, DOT_PRECISION, BLOCK_M, BLOCK_N, BLOCK_K,
        )  # fmt: skip
    else:
        logits = _logits_tile(
            hidden_ptr, weight_ptr, bias_ptr, offs_m, offs_n, n_tokens, chunk_end, n_hidden,
            stride_h, stride_w, HAS_BIAS, DOT_PRECISION, BLOCK_M, BLOCK_N, BLOCK_K,
        )  # fmt: skip
    row_ok = offs_m < n_tokens
    lse = tl.load(lse_ptr + offs_m, mask=row_ok, other=0.0)
    grad = tl.load(grad_ptr + offs_m, mask=row_ok, other=0.0)
    targets = tl.load(targets_ptr + offs_m, mask=row_ok, other=-1)
    prob = tl.exp2((logits - lse[:, None]) * 1.4426950408889634)
    onehot = (offs_n[None, :] == targets[:, None]).to(tl.float32)
    dlogits = grad[:, None] * (onehot - prob)
    d_ptrs = dlogits_ptr + offs_m[:, None].to(tl.int64) * stride_d + local_n[None, :]
    mask = row_ok[:, None] & (offs_n < chunk_end)[None, :]
    tl.store(d_ptrs, dlogits.to(dlogits_ptr.dtype.element_ty), mask=mask)


def _dot_precision(dtype: torch.dtype) -> str:
    # Full fp32 for fp32 callers (tf32 would cost ~1e-3 relative error); halves use the MMA units.
    return "ieee" if dtype == torch.float32 else "tf32"


def _grid(rows: int, cols: int, cfg: TileConfig) -> tuple[int]:
    return (triton.cdiv(rows, cfg.block_m) * triton.cdiv(cols, cfg.block_n),)


def _sources(hidden: torch.Tensor, weight: torch.Tensor, cfg: TileConfig) -> tuple:
    """What the kernels read hidden and weight through: TMA descriptors or plain pointers."""
    if not cfg.tma:
        return hidden, weight
    from triton.tools.tensor_descriptor import TensorDescriptor

    return (
        TensorDescriptor.from_tensor(hidden, [cfg.block_m, cfg.block_k]),
        TensorDescriptor.from_tensor(weight, [cfg.block_n, cfg.block_k]),
    )


def _launch_kw(cfg: TileConfig) -> dict:
    return dict(
        BLOCK_M=cfg.block_m,
        BLOCK_N=cfg.block_n,
        BLOCK_K=cfg.block_k,
        GROUP_M=cfg.group_m,
        USE_TMA=cfg.tma,
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )


def forward_lse(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    cfg: TileConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token ``(log-sum-exp, target logit)`` in float32; targets < 0 get a 0 target logit."""
    n_tokens, n_hidden = hidden.shape
    n_vocab = weight.shape[0]
    n_vocab_tiles = triton.cdiv(n_vocab, cfg.block_n)
    tile_lse = torch.empty((n_tokens, n_vocab_tiles), dtype=torch.float32, device=hidden.device)
    target_logit = torch.zeros(n_tokens, dtype=torch.float32, device=hidden.device)
    hidden_src, weight_src = _sources(hidden, weight, cfg)
    _forward_kernel[_grid(n_tokens, n_vocab, cfg)](
        hidden_src,
        weight_src,
        bias if bias is not None else hidden,
        targets,
        tile_lse,
        target_logit,
        n_tokens,
        n_vocab,
        n_hidden,
        hidden.stride(0),
        weight.stride(0),
        n_vocab_tiles,
        HAS_BIAS=bias is not None,
        DOT_PRECISION=_dot_precision(hidden.dtype),
        **_launch_kw(cfg),
    )
    return torch.logsumexp(tile_lse, dim=1), target_logit


def _addmm_fp32(acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """``acc += a @ b`` with ``acc`` float32, without rounding the product to ``a``'s dtype."""
    if a.dtype == torch.float32:
        acc.addmm_(a, b)
        return
    if a.is_cuda:
        try:
            torch.addmm(acc, a, b, out_dtype=torch.float32, out=acc)
            return
        except (TypeError, RuntimeError):
            pass
    acc.addmm_(a.float(), b.float())


def default_vocab_chunk(n_tokens: int, n_vocab: int, cfg: TileConfig) -> int:
    """Columns per backward chunk: about 512 MiB of fp32-equivalent dlogits, tile-aligned."""
    cols = (512 << 20) // (4 * max(n_tokens, 1))
    cols = max(cfg.block_n, cols // cfg.block_n * cfg.block_n)
    return min(cols, triton.cdiv(n_vocab, cfg.block_n) * cfg.block_n)


class FusedLinearLogprob(torch.autograd.Function):
    """Triton twin of ``reference.ChunkedLinearLogprob`` (same inputs, same outputs)."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, ignore_index, chunk_size, cfg):  # type: ignore[override]
        valid = targets != ignore_index
        kernel_targets = torch.where(valid, targets, -1).to(torch.int32).contiguous()
        lse, target_logit = forward_lse(hidden, weight, bias, kernel_targets, cfg)
        logps = torch.where(valid, target_logit - lse, torch.zeros_like(lse))
        ctx.save_for_backward(hidden, weight, bias, kernel_targets, valid, lse)
        ctx.chunk_size = chunk_size
        ctx.cfg = cfg
        return logps

    @staticmethod
    def backward(ctx, grad_logps):  # type: ignore[override]
        hidden, weight, bias, kernel_targets, valid, lse = ctx.saved_tensors
        cfg: TileConfig = ctx.cfg
        n_tokens, n_hidden = hidden.shape
        n_vocab = weight.shape[0]
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = bias is not None and ctx.needs_input_grad[2]
        grad = torch.where(valid, grad_logps.float(), torch.zeros_like(lse)).contiguous()
        chunk = ctx.chunk_size or default_vocab_chunk(n_tokens, n_vocab, cfg)
        chunk = min(max(cfg.block_n, math.ceil(chunk / cfg.block_n) * cfg.block_n), n_vocab)
        grad_h = (
            torch.zeros((n_tokens, n_hidden), dtype=torch.float32, device=hidden.device)
            if need_h
            else None
        )
        grad_w = torch.empty_like(weight) if need_w else None
        grad_b = torch.empty(n_vocab, dtype=torch.float32, device=hidden.device) if need_b else None
        buffer = torch.empty((n_tokens, chunk), dtype=hidden.dtype, device=hidden.device)
        hidden_src, weight_src = _sources(hidden, weight, cfg)
        for start in range(0, n_vocab, chunk):
            cols = min(chunk, n_vocab - start)
            dlogits = buffer[:, :cols]
            _dlogits_kernel[_grid(n_tokens, cols, cfg)](
                hidden_src,
                weight_src,
                bias if bias is not None else hidden,
                kernel_targets,
                lse,
                grad,
                dlogits,
                n_tokens,
                n_vocab,
                n_hidden,
                hidden.stride(0),
                weight.stride(0),
                dlogits.stride(0),
                start,
                cols,
                HAS_BIAS=bias is not None,
                DOT_PRECISION=_dot_precision(hidden.dtype),
                **_launch_kw(cfg),
            )
            if grad_w is not None:
                torch.mm(dlogits.T, hidden, out=grad_w[start : start + cols])
            if grad_h is not None:
                _addmm_fp32(grad_h, dlogits, weight[start : start + cols])
            if grad_b is not None:
                grad_b[start : start + cols] = dlogits.float().sum(dim=0)
        return (
            grad_h.to(hidden.dtype) if grad_h is not None else None,
            grad_w,
            grad_b.to(bias.dtype) if grad_b is not None else None,
            None,
            None,
            None,
            None,
        )


def linear_logprobs_triton(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    ignore_index: int = -100,
    chunk_size: int | None = None,
    config: TileConfig | None = None,
) -> torch.Tensor:
    """Per-token log-probs ``[N]`` (float32) through the Triton kernels.

    float64 inputs go to the PyTorch reference (Triton's MMA paths have no float64); a hidden
    state whose dtype differs from the head's is cast to the head's dtype.
    ``chunk_size`` is the vocabulary columns per backward chunk.
    """
    check_linear_inputs(hidden, weight, bias, targets, ignore_index)
    if torch.float64 in (hidden.dtype, weight.dtype):
        return linear_logprobs_torch(hidden, weight, bias, targets, ignore_index, chunk_size)
    # Mixed precision (fp32 states from autocast, bf16 head): compute in the head's dtype; the
    # casts are differentiable, so gradients come back in each input's own dtype.
    hidden = hidden.to(weight.dtype)
    bias = None if bias is None else bias.to(weight.dtype)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
    if hidden.shape[0] == 0 or weight.shape[0] == 0:
        # Nothing to launch; the reference handles the empty shapes (and their gradients).
        return linear_logprobs_torch(hidden, weight, bias, targets, ignore_index, chunk_size)
    cfg = config or pick_config(hidden.dtype, hidden.device)
    hidden = hidden if hidden.stride(-1) == 1 else hidden.contiguous()
    weight = weight if weight.stride(-1) == 1 else weight.contiguous()
    if cfg.tma and not (_tma_compatible(hidden) and _tma_compatible(weight)):
        cfg = replace(cfg, tma=False)
    bias = None if bias is None else bias.contiguous()
    return FusedLinearLogprob.apply(hidden, weight, bias, targets, ignore_index, chunk_size, cfg)
