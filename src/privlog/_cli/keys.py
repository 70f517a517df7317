"""``privlog keys``: the key store (rotation by epoch, crypto-shredding) and ``privlog secret``."""

from __future__ import annotations

import argparse
import os
import secrets

from .._errors import UsageError
from .common import OK, Subparsers, command


def _store_dir(args: argparse.Namespace) -> str:
    directory: str | None = args.directory or os.environ.get("PRIVLOG_KEY_STORE")
    if not directory:
        raise UsageError("DIR", "no key store given", "pass the store directory or set PRIVLOG_KEY_STORE")
    return directory


def keys(args: argparse.Namespace) -> int:
    from .._keys.store import KeyStore

    if args.action == "init":
        store = KeyStore.init(_store_dir(args), args.rotation, args.retention_days)
        print(
            f"created {store.path} (owner-only): rotation {store.rotation}, keys kept {store.retention_days} days"
        )
        print("copy this directory to every host of the deployment now; each host then advances it alone.")
        print(f'point the policy at it: [secret] store = "{store.path.parent}" (or PRIVLOG_KEY_STORE)')
        return OK
    store = KeyStore.load(_store_dir(args))
    if args.action == "status":
        print(
            f"{store.path}: rotation {store.rotation}, keys kept {store.retention_days} days after their epoch"
        )
        for held in store.held():
            print(f"  epoch {held.label:12} key id {held.key_id:32} shredded on {held.shred_on}")
    elif args.action == "rotate":
        print(f"new key chain from now on; current key id {store.rotate()}")
    elif args.action == "shred":
        gone = store.shred()
        print(f"shredded {len(gone)} expired key(s)" + (f": {', '.join(gone)}" if gone else ""))
    return OK


def secret(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(48))
    return OK


def add_commands(sub: Subparsers) -> None:
    keys_ = command(
        sub,
        "keys",
        "the key store: keys rotated by epoch and shredded once their records expired",
        "See docs/keys.md. Every action takes the store directory, or $PRIVLOG_KEY_STORE.",
    )
    actions = keys_.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = command(actions, "init", "create a key store holding a random key chain")
    init.add_argument(
        "--rotation",
        default="daily",
        choices=["never", "daily", "weekly", "monthly"],
        help="how often records get a new key (default: daily)",
    )
    init.add_argument(
        "--retention-days", type=int, default=90, help="keep keys this long after their epoch (default: 90)"
    )
    for name, text in (
        ("status", "list the epochs held and when each key is shredded"),
        ("rotate", "start a new key chain now (e.g. after a suspected leak)"),
        ("shred", "destroy the keys whose records have expired, now"),
    ):
        command(actions, name, text)
    for parser in actions.choices.values():
        parser.add_argument("directory", nargs="?", help="the store (default: $PRIVLOG_KEY_STORE)")
    keys_.set_defaults(func=keys)
    command(sub, "secret", "print a new random secret for PRIVLOG_SECRET").set_defaults(func=secret)
