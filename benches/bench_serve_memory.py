"""Resident memory of an `alignkit llm serve` server process after N chat requests.

The server (`ModelServer` over `alignkit.llm.testing.EchoBackend`, so the model's own memory is
left out, with an API key) runs in a child process; this process sends it N sequential requests,
each with a distinct prompt of `--prompt-chars` characters and an Authorization header, and
reads the child's VmRSS from /proc after 0, N/5, 2N/5 and N requests. Linux only.

    python benches/bench_serve_memory.py --requests 5000 --prompt-chars 8000
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import time

SERVER = """
import asyncio
from alignkit.llm.serve import ModelServer
from alignkit.llm.testing import EchoBackend
server = ModelServer(EchoBackend(), api_key="sk-bench")
asyncio.run(server.serve(on_ready=lambda port: print(port, flush=True)))
"""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--prompt-chars", type=int, default=8000)
    args = parser.parse_args()
    n = args.requests
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
        checkpoints = {0, n // 5, 2 * n // 5, n}
        rss: dict[int, float] = {}
        for i in range(n + 1):
            prompt = f"{i} " + "x" * args.prompt_chars
            body = json.dumps({"model": "echo", "messages": [{"role": "user", "content": prompt}]})
            conn.request("POST", "/v1/chat/completions", body, headers)
            reply = conn.getresponse()
            reply.read()
            if reply.status != 200:
                raise RuntimeError(f"request {i} answered {reply.status}")
            if i in checkpoints:
                time.sleep(0.2)
                rss[i] = round(rss_mb(proc.pid), 1)
        print(json.dumps({"requests": n, "prompt_chars": args.prompt_chars, "rss_mb": rss}))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
