"""``privlog policy explain``: the "server log files" section of a privacy notice, from the policy."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .._policy.catalogue import KEYED_ACTIONS
from .._policy.model import Policy
from .document import Block, Bullets, Heading, Paragraph, render
from .locale import Locale, load
from .sentences import (
    EVENT_ORDER,
    collector_host,
    events_phrase,
    key_sentences,
    keyed_actions,
    recipients,
    stream_items,
    stream_title,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: Stands in for an unset secret: describing a policy needs no key, and this one is never used.
_PLACEHOLDER_SECRET = "privlog-notice-placeholder-" + "0" * 32


def load_policy(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Policy:
    """A policy file, validated as the app would, but without needing its secret key."""
    env = dict(os.environ if environ is None else environ)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return Policy.from_toml(path, environ=env)  # its error names the file and the fix
    secret = data.get("secret", {})
    if isinstance(secret, Mapping) and not (
        secret.get("file")
        or secret.get("store")
        or env.get("PRIVLOG_SECRET_FILE")
        or env.get("PRIVLOG_KEY_STORE")
    ):
        env.setdefault(str(secret.get("env", "PRIVLOG_SECRET")), _PLACEHOLDER_SECRET)
    return Policy.from_dict(data, environ=env)


def notice_blocks(policy: Policy, loc: Locale, environ: Mapping[str, str] | None = None) -> list[Block]:
    """The notice's headings, paragraphs and lists in one language."""
    env = os.environ if environ is None else environ
    blocks: list[Block] = [Heading(1, loc.text("doc.title")), Paragraph(loc.text("doc.intro"))]
    for s in policy.streams:
        r = s.retention
        blocks += [
            Heading(2, stream_title(loc, s)),
            Paragraph(loc.text("doc.records", events=events_phrase(loc, s.events))),
            Bullets(tuple(stream_items(loc, s))),
            *(Paragraph(loc.text(f"event_detail.{e}")) for e in EVENT_ORDER if e in s.events and e != "http"),
            Paragraph(loc.text("doc.not_listed")),
            Paragraph(
                " ".join(
                    (
                        loc.text("doc.purpose", purpose=r.purpose.strip().rstrip(".")),
                        loc.text(
                            "doc.legal_basis", legal_basis=loc.legal_text(r.legal_basis.strip().rstrip("."))
                        ),
                        loc.text("doc.retention", days=loc.days(r.days))
                        if r.subject is None
                        else loc.text(
                            "doc.retention_last_visit",
                            days=loc.days(r.days),
                            subject=loc.text(f"subject.{r.subject}"),
                        ),
                    )
                )
            ),
            Paragraph(loc.text("doc.consent_gated" if s.consent_gated else "doc.not_gated")),
        ]
    blocks.append(Heading(2, loc.text("doc.recipients_heading")))
    host = collector_host(env)
    blocks += [Paragraph(t) for t in recipients(loc, policy.export.sink, host, policy.metrics_stream)]
    if _holds_active(policy):
        blocks.append(Paragraph(loc.text("doc.legal_hold")))
    actions = keyed_actions(policy.streams, KEYED_ACTIONS)
    if actions:
        rotation, shred_after = _key_lifecycle(policy)
        blocks.append(Heading(2, loc.text("doc.keys_heading")))
        blocks.append(
            Paragraph(" ".join(key_sentences(loc, actions, policy.hash_algorithm, rotation, shred_after)))
        )
    return blocks


def _holds_active(policy: Policy) -> bool:
    """True when the policy's store keeps some records under an active legal hold."""
    from datetime import date

    from ..sinks.holdlog import HoldLog

    return bool(HoldLog(policy.export.directory).active(date.today()))


def _key_lifecycle(policy: Policy) -> tuple[str, int | None]:
    """The key rotation, and after how many days keys are shredded (only a key store shreds)."""
    if policy.key_store is None:
        return policy.rotation, None
    from .._keys.store import KeyStore

    store = KeyStore.load(policy.key_store, policy.hash_algorithm)
    return store.rotation, store.retention_days


def explain(
    policy: Policy, language: str = "en", fmt: str = "md", environ: Mapping[str, str] | None = None
) -> str:
    """The "server log files" section of a privacy notice for ``policy``."""
    loc = load(language)
    return render(notice_blocks(policy, loc, environ), fmt, loc.language)
