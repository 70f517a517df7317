"""Print per-request medians and overhead ratios from a pytest-benchmark JSON file.

python benchmarks/report.py .benchmarks/latest.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

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


def main(path: str) -> None:
    with open(path) as fh:
        data = json.load(fh)
    groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for bench in data["benchmarks"]:
        if "wrk" in bench.get("extra_info", {}):  # a whole interleaved session: its own table
            print("\n[wrk] uvicorn at full load, medians of interleaved rounds")
            print(render(bench["extra_info"]["wrk"]))
            continue
        n = bench.get("extra_info", {}).get("requests_per_round", 1)
        groups[bench["group"] or ""].append((bench["name"], bench["stats"]["median"] / n * 1e6))
    for group, rows in groups.items():
        base = dict(rows).get(BASELINES.get(group, ""), min(v for _, v in rows))
        print(f"\n[{group}] median µs per request; overhead over the bare app; ratio to bare")
        for name, us in sorted(rows, key=lambda r: r[1]):
            print(f"  {name:45} {us:9.2f} µs   +{us - base:8.2f} µs   {us / base:6.2f}x")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".benchmarks/latest.json")
