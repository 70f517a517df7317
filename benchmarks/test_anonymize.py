"""``privlog anonymize`` against anonip on the same generated nginx log, in the same run.

Both run as subprocesses over the same file (stdin from the file, stdout to /dev/null),
interleaved round by round; the figures are medians of lines per second, by wall clock and by
the child's CPU time (user + sys: steadier on a shared machine). anonip only masks the address
in the first column; privlog is measured twice: with a full access-log policy (address, path,
query, referrer, user agent) and with one that only truncates the address, anonip's job.

The memory test pipes 200,000 and then 2,000,000 generated lines through ``privlog anonymize``
and compares the peak resident size of the two runs: it must not grow with the input.

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

LINES = 200_000
ROUNDS = 5
MEMORY_LINES = (200_000, 2_000_000)
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
    command: list[str], stdin: Path | None = None, feed: list[str] | None = None
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
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("policies")
    out = {}
    for name, text in (("full", FULL), ("address", ADDRESS_ONLY)):
        out[name] = root / f"{name}.toml"
        out[name].write_text(text)
    return out


def test_anonymize_vs_anonip(benchmark: Any, access_log: Path, policies: dict[str, Path]) -> None:
    commands = {
        "anonip (address only)": [str(BIN / "anonip")],
        "privlog anonymize, address only": [
            str(BIN / "privlog"),
            "anonymize",
            "--policy",
            str(policies["address"]),
        ],
        "privlog anonymize, full policy": [
            str(BIN / "privlog"),
            "anonymize",
            "--policy",
            str(policies["full"]),
        ],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}

    def one_round() -> None:  # every tool once, so a busy moment hits all of them
        for name, command in commands.items():
            wall, cpu, _ = _run(command, stdin=access_log)
            walls[name].append(wall)
            cpus[name].append(cpu)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    base = "anonip (address only)"
    print(f"\n{LINES} nginx lines, {ROUNDS} interleaved rounds, medians")
    print(f"  {'':34} {'lines/s (wall)':>15} {'lines/s (CPU)':>14} {'vs anonip (CPU)':>16}")
    info = {}
    for name in commands:
        wall_rate = LINES / statistics.median(walls[name])
        cpu_rate = LINES / statistics.median(cpus[name])
        ratio = statistics.median(cpus[base]) / statistics.median(cpus[name])
        print(f"  {name:34} {wall_rate:15,.0f} {cpu_rate:14,.0f} {ratio:15.2f}x")
        info[name] = {
            "lines_per_s_wall": round(wall_rate),
            "lines_per_s_cpu": round(cpu_rate),
            "vs_anonip_cpu": round(ratio, 3),
        }
    benchmark.extra_info.update(info)


def test_memory_stays_flat(benchmark: Any, policies: dict[str, Path]) -> None:
    command = [str(BIN / "privlog"), "anonymize", "--policy", str(policies["full"])]
    peaks = {}

    def runs() -> None:
        for lines in MEMORY_LINES:
            _, _, peak = _run(command, feed=[sys.executable, str(HERE / "nginx_log.py"), str(lines)])
            peaks[lines] = peak

    benchmark.pedantic(runs, rounds=1, iterations=1)
    small, large = (peaks[n] for n in MEMORY_LINES)
    print(
        f"\npeak RSS: {small / 1024:.1f} MiB for {MEMORY_LINES[0]:,} lines, {large / 1024:.1f} MiB for {MEMORY_LINES[1]:,}"
    )
    benchmark.extra_info.update({"peak_rss_kib": peaks})
    assert large < small * 1.1 + 4096, "memory grew with the input"
