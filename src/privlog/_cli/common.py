"""What the command modules share: how a subcommand is declared, exit codes, stream helpers."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TextIO, TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers`` returns; each command module adds its commands to one."""

# Exit codes, documented in README ("The privlog command") and in `privlog --help`.
OK = 0
NOTHING = 1
"""The command ran but found nothing to do or nothing matched (no store, no key opens a token)."""
USAGE = 2
"""Wrong arguments (argparse's own code too)."""
POLICY = 3
"""The policy is invalid (:class:`PolicyError`)."""
CONFIGURATION = 4
"""What the policy relies on is missing or wrong: secret, key store, ``OTEL_*``, a package."""
IO = 5
"""A file could not be read or written."""
DECLINED = 6
"""The user answered no to a confirmation."""
INTERRUPTED = 130

EXIT_CODES = f"""exit codes:
  {OK}  success
  {NOTHING}  nothing found or nothing to do
  {USAGE}  wrong arguments
  {POLICY}  invalid policy
  {CONFIGURATION}  configuration problem (secret, key store, OTEL_* variables, missing package)
  {IO}  a file could not be read or written
  {DECLINED}  a deletion was not confirmed
  {INTERRUPTED}  interrupted"""


def command(sub: Subparsers, name: str, summary: str, details: str = "") -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` opens with ``summary`` (also its line in the parent's list)."""
    description = summary[0].upper() + summary[1:] + "."
    if details:
        description += "\n\n" + "\n".join(textwrap.wrap(details, 88))
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return parser


def confirm(question: str, stdin: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Ask a yes/no question on the terminal; anything but y/yes is no, and so is no terminal."""
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    stderr.write(f"{question} [y/N] ")
    stderr.flush()
    answer = stdin.readline()
    return answer.strip().lower() in ("y", "yes")
