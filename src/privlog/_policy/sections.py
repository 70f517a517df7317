"""Validation of each section of a policy mapping. Every error names the setting and the fix."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import PolicyError, did_you_mean
from .._keys.private import check_private
from .._transforms.address import PROXY_HEADERS
from .catalogue import EVENT_KINDS, KEYED_ACTIONS
from .common import MAX_RETENTION_DAYS, choice
from .common import as_table as as_table
from .common import check_keys as check_keys
from .fields import parse_fields, parse_headers
from .types import RETENTION_BASES, SUBJECT_FIELDS, ExportSettings, RetentionClass, Stream

MIN_SECRET_BYTES = 32
MIN_DISTINCT_BYTES = 8  # well below the 13 or so different characters of 32 random hex digits
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
SINKS = frozenset({"auto", "jsonl", "otlp", "otel", "both"})
MAX_FLUSH_INTERVAL = 3600.0

_PROXY_KEYS = frozenset({"trusted", "header"})
_RETENTION_KEYS = frozenset({"days", "purpose", "legal_basis", "from", "subject"})
_STREAM_KEYS = frozenset({"retention", "consent_gated", "events", "fields", "headers"})
_EXPORT_KEYS = frozenset({"sink", "directory", "queue_size", "batch_size", "flush_interval"})


def _required_table(value: Any, setting: str, what: str, example: str) -> Mapping[str, Any]:
    """A section that must hold at least one entry (a retention class, a stream)."""
    if value is None:
        raise PolicyError(setting, f"no {what} is defined", f"add e.g. {example}")
    table = as_table(value, setting)
    if not table:
        raise PolicyError(setting, f"no {what} is defined", f"add at least one [{setting}.NAME]")
    return table


def parse_retention(value: Any) -> dict[str, RetentionClass]:
    table = _required_table(
        value, "retention", "retention class", '[retention.access] days = 7, purpose = "...", legal_basis = "..."'
    )
    classes = {}
    for name, spec in table.items():
        setting = f"retention.{name}"
        spec = as_table(spec, setting)
        check_keys(spec, _RETENTION_KEYS, setting)
        days = spec.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_RETENTION_DAYS:
            raise PolicyError(
                f"{setting}.days",
                f"must be a positive whole number of days (at most {MAX_RETENTION_DAYS}), got {days!r}",
                "set days = 7 (or your policy's period)",
            )
        purpose = spec.get("purpose")
        legal = spec.get("legal_basis")
        for key, val in (("purpose", purpose), ("legal_basis", legal)):
            if not isinstance(val, str) or not val.strip():
                raise PolicyError(
                    f"{setting}.{key}",
                    "is required and must be a non-empty string",
                    f'set {key} = "..." as your privacy policy states it',
                )
        counted_from, subject = _retention_basis(spec, setting)
        classes[name] = RetentionClass(
            name=name,
            days=days,
            purpose=str(purpose),
            legal_basis=str(legal),
            counted_from=counted_from,
            subject=subject,
        )
    return classes


def _retention_basis(spec: Mapping[str, Any], setting: str) -> tuple[str, str | None]:
    """``from`` and ``subject`` of a retention class: each record's time, or a subject's last visit."""
    counted_from = spec.get("from", "record")
    if not isinstance(counted_from, str) or counted_from not in RETENTION_BASES:
        raise PolicyError(
            f"{setting}.from", f"unknown basis {counted_from!r}", did_you_mean(str(counted_from), RETENTION_BASES)
        )
    subject = spec.get("subject")
    if counted_from == "record":
        if subject is not None:
            raise PolicyError(
                f"{setting}.subject",
                "only a retention counted from the last visit has a subject",
                'remove subject, or set from = "last_visit"',
            )
        return counted_from, None
    if not isinstance(subject, str) or subject not in SUBJECT_FIELDS:
        raise PolicyError(
            f"{setting}.subject",
            "a retention counted from the last visit needs the field whose visits it counts",
            f"set subject = one of {', '.join(repr(f) for f in SUBJECT_FIELDS)}",
        )
    return counted_from, subject


def parse_streams(value: Any, retention: Mapping[str, RetentionClass]) -> tuple[Stream, ...]:
    table = _required_table(value, "streams", "stream", '[streams.access] retention = "access" with a fields table')
    out = []
    for name, spec in table.items():
        setting = f"streams.{name}"
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise PolicyError(
                setting, "stream names may hold only letters, digits, '-' and '_'", "rename the stream"
            )
        spec = as_table(spec, setting)
        check_keys(spec, _STREAM_KEYS, setting)
        rname = spec.get("retention")
        if not isinstance(rname, str):
            raise PolicyError(
                f"{setting}.retention",
                "is required: the name of a retention class",
                did_you_mean("", retention),
            )
        if rname not in retention:
            raise PolicyError(
                f"{setting}.retention", f"unknown retention class {rname!r}", did_you_mean(rname, retention)
            )
        gated = spec.get("consent_gated", False)
        if not isinstance(gated, bool):
            raise PolicyError(f"{setting}.consent_gated", "must be true or false", "set consent_gated = true")
        events = spec.get("events", ["http", "websocket"])
        if not isinstance(events, list) or not events:
            raise PolicyError(
                f"{setting}.events", "must be a non-empty list", 'set events = ["http", "websocket", "auth"]'
            )
        for ev in events:
            choice(ev, EVENT_KINDS, f"{setting}.events", "event kind")
        fields = parse_fields(spec.get("fields"), f"{setting}.fields")
        kept_for = retention[rname]
        if kept_for.subject is not None:
            rule = fields.get(kept_for.subject)
            if rule is None or rule.action not in KEYED_ACTIONS:
                raise PolicyError(
                    f"{setting}.fields.{kept_for.subject}",
                    f"retention {rname!r} counts from each {kept_for.subject}'s last visit, so this stream "
                    f"must record {kept_for.subject} with a keyed action",
                    f'set {kept_for.subject} = "hash"'
                    if kept_for.subject == "client_ip"
                    else f'set {kept_for.subject} = "pseudonymise" (or "pseudonymize")',
                )
        headers, patterns = parse_headers(spec.get("headers", {}), f"{setting}.headers")
        out.append(
            Stream(
                name=name,
                retention=retention[rname],
                fields=fields,
                headers=headers,
                consent_gated=gated,
                events=frozenset(events),
                header_patterns=patterns,
            )
        )
    return tuple(out)


def parse_proxy_header(value: Any) -> str:
    """``[proxies] header``: the one forwarding header the trusted proxies write.

    ``value`` is the ``[proxies]`` table. Only that header is believed; a client can send the
    other one through any proxy that merely passes it on.
    """
    table = as_table(value, "proxies")
    header = table.get("header", "x-forwarded-for")
    if not isinstance(header, str) or header.lower() not in PROXY_HEADERS:
        raise PolicyError(
            "proxies.header",
            "must name the header your trusted proxies set",
            'set header = "x-forwarded-for" (nginx, most load balancers) or "forwarded" (RFC 7239)',
        )
    return header.lower()


def parse_proxies(value: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    table = as_table(value, "proxies")
    check_keys(table, _PROXY_KEYS, "proxies")
    parse_proxy_header(table)  # validated here too, so a wrong value stops start-up
    trusted = table.get("trusted", [])
    if not isinstance(trusted, list):
        raise PolicyError(
            "proxies.trusted", "must be a list of addresses or networks", 'set trusted = ["10.0.0.0/8"]'
        )
    nets = []
    for item in trusted:
        try:
            nets.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            raise PolicyError(
                "proxies.trusted",
                f"{item!r} is not an IP address or network",
                'write e.g. "10.0.0.0/8" or "127.0.0.1"',
            ) from None
    return tuple(nets)


def parse_export(value: Any) -> ExportSettings:
    table = as_table(value, "export")
    check_keys(table, _EXPORT_KEYS, "export")
    sink = choice(table.get("sink", "auto"), SINKS, "export.sink", "sink")
    directory = table.get("directory", "privlog-logs")
    if not isinstance(directory, str) or not directory or "\0" in directory:
        raise PolicyError(
            "export.directory", "must be a directory path", 'set directory = "/var/log/privlog"'
        )
    ints = {}
    for key, default, most in (("queue_size", 10_000, 10_000_000), ("batch_size", 256, 100_000)):
        v = table.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= most:
            raise PolicyError(
                f"export.{key}", f"must be a positive whole number (at most {most}), got {v!r}", f"set {key} = {default}"
            )
        ints[key] = v
    interval = table.get("flush_interval", 0.5)
    # inf or 1e300 kill the worker (a wait that overflows), nan makes it spin: a bounded number.
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not 0.001 <= interval <= MAX_FLUSH_INTERVAL
    ):
        raise PolicyError(
            "export.flush_interval",
            f"must be a positive number of seconds (0.001 to {MAX_FLUSH_INTERVAL:g}), got {interval!r}",
            "set flush_interval = 0.5",
        )
    return ExportSettings(
        sink=sink,
        directory=directory,
        queue_size=ints["queue_size"],
        batch_size=ints["batch_size"],
        flush_interval=float(interval),
    )


def parse_metrics(value: Any, streams: tuple[Stream, ...]) -> str | None:
    table = as_table(value, "metrics")
    check_keys(table, frozenset({"enabled", "stream"}), "metrics")
    enabled = table.get("enabled", False)
    if not isinstance(enabled, bool):
        raise PolicyError("metrics.enabled", "must be true or false", "set enabled = true")
    if not enabled:
        return None
    names = [s.name for s in streams]
    return choice(table.get("stream", names[0]), names, "metrics.stream", "stream")


def parse_geo(value: Any, env: Mapping[str, str], streams: tuple[Stream, ...]) -> str | None:
    table = as_table(value, "geo")
    check_keys(table, frozenset({"database"}), "geo")
    if not any("location" in s.fields for s in streams):
        return None
    path = table.get("database") or env.get("PRIVLOG_GEOIP_DATABASE")
    if not path:
        raise PolicyError(
            "geo.database",
            "the location field needs a MaxMind database",
            'set [geo] database = "/path/GeoLite2-City.mmdb" or PRIVLOG_GEOIP_DATABASE',
        )
    if not Path(str(path)).is_file():
        raise PolicyError(
            "geo.database",
            f"cannot open {path} (no such file)",
            "point it at a GeoLite2/GeoIP2 .mmdb file",
        )
    return str(path)  # opened when the pipeline is built, at start-up


def load_secret(cfg: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, bytes]:
    var = cfg.get("env", "PRIVLOG_SECRET")
    # A long name without "_" (a base32 key, say) is as likely the secret pasted here.
    if not isinstance(var, str) or not _ENV_NAME.fullmatch(var) or (len(var) >= 20 and "_" not in var):
        # Never shown: people paste the secret itself here.
        raise PolicyError(
            "secret.env",
            "holds something that is not an environment variable name (upper-case letters, digits "
            "and _); it is not shown, in case it is the secret itself",
            'set env = "PRIVLOG_SECRET" and put the secret in that variable: '
            "export PRIVLOG_SECRET=$(privlog secret)",
        )
    path = cfg.get("file") or env.get("PRIVLOG_SECRET_FILE")
    if path:
        setting = "secret.file"
        if not isinstance(path, str) or "\0" in path:
            raise PolicyError(setting, "must be a file path", 'set file = "/run/secrets/privlog"')
        check_private(Path(path), setting)
        try:
            raw = Path(str(path)).read_bytes().strip()
        except OSError as exc:
            raise PolicyError(
                setting,
                f"cannot read the secret file ({exc.strerror})",
                "point it at a readable file made with `privlog secret`",
            ) from None
    else:
        setting = f"secret.env ({var})"
        value = env.get(str(var))
        if not value:
            raise PolicyError(
                setting,
                f"a hash or pseudonymise action needs a secret key, and ${var} is not set",
                f"export {var}=$(privlog secret) or set PRIVLOG_SECRET_FILE to a file holding one",
            )
        raw = value.encode("utf-8")
    if len(raw) < MIN_SECRET_BYTES:
        # Say how long it is, never what it is.
        raise PolicyError(
            setting,
            f"the secret is {len(raw)} bytes; at least {MIN_SECRET_BYTES} are needed",
            "generate one with `privlog secret`",
        )
    weakness = weak_secret(raw)
    if weakness:
        raise PolicyError(setting, f"the secret is too easy to guess ({weakness})", "generate one with `privlog secret`")
    return setting, raw


def weak_secret(raw: bytes) -> str | None:
    """Why a secret is easy to guess, or None. Says how, never what: a repeated pattern
    (``"password" * 4``) or too few different characters (``"a" * 32``). A guessed secret
    opens every pseudonym, so these are refused; ``privlog secret`` makes a strong one."""
    for period in range(1, len(raw) // 2 + 1):
        if raw == (raw[:period] * (len(raw) // period + 1))[: len(raw)]:
            return f"a pattern of {period} character(s) repeated"
    distinct = len(set(raw))
    if distinct < MIN_DISTINCT_BYTES:
        return f"only {distinct} different characters"
    return None
