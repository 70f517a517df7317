"""Memory over one million requests, on each worker path: it must stay flat (bounded queue).

    python benchmarks/memory_flat.py [--requests 1000000] [--every 100000] [--json PATH]
    python benchmarks/memory_flat.py --tracemalloc        # Python's own allocations too (slower)
    python benchmarks/memory_flat.py --unpaced            # the driver never waits: the queue fills

Each path (the pure-Python pipeline, then the privlog-native extension) runs in its own child
process, so one path's high-water mark does not hide the other's. The child drives the requests
through ``PrivacyLogMiddleware`` in process (a Starlette app called with an ASGI scope, as
``test_asgi_overhead.py`` does; every request distinct, as ``conftest.distinct``), with the
90-day security policy's default export settings (queue of 10,000, batches of 256) over a JSONL
store in a temporary directory, and privlog's own worker thread running. Every ``--every``
requests it notes the resident set size, the queue's length and privlog's counters. By default
the driver paces itself as a server's event loop does when it waits for the network: every
256 requests, while the queue is more than half full, it sleeps a millisecond, so the worker
gets the GIL and every one of the million captures becomes a record. With ``--unpaced`` it
never waits, the worker gets the GIL only when the interpreter switches threads, and the
bounded queue drops what the worker cannot take (counted) instead of growing. The store's
files are emptied at each sample (truncated, the worker keeps appending) so the disk stays small.
Needs the extension for its second path (``make native``); without it, says so and fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PATHS = ("python", "extension")


def rss_bytes() -> int:
    """This process's resident set size now (not its peak)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


PACE_EVERY = 256  # requests between looks at the queue: one worker batch


def child(path: str, requests: int, every: int, trace: bool, paced: bool) -> list[dict[str, Any]]:
    """Drive ``requests`` requests through privlog on ``path``; a sample every ``every``."""
    with tempfile.TemporaryDirectory(prefix="privlog-memory-") as tmp:
        return _drive(Path(tmp), path, requests, every, trace, paced)


def _drive(
    directory: Path, path: str, requests: int, every: int, trace: bool, paced: bool
) -> list[dict[str, Any]]:
    from conftest import http_scope
    from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
    from test_asgi_overhead import ENV, POLICY, bare

    pl = PrivacyLog(Policy.from_toml(POLICY, environ=ENV), directory=directory, native=path == "extension")
    if (pl.dispatcher.native is not None) != (path == "extension"):
        raise SystemExit(f"the {path} path is not available here (privlog-native: make native)")
    app = PrivacyLogMiddleware(bare(), privlog=pl)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    samples: list[dict[str, Any]] = []
    if trace:
        tracemalloc.start()
    started = time.perf_counter()

    def sample(done: int) -> None:
        stats = pl.stats()
        samples.append(
            {
                "requests": done,
                "rss_mib": rss_bytes() / 2**20,
                "traced_mib": tracemalloc.get_traced_memory()[0] / 2**20 if trace else None,
                "queued": stats.queued,
                "exported": stats.exported,
                "dropped": stats.dropped,
                "failed": stats.failed,
                "seconds": time.perf_counter() - started,
            }
        )
        for file in directory.rglob("*.jsonl"):
            os.truncate(file, 0)

    half = pl.policy.export.queue_size // 2

    async def drive() -> None:
        for i in range(1, requests + 1):
            await app(http_scope(), receive, send)
            if paced and i % PACE_EVERY == 0:
                while pl.stats().queued > half:
                    time.sleep(0.001)
            if i % every == 0:
                sample(i)

    asyncio.run(drive())
    pl.flush()
    sample(requests)  # after the queue is drained
    samples[-1]["after_flush"] = True
    pl.close()
    return samples


def run(requests: int, every: int, trace: bool, paced: bool) -> dict[str, list[dict[str, Any]]]:
    """Each path in its own child process; their samples."""
    out = {}
    for path in PATHS:
        args = [sys.executable, __file__, "--child", path, "--requests", str(requests), "--every", str(every)]
        args += [*(["--tracemalloc"] if trace else []), *([] if paced else ["--unpaced"])]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{path} path failed: {done.stderr.strip() or done.stdout.strip()}")
        out[path] = json.loads(done.stdout)
    return out


def render(result: dict[str, list[dict[str, Any]]]) -> str:
    lines = [f"{'path':10} {'requests':>9} {'RSS MiB':>8} {'queued':>7} {'exported':>9} {'dropped':>8} {'seconds':>8}"]
    for path, samples in result.items():
        for s in samples:
            flushed = " (flushed)" if s.get("after_flush") else ""
            lines.append(
                f"{path:10} {s['requests']:9d} {s['rss_mib']:8.1f} {s['queued']:7d} {s['exported']:9d}"
                f" {s['dropped']:8d} {s['seconds']:8.1f}{flushed}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="write the samples here as well")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python's allocations")
    parser.add_argument("--unpaced", action="store_true", help="never wait for the worker (the queue drops)")
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(HERE))
        print(json.dumps(child(args.child, args.requests, args.every, args.tracemalloc, not args.unpaced)))
        return
    result = run(args.requests, args.every, args.tracemalloc, not args.unpaced)
    print(render(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
