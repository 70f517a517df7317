"""``privlog policy explain|diff|ropa``: the policy as a privacy notice, a change report, a register entry."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._notice.document import FORMATS
from .._notice.locale import languages
from .._notice.ropa import FORMATS as ROPA_FORMATS


def _cmd_explain(args: argparse.Namespace) -> int:
    from .._notice.explain import explain, load_policy

    print(explain(load_policy(args.file), args.lang, args.format), end="")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from .._notice.diff import diff, render_diff
    from .._notice.explain import load_policy
    from .._notice.locale import load

    loc = load(args.lang)
    result = diff(load_policy(args.old), load_policy(args.new), loc)
    print(render_diff(result, loc), end="")
    return 1 if result.needs_update else 0


def _cmd_ropa(args: argparse.Namespace) -> int:
    from .._notice.explain import load_policy
    from .._notice.locale import load
    from .._notice.ropa import entries, render_ropa

    loc = load(args.lang)
    print(render_ropa(entries(load_policy(args.file), loc, os.environ), loc, args.format), end="")
    return 0


def add_commands(policy: Any) -> None:
    """Register the notice commands under ``privlog policy``."""
    explain = policy.add_parser(
        "explain", help='write the "server log files" section of a privacy notice from a policy file'
    )
    explain.add_argument("file", help="the policy TOML file")
    explain.add_argument("--format", choices=FORMATS, default="md", help="md (default), html or text")
    explain.add_argument("--lang", choices=languages(), default="en", help="language (default: en)")
    explain.set_defaults(func=_cmd_explain)
    diff = policy.add_parser(
        "diff",
        help="what changes for the people logged between two policy files; exit 1 when the notice must be updated",
    )
    diff.add_argument("old", help="the policy file the published notice describes")
    diff.add_argument("new", help="the changed policy file")
    diff.add_argument("--lang", choices=languages(), default="en", help="language (default: en)")
    diff.set_defaults(func=_cmd_diff)
    ropa = policy.add_parser(
        "ropa", help="the record of processing activities (GDPR Art. 30), one entry per stream"
    )
    ropa.add_argument("file", help="the policy TOML file")
    ropa.add_argument("--format", choices=ROPA_FORMATS, default="md", help="md (default), json or csv")
    ropa.add_argument("--lang", choices=languages(), default="en", help="language (default: en)")
    ropa.set_defaults(func=_cmd_ropa)
