"""``privlog anonymize`` against anonip on the same generated nginx log, in the same run.

Every tool runs as a subprocess over the same file (stdin from the file, stdout to /dev/null),
interleaved round by round; the figures are medians of lines per second, by wall clock and by
the child's CPU time (user + sys: steadier on a shared machine). anonip only masks the address
in the first column; privlog is measured with a full access-log policy (address, path, query,
referrer, user agent) and with one that only truncates the address, anonip's job, each on the
Python path (``PRIVLOG_NATIVE=0``) and on the compiled path (privlog-native, which ``make bench``
installs). A privlog run includes its start-up (imports, policy, the user-agent regexes), so
each configuration is also run on a one-line log: "steady" is the rate with that subtracted,
what a long-running pipe from the server sees.

The memory tests pipe generated lines through ``privlog anonymize`` and compare the peak
resident size of a short and a long run: it must not grow with the input. The compiled path
gets 10 million lines (100,000 distinct ones repeated, streamed through a pipe).

    .venv/bin/python -m pytest benchmarks/test_anonymize.py --benchmark-only -s -p no:randomly
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nginx_log import write

LINES = 300_000
ROUNDS = 5
MEMORY_LINES = {"python": (200_000, 2_000_000), "native": (200_000, 10_000_000)}
# As after an install: byte code is cached (a shell may have PYTHONDONTWRITEBYTECODE set, which
# would make every start compile privlog's sources again).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PYTHON_ONLY = {**CHILD_ENV, "PRIVLOG_NATIVE": "0"}
HERE = Path(__file__).parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.benchmark(group="anonymize")

FULL = """
service = "bench"
[retention.a]
days = 7
purpose = "operations"
legal_basis = "legitimate interest"
[streams.access]
retention = "a"
[streams.access.fields]
timestamp = "keep"
method = "keep"
http_version = "keep"
path = "template"
query = { action = "allowlist", allow = ["page"], values = { page = "int" } }
status = "keep"
response_bytes = "keep"
referrer = "origin"
user_agent = "generalise"
client_ip = { action = "truncate", ipv4_prefix = 20, ipv6_prefix = 44 }
"""
ADDRESS_ONLY = (
    FULL.replace('path = "template"', 'path = "keep"')
    .replace('referrer = "origin"\nuser_agent = "generalise"', 'referrer = "keep"\nuser_agent = "keep"')
    .replace('query = { action = "allowlist", allow = ["page"], values = { page = "int" } }\n', "")
)


def _run(
    command: list[str],
    stdin: Path | None = None,
    feed: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one child run to completion."""
    start = time.perf_counter()
    source = subprocess.Popen(feed, stdout=subprocess.PIPE) if feed else None
    with open(os.devnull, "wb") as null, open(stdin or os.devnull, "rb") as fin:
        proc = subprocess.Popen(
            command,
            stdin=source.stdout if source is not None and source.stdout is not None else fin,
            stdout=null,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        if source is not None and source.stdout is not None:
            source.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if source is not None:
        source.wait()
    wall = time.perf_counter() - start
    assert proc.returncode == 0, command
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


@pytest.fixture(scope="module")
def access_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("anonymize") / "access.log"
    write(str(path), LINES)
    return path


@pytest.fixture(scope="module")
def one_line(access_log: Path) -> Path:
    path = access_log.with_name("one.log")
    with open(access_log, "rb") as fh:
        path.write_bytes(fh.readline())
    return path


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("policies")
    out = {}
    for name, text in (("full", FULL), ("address", ADDRESS_ONLY)):
        out[name] = root / f"{name}.toml"
        out[name].write_text(text)
    return out


def _privlog(policy: Path) -> list[str]:
    return [str(BIN / "privlog"), "anonymize", "--policy", str(policy)]


def test_anonymize_vs_anonip(
    benchmark: Any, access_log: Path, one_line: Path, policies: dict[str, Path]
) -> None:
    pytest.importorskip("privlog_native", reason="the compiled path is measured too: make bench installs it")
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "anonip (address only)": ([str(BIN / "anonip")], CHILD_ENV),
        "privlog Python, address only": (_privlog(policies["address"]), PYTHON_ONLY),
        "privlog native, address only": (_privlog(policies["address"]), CHILD_ENV),
        "privlog Python, full policy": (_privlog(policies["full"]), PYTHON_ONLY),
        "privlog native, full policy": (_privlog(policies["full"]), CHILD_ENV),
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    starts: dict[str, list[float]] = {name: [] for name in commands}

    def one_round() -> None:  # every tool once, so a busy moment hits all of them
        for name, (command, env) in commands.items():
            wall, cpu, _ = _run(command, stdin=access_log, env=env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            starts[name].append(_run(command, stdin=one_line, env=env)[1])

    for command, env in commands.values():  # byte code written once, before anything counts
        _run(command, stdin=one_line, env=env)
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    base = "anonip (address only)"
    base_cpu = statistics.median(cpus[base])
    base_steady = statistics.median(cpus[base]) - statistics.median(starts[base])
    print(f"\n{LINES} nginx lines, {ROUNDS} interleaved rounds, medians (CPU = user + sys of the child)")
    print(
        f"  {'':30} {'lines/s wall':>13} {'lines/s CPU':>12} {'vs anonip':>10} {'start-up s':>11} {'steady lines/s':>15} {'vs anonip':>10}"
    )
    info = {}
    for name in commands:
        cpu = statistics.median(cpus[name])
        start = statistics.median(starts[name])
        steady = LINES / max(cpu - start, 1e-9)
        ratio = base_cpu / cpu
        steady_ratio = base_steady / max(cpu - start, 1e-9)
        wall_rate = LINES / statistics.median(walls[name])
        print(
            f"  {name:30} {wall_rate:13,.0f} {LINES / cpu:12,.0f} {ratio:9.2f}x {start:11.2f} {steady:15,.0f} {steady_ratio:9.2f}x"
        )
        info[name] = {
            "lines_per_s_wall": round(wall_rate),
            "lines_per_s_cpu": round(LINES / cpu),
            "vs_anonip_cpu": round(ratio, 3),
            "startup_cpu_s": round(start, 3),
            "steady_lines_per_s_cpu": round(steady),
            "steady_vs_anonip_cpu": round(steady_ratio, 3),
        }
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("path", ["python", "native"])
def test_memory_stays_flat(benchmark: Any, policies: dict[str, Path], path: str) -> None:
    if path == "native":
        pytest.importorskip("privlog_native", reason="the compiled path: make bench installs it")
    command = _privlog(policies["full"])
    env = PYTHON_ONLY if path == "python" else CHILD_ENV
    peaks = {}
    cpu = {}

    def runs() -> None:
        for lines in MEMORY_LINES[path]:
            feed = [sys.executable, str(HERE / "nginx_log.py"), str(lines), "100000"]
            _, cpu[lines], peaks[lines] = _run(command, feed=feed, env=env)

    benchmark.pedantic(runs, rounds=1, iterations=1)
    few, many = MEMORY_LINES[path]
    small, large = peaks[few], peaks[many]
    print(
        f"\n{path} path, peak RSS: {small / 1024:.1f} MiB for {few:,} lines, {large / 1024:.1f} MiB for {many:,}"
        f" ({many / cpu[many]:,.0f} lines per CPU second)"
    )
    benchmark.extra_info.update({"peak_rss_kib": peaks})
    assert large < small * 1.1 + 4096, "memory grew with the input"
