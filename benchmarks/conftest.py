"""Shared pieces of the benchmarks: an in-process ASGI driver and a realistic request."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

REQUESTS_PER_ROUND = 200

HEADERS = [
    (b"host", b"example.com"),
    (
        b"user-agent",
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    (b"accept", b"text/html,application/xhtml+xml"),
    (b"accept-language", b"de-DE,de;q=0.9,en;q=0.8"),
    (b"referer", b"https://news.example.com/article/42?utm_source=mail"),
    (b"cookie", b"session=s3cr3t-session-9f8e7d6c5b; theme=dark"),
    (b"x-forwarded-for", b"203.0.113.195"),
    (b"x-request-id", b"00000000-0000-4000-8000-000000000001"),
]


serial = itertools.count()


def distinct(i: int) -> tuple[str, str, str, str, str]:
    """Path, query, cookie, client address and request id of request ``i``: every request differs,
    so privlog's caches (paths, queries) only serve what real traffic would repeat."""
    return (
        f"/users/{4000 + i % 1000}",
        f"page=2&q=jane{i}",
        f"session=s3cr3t-session-{i:010x}; theme=dark",
        f"203.0.{i // 256 % 256}.{i % 256}",
        f"00000000-0000-4000-8000-{i:012x}",  # a UUID: the shape the policy keeps
    )


def http_scope() -> dict[str, Any]:
    path, query, cookie, client, request_id = distinct(next(serial))
    headers = list(HEADERS)
    headers[5] = (b"cookie", cookie.encode())
    headers[6] = (b"x-forwarded-for", client.encode())
    headers[7] = (b"x-request-id", request_id.encode())
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 8000),
    }


def make_runner(
    app: Callable[..., Any], n: int = REQUESTS_PER_ROUND
) -> tuple[Callable[[], None], asyncio.AbstractEventLoop]:
    """A function that sends ``n`` requests through ``app`` in-process, in one event loop run."""
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def batch() -> None:
        for _ in range(n):
            await app(http_scope(), receive, send)

    def run() -> None:
        loop.run_until_complete(batch())

    return run, loop


def measure(
    benchmark: Any,
    run: Callable[[], None],
    requests: int,
    rounds: int,
    setup: Callable[[], None] | None,
    after: Callable[[], None] | None,
) -> None:
    """Benchmark ``run`` (one round of ``requests`` requests); report per round, with the count."""
    run()  # warm up: routes, caches, lazy imports

    def target() -> None:
        run()
        if after is not None:
            after()

    benchmark.extra_info["requests_per_round"] = requests
    benchmark.pedantic(target, rounds=rounds, iterations=1, setup=setup, warmup_rounds=2)


@pytest.fixture
def per_request(benchmark: Any) -> Callable[..., None]:
    """Benchmark an ASGI ``app``; the stored figure is per round of REQUESTS_PER_ROUND requests."""

    def go(
        app: Callable[..., Any],
        rounds: int = 40,
        setup: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        run, loop = make_runner(app)
        try:
            measure(benchmark, run, REQUESTS_PER_ROUND, rounds, setup, after)
        finally:
            loop.close()

    return go


def interleaved_cpu(steps: dict[str, Callable[[], int]], rounds: int, units: int) -> dict[str, list[float]]:
    """CPU µs per unit of each step, the steps interleaved and their order rotated every round.

    A step does ``units`` units of work and returns the nanoseconds of it that ran with the GIL
    released (0 for pure Python), which are subtracted: the figure is this thread's GIL-held
    CPU time. CPU time, not wall time, because the machine is shared: another process taking a
    core does not bill its time here. Every step runs once first (warm-up: caches, imports).
    """
    for step in steps.values():
        step()
    names = list(steps)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.thread_time_ns()
            released = steps[name]()
            samples[name].append((time.thread_time_ns() - start - released) / units / 1e3)
    return samples
