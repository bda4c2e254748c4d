"""The Triton kernels run by Triton's CPU interpreter on tiny shapes, against float64 oracles.

``TRITON_INTERPRET=1`` must be set before any ``@triton.jit`` runs, so the checks run in one
subprocess (the rest of the test session may import the kernels compiled for a GPU). Inputs are
float32 with full-precision dots; shapes are odd on purpose (vocabulary not a multiple of the
tile or the chunk, ignored positions, an all-ignored sequence, zero and negative weights).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("triton")

pytestmark = pytest.mark.slow  # the Triton interpreter in a subprocess

CHECKS = r"""
import json, torch
from dataclasses import replace
from alignkit.kernels import fused_linear_weighted_logprob as fused
from alignkit.bmc import weighted_token_logps, weighted_token_logps_from_logits
from alignkit.kernels.reference import naive_linear_logprobs, naive_logits_logprobs

def rel(a, b):
    return float((a.double() - b).norm() / b.norm().clamp_min(1e-30))

out = {}
cases = {"bias_chunked": (3, 7, 20, 101, True, 40), "no_bias": (2, 9, 33, 70, False, None)}
for name, (n_seq, seq, hidden, vocab, bias, chunk) in cases.items():
    gen = torch.Generator().manual_seed(vocab)
    h = torch.randn(n_seq, seq, hidden, generator=gen)
    w = torch.randn(vocab, hidden, generator=gen) / hidden ** 0.5
    b = torch.randn(vocab, generator=gen) if bias else None
    t = torch.randint(0, vocab, (n_seq, seq), generator=gen)
    t[0, :3] = -100
    t[-1] = -100
    wts = torch.randn(n_seq, seq, generator=gen)
    wts[:, ::2] = 0.0
    params = [h.requires_grad_(), w.requires_grad_()] + ([b.requires_grad_()] if bias else [])
    lp, sums = weighted_token_logps(h, w, t, wts, bias=b, impl="triton", chunk_size=chunk)
    g_tok, g_seq = torch.randn(lp.shape, generator=gen), torch.randn(sums.shape, generator=gen)
    grads = torch.autograd.grad((lp * g_tok).sum() + (sums * g_seq).sum(), params)
    ref_params = [p.detach().double().requires_grad_() for p in params]
    ref = naive_linear_logprobs(
        ref_params[0].reshape(-1, hidden), ref_params[1], ref_params[2] if bias else None,
        t.reshape(-1),
    ).view(t.shape)
    ref_sums = (ref * wts.double() * (t != -100)).sum(-1)
    ref_grads = torch.autograd.grad(
        (ref * g_tok.double()).sum() + (ref_sums * g_seq.double()).sum(), ref_params
    )
    out[name] = dict(
        logps=rel(lp, ref), sums=rel(sums, ref_sums),
        grads=[rel(a, r) for a, r in zip(grads, ref_grads)],
        ignored_zero=bool((lp[-1] == 0).all()),
    )

# The TMA-descriptor tile loader (used on Hopper GPUs) through the same interpreter.
gen = torch.Generator().manual_seed(1)
h = torch.randn(23, 32, generator=gen, requires_grad=True)
w = torch.randn(70, 32, generator=gen, requires_grad=True)
t = torch.randint(0, 70, (23,), generator=gen)
t[:4] = -100
cfg = replace(fused.INTERPRETER_CONFIG, tma=True)
lp = fused.linear_logprobs_triton(h, w, None, t, chunk_size=40, config=cfg)
grads = torch.autograd.grad(lp.sum(), [h, w])
ref_params = [h.detach().double().requires_grad_(), w.detach().double().requires_grad_()]
ref = naive_linear_logprobs(*ref_params, None, t)
ref_grads = torch.autograd.grad(ref.sum(), ref_params)
out["tma"] = dict(
    logps=rel(lp, ref), sums=rel(lp.sum(), ref.sum()),
    grads=[rel(a, r) for a, r in zip(grads, ref_grads)], ignored_zero=bool((lp[:4] == 0).all()),
)

gen = torch.Generator().manual_seed(0)
logits = (torch.randn(3, 5, 5000, generator=gen) * 2).requires_grad_()
t = torch.randint(0, 5000, (3, 5), generator=gen)
t[1, :2] = -100
mask = torch.rand(3, 5, generator=gen) < 0.5
lp, sums = weighted_token_logps_from_logits(logits, t, varied_mask=mask, impl="triton")
(grad,) = torch.autograd.grad(sums.sum() + lp.sum(), [logits])
ld = logits.detach().double().requires_grad_()
ref = naive_logits_logprobs(ld, t)
wts = 1 + mask.double() * torch.exp(-ref.detach()).clamp(max=2.0)
(ref_grad,) = torch.autograd.grad((wts * ref).sum() + ref.sum(), [ld])
out["from_logits"] = dict(
    logps=rel(lp, ref), sums=rel(sums, (wts * ref).sum(-1)), grads=[rel(grad, ref_grad)],
    ignored_zero=bool((lp[1, :2] == 0).all()),
)
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def interpreter_results() -> dict:
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run(
        [sys.executable, "-c", CHECKS], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])


@pytest.mark.parametrize("case", ["bias_chunked", "no_bias", "tma", "from_logits"])
def test_triton_kernels_under_interpreter_match_float64(interpreter_results, case):
    res = interpreter_results[case]
    assert res["logps"] < 1e-5
    assert res["sums"] < 1e-5
    assert all(err < 1e-5 for err in res["grads"]), res["grads"]
    assert res["ignored_zero"]
