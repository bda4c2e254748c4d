"""GPU benchmark of the fused BMC/DPO loss against Liger and TRL's paths (forward + backward).

One process, same inputs for every implementation: P pairs (2P sequences) of T tokens, hidden
size H, vocabulary V, in bf16; the policy's hidden states and LM head need gradients, the
reference's hidden states (same head) do not. Each implementation computes the whole DPO-style
loss (policy and reference log-probs, sigmoid loss) and its backward.

- ``alignkit-bmc``: ``alignkit.bmc.bmc_loss`` with a varied-token mask (BMC weights).
- ``alignkit-dpo``: the same call without a mask (plain DPO).
- ``liger``: ``liger_kernel.chunked_loss.LigerFusedLinearDPOLoss`` (sigmoid, with reference).
- ``trl-chunked``: TRL's ``ChunkedLogProbFunction``, what its DPOTrainer runs by default now
  (``fused_lm_head=True``), followed by the DPO sigmoid loss.
- ``full-logits``: the classic path: ``hidden @ W.T`` for the whole batch, then per-sequence
  ``log_softmax`` in bf16 and ``gather`` (TRL's ``selective_log_softmax`` non-Triton branch,
  written here), sums, DPO sigmoid loss.

Reported per implementation: median wall time of forward+backward (CUDA events), peak memory
above what was allocated before the call (``torch.cuda.max_memory_allocated`` delta; includes
the gradients of the hidden states and the LM head, which every path must produce), and
TFLOP/s counting the model's matmul FLOPs ``8*N*H*V`` (policy forward 2, backward 4, reference
forward 2; N = 2*P*T tokens), the same count for every implementation, so the column compares
times; alignkit executes ``10*N*H*V`` (it recomputes the policy logits in the backward).

``--tune`` first times the forward and backward kernels for several tile configurations.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from alignkit.bmc import bmc_loss
from alignkit.kernels import fused_linear_weighted_logprob as fused


def make_inputs(pairs, seq, hidden, vocab, dtype, seed=0):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    n_seq = 2 * pairs
    h = torch.randn(n_seq, seq, hidden, device="cuda", generator=gen, dtype=dtype)
    ref_h = (h.float() + 0.1 * torch.randn(h.shape, device="cuda", generator=gen)).to(dtype)
    w = (torch.randn(vocab, hidden, device="cuda", generator=gen) / math.sqrt(hidden)).to(dtype)
    targets = torch.randint(0, vocab, (n_seq, seq), device="cuda", generator=gen)
    targets[:, : seq // 8] = -100  # prompt tokens
    varied = torch.rand(n_seq, seq, device="cuda", generator=gen) < 0.25
    return h.requires_grad_(), ref_h, w.requires_grad_(), targets, varied


def dpo_from_sums(policy, ref, beta):
    half = policy.shape[0] // 2
    margin = (policy[:half] - ref[:half]) - (policy[half:] - ref[half:])
    return -F.logsigmoid(beta * margin).mean()


def full_logits_logps(h, w, targets):
    logits = h @ w.T
    valid = targets != -100
    safe = torch.where(valid, targets, 0)
    rows = [
        F.log_softmax(row, dim=-1).gather(-1, t[:, None])[:, 0]
        for row, t in zip(logits, safe, strict=True)
    ]
    return (torch.stack(rows).float() * valid).sum(-1)


def run_full_logits(h, ref_h, w, targets, varied, beta):
    policy = full_logits_logps(h, w, targets)
    with torch.no_grad():
        ref = full_logits_logps(ref_h, w, targets)
    return dpo_from_sums(policy, ref, beta)


def _load_trl_chunked():
    try:
        from trl.kernels.chunked_logprob import ChunkedLogProbFunction
    except ImportError:
        # trl's package import needs `datasets`, absent on some GPU images; the kernel module
        # itself needs only torch, packaging and transformers, so load that file alone.
        import importlib.util

        spec = importlib.util.find_spec("trl")
        path = spec.submodule_search_locations[0] + "/kernels/chunked_logprob.py"
        mod_spec = importlib.util.spec_from_file_location("trl_chunked_logprob", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        ChunkedLogProbFunction = module.ChunkedLogProbFunction
    return ChunkedLogProbFunction


def make_trl_chunked():
    ChunkedLogProbFunction = _load_trl_chunked()

    def logps(h, w, targets, chunk=4096):
        flat_h = h.reshape(-1, h.shape[-1])
        flat_t = targets.reshape(-1)
        valid = flat_t != -100
        out = ChunkedLogProbFunction.apply(
            flat_h, w, None, torch.where(valid, flat_t, 0), 1.0, chunk, None, 1.0, ()
        )
        per_token = out[0] if isinstance(out, tuple) else out
        return (per_token.float() * valid).view(targets.shape).sum(-1)

    def run(h, ref_h, w, targets, varied, beta):
        policy = logps(h, w, targets)
        with torch.no_grad():
            ref = logps(ref_h, w, targets)
        return dpo_from_sums(policy, ref, beta)

    return run


def make_liger(beta):
    from liger_kernel.chunked_loss import LigerFusedLinearDPOLoss

    module = LigerFusedLinearDPOLoss(beta=beta, use_ref_model=True)

    def run(h, ref_h, w, targets, varied, beta):
        loss, _ = module(w, h, targets, ref_input=ref_h, ref_weight=w)
        return loss

    return run


def make_alignkit(with_mask, chunk_size=None, tma=None):
    base_config = fused.HALF_CONFIG
    config = base_config if tma is None else dataclasses.replace(base_config, tma=tma)

    def run(h, ref_h, w, targets, varied, beta):
        mask = varied if with_mask else None
        fused.HALF_CONFIG = config  # read by pick_config at each call
        try:
            out = bmc_loss(
                h, w, targets, mask, ref_h, w, beta=beta, impl="triton", chunk_size=chunk_size
            )
        finally:
            fused.HALF_CONFIG = base_config
        return out.loss

    return run


def measure(fn, inputs, beta, reps, warmup):
    h, ref_h, w, targets, varied = inputs
    times = []
    peak = 0
    loss_value = float("nan")
    for i in range(warmup + reps):
        h.grad = None
        w.grad = None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        loss = fn(h, ref_h, w, targets, varied, beta)
        loss.backward()
        end.record()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(end) / 1e3)
            peak = max(peak, torch.cuda.max_memory_allocated() - base)
            loss_value = float(loss)
    return statistics.median(times), peak, loss_value, times


def tune(inputs, configs, reps):
    import triton.testing

    h, _, w, targets, _ = inputs
    flat_h = h.detach().reshape(-1, h.shape[-1])
    flat_t = targets.reshape(-1).to(torch.int32)
    n_tokens, n_hidden = flat_h.shape
    n_vocab = w.shape[0]
    flops = 2 * n_tokens * n_hidden * n_vocab
    lse = torch.zeros(n_tokens, device="cuda")
    grad = torch.randn(n_tokens, device="cuda")
    rows = []
    for cfg in configs:
        try:
            src_h, src_w = fused._sources(flat_h, w.detach(), cfg)
            fwd_ms = triton.testing.do_bench(
                lambda cfg=cfg: fused.forward_lse(flat_h, w.detach(), None, flat_t, cfg),
                warmup=50,
                rep=reps,
                return_mode="median",
            )
            chunk = fused.default_vocab_chunk(n_tokens, n_vocab, cfg)
            buf = torch.empty((n_tokens, chunk), dtype=flat_h.dtype, device="cuda")

            def bwd(cfg=cfg, chunk=chunk, buf=buf, src_h=src_h, src_w=src_w):
                fused._dlogits_kernel[fused._grid(n_tokens, chunk, cfg)](
                    src_h, src_w, flat_h, flat_t, lse, grad, buf, n_tokens, n_vocab, n_hidden,
                    flat_h.stride(0), w.stride(0), buf.stride(0), 0, chunk,
                    HAS_BIAS=False, DOT_PRECISION="tf32", **fused._launch_kw(cfg),
                )  # fmt: skip

            bwd_ms = triton.testing.do_bench(bwd, warmup=50, rep=reps, return_mode="median")
            bwd_tflops = 2 * n_tokens * n_hidden * chunk / (bwd_ms / 1e3) / 1e12
            row = dict(cfg=cfg.__dict__, fwd_ms=fwd_ms, fwd_tflops=flops / (fwd_ms / 1e3) / 1e12)
            row.update(dlogits_chunk_tflops=bwd_tflops)
        except Exception as exc:  # a config the compiler rejects (shared memory) is skipped
            row = dict(cfg=cfg.__dict__, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


TUNE_CONFIGS = [
    fused.TileConfig(128, 256, 64, 8, 8, 3),
    fused.TileConfig(128, 256, 64, 8, 8, 4),
    fused.TileConfig(128, 128, 64, 8, 4, 4),
    fused.TileConfig(128, 128, 64, 8, 8, 4),
    fused.TileConfig(128, 128, 64, 8, 4, 5),
    fused.TileConfig(256, 128, 64, 8, 8, 3),
    fused.TileConfig(128, 256, 32, 8, 8, 4),
    fused.TileConfig(64, 256, 64, 8, 4, 4),
    fused.TileConfig(128, 256, 64, 16, 8, 3),
    fused.TileConfig(128, 256, 64, 8, 8, 3, tma=True),
    fused.TileConfig(128, 256, 64, 8, 8, 4, tma=True),
    fused.TileConfig(128, 256, 64, 16, 8, 3, tma=True),
    fused.TileConfig(256, 128, 64, 8, 8, 3, tma=True),
    fused.TileConfig(128, 128, 64, 8, 4, 4, tma=True),
    fused.TileConfig(128, 256, 128, 8, 8, 2, tma=True),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--vocab", type=int, default=128_256)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--impls", default="alignkit-bmc,alignkit-dpo,liger,trl-chunked,full-logits")
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--config", help="BM,BN,BK,GROUP,WARPS,STAGES,TMA(0/1) for alignkit")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    dtype = torch.bfloat16
    inputs = make_inputs(args.pairs, args.seq, args.hidden, args.vocab, dtype)
    n_tokens = 2 * args.pairs * args.seq
    nhv = n_tokens * args.hidden * args.vocab
    result = dict(
        device=torch.cuda.get_device_name(),
        torch=torch.__version__,
        triton=__import__("triton").__version__,
        shape=dict(pairs=args.pairs, seq=args.seq, hidden=args.hidden, vocab=args.vocab),
        grads_bytes=inputs[0].numel() * 2 + inputs[2].numel() * 2,
    )
    if args.tune:
        result["tune"] = tune(inputs, TUNE_CONFIGS, reps=200)
    if args.config:
        fields = [int(x) for x in args.config.split(",")]
        fused.HALF_CONFIG = fused.TileConfig(*fields[:6], tma=bool(fields[6:] and fields[6]))
    makers = {
        "alignkit-bmc": lambda chunk=None: make_alignkit(True, chunk),
        "alignkit-bmc-tma": lambda chunk=None: make_alignkit(True, chunk, tma=True),
        "alignkit-bmc-ptr": lambda chunk=None: make_alignkit(True, chunk, tma=False),
        "alignkit-dpo": lambda chunk=None: make_alignkit(False, chunk),
        "liger": lambda: make_liger(args.beta),
        "trl-chunked": make_trl_chunked,
        "full-logits": lambda: run_full_logits,
    }
    rows = {}
    for name in args.impls.split(","):
        torch.cuda.empty_cache()
        t0 = time.time()
        try:
            # "alignkit-bmc:2048" runs alignkit with 2048 vocabulary columns per backward chunk.
            base, _, chunk = name.partition(":")
            fn = makers[base](int(chunk)) if chunk else makers[base]()
            median, peak, loss, times = measure(fn, inputs, args.beta, args.reps, args.warmup)
            rows[name] = dict(
                median_s=median,
                peak_bytes=peak,
                loss=loss,
                times=times,
                model_tflops=8 * nhv / median / 1e12,
            )
        except Exception as exc:  # report an implementation that fails (e.g. OOM) and go on
            rows[name] = dict(error=f"{type(exc).__name__}: {str(exc)[:300]}")
            torch.cuda.empty_cache()
        print(name, json.dumps(rows[name]), f"({time.time() - t0:.0f}s)", flush=True)
    result["impls"] = rows
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    print(f"\n{result['device']}  N={n_tokens} H={args.hidden} V={args.vocab} bf16, fwd+bwd")
    print(f"{'impl':<14}{'median ms':>10}{'peak GiB':>10}{'TFLOP/s':>9}{'loss':>10}")
    for name, row in rows.items():
        if "error" in row:
            print(f"{name:<14} {row['error'][:80]}")
            continue
        print(
            f"{name:<14}{row['median_s'] * 1e3:>10.1f}{row['peak_bytes'] / 2**30:>10.2f}"
            f"{row['model_tflops']:>9.0f}{row['loss']:>10.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
