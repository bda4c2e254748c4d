"""Pure-PyTorch reference of the token log-prob loss: the CPU path and the test oracle.

``log p_t = logit_t[y_t] - logsumexp(logit_t)`` with ``logits = hidden @ weight.T + bias``,
computed over vocabulary chunks so that at most ``[N, chunk_size]`` logits exist at once: the
forward keeps an online log-sum-exp per token, the backward recomputes each chunk's logits and
turns them into ``dlogits = g * (onehot - softmax)`` for any upstream gradient ``g``, then
``dweight[chunk] = dlogits.T @ hidden`` and ``dhidden += dlogits @ weight[chunk]``.

The same algorithm runs in the Triton kernels (``fused_linear_weighted_logprob``), which replace
the chunk's matmul and epilogue by one fused kernel; this file is what they are checked against.
"""

from __future__ import annotations

import torch

# Bytes of fp32 logits a chunk may hold; sets the default vocabulary chunk on each device.
DEFAULT_CHUNK_BYTES = {"cpu": 128 << 20, "cuda": 512 << 20}
_CHUNK_ALIGN = 256


def default_chunk_size(n_tokens: int, vocab: int, device: torch.device) -> int:
    """Vocabulary columns per chunk so that ``n_tokens * chunk`` fp32 logits fit the budget."""
    budget = DEFAULT_CHUNK_BYTES.get(device.type, DEFAULT_CHUNK_BYTES["cpu"])
    chunk = budget // (4 * max(n_tokens, 1))
    chunk = max(_CHUNK_ALIGN, chunk // _CHUNK_ALIGN * _CHUNK_ALIGN)
    return min(chunk, vocab)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Float64 stays float64 (gradcheck); everything else computes in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_linear_inputs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    ignore_index: int,
) -> None:
    """Raise ``ValueError`` with a clear message on shapes or target ids that cannot work."""
    if hidden.dim() != 2 or weight.dim() != 2:
        raise ValueError(
            f"hidden must be [N, H] and weight [V, H]; got {tuple(hidden.shape)} and "
            f"{tuple(weight.shape)}"
        )
    if hidden.shape[1] != weight.shape[1]:
        raise ValueError(
            f"hidden size mismatch: hidden has {hidden.shape[1]}, weight has {weight.shape[1]}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must be [V]={weight.shape[0]}; got {tuple(bias.shape)}")
    check_targets(targets, hidden.shape[0], weight.shape[0], ignore_index)


def check_targets(targets: torch.Tensor, n_tokens: int, vocab: int, ignore_index: int) -> None:
    if targets.dim() != 1 or targets.shape[0] != n_tokens:
        raise ValueError(f"targets must be [N]={n_tokens}; got {tuple(targets.shape)}")
    if targets.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"targets must be int64 or int32; got {targets.dtype}")
    valid = targets != ignore_index
    if bool(valid.any()):
        kept = targets[valid]
        low, high = int(kept.min()), int(kept.max())
        if low < 0 or high >= vocab:
            raise ValueError(
                f"target ids must be in [0, {vocab}) or equal ignore_index={ignore_index}; "
                f"found {low if low < 0 else high}"
            )


def _chunk_logits(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, start: int, stop: int
) -> torch.Tensor:
    dtype = hidden.dtype
    logits = hidden @ weight[start:stop].to(dtype).T
    if bias is not None:
        logits += bias[start:stop].to(dtype)
    return logits


