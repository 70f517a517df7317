"""Requests/s versus load through a real uvicorn: bare, privlog (Python), privlog (extension) and
OpenTelemetry's ASGI instrumentation, measured with wrk and drawn into a PNG (with the server's
CPU time per request below, which the other work on a shared machine moves less).

    python benchmarks/plot_load.py                       # measure, then draw docs/load.png
    python benchmarks/plot_load.py --from load.json      # draw again from earlier measurements

Load is wrk's number of keep-alive connections (``--connections``, default 1 to 64). Each variant
is one uvicorn (one worker, no access log) started once and warmed up; privlog runs the 90-day
security policy (two streams, keyed hashes, pseudonyms) over a JSONL store. In every round each
load level is measured on every variant in turn (A B C D at 1 connection, then at 2, ...), so a
machine that other work slows down slows them alike; the plot shows each point's median over
the rounds and, shaded, its range. ``PRIVLOG_LOAD_SECONDS`` and ``PRIVLOG_LOAD_ROUNDS`` set the
length (defaults 3 and 3). Needs wrk (``.ci/install-wrk``) and matplotlib (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from test_wrk_loopback import WARM_UP, _wrk, lua_script, measure_on, serve

ROOT = Path(__file__).parent.parent
VARIANTS = {
    "bare": "bare app",
    "security_python": "privlog, Python worker",
    "security_extension": "privlog, extension worker",
    "otel": "OpenTelemetry ASGI instrumentation",
}
CONNECTIONS = (1, 2, 4, 8, 16, 32, 64)
SECONDS = int(os.environ.get("PRIVLOG_LOAD_SECONDS", "3"))
ROUNDS = int(os.environ.get("PRIVLOG_LOAD_ROUNDS", "3"))


def machine() -> str:
    """CPU model and count, for the plot's caption."""
    model = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    return f"{os.cpu_count()} cores{', ' + model if model else ''}"


def sweep(connections: tuple[int, ...], rounds: int, seconds: int) -> dict[str, Any]:
    """Requests/s of every variant at every load, ``rounds`` interleaved rounds."""
    rps: dict[str, dict[int, list[float]]] = {v: {c: [] for c in connections} for v in VARIANTS}
    cpu: dict[str, dict[int, list[float]]] = {v: {c: [] for c in connections} for v in VARIANTS}
    dropped: dict[str, dict[int, list[float]]] = {v: {c: [] for c in connections} for v in VARIANTS}
    errors: list[str] = []
    load = [os.getloadavg()[0]]
    with lua_script() as script, contextlib.ExitStack() as stack:
        servers = [stack.enter_context(serve(v)) for v in VARIANTS]
        for server in servers:
            _wrk(server.port, WARM_UP, script)
        for _ in range(rounds):
            for c in connections:
                for server in servers:
                    run = measure_on(server, seconds, script, c)
                    rps[server.variant][c].append(run.rps)
                    if run.cpu_us is not None:
                        cpu[server.variant][c].append(run.cpu_us)
                    if run.dropped is not None:
                        dropped[server.variant][c].append(run.dropped)
                    if run.errors:
                        errors.append(f"{server.variant} at {c}: {run.errors}")
            load.append(os.getloadavg()[0])
    return {
        "connections": list(connections),
        "rps": {v: {str(c): xs for c, xs in by.items()} for v, by in rps.items()},
        "cpu_us": {v: {str(c): xs for c, xs in by.items()} for v, by in cpu.items()},
        "dropped": {v: {str(c): xs for c, xs in by.items()} for v, by in dropped.items()},
        "rounds": rounds,
        "seconds": seconds,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "load_average": [min(load), max(load)],
        "errors": errors,
    }


def draw(result: dict[str, Any], png: Path) -> None:
    """Median requests/s per load level, one line per variant, the rounds' range shaded; below,
    the server's CPU time per request (all its threads), which other work on the machine moves less."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    connections = result["connections"]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 7.5), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    for variant, label in VARIANTS.items():
        runs = [result["rps"][variant][str(c)] for c in connections]
        top.plot(connections, [statistics.median(r) for r in runs], marker="o", label=label)
        top.fill_between(connections, [min(r) for r in runs], [max(r) for r in runs], alpha=0.15)
        cpus = [result.get("cpu_us", {}).get(variant, {}).get(str(c), []) for c in connections]
        if all(cpus):
            bottom.plot(connections, [statistics.median(x) for x in cpus], marker="o", label=label)
    top.set_xscale("log", base=2)
    top.set_ylim(bottom=0)
    top.set_ylabel("requests/s (median of rounds)")
    top.set_title("Requests/s versus load: one uvicorn worker, 90-day security policy, JSONL store")
    top.legend(loc="lower right", fontsize=8)
    bottom.set_xticks(connections, [str(c) for c in connections])
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("load: wrk keep-alive connections")
    bottom.set_ylabel("server CPU µs per request")
    low, high = result["load_average"]
    bottom.text(
        0.01,
        0.03,
        f"{result['date']}, {result['machine']} (shared; load average {low:.1f}-{high:.1f}), "
        f"{result['rounds']} interleaved rounds of {result['seconds']} s; shaded: range of rounds",
        transform=bottom.transAxes,
        fontsize=7,
        color="0.4",
    )
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


def render(result: dict[str, Any]) -> str:
    """The medians as a text table: requests/s, and each variant's ratio to the bare app."""
    connections = result["connections"]
    lines = [f"{'connections':36}" + "".join(f"{c:>9}" for c in connections)]
    bare = {c: statistics.median(result["rps"]["bare"][str(c)]) for c in connections}
    for variant, label in VARIANTS.items():
        medians = [statistics.median(result["rps"][variant][str(c)]) for c in connections]
        lines.append(f"{label:36}" + "".join(f"{m:9.0f}" for m in medians))
        if variant != "bare":
            lines.append(f"{'  vs bare':36}" + "".join(f"{m / bare[c]:8.2f}x" for m, c in zip(medians, connections)))
        drops = [result.get("dropped", {}).get(variant, {}).get(str(c), []) for c in connections]
        if all(drops):
            lines.append(f"{'  captures dropped (most)':36}" + "".join(f"{max(d):9.1%}" for d in drops))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="draw from this JSON instead of measuring")
    parser.add_argument("--json", type=Path, default=ROOT / ".benchmarks" / "load.json")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "load.png")
    parser.add_argument("--connections", type=int, nargs="+", default=list(CONNECTIONS))
    args = parser.parse_args()
    if args.source is not None:
        result = json.loads(args.source.read_text())
    else:
        if shutil.which("wrk") is None:
            sys.exit("wrk is not installed (.ci/install-wrk)")
        result = sweep(tuple(args.connections), ROUNDS, SECONDS)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    print(render(result))
    for error in result["errors"]:
        print("wrk:", error)
    draw(result, args.png)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
