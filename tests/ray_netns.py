"""Ray only on loopback: every test and benchmark that starts Ray runs inside a private network
namespace (`unshare --net`, then `ip link set lo up`), where the only interface is loopback, so
Ray cannot register or listen on an external address (outside one, Ray 2.60 does both even when
told 127.0.0.1).

- `@in_netns` on a test: outside a namespace it re-runs that one test under `unshare --net` in a
  fresh pytest and passes or fails with it; inside, it runs the body.
- `start_loopback_ray(num_cpus)`: starts a local Ray cluster, refusing outside a namespace and
  shutting Ray down when its node's address is not 127.0.0.1.
- `python3 tests/ray_netns.py CMD...` runs CMD inside a namespace (e.g. the whole Ray test file
  with one cluster: `python3 tests/ray_netns.py python3 -m pytest -q tests/test_ray_executor.py`).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

INSIDE_ENV = "ALIGNKIT_RAY_NETNS"
LOOPBACK = "127.0.0.1"
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

F = TypeVar("F", bound=Callable[..., Any])


def interfaces() -> list[str]:
    """The network interfaces of this process's namespace."""
    return sorted(name for _, name in socket.if_nameindex())


def in_private_netns() -> bool:
    """True when loopback is the only interface here (a private namespace)."""
    return interfaces() == ["lo"]


def netns_unavailable() -> str | None:
    """Why a private namespace cannot be made here (no `unshare`/`ip`, not root), or None."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    probe = subprocess.run(
        netns_command(["true"]), capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return f"unshare --net failed: {probe.stderr.strip()[:200]}"
    return None


def netns_command(argv: Sequence[str]) -> list[str]:
    """`argv` run in a new network namespace with loopback up."""
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "netns", *argv]


def netns_env() -> dict[str, str]:
    """This environment, marked as inside, with tests/ importable (Ray workers unpickle the
    test stages by module name)."""
    paths = [str(TESTS), str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(":") if p]
    return {**os.environ, INSIDE_ENV: "1", "PYTHONPATH": ":".join(paths)}


def in_netns(test: F) -> F:
    """Run the decorated test inside a private network namespace (see the module docstring)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import pytest

        if os.environ.get(INSIDE_ENV) == "1":
            if not in_private_netns():
                pytest.fail(f"{INSIDE_ENV}=1 but interfaces {interfaces()} are not just lo")
            return test(*args, **kwargs)
        why = netns_unavailable()
        if why is not None:
            pytest.skip(f"no private network namespace for Ray: {why}")
        node_id = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node_id]
        proc = subprocess.run(
            netns_command(argv),
            cwd=REPO,
            env=netns_env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"inside the network namespace {node_id} failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}",
                pytrace=False,
            )
        last = proc.stdout.strip().splitlines()[-1]
        if " passed" not in last:
            pytest.skip(f"inside the network namespace: {last}")
        return None

    return wrapper  # type: ignore[return-value]


def start_loopback_ray(num_cpus: int) -> Any:
    """Start a local Ray cluster of `num_cpus` CPUs on loopback; returns the `ray` module.
    Refuses outside a private namespace, and when the node registered another address."""
    if not in_private_netns():
        raise RuntimeError(
            f"refusing to start Ray: interfaces {interfaces()} are not just lo; run inside "
            "`unshare --net` (tests/ray_netns.py)"
        )
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address=LOOPBACK)
    addresses = {ray.util.get_node_ip_address()} | {n["NodeManagerAddress"] for n in ray.nodes()}
    if addresses != {LOOPBACK}:
        ray.shutdown()
        raise RuntimeError(f"Ray registered {sorted(addresses)}, not only {LOOPBACK}: stopped")
    return ray


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python3 tests/ray_netns.py CMD [ARG...]", file=sys.stderr)
        return 2
    why = netns_unavailable()
    if why is not None:
        print(f"no private network namespace: {why}", file=sys.stderr)
        return 1
    return subprocess.run(netns_command(argv), env=netns_env(), check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
