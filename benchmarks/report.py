"""Print per-request medians and overhead ratios from a pytest-benchmark JSON file, then the
goal table (both worker paths side by side) that the README's Performance section carries.

python benchmarks/report.py .benchmarks/latest.json [--load .benchmarks/load.json]
    [--memory .benchmarks/memory.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from test_wrk_loopback import render

BASELINES = {
    "asgi": "test_bare_app",
    "flask": "test_bare_flask",
    "django": "test_bare_django",
    "loopback": "test_uvicorn_loopback[bare]",
    "log-clean": "test_log_record[clean-bare]",
    "log-personal": "test_log_record[personal-bare]",
    "log-access": "test_log_record[access-bare]",
}
NOT_MEASURED = "not measured"


def _met(value: float | None, target: float, at_least: bool) -> str:
    if value is None:
        return NOT_MEASURED
    return "yes" if (value >= target if at_least else value <= target) else "no"


def _x(value: float | None, digits: int = 2) -> str:
    return NOT_MEASURED if value is None else f"{value:.{digits}f}×"


def machine() -> str:
    """``nproc`` and the CPU model from ``lscpu``."""
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return f"{os.cpu_count()} cores ({model or 'CPU model unknown'})"


def goals(data: dict[str, Any], load: dict[str, Any] | None, memory: dict[str, Any] | None) -> str:
    """The issue's three ratios and the memory check, Python and extension columns, as Markdown."""
    extra: dict[str, Any] = {}
    for bench in data["benchmarks"]:
        extra.update(bench.get("extra_info", {}))
    rows = ["| goal (target) | privlog, Python worker | privlog, extension | met (extension) |", "|---|---|---|---|"]

    wrk = {row["variant"]: row for row in extra.get("wrk", [])}

    def ratio(variant: str) -> float | None:
        return wrk[variant]["ratio"] if variant in wrk else None

    def both(variant: str) -> str:
        """The requests/s ratio, and bare's server CPU per request over the variant's."""
        if variant not in wrk:
            return NOT_MEASURED
        cpu, base = wrk[variant]["cpu_us"], wrk.get("bare", {}).get("cpu_us")
        return _x(ratio(variant)) + (f" (CPU {base / cpu:.2f}×)" if cpu and base else "")

    for policy, label, target in (
        ("security", "90-day security policy", 0.95),
        ("access", "seven-day access-log policy", 0.97),
    ):
        ext = ratio(f"{policy}_extension")
        rows.append(
            f"| uvicorn at full load (wrk, 8 connections), {label}: requests/s vs bare (≥ {target:.2f}×) "
            f"| {both(policy + '_python')} | {both(policy + '_extension')} | {_met(ext, target, True)} |"
        )

    gil = extra.get("goal_gil", {}).get("us_per_request")
    if gil:
        floor = gil["floor"]
        py, ext = gil["privlog_python"] / floor, gil.get("privlog_extension")
        ext = ext / floor if ext is not None else None
        rows.append(
            "| in process: whole job's GIL-held time per request vs the floor middleware (≤ 2×) "
            f"| {_x(py)} ({gil['privlog_python']:.1f} µs) "
            f"| {_x(ext)} ({gil.get('privlog_extension', float('nan')):.1f} µs) | {_met(ext, 2.0, False)} |"
        )
    export = extra.get("goal_export", {}).get("us_per_record")
    if export:
        sdk = export["sdk_emit_and_encode"]
        ext_us = export.get("privlog_extension")
        ext = sdk / ext_us if ext_us is not None else None
        rows.append(
            "| CPU per record, capture to OTLP bytes: the SDK path ÷ privlog (≥ 10×) "
            f"| {_x(sdk / export['privlog_python'], 1)} ({export['privlog_python']:.1f} µs) "
            f"| {_x(ext, 1)} ({ext_us if ext_us is not None else float('nan'):.1f} µs) | {_met(ext, 10.0, True)} |"
        )
    samples = {
        path: [x for x in (memory or {}).get(path, []) if not x.get("after_flush")] for path in ("python", "extension")
    }
    if any(samples.values()):

        def rss(path: str) -> str:
            got = samples[path]
            return f"{got[0]['rss_mib']:.0f} → {got[-1]['rss_mib']:.0f} MiB" if got else NOT_MEASURED

        flat = [got[-1]["rss_mib"] <= got[0]["rss_mib"] * 1.1 for got in samples.values() if got]
        first = next(got for got in samples.values() if got)
        rows.append(
            f"| resident memory at {first[0]['requests']:,} → {first[-1]['requests']:,} requests, in process "
            f"(flat: within 10%, both paths) | {rss('python')} | {rss('extension')} "
            f"| {('yes' if all(flat) else 'no') if len(flat) == 2 else NOT_MEASURED} |"
        )

    loads = [os.getloadavg()[0], *extra.get("load_average", []), *(load["load_average"] if load else [])]
    notes = [
        f"Machine: {machine()}, shared with other developers; 1-minute load average "
        f"{min(loads):.1f}-{max(loads):.1f} during the run; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    ]
    drops = [row["dropped"] for row in wrk.values() if row.get("dropped") is not None]
    if drops:
        notes.append(f"In the wrk run privlog's queue dropped at most {max(drops):.1%} of captures in any round.")
    if "otel" in wrk:
        notes.append(f"Peer in the same wrk run: OpenTelemetry's ASGI instrumentation {both('otel')} the bare app.")
    for path, got in samples.items():
        if got:
            last = got[-1]
            notes.append(
                f"Memory, {path} path: {last['dropped']:,} of {last['requests']:,} captures dropped by the full "
                f"queue (the in-process driver never yields, so the worker gets the GIL only at thread switches)."
            )
    if gil:
        bare = gil["bare"]
        over = {k: gil[k] - bare for k in gil}
        notes.append(
            f"In process, µs per request (GIL-held CPU): bare {bare:.1f}, floor {gil['floor']:.1f}, "
            f"Python {gil['privlog_python']:.1f}"
            + (f", extension {gil['privlog_extension']:.1f}" if "privlog_extension" in gil else "")
            + f". Over the bare app: floor +{over['floor']:.1f}, Python +{over['privlog_python']:.1f}"
            + (f", extension +{over['privlog_extension']:.1f}" if "privlog_extension" in over else "")
            + " µs."
        )
    if export:
        notes.append(
            f"Per record: SDK emit + encoding {export['sdk_emit_and_encode']:.1f} µs, privlog's transforms + SDK "
            f"{export['privlog_transforms_and_sdk']:.1f} µs."
        )
    return "\n".join(rows) + "\n\n" + "\n".join(f"- {note}" for note in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", default=Path(".benchmarks/latest.json"))
    parser.add_argument("--load", type=Path, help="plot_load.py's measurements")
    parser.add_argument("--memory", type=Path, help="memory_flat.py's samples")
    args = parser.parse_args()
    data = json.loads(args.path.read_text())
    groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "wrk" in info:  # a whole interleaved session: its own table
            print("\n[wrk] uvicorn at full load, medians of interleaved rounds")
            print(render(info["wrk"]))
            continue
        if any(k.startswith("goal_") for k in info):  # interleaved sessions: in the goal table
            continue
        n = info.get("requests_per_round", 1)
        groups[bench["group"] or ""].append((bench["name"], bench["stats"]["median"] / n * 1e6))
    for group, rows in groups.items():
        base = dict(rows).get(BASELINES.get(group, ""), min(v for _, v in rows))
        print(f"\n[{group}] median µs per request; overhead over the bare app; ratio to bare")
        for name, us in sorted(rows, key=lambda r: r[1]):
            print(f"  {name:45} {us:9.2f} µs   +{us - base:8.2f} µs   {us / base:6.2f}x")
    load = json.loads(args.load.read_text()) if args.load and args.load.exists() else None
    memory = json.loads(args.memory.read_text()) if args.memory and args.memory.exists() else None
    if load:
        from plot_load import render as render_load

        print("\n[load] requests/s versus wrk connections, medians of interleaved rounds")
        print(render_load(load))
    print("\n[goals] both worker paths, this run (Markdown, for the README)\n")
    print(goals(data, load, memory))


if __name__ == "__main__":
    main()
