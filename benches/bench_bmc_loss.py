"""CPU benchmark: alignkit's chunked BMC loss vs the full-logits path, forward + backward.

Both paths compute a whole DPO-style loss for P pairs of T tokens (2P sequences; the policy's
hidden states and LM head need gradients, the reference's hidden states do not), in float32:

- ``alignkit``: ``alignkit.bmc.bmc_loss(..., impl="torch")`` with a varied-token mask.
- ``naive``: ``logits = hidden @ W.T`` for the whole batch, ``log_softmax``, ``gather``, sums,
  DPO sigmoid loss (how TRL computes it without a fused head).

Memory: each (implementation, shape) runs in a fresh subprocess. After building the inputs
(and one tiny warm-up call that loads the code paths), the worker reads its resident set size,
resets the kernel's high-water mark (``/proc/self/clear_refs`` = 5) and runs the first full
forward+backward; ``VmHWM - baseline`` is the peak memory attributable to the loss. It includes
the gradients of the hidden states and the LM head, which both paths must produce; they are
printed so they can be subtracted. Time: each worker times ``--reps`` more runs after the
memory run; workers of the two paths alternate for ``--rounds`` rounds (the machine may be
shared), and the reported time is the median over all timed runs of a path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

SHAPES = {"smollm2": (576, 49_152), "llama3": (1024, 128_256)}


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def worker(impl: str, pairs: int, seq: int, hidden: int, vocab: int, reps: int, threads: int):
    import torch
    import torch.nn.functional as F

    from alignkit.bmc import bmc_loss

    torch.set_num_threads(threads)
    # The full-logits path needs many GiB: if memory runs out, be the process the kernel kills.
    with open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("1000")
    beta = 0.1

    def dpo(policy, ref):
        half = policy.shape[0] // 2
        margin = (policy[:half] - ref[:half]) - (policy[half:] - ref[half:])
        return -F.logsigmoid(beta * margin).mean()

    def naive_sums(h, w, targets):
        valid = targets != -100
        logps = (h @ w.T).log_softmax(-1).gather(-1, torch.where(valid, targets, 0)[..., None])
        return (logps[..., 0] * valid).sum(-1)

    def run_naive(h, ref_h, w, targets, varied):
        policy = naive_sums(h, w, targets)
        with torch.no_grad():
            ref = naive_sums(ref_h, w, targets)
        return dpo(policy, ref)

    def run_alignkit(h, ref_h, w, targets, varied):
        return bmc_loss(h, w, targets, varied, ref_h, w, beta=beta, impl="torch").loss

    fn = {"naive": run_naive, "alignkit": run_alignkit}[impl]

    def inputs(n_seq, seq_len, h_size, v_size):
        gen = torch.Generator().manual_seed(0)
        h = torch.randn(n_seq, seq_len, h_size, generator=gen)
        ref_h = h + 0.1 * torch.randn(h.shape, generator=gen)
        w = torch.randn(v_size, h_size, generator=gen) / math.sqrt(h_size)
        targets = torch.randint(0, v_size, (n_seq, seq_len), generator=gen)
        targets[:, : seq_len // 8] = -100
        varied = torch.rand(n_seq, seq_len, generator=gen) < 0.25
        return h.requires_grad_(), ref_h, w.requires_grad_(), targets, varied

    def step(args):
        args[0].grad = None
        args[2].grad = None
        loss = fn(*args)
        loss.backward()
        return float(loss.detach())

    step(inputs(2, 8, 16, 300))  # warm-up: load the code paths outside the measured window
    args = inputs(2 * pairs, seq, hidden, vocab)
    grads_bytes = (args[0].numel() + args[2].numel()) * 4
    baseline = _rss_kib("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    loss = step(args)
    first_s = time.perf_counter() - start
    peak = _rss_kib("VmHWM") - baseline
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step(args)
        times.append(time.perf_counter() - start)
    print(
        json.dumps(
            dict(
                impl=impl,
                peak_bytes=peak * 1024,
                grads_bytes=grads_bytes,
                first_s=first_s,
                times=times,
                median_s=statistics.median(times) if times else first_s,
                loss=loss,
            )
        )
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="smollm2,llama3", help=f"from {sorted(SHAPES)}")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--reps", type=int, default=1, help="timed runs after each memory run")
    ap.add_argument("--rounds", type=int, default=3, help="worker processes per path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument(
        "--worker", nargs=3, metavar=("IMPL", "HIDDEN", "VOCAB"), help=argparse.SUPPRESS
    )
    args = ap.parse_args(argv)
    if args.worker:
        impl, hidden, vocab = args.worker
        worker(impl, args.pairs, args.seq, int(hidden), int(vocab), args.reps, args.threads)
        return 0
    results = []
    for shape in args.shapes.split(","):
        hidden, vocab = SHAPES[shape]
        row = dict(shape=shape, hidden=hidden, vocab=vocab, pairs=args.pairs, seq=args.seq)
        runs: dict[str, list] = {"naive": [], "alignkit": []}
        for _ in range(args.rounds):
            for impl in runs:
                cmd = [sys.executable, __file__, "--worker", impl, str(hidden), str(vocab)]
                cmd += ["--pairs", str(args.pairs), "--seq", str(args.seq)]
                cmd += ["--reps", str(args.reps), "--threads", str(args.threads)]
                proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
                if proc.returncode != 0:
                    runs[impl].append(dict(error=proc.stderr.strip().splitlines()[-1:]))
                else:
                    runs[impl].append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(shape, impl, json.dumps(runs[impl][-1]), flush=True)
        for impl, worker_runs in runs.items():
            ok = [r for r in worker_runs if "error" not in r]
            if not ok:
                row[impl] = dict(error=worker_runs[-1]["error"])
                continue
            row[impl] = dict(
                peak_bytes=statistics.median(r["peak_bytes"] for r in ok),
                grads_bytes=ok[0]["grads_bytes"],
                # --reps 0: the memory runs are the timed runs.
                median_s=statistics.median(
                    [t for r in ok for t in r["times"]] or [r["first_s"] for r in ok]
                ),
                first_run_s=[r["first_s"] for r in ok],
                times=[t for r in ok for t in r["times"]],
                loss=ok[0]["loss"],
            )
        results.append(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    print(f"\n{args.pairs} pairs x {args.seq} tokens, fp32, {args.threads} threads, fwd+bwd")
    head = f"{'shape':<9}{'impl':<10}{'median s':>9}{'peak MiB':>10}"
    print(head + f"{'mem ratio':>10}{'time ratio':>11}")
    for row in results:
        naive = row["naive"]
        for impl in ("naive", "alignkit"):
            r = row[impl]
            if "error" in r:
                print(f"{row['shape']:<9}{impl:<10} error: {r['error']}")
                continue
            ok = "error" not in naive
            mem = f"{naive['peak_bytes'] / r['peak_bytes']:.1f}x" if ok else "-"
            ratio = f"{r['median_s'] / naive['median_s']:.2f}" if ok else "-"
            print(
                f"{row['shape']:<9}{impl:<10}{r['median_s']:>9.2f}"
                f"{r['peak_bytes'] / 2**20:>10.0f}{mem:>10}{ratio:>11}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
