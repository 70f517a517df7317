"""The declarative policy: loaded from TOML or a mapping, validated once, frozen.

Every problem raises :class:`PolicyError` naming the setting (``streams.access.fields.client_ip``)
and the fix, so a bad deployment stops at start-up rather than logging the wrong thing.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._catalogue import (
    ACTION_OPTIONS,
    EVENT_KINDS,
    FIELDS,
    HEADER_ACTIONS,
    KEYED_ACTIONS,
)
from ._errors import PolicyError, did_you_mean
from ._keystore import ROTATIONS, KeyStore

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MIN_SECRET_BYTES = 32
HASH_ALGORITHMS = frozenset({"blake2b", "hmac-sha256"})
SINKS = frozenset({"auto", "jsonl", "otel", "both"})

_TOP_LEVEL = frozenset({"service", "secret", "proxies", "retention", "streams", "export", "geo", "metrics"})
_SECRET_KEYS = frozenset({"env", "file", "algorithm", "rotation", "store"})
_PROXY_KEYS = frozenset({"trusted"})
_RETENTION_KEYS = frozenset({"days", "purpose", "legal_basis"})
_STREAM_KEYS = frozenset({"retention", "consent_gated", "events", "fields", "headers"})
_EXPORT_KEYS = frozenset({"sink", "directory", "queue_size", "batch_size", "flush_interval"})


@dataclass(frozen=True)
class RetentionClass:
    """How long a stream's records may be kept, why, and on what legal basis."""

    name: str
    days: int
    purpose: str
    legal_basis: str


@dataclass(frozen=True)
class FieldRule:
    """One allow-listed field and what is done to it before it leaves the process."""

    action: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    """A purpose-bound stream of records with its own fields and retention class."""

    name: str
    retention: RetentionClass
    fields: Mapping[str, FieldRule]
    headers: Mapping[str, str]
    consent_gated: bool = False
    events: frozenset[str] = frozenset({"http", "websocket"})


@dataclass(frozen=True)
class ExportSettings:
    """Where records go and how the background worker batches them."""

    sink: str = "auto"
    directory: str = "privlog-logs"
    queue_size: int = 10_000
    batch_size: int = 256
    flush_interval: float = 0.5


