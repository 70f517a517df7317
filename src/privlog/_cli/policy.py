"""``privlog policy check``: validate a policy and say in plain words what it records."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .._keys.ring import KeyRing
from .._policy.advice import raw_data_warnings
from .._policy.model import Policy
from .common import Subparsers, command

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_PLACEHOLDER = "privlog policy check: validation only, nothing is hashed"


def describe(policy: Policy, *, secret_known: bool = True) -> str:
    """The compiled policy in plain words: what each stream records and for how long."""
    lines = [f"service: {policy.service}"]
    if policy.key_store is not None:
        lines.append(
            f"keys: {policy.hash_algorithm}, key store {policy.key_store} (rotated by epoch, shredded after retention)"
        )
    elif policy.secret is not None and not secret_known:
        lines.append(
            f"key: {policy.hash_algorithm} from {policy.secret_setting}, not set here: validated without "
            f"it; set it where the app runs (rotation {policy.rotation})"
        )
    elif policy.secret is not None:
        key_id = KeyRing.from_secret(policy.secret, policy.hash_algorithm).key_id
        lines.append(
            f"key: {policy.hash_algorithm}, key id {key_id} (from {policy.secret_setting}), rotation {policy.rotation}"
        )
    proxies = ", ".join(str(n) for n in policy.trusted_proxies) or "none (proxy headers are ignored)"
    lines.append(f"trusted proxies: {proxies}")
    lines.append(f"export: {policy.export.sink} (JSONL store: {policy.export.directory})")
    for s in policy.streams:
        r = s.retention
        gate = ", skipped for Sec-GPC/DNT opt-outs" if s.consent_gated else ""
        lines.append(f"\nstream {s.name!r}: {', '.join(sorted(s.events))} records{gate}")
        lines.append(
            f"  retention {r.name!r}: {r.days} days"
            + (f" after each {r.subject}'s last visit" if r.subject else "")
            + f"; purpose: {r.purpose}; legal basis: {r.legal_basis}"
        )
        for name, rule in s.fields.items():
            opts = ", ".join(f"{k}={v}" for k, v in rule.options.items())
            lines.append(f"  {name:15} {rule.action}{f' ({opts})' if opts else ''}")
        for header, action in s.headers.items():
            pattern = s.header_patterns.get(header)
            lines.append(f"  header {header}: {action}{f' (pattern={pattern})' if pattern else ''}")
    lines.append("\nanything not listed is never captured.")
    return "\n".join(lines)


def environ_for_check(path: Path, environ: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """The environment to validate ``path`` in, and whether its secret is really there.

    Checking a policy needs no key: when the variable the policy names is unset (and no
    secret file or key store is given), a placeholder stands in, so the rest is validated.
    """
    env = dict(environ)
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8")).get("secret", {})
    except (OSError, ValueError):  # Policy.from_toml reports it properly
        return env, True
    if not isinstance(cfg, dict) or cfg.get("file") or cfg.get("store"):
        return env, True
    if env.get("PRIVLOG_SECRET_FILE") or env.get("PRIVLOG_KEY_STORE"):
        return env, True
    var = str(cfg.get("env", "PRIVLOG_SECRET"))
    if env.get(var):
        return env, True
    env[var] = _PLACEHOLDER
    return env, False


def check(args: argparse.Namespace) -> int:
    env, secret_known = environ_for_check(Path(args.file), os.environ)
    policy = Policy.from_toml(args.file, environ=env)
    if secret_known:
        _open_resources(policy)
    print(f"{args.file}: valid\n")
    print(describe(policy, secret_known=secret_known))
    warnings = raw_data_warnings(policy)
    if warnings:
        print(f"\n{len(warnings)} warning(s): raw personal data is kept")
        for w in warnings:
            print(f"  warning: {w}")
    return 0


def _open_resources(policy: Policy) -> None:
    """Open what the policy names (key store, location database), as start-up would."""
    from .._keys.source import open_keys
    from .._transforms.location import open_database

    open_keys(policy)
    if policy.geo_database is not None:
        open_database(policy.geo_database).close()


def add_commands(sub: Subparsers) -> Subparsers:
    """Add ``privlog policy check``; the ``policy`` group is returned for more actions."""
    policy = command(sub, "policy", "policy files: validate one and read what it records")
    actions = policy.add_subparsers(dest="action", required=True, metavar="ACTION")
    check_ = command(
        actions,
        "check",
        "validate a policy file and print, in plain words, what each stream records and for how long",
        "A keyed policy is validated without its secret when the secret is not set here: "
        "nothing is hashed, the key is only named.",
    )
    check_.add_argument("file", help="the policy TOML file")
    check_.set_defaults(func=check)
    return actions
