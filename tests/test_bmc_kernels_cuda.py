"""The Triton kernels compiled for a real GPU, against a float64 reference. Skipped without CUDA.

Errors are relative norms ``|out - ref| / |ref|`` (per tensor), with bounds per input dtype:
fp32 runs in full fp32 ("ieee" dots), bf16 rounds the operands and dlogits.
"""

from __future__ import annotations

import pytest
import torch

from alignkit.bmc import weighted_token_logps, weighted_token_logps_from_logits
from alignkit.kernels.reference import naive_linear_logprobs, naive_logits_logprobs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2}


def _rel(out: torch.Tensor, ref: torch.Tensor) -> float:
    assert torch.isfinite(out).all()
    return float((out.double() - ref).norm() / ref.norm().clamp_min(1e-30))


def _inputs(n_seq, seq, hidden, vocab, dtype, bias):
    gen = torch.Generator(device="cuda").manual_seed(n_seq * 7919 + vocab)
    h = torch.randn(n_seq, seq, hidden, device="cuda", generator=gen).to(dtype)
    w = (torch.randn(vocab, hidden, device="cuda", generator=gen) / hidden**0.5).to(dtype)
    b = torch.randn(vocab, device="cuda", generator=gen).to(dtype) if bias else None
    targets = torch.randint(0, vocab, (n_seq, seq), device="cuda", generator=gen)
    targets[0, : seq // 3] = -100
    targets[-1] = -100  # an all-ignored row
    weights = torch.randn(n_seq, seq, device="cuda", generator=gen)
    weights[:, ::5] = 0.0
    return h, w, b, targets, weights


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(
    ("n_seq", "seq", "hidden", "vocab", "bias", "chunk"),
    [
        (3, 37, 96, 1000, True, None),
        (4, 129, 256, 5003, False, 1280),
        (2, 600, 1024, 32011, True, None),
    ],
)
def test_fused_linear_matches_float64(n_seq, seq, hidden, vocab, bias, chunk, dtype):
    h, w, b, targets, weights = _inputs(n_seq, seq, hidden, vocab, dtype, bias)
    params = [h.requires_grad_(), w.requires_grad_()] + ([b.requires_grad_()] if bias else [])
    logps, sums = weighted_token_logps(
        h, w, targets, weights, bias=b, impl="triton", chunk_size=chunk
    )
    up_tok = torch.randn_like(logps)
    up_seq = torch.randn_like(sums)
    grads = torch.autograd.grad((logps * up_tok).sum() + (sums * up_seq).sum(), params)

    ref_params = [p.detach().double().requires_grad_() for p in params]
    hd, wd = ref_params[0], ref_params[1]
    bd = ref_params[2] if bias else None
    ref = naive_linear_logprobs(hd.reshape(-1, hidden), wd, bd, targets.reshape(-1))
    ref = ref.view(n_seq, seq)
    ref_sums = (ref * weights.double() * (targets != -100)).sum(-1)
    ref_grads = torch.autograd.grad(
        (ref * up_tok.double()).sum() + (ref_sums * up_seq.double()).sum(), ref_params
    )
    tol = TOLERANCE[dtype]
    assert _rel(logps, ref) < tol
    assert _rel(sums, ref_sums) < tol
    assert (logps[-1] == 0).all()
    for got, want in zip(grads, ref_grads, strict=True):
        assert _rel(got, want) < tol * 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_from_logits_matches_float64(dtype):
    gen = torch.Generator(device="cuda").manual_seed(3)
    logits = (torch.randn(5, 77, 50_000, device="cuda", generator=gen) * 3).to(dtype)
    targets = torch.randint(0, 50_000, (5, 77), device="cuda", generator=gen)
    targets[1, :10] = -100
    mask = torch.rand(5, 77, device="cuda", generator=gen) < 0.3
    logits.requires_grad_()
    logps, sums = weighted_token_logps_from_logits(logits, targets, varied_mask=mask, impl="triton")
    (grad,) = torch.autograd.grad(sums.sum() + logps.sum(), [logits])
    ld = logits.detach().double().requires_grad_()
    ref = naive_logits_logprobs(ld, targets)
    w = 1 + mask.double() * torch.exp(-ref.detach()).clamp(max=2.0)
    ref_sums = (w * ref).sum(-1)
    (ref_grad,) = torch.autograd.grad(ref_sums.sum() + ref.sum(), [ld])
    tol = TOLERANCE[dtype]
    assert _rel(logps, ref) < tol
    assert _rel(sums, ref_sums) < tol
    assert _rel(grad, ref_grad) < tol * 2


@pytest.mark.parametrize("tma", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_both_tile_loaders_match_float64(tma, dtype):
    """Pointer loads and TMA descriptor loads, whichever is the default on this GPU."""
    from dataclasses import replace

    from alignkit.kernels import fused_linear_weighted_logprob as fused

    if tma and torch.cuda.get_device_capability()[0] < 9:
        pytest.skip("TMA needs compute capability 9.0+")
    h, w, b, targets, _ = _inputs(3, 211, 512, 20_011, dtype, bias=True)
    h2, t2 = h.reshape(-1, 512).requires_grad_(), targets.reshape(-1)
    w.requires_grad_()
    b.requires_grad_()
    cfg = replace(fused.pick_config(dtype, h.device), tma=tma)
    logps = fused.linear_logprobs_triton(h2, w, b, t2, chunk_size=4096, config=cfg)
    up = torch.randn_like(logps)
    grads = torch.autograd.grad((logps * up).sum(), [h2, w, b])
    ref_params = [p.detach().double().requires_grad_() for p in (h2, w, b)]
    ref = naive_linear_logprobs(*ref_params, t2)
    ref_grads = torch.autograd.grad((ref * up.double()).sum(), ref_params)
    tol = TOLERANCE[dtype]
    assert _rel(logps, ref) < tol
    for got, want in zip(grads, ref_grads, strict=True):
        assert _rel(got, want) < tol * 2


def test_fp32_states_with_bf16_head_compute_in_bf16():
    """Autocast-style inputs: gradients come back in each input's own dtype."""
    h, w, _, targets, _ = _inputs(2, 64, 256, 3001, torch.bfloat16, bias=False)
    h32 = h.float().requires_grad_()
    w.requires_grad_()
    logps, _ = weighted_token_logps(h32, w, targets, impl="triton")
    grad_h, grad_w = torch.autograd.grad(logps.sum(), [h32, w])
    assert grad_h.dtype == torch.float32 and grad_w.dtype == torch.bfloat16
    ref = naive_linear_logprobs(h.double().reshape(-1, 256), w.detach().double(), None,
                                targets.reshape(-1))  # fmt: skip
    assert _rel(logps.reshape(-1), ref) < TOLERANCE[torch.bfloat16]