@dataclass(frozen=True, repr=False)
class Policy:
    """A validated, immutable privacy policy for request logs.

    Build one with :meth:`from_toml` or :meth:`from_dict`; compile it with
    :func:`privlog.compile_policy` (the middleware does this for you).
    """

    streams: tuple[Stream, ...]
    retention: Mapping[str, RetentionClass]
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    export: ExportSettings = field(default_factory=ExportSettings)
    service: str = "unknown_service"
    secret_setting: str = "secret.env"  # noqa: S105 - the setting's name, not a secret
    hash_algorithm: str = "blake2b"
    secret: bytes | None = None
    rotation: str = "never"
    key_store: str | None = None
    geo_database: str | None = None
    metrics_stream: str | None = None

    def __repr__(self) -> str:
        # Never print the secret, not even in a debugger.
        names = ", ".join(s.name for s in self.streams)
        return f"Policy(service={self.service!r}, streams=[{names}])"

    @property
    def needs_secret(self) -> bool:
        """True when some stream hashes or pseudonymises a value."""
        return any(rule.action in KEYED_ACTIONS for s in self.streams for rule in s.fields.values()) or any(
            a in KEYED_ACTIONS for s in self.streams for a in s.headers.values()
        )

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Policy:
        """Load and validate a policy file. Secrets come from the environment, not the file."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PolicyError(str(p), "policy file not found", "check the path") from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(str(p), f"not valid TOML ({exc})", "fix the syntax") from None
        return cls.from_dict(data, environ=environ)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Policy:
        """Validate a policy given as a mapping (the TOML schema, as Python values)."""
        env = os.environ if environ is None else environ
        _only(data, _TOP_LEVEL, "policy")
        service = data.get("service", "unknown_service")
        if not isinstance(service, str) or not service:
            raise PolicyError("service", "must be a non-empty string", 'set service = "my-app"')
        retention = _retention_classes(data.get("retention"))
        streams = _streams(data.get("streams"), retention)
        trusted = _proxies(data.get("proxies", {}))
        export = _export(data.get("export", {}))
        secret_cfg = _table(data.get("secret", {}), "secret")
        _only(secret_cfg, _SECRET_KEYS, "secret")
        algorithm = secret_cfg.get("algorithm", "blake2b")
        if algorithm not in HASH_ALGORITHMS:
            raise PolicyError(
                "secret.algorithm",
                f"unknown algorithm {algorithm!r}",
                did_you_mean(str(algorithm), HASH_ALGORITHMS),
            )
        geo_database = _geo(data.get("geo", {}), env, streams)
        rotation = secret_cfg.get("rotation", "never")
        if rotation not in ROTATIONS:
            raise PolicyError(
                "secret.rotation", f"unknown rotation {rotation!r}", did_you_mean(str(rotation), ROTATIONS)
            )
        policy = cls(
            streams=streams,
            retention=retention,
            trusted_proxies=trusted,
            export=export,
            service=service,
            hash_algorithm=algorithm,
            rotation=rotation,
            geo_database=geo_database,
            metrics_stream=_metrics(data.get("metrics", {}), streams),
        )
        if not policy.needs_secret:
            return policy
        store = secret_cfg.get("store") or env.get("PRIVLOG_KEY_STORE")
        if store:
            _check_store(str(store), policy)
            object.__setattr__(policy, "key_store", str(store))
            object.__setattr__(policy, "secret_setting", "secret.store")
            return policy
        setting, secret = _load_secret(secret_cfg, env)
        object.__setattr__(policy, "secret", secret)
        object.__setattr__(policy, "secret_setting", setting)
        return policy

    @property
    def keyed_retention_days(self) -> int:
        """The longest retention of a stream that hashes or pseudonymises: how long keys live."""
        return max(
            (
                s.retention.days
                for s in self.streams
                if any(r.action in KEYED_ACTIONS for r in s.fields.values())
                or any(a in KEYED_ACTIONS for a in s.headers.values())
            ),
            default=0,
        )


def _table(value: Any, setting: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(
            setting, f"must be a table, got {type(value).__name__}", f"write [{setting}] with keys"
        )
    return value


def _only(table: Mapping[str, Any], allowed: frozenset[str], setting: str) -> None:
    for key in table:
        if key not in allowed:
            raise PolicyError(f"{setting}.{key}", "unknown setting", did_you_mean(str(key), allowed))


def _retention_classes(value: Any) -> dict[str, RetentionClass]:
    if value is None:
        raise PolicyError(
            "retention",
            "no retention class is defined",
            'add e.g. [retention.access] days = 7, purpose = "...", legal_basis = "..."',
        )
    table = _table(value, "retention")
    if not table:
        raise PolicyError("retention", "no retention class is defined", "add at least one [retention.NAME]")
    classes = {}
    for name, spec in table.items():
        setting = f"retention.{name}"
        spec = _table(spec, setting)
        _only(spec, _RETENTION_KEYS, setting)
        days = spec.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
            raise PolicyError(
                f"{setting}.days",
                f"must be a positive whole number of days, got {days!r}",
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
        classes[name] = RetentionClass(name=name, days=days, purpose=str(purpose), legal_basis=str(legal))
    return classes


def _streams(value: Any, retention: Mapping[str, RetentionClass]) -> tuple[Stream, ...]:
    if value is None:
        raise PolicyError(
            "streams",
            "no stream is defined",
            'add e.g. [streams.access] retention = "access" with a fields table',
        )
    table = _table(value, "streams")
    if not table:
        raise PolicyError("streams", "no stream is defined", "add at least one [streams.NAME]")
    out = []
    for name, spec in table.items():
        setting = f"streams.{name}"
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise PolicyError(
                setting, "stream names may hold only letters, digits, '-' and '_'", "rename the stream"
            )
        spec = _table(spec, setting)
        _only(spec, _STREAM_KEYS, setting)
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
            if ev not in EVENT_KINDS:
                raise PolicyError(
                    f"{setting}.events", f"unknown event kind {ev!r}", did_you_mean(str(ev), EVENT_KINDS)
                )
        fields = _fields(spec.get("fields"), f"{setting}.fields")
        headers = _headers(spec.get("headers", {}), f"{setting}.headers")
        out.append(
            Stream(
                name=name,
                retention=retention[rname],
                fields=fields,
                headers=headers,
                consent_gated=gated,
                events=frozenset(events),
            )
        )
    return tuple(out)


def _fields(value: Any, setting: str) -> dict[str, FieldRule]:
    if value is None:
        raise PolicyError(
            setting, "no field is listed", 'add e.g. fields = { path = "template", status = "keep" }'
        )
    table = _table(value, setting)
    rules: dict[str, FieldRule] = {}
    for name, spec in table.items():
        fsetting = f"{setting}.{name}"
        if name not in FIELDS:
            raise PolicyError(fsetting, "unknown field", did_you_mean(str(name), FIELDS))
        allowed, default = FIELDS[name]
        options: dict[str, Any] = {}
        if spec is True:
            action = default
        elif isinstance(spec, str):
            action = spec
        elif isinstance(spec, Mapping):
            action = spec.get("action", default)
            options = {k: v for k, v in spec.items() if k != "action"}
        else:
            raise PolicyError(
                fsetting, f"must be an action name or a table, got {spec!r}", f'write {name} = "{default}"'
            )
        if action == "drop":
            continue
        if action not in allowed:
            raise PolicyError(
                fsetting,
                f"action {action!r} is not valid for this field",
                did_you_mean(str(action), allowed | {"drop"}),
            )
        _only(options, ACTION_OPTIONS.get(action, frozenset()), fsetting)
        _check_options(name, action, options, fsetting)
        rules[name] = FieldRule(action=action, options=options)
    return rules


def _check_options(name: str, action: str, options: dict[str, Any], setting: str) -> None:
    if action == "truncate":
        for key, top, default in (("ipv4_prefix", 32, 24), ("ipv6_prefix", 128, 48)):
            bits = options.setdefault(key, default)
            if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= top:
                raise PolicyError(
                    f"{setting}.{key}",
                    f"must be a whole number from 0 to {top}, got {bits!r}",
                    f"set {key} = {default}",
                )
    elif action == "allowlist":
        allow = options.setdefault("allow", [])
        values = options.setdefault("values", [])
        for key, names in (("allow", allow), ("values", values)):
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise PolicyError(
                    f"{setting}.{key}", "must be a list of parameter names", f'set {key} = ["page"]'
                )
        for n in values:
            if n not in allow:
                raise PolicyError(
                    f"{setting}.values", f"{n!r} keeps its value but is not in allow", f'add "{n}" to allow'
                )
    if name == "session_id":
        cookie = options.setdefault("cookie", "session")
        if not isinstance(cookie, str) or not cookie:
            raise PolicyError(f"{setting}.cookie", "must name the session cookie", 'set cookie = "sessionid"')
    elif "cookie" in options:
        raise PolicyError(f"{setting}.cookie", "only session_id reads a cookie", "remove the cookie option")


def _headers(value: Any, setting: str) -> dict[str, str]:
    table = _table(value, setting)
    out = {}
    for name, action in table.items():
        hsetting = f"{setting}.{name}"
        lname = str(name).lower()
        if lname in {"cookie", "authorization", "proxy-authorization", "set-cookie"}:
            raise PolicyError(
                hsetting,
                "credentials are never logged as headers",
                "remove it (use session_id for a session cookie)",
            )
        if action == "drop":
            continue
        if action not in HEADER_ACTIONS:
            raise PolicyError(
                hsetting, f"unknown action {action!r}", did_you_mean(str(action), HEADER_ACTIONS)
            )
        out[lname] = action
    return out


def _proxies(value: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    table = _table(value, "proxies")
    _only(table, _PROXY_KEYS, "proxies")
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


def _export(value: Any) -> ExportSettings:
    table = _table(value, "export")
    _only(table, _EXPORT_KEYS, "export")
    sink = table.get("sink", "auto")
    if sink not in SINKS:
        raise PolicyError("export.sink", f"unknown sink {sink!r}", did_you_mean(str(sink), SINKS))
    directory = table.get("directory", "privlog-logs")
    if not isinstance(directory, str) or not directory:
        raise PolicyError(
            "export.directory", "must be a directory path", 'set directory = "/var/log/privlog"'
        )
    ints = {}
    for key, default in (("queue_size", 10_000), ("batch_size", 256)):
        v = table.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise PolicyError(
                f"export.{key}", f"must be a positive whole number, got {v!r}", f"set {key} = {default}"
            )
        ints[key] = v
    interval = table.get("flush_interval", 0.5)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
        raise PolicyError(
            "export.flush_interval",
            f"must be a positive number of seconds, got {interval!r}",
            "set flush_interval = 0.5",
        )
    return ExportSettings(
        sink=sink,
        directory=directory,
        queue_size=ints["queue_size"],
        batch_size=ints["batch_size"],
        flush_interval=float(interval),
    )


def _metrics(value: Any, streams: tuple[Stream, ...]) -> str | None:
    table = _table(value, "metrics")
    _only(table, frozenset({"enabled", "stream"}), "metrics")
    enabled = table.get("enabled", False)
    if not isinstance(enabled, bool):
        raise PolicyError("metrics.enabled", "must be true or false", "set enabled = true")
    if not enabled:
        return None
    names = [s.name for s in streams]
    stream = table.get("stream", names[0])
    if stream not in names:
        raise PolicyError("metrics.stream", f"unknown stream {stream!r}", did_you_mean(str(stream), names))
    return str(stream)


def _geo(value: Any, env: Mapping[str, str], streams: tuple[Stream, ...]) -> str | None:
    table = _table(value, "geo")
    _only(table, frozenset({"database"}), "geo")
    if not any("location" in s.fields for s in streams):
        return None
    path = table.get("database") or env.get("PRIVLOG_GEOIP_DATABASE")
    if not path:
        raise PolicyError(
            "geo.database",
            "the location field needs a MaxMind database",
            'set [geo] database = "/path/GeoLite2-City.mmdb" or PRIVLOG_GEOIP_DATABASE',
        )
    from ._geo import open_database

    open_database(str(path)).close()  # fail at start-up, not in the worker
    return str(path)


def _check_store(path: str, policy: Policy) -> None:
    store = KeyStore.load(path)
    needed = policy.keyed_retention_days
    if store.retention_days < needed:
        raise PolicyError(
            "secret.store",
            f"the key store keeps keys {store.retention_days} days, but a keyed stream keeps records {needed} days",
            f"create a store with `privlog keys init DIR --retention-days {needed}`",
        )


def _load_secret(cfg: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, bytes]:
    var = cfg.get("env", "PRIVLOG_SECRET")
    path = cfg.get("file") or env.get("PRIVLOG_SECRET_FILE")
    if path:
        setting = "secret.file"
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
    return setting, raw
