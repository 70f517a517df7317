"""A fast OTLP/HTTP log exporter for privlog's records, without the SDK's per-record objects.

Each batch is encoded straight to protobuf (``_otlp_encode``) and POSTed with the standard
library's ``http.client`` over one kept-alive connection. It runs in privlog's worker thread,
one batch at a time, so it never slows a request, and it holds at most the batch in hand.

Failures are counted here, not raised: a batch that still fails after its retries is dropped,
counted in :meth:`OtlpHttpSink.stats` and reported by one warning naming the error type, never
a record's content. Raising would make the dispatcher log every lost batch during an outage;
its own ``exported`` counter therefore means "handed to this sink". While the collector is
unreachable a circuit breaker drops batches at once instead of retrying each one, and lets one
probe through per cool-down window, so export resumes by itself when the collector is back.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import logging
import os
import random
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

from .._core.record import EncodedBatch, Output
from .._errors import ConfigurationError
from .._version import __version__
from ._otlp_encode import LogEncoder, rejected_records

log = logging.getLogger("privlog")

_VERSION = __version__
_RETRYABLE = frozenset({429, 502, 503, 504})
_MAX_RESPONSE = 64 * 1024


@dataclass(frozen=True)
class OtlpStats:
    """Counters of an :class:`OtlpHttpSink` since it was created.

    ``exported``: records the collector accepted; ``dropped``: records lost (failed batches,
    batches skipped while the breaker was open, records the collector rejected); ``retries``:
    requests sent again after a retryable failure; ``failed_batches``: batches dropped after
    being tried; ``short_circuited``: batches dropped untried while the breaker was open.
    """

    exported: int
    dropped: int
    retries: int
    failed_batches: int
    short_circuited: int
    circuit_open: bool


def _env(env: Mapping[str, str], name: str) -> str | None:
    """The logs-specific variable if set, else the general one (the OTel spec's precedence)."""
    value = env.get(f"OTEL_EXPORTER_OTLP_LOGS_{name}") or env.get(f"OTEL_EXPORTER_OTLP_{name}")
    return value.strip() if value and value.strip() else None


def parse_pairs(raw: str, setting: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with URL-encoded keys and values (OTEL_*_HEADERS, OTEL_RESOURCE_ATTRIBUTES)."""
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            if item.strip():  # name the variable only: a header value may be a secret
                log.warning("privlog: ignoring a malformed entry in %s", setting)
            continue
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs


@dataclass(frozen=True)
class Proxy:
    """The HTTP proxy an endpoint is reached through (``HTTPS_PROXY``/``HTTP_PROXY``)."""

    host: str
    port: int
    headers: dict[str, str]
    """``Proxy-Authorization`` when the proxy URL has credentials."""


def proxy_from_env(env: Mapping[str, str], https: bool, host: str) -> Proxy | None:
    """The proxy the standard variables name for ``host``, or None (none set, or ``NO_PROXY``
    matches), read as urllib and the SDK's exporter (requests) read them."""
    name = "https_proxy" if https else "http_proxy"
    raw = env.get(name) or env.get(name.upper())
    if not raw or not raw.strip():
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY")
    if no_proxy and proxy_bypass_environment(host, {"no": no_proxy}):
        return None
    url = urlsplit(raw.strip() if "://" in raw else f"http://{raw.strip()}")
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        port = 0
    if url.scheme not in ("http", "https") or not url.hostname or not port:
        # Name the variable only: a proxy URL may hold a password.
        raise ConfigurationError(name.upper(), "not a proxy URL", "use http://proxy.example:3128")
    headers = {}
    if url.username is not None:
        credentials = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    return Proxy(url.hostname, port, headers)


def endpoint_from_env(env: Mapping[str, str]) -> str:
    """OTEL_EXPORTER_OTLP_LOGS_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + ``/v1/logs``."""
    specific = env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "").strip()
    if specific:
        return specific
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or "http://localhost:4318"
    return base.rstrip("/") + "/v1/logs"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


class OtlpHttpSink:
    """Exports privlog's records over OTLP/HTTP (protobuf) to a collector.

    Arguments override the standard ``OTEL_EXPORTER_OTLP_[LOGS_]{ENDPOINT,HEADERS,TIMEOUT,
    COMPRESSION,CERTIFICATE}`` variables. ``timeout`` (seconds; the variables are in milliseconds,
    as the spec says) is the whole budget of one batch, retries and backoff included. Retries
    follow ``backoff`` doubling up to ``max_backoff``, jittered, or the collector's Retry-After,
    which is honoured up to ``max_retry_after`` seconds (one ``Retry-After: 3600`` must not stop
    export for an hour). The breaker: after a batch finally fails, batches are dropped (and
    counted) for ``cooldown`` seconds, or the capped Retry-After if longer, then one probe is
    sent without retries; its success closes the breaker, its failure opens it again.
    """

    name = "otlp"
    encoding = "otlp"
    """Takes the compiled path's pre-encoded batches (:meth:`write_encoded`) made with :attr:`encoder`."""

    gzip_level = 1
    """Level 1 compresses privlog's batches about 12-fold for under half the CPU of level 6."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: str | None = None,
        service_name: str | None = None,
        resource: Mapping[str, Any] | None = None,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        cooldown: float = 15.0,
        max_retry_after: float = 60.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.endpoint = endpoint or endpoint_from_env(env)
        url = urlsplit(self.endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigurationError("OTEL_EXPORTER_OTLP_ENDPOINT", "not an http(s) URL", "use http://host:4318")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._proxy = proxy_from_env(env, self._https, self._host)
        if self._proxy is not None and not self._https:
            # A plain-HTTP proxy takes the absolute URL; HTTPS goes through a CONNECT tunnel.
            self._path = f"http://{url.netloc.rpartition('@')[2]}{self._path}"
        if timeout is None:
            raw = _env(env, "TIMEOUT")
            try:
                timeout = float(raw) / 1000 if raw else 10.0
            except ValueError:
                raise ConfigurationError("OTEL_EXPORTER_OTLP_TIMEOUT", "not a number", "set milliseconds") from None
        self.timeout = timeout
        compression = (compression or _env(env, "COMPRESSION") or "none").lower()
        if compression not in ("gzip", "none"):
            raise ConfigurationError("OTEL_EXPORTER_OTLP_COMPRESSION", f"{compression!r}", "use gzip or none")
        self.compression = compression
        raw_headers = _env(env, "HEADERS")
        sent = parse_pairs(raw_headers, "OTEL_EXPORTER_OTLP_HEADERS") if raw_headers else {}
        sent.update(headers or {})
        for name, value in sent.items():
            if any(c in name + value for c in "\r\n\0") or not name:
                raise ConfigurationError(f"OTLP header {name!r}", "has a control character", "remove it")
        self._headers = {"Content-Type": "application/x-protobuf", "User-Agent": f"privlog/{_VERSION}"}
        self._headers.update(sent)
        if self._proxy is not None and not self._https:
            self._headers.update(self._proxy.headers)
        if compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        self._cafile = _env(env, "CERTIFICATE")
        self._client_cert = (_env(env, "CLIENT_CERTIFICATE"), _env(env, "CLIENT_KEY"))
        var = "OTEL_RESOURCE_ATTRIBUTES"
        attrs: dict[str, Any] = parse_pairs(env.get(var, ""), var)
        attrs.update(resource or {})
        attrs["service.name"] = (
            service_name or env.get("OTEL_SERVICE_NAME") or attrs.get("service.name") or "unknown_service"
        )
        self.encoder = LogEncoder(attrs, "privlog", _VERSION)
        self._max_retries, self._backoff, self._max_backoff = max_retries, backoff, max_backoff
        self._cooldown = cooldown
        self._max_retry_after = max_retry_after
        self._conn: http.client.HTTPConnection | None = None
        self._open_until = 0.0  # monotonic time until which the breaker is open; 0: closed
        self._outage_dropped = 0
        self._closed = False
        self._lock = threading.Lock()
        self._exported = self._dropped = self._retries = self._failed = self._short = 0
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _forget_connection(ref))

    # -- the sink protocol --------------------------------------------------------------------
    def write(self, records: Sequence[Output]) -> None:
        """Send one batch. Never raises for a network or collector failure: it counts it."""
        self._send(len(records), lambda: self.encoder.encode(records, time.time_ns()))

    def write_encoded(self, batch: EncodedBatch) -> None:
        """Send a batch the compiled path encoded with this sink's encoder."""
        self._send(batch.records, batch.otlp)

    def _send(self, n: int, encode: Callable[[], bytes]) -> None:
        if not n:
            return
        probe = False
        if self._open_until or self._closed:
            if self._closed or time.monotonic() < self._open_until:
                self._count(dropped=n, short=1)
                self._outage_dropped += n
                return
            probe = True  # the window has passed: one attempt, no retries
        body = encode()
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=self.gzip_level, mtime=0)
        error, response, wait = self._deliver(body, probe)
        del body
        if error is None:
            rejected = min(n, rejected_records(response))
            if rejected:
                log.warning("privlog: the collector rejected %d of %d records", rejected, n)
            self._count(exported=n - rejected, dropped=rejected)
            if self._open_until:
                log.warning("privlog: OTLP export resumed; %d records were dropped", self._outage_dropped)
                self._open_until, self._outage_dropped = 0.0, 0
            return
        self._count(dropped=n, failed=1)
        self._outage_dropped += n
        window = max(self._cooldown, wait or 0.0)
        if not self._open_until:
            log.warning(
                "privlog: OTLP export failed (%s); %d records dropped; next attempt in %.3g s",
                error,
                n,
                window,
            )
        self._open_until = time.monotonic() + window

    def flush(self) -> None:
        """Nothing to do: each batch is sent before :meth:`write` returns."""

    def close(self) -> None:
        """Close the connection; later batches are dropped and counted."""
        self._closed = True
        self._disconnect()

    def counts(self) -> tuple[int, int]:
        """(records the collector accepted, records dropped): the dispatcher's per-sink view."""
        with self._lock:
            return self._exported, self._dropped

    def stats(self) -> OtlpStats:
        """A snapshot of the counters."""
        with self._lock:
            return OtlpStats(
                self._exported,
                self._dropped,
                self._retries,
                self._failed,
                self._short,
                bool(self._open_until),
            )

    # -- delivery -------------------------------------------------------------------------------
    def _count(self, exported: int = 0, dropped: int = 0, failed: int = 0, short: int = 0) -> None:
        with self._lock:
            self._exported += exported
            self._dropped += dropped
            self._failed += failed
            self._short += short

    def _deliver(self, body: bytes, probe: bool) -> tuple[str | None, bytes, float | None]:
        """POST with retries within the time budget: (error or None, response body, Retry-After)."""
        deadline = time.monotonic() + self.timeout
        attempt = 0
        stale_retried = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "TimeoutError", b"", None
            reused = self._conn is not None
            wait: float | None = None
            try:
                status, response, retry_after = self._post(body, remaining)
            except (OSError, http.client.HTTPException) as exc:
                self._disconnect()
                if reused and not stale_retried and isinstance(exc, ConnectionError):
                    stale_retried = True  # the collector closed an idle kept-alive connection
                    continue
                error, retryable = type(exc).__name__, True
            else:
                if 200 <= status < 300:
                    return None, response, None
                error, retryable = f"HTTP {status}", status in _RETRYABLE
                wait = _retry_after(retry_after)
                if wait is not None:  # a server may ask for an hour: no more than the cap
                    wait = min(wait, self._max_retry_after)
            if not retryable or probe or attempt >= self._max_retries:
                return error, b"", wait
            delay = wait if wait is not None else self._delay(attempt)
            if time.monotonic() + delay >= deadline:
                return error, b"", wait
            time.sleep(delay)
            attempt += 1
            with self._lock:
                self._retries += 1

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of the doubled delay."""
        ceiling = min(self._max_backoff, self._backoff * (1 << min(attempt, 32)))
        return ceiling * (0.5 + random.random() / 2)

    def _post(self, body: bytes, timeout: float) -> tuple[int, bytes, str | None]:
        conn = self._conn
        if conn is None:
            conn = self._conn = self._connect(timeout)
        elif conn.sock is not None:
            conn.sock.settimeout(timeout)
        conn.timeout = timeout
        conn.request("POST", self._path, body, self._headers)
        resp = conn.getresponse()
        data = resp.read(_MAX_RESPONSE)
        if resp.will_close or not resp.isclosed():
            self._disconnect()  # the server closes it, or sent more than we read
        return resp.status, data, resp.getheader("retry-after")

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        proxy = self._proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (self._host, self._port)
        if not self._https:
            return http.client.HTTPConnection(host, port, timeout=timeout)
        context = ssl.create_default_context(cafile=self._cafile)
        cert, key = self._client_cert
        if cert:
            context.load_cert_chain(cert, key)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        if proxy is not None:
            conn.set_tunnel(self._host, self._port, headers=proxy.headers)
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _forget_connection(ref: weakref.ref[OtlpHttpSink]) -> None:
    """After fork the socket is the parent's: the child opens its own."""
    sink = ref()
    if sink is not None:
        sink._conn = None
        sink._lock = threading.Lock()
