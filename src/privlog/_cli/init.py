"""``privlog init --preset NAME``: a commented starter policy, made from a shipped example policy."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

#: preset -> (shipped policy, what it is, in one line).
PRESETS = {
    "anonymous-access": ("access-7-days", "a 7-day anonymous access log: shortened addresses, no key needed"),
    "security": (
        "security-90-days",
        "a 90-day security log with keyed addresses and pseudonymous users, and a consent-gated analytics log",
    ),
    "connections": (
        "connections-30-days",
        "a 30-day connection log: sessions with ports and bytes, auth events",
    ),
}

_FIELDS_TABLE = re.compile(r"\[streams\.([\w-]+)\.fields\]")
_FIELD_LINE = re.compile(r"([a-z_]+)\s*=")


def starter_policy(preset: str) -> str:
    """The shipped policy of ``preset`` with a header and, above each field, what it records."""
    from .._notice.explain import load_policy
    from .._notice.locale import load
    from .._notice.sentences import field_sentence

    shipped, summary = PRESETS[preset]
    path = resources.files("privlog") / "policies" / f"{shipped}.toml"
    text = path.read_text(encoding="utf-8")
    with resources.as_file(path) as file:
        policy = load_policy(file, environ={})
    streams = {s.name: s for s in policy.streams}
    loc = load("en")
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):  # the shipped file's note on its origin
        lines.pop(0)
    out = [
        f"# privlog policy: {summary}.",
        f"# Written by `privlog init --preset {preset}`; edit it to match your privacy notice.",
        "#   privlog policy check privlog.toml     validates it and warns about raw personal data",
        "#   privlog policy explain privlog.toml   writes the notice's section on server logs from it",
        "# Each field says what it records; a field not listed is never read. Set a field to",
        '# "drop" (or delete it) to stop recording it.',
    ]
    if policy.needs_secret:
        out.append("# Keyed fields need a secret of 32+ bytes: export PRIVLOG_SECRET=$(privlog secret)")
    stream = None
    for line in lines:
        table = _FIELDS_TABLE.fullmatch(line.strip())
        if line.startswith("["):
            stream = table.group(1) if table else None
        field = _FIELD_LINE.match(line)
        if stream is not None and field and field.group(1) in streams[stream].fields:
            sentence = field_sentence(loc, field.group(1), streams[stream].fields[field.group(1)])
            out += textwrap.wrap(sentence, 98, initial_indent="# ", subsequent_indent="#   ")
        if line.startswith("service ="):
            line = 'service = "my-service"   # the service.name of every record'
        out.append(line)
    return "\n".join(out) + "\n"


def _cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.output)
    if target.exists() and not args.force:
        print(f"privlog: {target} exists; pass --force to overwrite it", file=sys.stderr)
        return 1
    target.write_text(starter_policy(args.preset), encoding="utf-8")
    print(f"wrote {target}: {PRESETS[args.preset][1]}")
    print(f"next: privlog policy check {target}  and  privlog policy explain {target}")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``privlog init``."""
    init = sub.add_parser("init", help="write a commented starter policy from a preset")
    init.add_argument("--preset", required=True, choices=sorted(PRESETS), help="which starter policy")
    init.add_argument(
        "--output", "-o", default="privlog.toml", help="where to write it (default: privlog.toml)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=_cmd_init)
