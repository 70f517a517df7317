"""Requests per second through a real uvicorn driven by wrk: bare against privlog, one run.

    pytest benchmarks/test_wrk_loopback.py --benchmark-only   # part of `make bench`
    python benchmarks/test_wrk_loopback.py [VARIANT ...]      # the table alone

Each variant (an app of ``loopback_app.py``) is served by its own uvicorn (one worker, no
access log) and driven by ``wrk -t1 -c8`` on 127.0.0.1 with distinct requests (Lua, as
``conftest.distinct``). The default variants are the goal's rows: the bare app, each policy on
the pure-Python worker (``*_python``) and on the compiled one (``*_extension``, which fails
rather than fall back when privlog-native cannot serve), and OpenTelemetry's ASGI
instrumentation; ``BISECT`` names the ones that split privlog's fixed cost.

Every server is started and warmed up first; then each round measures every variant in turn
(A B C A B C ...) for ``ROUNDS`` rounds of a few seconds each, so a machine that other work
slows down slows them alike, moments apart. The table gives each one's median requests/s and
the median of its ratios to the bare app of the same round. Two columns depend less on the
machine's load: the server's CPU time per request (all its threads, from /proc) and its
garbage collections per 1000 requests; "dropped" is the largest share of privlog's captures
in any round that its full queue dropped (a worker that falls behind would otherwise flatter
the throughput). ``PRIVLOG_WRK_SECONDS`` and ``PRIVLOG_WRK_ROUNDS`` set the length (defaults 3
and 8). Skipped when wrk is not installed (``make bench`` installs it: ``.ci/install-wrk``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
# The goal's rows: each policy on the Python pipeline and on the extension, and the peer.
VARIANTS = ("bare", "access_python", "access_extension", "security_python", "security_extension", "otel")
# For bisecting privlog's fixed cost: python benchmarks/test_wrk_loopback.py bare noop request_path status
BISECT = ("bare", "noop", "request_path", "status")
CONNECTIONS = 8
SECONDS = int(os.environ.get("PRIVLOG_WRK_SECONDS", "3"))
ROUNDS = int(os.environ.get("PRIVLOG_WRK_ROUNDS", "8"))
WARM_UP = 2  # seconds of load before measuring: routes, caches, the worker thread started

# Distinct requests, as conftest.distinct: every path, query, cookie, address and id differs.
LUA = r"""
local i = 0
request = function()
  i = i + 1
  local headers = {}
  headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
  headers["Accept-Language"] = "de-DE,de;q=0.9"
  headers["Cookie"] = string.format("session=s3cr3t-session-%010x; theme=dark", i)
  headers["X-Forwarded-For"] = string.format("203.0.%d.%d", math.floor(i / 256) % 256, i % 256)
  headers["X-Request-Id"] = string.format("00000000-0000-4000-8000-%012x", i)
  return wrk.format("GET", string.format("/users/%d?page=2&q=jane%d", 4000 + i % 1000, i), headers)
end
"""


@dataclass
class Run:
    """One variant's measured window."""

    rps: float
    requests: int
    cpu_us: float | None  # server CPU per request, every thread
    collections: int | None  # garbage collections, all generations
    errors: str = ""
    dropped: float | None = None  # the share of privlog's captures its full queue dropped


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_stats(pid: int, directory: Path) -> dict[str, Any] | None:
    """The server's garbage collections and privlog's captured and dropped counts (loopback_app)."""
    stats = directory / "gc.json"
    stats.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 2
    while not stats.exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)
    time.sleep(0.02)  # written in one call; let it finish
    found: dict[str, Any] = json.loads(stats.read_text())
    return found


def _wrk(port: int, seconds: int, script: Path, connections: int = CONNECTIONS) -> tuple[float, int, str]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    errors = re.search(r"(Non-2xx.*|Socket errors.*)", out)
    if rps is None or count is None:
        raise RuntimeError(f"unexpected wrk output: {out!r}")
    return float(rps.group(1)), int(count.group(1)), errors.group(1) if errors else ""


@dataclass
class Server:
    """One uvicorn serving a variant, and the directory its JSONL store writes to."""

    variant: str
    port: int
    proc: subprocess.Popen[bytes]
    directory: Path