class ChunkedLinearLogprob(torch.autograd.Function):
    """Per-token log-probs of ``hidden @ weight.T + bias`` (0 where ``targets == ignore_index``)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        ignore_index: int,
        chunk_size: int,
    ) -> torch.Tensor:
        dtype = compute_dtype(hidden.dtype)
        n_tokens, vocab = hidden.shape[0], weight.shape[0]
        h = hidden.to(dtype)
        valid = targets != ignore_index
        safe_targets = torch.where(valid, targets, 0).long()
        running_max = torch.full((n_tokens,), float("-inf"), dtype=dtype, device=hidden.device)
        running_sum = torch.zeros(n_tokens, dtype=dtype, device=hidden.device)
        target_logit = torch.zeros(n_tokens, dtype=dtype, device=hidden.device)
        for start in range(0, vocab, chunk_size):
            stop = min(start + chunk_size, vocab)
            logits = _chunk_logits(h, weight, bias, start, stop)
            in_chunk = (safe_targets >= start) & (safe_targets < stop)
            picked = logits.gather(1, (safe_targets - start).clamp(0, stop - start - 1)[:, None])
            target_logit = torch.where(in_chunk, picked[:, 0], target_logit)
            new_max = torch.maximum(running_max, logits.max(dim=1).values)
            logits.sub_(new_max[:, None]).exp_()
            running_sum = running_sum * torch.exp(running_max - new_max) + logits.sum(dim=1)
            running_max = new_max
        lse = running_max + running_sum.log()
        logps = torch.where(valid, target_logit - lse, torch.zeros_like(lse))
        ctx.save_for_backward(hidden, weight, bias, safe_targets, valid, lse)
        ctx.chunk_size = chunk_size
        return logps

    @staticmethod
    def backward(ctx, grad_logps: torch.Tensor):  # type: ignore[override]
        hidden, weight, bias, safe_targets, valid, lse = ctx.saved_tensors
        chunk_size = ctx.chunk_size
        dtype = compute_dtype(hidden.dtype)
        h = hidden.to(dtype)
        g = torch.where(valid, grad_logps.to(dtype), torch.zeros_like(lse))
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], bias is not None
        need_b = need_b and ctx.needs_input_grad[2]
        grad_h = torch.zeros_like(h) if need_h else None
        grad_w = torch.empty(weight.shape, dtype=dtype, device=weight.device) if need_w else None
        grad_b = torch.empty(weight.shape[0], dtype=dtype, device=weight.device) if need_b else None
        rows = torch.arange(h.shape[0], device=h.device)
        for start in range(0, weight.shape[0], chunk_size):
            stop = min(start + chunk_size, weight.shape[0])
            # dlogits = g * (onehot - softmax), built in place in the recomputed logits buffer.
            dlogits = _chunk_logits(h, weight, bias, start, stop)
            dlogits.sub_(lse[:, None]).exp_().mul_(-g[:, None])
            in_chunk = (safe_targets >= start) & (safe_targets < stop)
            hit_rows = rows[in_chunk]
            dlogits[hit_rows, safe_targets[in_chunk] - start] += g[in_chunk]
            if grad_h is not None:
                grad_h.addmm_(dlogits, weight[start:stop].to(dtype))
            if grad_w is not None:
                torch.mm(dlogits.T, h, out=grad_w[start:stop])
            if grad_b is not None:
                grad_b[start:stop] = dlogits.sum(dim=0)
        return (
            grad_h.to(hidden.dtype) if grad_h is not None else None,
            grad_w.to(weight.dtype) if grad_w is not None else None,
            grad_b.to(bias.dtype) if grad_b is not None else None,
            None,
            None,
            None,
        )


def linear_logprobs_torch(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    ignore_index: int = -100,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-token log-probs ``[N]`` of a linear head, memory-bounded by ``N * chunk_size``."""
    check_linear_inputs(hidden, weight, bias, targets, ignore_index)
    if chunk_size is None:
        chunk_size = default_chunk_size(hidden.shape[0], weight.shape[0], hidden.device)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
    return ChunkedLinearLogprob.apply(hidden, weight, bias, targets, ignore_index, chunk_size)


class ChunkedLogitsLogprob(torch.autograd.Function):
    """Per-token log-probs from given logits ``[N, V]``, row-chunked so temporaries stay small."""

    @staticmethod
    def forward(ctx, logits, targets, ignore_index, chunk_rows):  # type: ignore[override]
        dtype = compute_dtype(logits.dtype)
        valid = targets != ignore_index
        safe_targets = torch.where(valid, targets, 0).long()
        lse = torch.empty(logits.shape[0], dtype=dtype, device=logits.device)
        for start in range(0, logits.shape[0], chunk_rows):
            lse[start : start + chunk_rows] = torch.logsumexp(
                logits[start : start + chunk_rows].to(dtype), dim=1
            )
        picked = logits.gather(1, safe_targets[:, None])[:, 0].to(dtype)
        logps = torch.where(valid, picked - lse, torch.zeros_like(lse))
        ctx.save_for_backward(logits, safe_targets, valid, lse)
        ctx.chunk_rows = chunk_rows
        return logps

    @staticmethod
    def backward(ctx, grad_logps):  # type: ignore[override]
        logits, safe_targets, valid, lse = ctx.saved_tensors
        dtype = lse.dtype
        g = torch.where(valid, grad_logps.to(dtype), torch.zeros_like(lse))
        grad = torch.empty_like(logits)
        step = ctx.chunk_rows
        for start in range(0, logits.shape[0], step):
            stop = min(start + step, logits.shape[0])
            # copy=True: for float32/64 logits .to() would alias the saved input.
            d = logits[start:stop].to(dtype, copy=True)
            d.sub_(lse[start:stop, None]).exp_().mul_(-g[start:stop, None])
            d.scatter_add_(1, safe_targets[start:stop, None], g[start:stop, None])
            grad[start:stop] = d
        return grad, None, None, None


def logits_logprobs_torch(
    logits: torch.Tensor,
    targets: torch.Tensor,
    ignore_index: int = -100,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-token log-probs ``[N]`` from logits ``[N, V]``; ``chunk_size`` counts rows here."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be [N, V]; got {tuple(logits.shape)}")
    check_targets(targets, logits.shape[0], logits.shape[1], ignore_index)
    if chunk_size is None:
        chunk_size = max(1, (DEFAULT_CHUNK_BYTES["cpu"] // 4) // max(logits.shape[1], 1))
    return ChunkedLogitsLogprob.apply(logits, targets, ignore_index, chunk_size)


def naive_linear_logprobs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    ignore_index: int = -100,
) -> torch.Tensor:
    """Full logits, ``log_softmax``, gather: the textbook path (and TRL's classic one).

    Memory grows with ``N * V``; used as the oracle in tests (in float64) and as the baseline
    in the benchmarks.
    """
    logits = hidden @ weight.T
    if bias is not None:
        logits = logits + bias
    return naive_logits_logprobs(logits, targets, ignore_index)


def naive_logits_logprobs(
    logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    valid = targets != ignore_index
    safe_targets = torch.where(valid, targets, 0).long()
    logps = logits.log_softmax(dim=-1).gather(-1, safe_targets[..., None])[..., 0]
    return torch.where(valid, logps, torch.zeros_like(logps))
