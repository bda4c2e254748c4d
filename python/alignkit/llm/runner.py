"""`run_requests`: a batch of ChatRequests through a backend and the response cache.

Requests already answered are taken from the cache; earlier failures are skipped and counted
(or retried with `retry_failed=True`); identical requests are sent once. Results are written to
the cache as they arrive, by a writer thread in transactions of at most 256 results or 0.25 s,
and all of them before returning, on errors and on cancellation too. So an interrupted run loses
only the requests in flight (plus, if the process is killed outright, the last fraction of a
second) and a re-run sends only what is missing.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Iterable
from typing import Any

from alignkit.llm.backend import ChatBackend, ensure_no_running_loop
from alignkit.llm.cache import ResponseCache
from alignkit.llm.types import ChatRequest, ChatResult
from alignkit.progress import Progress

log = logging.getLogger(__name__)

FLUSH_EVERY = 256
FLUSH_SECONDS = 0.25


class _CacheWriter:
    """Commits results from a thread, so the event loop never waits on the disk.

    Results are committed in transactions of at most FLUSH_EVERY results, at most FLUSH_SECONDS
    after they arrived; `close()` drains the queue and re-raises any error of the writer.
    """

    def __init__(self, cache: ResponseCache, backend: ChatBackend) -> None:
        self.cache = cache
        self.meta = {"backend": backend.kind, "endpoint": backend.endpoint, "model": backend.model}
        self.queue: queue.SimpleQueue[tuple[str, ChatRequest, ChatResult] | None] = (
            queue.SimpleQueue()
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="llm-cache-writer", daemon=True)
        self.thread.start()

    def add(self, key: str, request: ChatRequest, result: ChatResult) -> None:
        if self.error is not None:
            raise RuntimeError(f"writing the response cache failed: {self.error}") from self.error
        self.queue.put((key, request, result))

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = []
            item = self.queue.get()
            deadline = time.monotonic() + FLUSH_SECONDS
            while True:
                if item is None:
                    stop = True
                    break
                batch.append(item)
                if len(batch) >= FLUSH_EVERY:
                    break
                try:
                    item = self.queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
            if batch and self.error is None:
                try:
                    self.cache.put_many(batch, **self.meta)
                except BaseException as exc:  # surfaced by add() and close()
                    self.error = exc

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise RuntimeError(f"writing the response cache failed: {self.error}") from self.error


async def arun_requests(
    backend: ChatBackend,
    requests: Iterable[ChatRequest],
    cache: ResponseCache | None = None,
    *,
    progress: bool | str = True,
    retry_failed: bool = False,
    desc: str = "llm",
) -> tuple[list[ChatResult], dict[str, Any]]:
    """Async `run_requests` (for callers already inside an event loop)."""
    started = time.perf_counter()
    endpoints_before = backend.endpoint_usage()
    requests = list(requests)
    keys = [backend.cache_key(r) for r in requests]
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        first.setdefault(key, index)

    done: dict[str, ChatResult] = {}
    stored = cache.get_many(first) if cache is not None else {}
    to_send: list[str] = []
    from_cache = skipped_failed = retried_failed = 0
    for key in first:
        entry = stored.get(key)
        if entry is None:
            to_send.append(key)
        elif entry.ok:
            done[key] = entry.result
            from_cache += 1
        elif retry_failed:
            to_send.append(key)
            retried_failed += 1
        else:
            done[key] = entry.result
            skipped_failed += 1

    bar = Progress(
        len(first), desc=desc, unit="req", mode=progress, initial=len(first) - len(to_send)
    )
    tokens, failed = 0, skipped_failed
    if to_send and bar.mode == "log":
        log.info("%s: %d requests to send (%d cached)", desc, len(to_send), bar.done)
    sent: list[ChatResult] = []

    writer = _CacheWriter(cache, backend) if cache is not None else None

    def on_result(index: int, result: ChatResult) -> None:
        key = to_send[index]
        done[key] = result
        sent.append(result)
        if writer is not None:
            writer.add(key, requests[first[key]], result)
        nonlocal tokens, failed
        tokens += result.total_tokens
        failed += not result.ok
        bar.advance(1, tok=f"{tokens:,}", fail=failed, cached=from_cache)

    try:
        if to_send:
            await backend.agenerate([requests[first[k]] for k in to_send], on_result)
    finally:
        try:
            if writer is not None:
                writer.close()  # everything received so far is committed, even on cancellation
        finally:
            bar.close()

    results = []
    for index, key in enumerate(keys):
        result = done[key]
        results.append(result if first[key] == index else dataclasses.replace(result))
    elapsed = time.perf_counter() - started
    failed_sent = [r for r in sent if not r.ok]
    summary: dict[str, Any] = {
        "requests": len(requests),
        "unique": len(first),
        "duplicates": len(requests) - len(first),
        "from_cache": from_cache,
        "skipped_failed": skipped_failed,
        "retried_failed": retried_failed,
        "sent": len(sent),
        "succeeded": len(sent) - len(failed_sent),
        "failed": len(failed_sent),
        "failed_total": len(failed_sent) + skipped_failed,
        "error_kinds": dict(collections.Counter(r.error_kind for r in failed_sent)),
        "attempts": sum(r.attempts for r in sent),
        "retries": sum(max(r.attempts - 1, 0) for r in sent),
        "prompt_tokens": sum(r.prompt_tokens for r in sent),
        "completion_tokens": sum(r.completion_tokens for r in sent),
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(len(sent) / elapsed, 1) if elapsed > 0 else 0.0,
    }
    endpoints_after = backend.endpoint_usage()
    if endpoints_after:  # a pool: what each of its servers did in this call
        summary["endpoints"] = {}
        for url, counts in endpoints_after.items():
            earlier = endpoints_before.get(url, {})
            summary["endpoints"][url] = {k: n - earlier.get(k, 0) for k, n in counts.items()}
    if failed_sent:
        first_error = failed_sent[0].error
        log.warning(
            "%d of %d requests failed (%s); first error: %s",
            len(failed_sent),
            len(sent),
            ", ".join(f"{k}: {n}" for k, n in summary["error_kinds"].items()),
            first_error,
        )
    if skipped_failed:
        log.warning(
            "%d requests failed in an earlier run and were skipped; "
            "pass retry_failed=True to retry them",
            skipped_failed,
        )
    return results, summary


def run_requests(
    backend: ChatBackend,
    requests: Iterable[ChatRequest],
    cache: ResponseCache | None = None,
    *,
    progress: bool | str = True,
    retry_failed: bool = False,
    desc: str = "llm",
) -> tuple[list[ChatResult], dict[str, Any]]:
    """Run `requests` through `backend`, reusing and filling `cache`.

    `progress` (`alignkit.progress`): "bar" shows a bar with tokens, failures and ETA; "log"
    logs the same every few seconds; True/"auto" picks the bar on a terminal and log lines
    otherwise; False shows nothing.
    Returns (results in input order, summary). The summary counts requests, cache hits
    (`from_cache`), earlier failures skipped (`skipped_failed`) or retried (`retried_failed`),
    requests sent, succeeded and failed (`error_kinds`), attempts, tokens and requests/s; for a
    pool of servers, `endpoints`: per server, its attempts, failures and failovers in this call.
    A failed request is a ChatResult with `error` set, never an exception.
    """
    ensure_no_running_loop("run_requests")

    async def main() -> tuple[list[ChatResult], dict[str, Any]]:
        try:
            return await arun_requests(
                backend,
                requests,
                cache,
                progress=progress,
                retry_failed=retry_failed,
                desc=desc,
            )
        finally:
            await backend.aclose()

    return asyncio.run(main())