@contextmanager
def serve(variant: str) -> Iterator[Server]:
    """Start uvicorn (one worker, no access log) on ``variant``; stop it on leaving."""
    port = _port()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        server = ("uvicorn", "--factory", f"benchmarks.loopback_app:{variant}", "--port", str(port))
        proc = subprocess.Popen(
            [sys.executable, "-m", *server, "--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            env={**os.environ, "PRIVLOG_BENCH_DIR": str(directory)},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"uvicorn did not start {variant}") from None
                    time.sleep(0.1)
            yield Server(variant, port, proc, directory)
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def measure_on(server: Server, seconds: int, script: Path, connections: int = CONNECTIONS) -> Run:
    """``seconds`` of load from ``connections`` keep-alive connections on a running server."""
    pid = server.proc.pid
    s0, cpu0 = _server_stats(pid, server.directory), _cpu_seconds(pid)
    rps, n, errors = _wrk(server.port, seconds, script, connections)
    s1, cpu1 = _server_stats(pid, server.directory), _cpu_seconds(pid)
    cpu = (cpu1 - cpu0) / n * 1e6 if cpu0 is not None and cpu1 is not None and n else None
    collections = sum(s1["collections"]) - sum(s0["collections"]) if s0 and s1 else None
    dropped = None
    if s0 and s1 and s1["captured"] > s0["captured"]:
        dropped = (s1["dropped"] - s0["dropped"]) / (s1["captured"] - s0["captured"])
    return Run(rps, n, cpu, collections, errors, dropped)


@contextmanager
def lua_script() -> Iterator[Path]:
    """The Lua file that makes wrk's requests distinct."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "distinct.lua"
        script.write_text(LUA)
        yield script


def session(variants: tuple[str, ...], rounds: int, seconds: int) -> dict[str, list[Run]]:
    """Every variant once per round, in the same order each round; ``variants[0]`` is the base.
    The servers run side by side for the whole session (idle but for their own turn)."""
    runs: dict[str, list[Run]] = {v: [] for v in variants}
    with lua_script() as script, ExitStack() as stack:
        servers = [stack.enter_context(serve(v)) for v in variants]
        for server in servers:
            _wrk(server.port, WARM_UP, script)
        for _ in range(rounds):
            for server in servers:
                runs[server.variant].append(measure_on(server, seconds, script))
    return runs


def table(runs: dict[str, list[Run]]) -> list[dict[str, Any]]:
    """Medians per variant; ``ratio``: the median of the per-round ratios to the first variant."""
    base = next(iter(runs.values()))
    rows = []
    for variant, rs in runs.items():
        cpu = [r.cpu_us for r in rs if r.cpu_us is not None]
        gcs = [r.collections / r.requests * 1000 for r in rs if r.collections is not None]
        drops = [r.dropped for r in rs if r.dropped is not None]
        rows.append(
            {
                "variant": variant,
                "rps": statistics.median(r.rps for r in rs),
                "ratio": statistics.median(r.rps / b.rps for r, b in zip(rs, base, strict=True)),
                "cpu_us": statistics.median(cpu) if cpu else None,
                "gc_per_1k": statistics.median(gcs) if gcs else None,
                "dropped": max(drops) if drops else None,
                "errors": sorted({r.errors for r in rs if r.errors}),
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'variant':20} {'req/s':>8} {'vs bare':>8} {'CPU µs/req':>11} {'GCs/1k req':>11} {'dropped':>8}"]
    for row in rows:
        cpu = f"{row['cpu_us']:.1f}" if row["cpu_us"] is not None else "-"
        gcs = f"{row['gc_per_1k']:.1f}" if row["gc_per_1k"] is not None else "-"
        dropped = f"{row['dropped']:.1%}" if row.get("dropped") is not None else "-"
        lines.append(f"{row['variant']:20} {row['rps']:8.0f} {row['ratio']:7.3f}x {cpu:>11} {gcs:>11} {dropped:>8}")
        if row["errors"]:
            lines.append(f"{'':20} wrk: {'; '.join(row['errors'])}")
    return "\n".join(lines)


pytestmark = pytest.mark.benchmark(group="wrk")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_loopback(benchmark: Any) -> None:
    runs: dict[str, list[Run]] = {}
    load = [os.getloadavg()[0]]

    def go() -> None:
        runs.update(session(VARIANTS, ROUNDS, SECONDS))

    benchmark.pedantic(go, rounds=1, iterations=1)
    load.append(os.getloadavg()[0])
    rows = table(runs)
    benchmark.extra_info["wrk"] = rows
    benchmark.extra_info["load_average"] = [min(load), max(load)]  # 1-minute, before and after
    print("\n" + render(rows))
    assert all(not row["errors"] for row in rows), rows  # every response a 200


if __name__ == "__main__":
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    chosen = tuple(sys.argv[1:]) or VARIANTS
    print(render(table(session(chosen, ROUNDS, SECONDS))))
