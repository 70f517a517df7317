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

from .._errors import PolicyError
from .._keys.epochs import ROTATIONS
from .common import choice
from .sections import (
    as_table,
    check_keys,
    load_secret,
    parse_export,
    parse_geo,
    parse_metrics,
    parse_proxies,
    parse_proxy_header,
    parse_retention,
    parse_streams,
)
from .types import ExportSettings, RetentionClass, Stream

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

HASH_ALGORITHMS = frozenset({"blake2b", "hmac-sha256"})

_TOP_LEVEL = frozenset({"service", "secret", "proxies", "retention", "streams", "export", "geo", "metrics"})
_SECRET_KEYS = frozenset({"env", "file", "algorithm", "rotation", "store"})


@dataclass(frozen=True, repr=False)
class Policy:
    """A validated, immutable privacy policy for request logs.

    Build one with :meth:`from_toml` or :meth:`from_dict`; compile it with
    :class:`privlog.Pipeline` (the middleware does this for you).
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
    proxy_header: str = "x-forwarded-for"
    metrics_stream: str | None = None

    def __repr__(self) -> str:
        # Never print the secret, not even in a debugger.
        names = ", ".join(s.name for s in self.streams)
        return f"Policy(service={self.service!r}, streams=[{names}])"

    @property
    def needs_secret(self) -> bool:
        """True when some stream hashes or pseudonymises a value."""
        return any(s.keyed for s in self.streams)

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
        check_keys(data, _TOP_LEVEL, "policy")
        service = data.get("service", "unknown_service")
        if not isinstance(service, str) or not service:
            raise PolicyError("service", "must be a non-empty string", 'set service = "my-app"')
        retention = parse_retention(data.get("retention"))
        streams = parse_streams(data.get("streams"), retention)
        trusted = parse_proxies(data.get("proxies", {}))
        export = parse_export(data.get("export", {}))
        secret_cfg = as_table(data.get("secret", {}), "secret")
        check_keys(secret_cfg, _SECRET_KEYS, "secret")
        algorithm = choice(secret_cfg.get("algorithm", "blake2b"), HASH_ALGORITHMS, "secret.algorithm", "algorithm")
        geo_database = parse_geo(data.get("geo", {}), env, streams)
        rotation = choice(secret_cfg.get("rotation", "never"), ROTATIONS, "secret.rotation", "rotation")
        secret: bytes | None = None
        secret_setting = "secret.env"  # noqa: S105 - the setting's name, not a secret
        key_store: str | None = None
        if any(s.keyed for s in streams):
            store = secret_cfg.get("store") or env.get("PRIVLOG_KEY_STORE")
            if store:
                # Only where it is: the store is opened (and checked against the streams'
                # retention) when the pipeline is built, still at start-up.
                key_store, secret_setting = str(store), "secret.store"
                _check_store_exists(key_store)
            else:
                secret_setting, secret = load_secret(secret_cfg, env)
        return cls(
            streams=streams,
            retention=retention,
            trusted_proxies=trusted,
            export=export,
            service=service,
            secret_setting=secret_setting,
            hash_algorithm=algorithm,
            secret=secret,
            rotation=rotation,
            key_store=key_store,
            geo_database=geo_database,
            proxy_header=parse_proxy_header(data.get("proxies", {})),
            metrics_stream=parse_metrics(data.get("metrics", {}), streams),
        )

    @property
    def keyed_retention_days(self) -> int:
        """The longest retention of a stream that hashes or pseudonymises: how long keys live."""
        return max((s.retention.days for s in self.streams if s.keyed), default=0)


def _check_store_exists(path: str) -> None:
    from .._keys.store import STORE_FILE

    if not (Path(path) / STORE_FILE).is_file():
        raise PolicyError(
            "secret.store", f"no key store at {Path(path) / STORE_FILE}", "create one with `privlog keys init DIR`"
        )
