"""The steps a policy compiles to: one small closure per allow-listed field, built once.

Each step reads normalised facts and writes that field's transformed attributes into the
record; nothing in a step parses configuration, compiles a regex or reads the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._keys.ring import KeyRing
from .._policy.catalogue import KEYED_ADDRESS
from .._policy.types import FieldRule
from .._transforms.address import INVALID, format_ip, make_truncate
from .._transforms.location import make_locator, open_database
from .._transforms.shapes import Shape, make_shape
from .._transforms.text import make_query_filter, origin, primary_language, scrub_path
from .capture import Capture, Facts
from .record import Attributes, iso_utc
from .step_context import MAX_TEXT as MAX_TEXT
from .step_context import Keyed as Keyed
from .step_context import Rejected as Rejected
from .step_context import Step as Step
from .step_context import StepContext as StepContext

if TYPE_CHECKING:
    from .._transforms.useragent import UserAgentGeneraliser

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


def plain_address(rule: FieldRule) -> Callable[[bytes], str]:
    """The unkeyed ``client_ip`` actions: ``truncate`` and ``keep``."""
    if rule.action == "truncate":
        return make_truncate(rule.options["ipv4_prefix"], rule.options["ipv6_prefix"])
    return format_ip


def address_action(rule: FieldRule) -> Keyed:
    """A ``client_ip`` rule as one function of (ring, packed address), for addresses outside
    the client field (``privlog anonymize`` applies it to every address in a log line)."""
    if rule.action in ("hash", "cryptopan"):
        return StepContext.keyed(rule.action, "client_ip")
    plain = plain_address(rule)
    return lambda ring, packed: plain(packed)


def _client_ip(rule: FieldRule, ctx: StepContext) -> Step:
    if rule.action in ("hash", "cryptopan"):
        keyed = ctx.keyed(rule.action, "client_ip")

        def keyed_ip(f: Facts, c: Capture, r: Attributes) -> None:
            found = f.client
            if found is not None:
                # Not client.address: geo-IP enrichment would look a hash up as an address.
                r[KEYED_ADDRESS] = INVALID if isinstance(found, str) else keyed(f.ring, found)

        return keyed_ip
    transform = plain_address(rule)

    def client_ip(f: Facts, c: Capture, r: Attributes) -> None:
        found = f.client
        if found is not None:
            r["client.address"] = INVALID if isinstance(found, str) else transform(found)

    return client_ip


def _keep_bytes(ring: KeyRing, value: bytes) -> str:
    return value.decode("utf-8", "replace")[:MAX_TEXT]


def _identifier(name: str, rule: FieldRule, ctx: StepContext) -> Keyed:
    return _keep_bytes if rule.action == "keep" else ctx.keyed(rule.action, name)


def _user_id(rule: FieldRule, ctx: StepContext) -> Step:
    transform = _identifier("user_id", rule, ctx)

    def user_id(f: Facts, c: Capture, r: Attributes) -> None:
        if c.user_id:
            r["user.id"] = transform(f.ring, c.user_id.encode("utf-8", "surrogatepass"))

    return user_id


def _session_cookie(rule: FieldRule) -> Callable[[Facts], bytes | None]:
    """Reads the session cookie's value; the pattern is compiled once and finds the cookie
    without splitting the whole header."""
    cookie = re.compile(rf"(?:^|;)\s*{re.escape(rule.options['cookie'])}=\"?([^;\"]+)")

    def session_cookie(f: Facts) -> bytes | None:
        cookies = f.headers.get(b"cookie")
        if cookies:
            found = cookie.search(cookies)
            if found is not None:
                return found.group(1).strip().encode("latin-1")
        return None

    return session_cookie


def _session_id(rule: FieldRule, ctx: StepContext) -> Step:
    transform = _identifier("session_id", rule, ctx)
    read = _session_cookie(rule)

    def session_id(f: Facts, c: Capture, r: Attributes) -> None:
        value = read(f)
        if value is not None:
            r["session.id"] = transform(f.ring, value)

    return session_id


SUBJECT_ATTRIBUTE = "privlog.retention.subject_id"
"""The stable pseudonym of a last-visit subject, which the retention sweeps group records by."""


def subject_step(field: str, rule: FieldRule, ctx: StepContext) -> Step:
    """The step writing a record's last-visit subject: the field's raw value pseudonymised under
    the key source's subject key, which does not rotate, so every visit of one subject gives
    the same value (the field's own attribute keeps its per-epoch pseudonym)."""
    if ctx.keys is None:
        raise ValueError("a last-visit retention needs a key source")  # validation makes sure of it
    pseudonym = ctx.keys.subject_ring().pseudonymiser(f"subject:{field}")
    if field == "user_id":

        def user_subject(f: Facts, c: Capture, r: Attributes) -> None:
            if c.user_id:
                r[SUBJECT_ATTRIBUTE] = pseudonym(c.user_id.encode("utf-8", "surrogatepass"))

        return user_subject
    if field == "session_id":
        read = _session_cookie(rule)

        def session_subject(f: Facts, c: Capture, r: Attributes) -> None:
            value = read(f)
            if value is not None:
                r[SUBJECT_ATTRIBUTE] = pseudonym(value)

        return session_subject

    def address_subject(f: Facts, c: Capture, r: Attributes) -> None:
        if isinstance(f.client, bytes):
            r[SUBJECT_ATTRIBUTE] = pseudonym(f.client)

    return address_subject


def _location(rule: FieldRule, ctx: StepContext) -> Step:
    locate = make_locator(open_database(ctx.geo_database or ""), rule.action)

    def location(f: Facts, c: Capture, r: Attributes) -> None:
        found = f.client
        if isinstance(found, bytes):
            r.update(locate(found))

    return location


def _path(rule: FieldRule, ctx: StepContext) -> Step:
    if rule.action == "keep":

        def keep_path(f: Facts, c: Capture, r: Attributes) -> None:
            if f.path is not None:
                r["url.path"] = f.path[:2048]

        return keep_path
    if rule.action == "scrub":

        def scrubbed_path(f: Facts, c: Capture, r: Attributes) -> None:
            if f.path is not None:
                r["url.path"] = scrub_path(f.path)

        return scrubbed_path

    def template_path(f: Facts, c: Capture, r: Attributes) -> None:
        if f.route is not None:
            r["http.route"] = r["url.path"] = f.route
        elif f.path is not None:
            r["url.path"] = scrub_path(f.path)

    return template_path


def _user_agent(rule: FieldRule, ctx: StepContext) -> Step:
    if rule.action == "keep":

        def keep_ua(f: Facts, c: Capture, r: Attributes) -> None:
            ua = f.headers.get(b"user-agent")
            if ua is not None:
                r["user_agent.original"] = ua[:MAX_TEXT]

        return keep_ua
    # Built now (its regexes take a tenth of a second), unless the context says lazily: then
    # the first user agent builds it (`privlog anonymize` on the compiled path may never need it).
    built: list[UserAgentGeneraliser] = [ctx.user_agent] if ctx.warm else []

    def generalised_ua(f: Facts, c: Capture, r: Attributes) -> None:
        ua = f.headers.get(b"user-agent")
        if ua is None:
            return
        if not built:
            built.append(ctx.user_agent)
        family, major, os_family, device = built[0](ua)
        r["user_agent.name"] = family
        if major is not None:
            r["user_agent.version"] = major
        r["user_agent.os.name"] = os_family
        r["privlog.device.class"] = device

    return generalised_ua


def header_value(header: bytes, attr: str, convert: Callable[[str], str]) -> Step:
    def from_header(f: Facts, c: Capture, r: Attributes) -> None:
        value = f.headers.get(header)
        if value is not None:
            r[attr] = convert(value)

    return from_header


def kept_header(header: bytes, attr: str, shape: Shape, rejected: Rejected) -> Step:
    """A header kept as it is when it fits its declared shape; otherwise left out and counted."""

    def from_header(f: Facts, c: Capture, r: Attributes) -> None:
        value = f.headers.get(header)
        if value is not None:
            if not value.isascii():  # headers are read as Latin-1: recover the UTF-8 sent
                value = value.encode("latin-1").decode("utf-8", "replace")
            kept = shape(value)
            if kept is None:
                rejected.count += 1
            else:
                r[attr] = kept

    return from_header


def keyed_header(header: bytes, attr: str, keyed: Keyed) -> Step:
    def from_header(f: Facts, c: Capture, r: Attributes) -> None:
        value = f.headers.get(header)
        if value is not None:
            r[attr] = keyed(f.ring, value.encode("latin-1"))

    return from_header


def _duration(f: Facts, c: Capture, r: Attributes) -> None:
    r["http.server.request.duration"] = c.duration_ns / 1e9


def _method(f: Facts, c: Capture, r: Attributes) -> None:
    method = f.method
    if method is not None:
        r["http.request.method"] = method if method in _METHODS else "_OTHER"


def _scheme(f: Facts, c: Capture, r: Attributes) -> None:
    if f.scheme is not None:
        r["url.scheme"] = f.scheme


def _http_version(f: Facts, c: Capture, r: Attributes) -> None:
    if f.http_version is not None:
        r["network.protocol.version"] = f.http_version


def _status(f: Facts, c: Capture, r: Attributes) -> None:
    if c.status is not None:
        r["http.response.status_code"] = c.status


def _request_bytes(f: Facts, c: Capture, r: Attributes) -> None:
    if c.request_bytes is not None:
        r["http.request.body.size"] = c.request_bytes
        return
    length = f.headers.get(b"content-length")
    if length is not None and length.isdigit() and len(length) < 16:
        r["http.request.body.size"] = int(length)


def _response_bytes(f: Facts, c: Capture, r: Attributes) -> None:
    if c.response_bytes is not None:
        r["http.response.body.size"] = c.response_bytes


def _client_port(f: Facts, c: Capture, r: Attributes) -> None:
    if f.client_port is not None:
        r["client.port"] = f.client_port


def _scalar(step: Step) -> StepFactory:
    """The factory of a field copied as it is (one plain function: no per-field indirection)."""

    def factory(rule: FieldRule, ctx: StepContext) -> Step:
        return step

    return factory


def _referrer(rule: FieldRule, ctx: StepContext) -> Step:
    convert = origin if rule.action == "origin" else (lambda v: v[:MAX_TEXT])

    def referrer(f: Facts, c: Capture, r: Attributes) -> None:
        value = f.headers.get(b"referer")
        if value is not None:
            r["http.request.header.referer"] = convert(value)

    return referrer


def _language(rule: FieldRule, ctx: StepContext) -> Step:
    return header_value(b"accept-language", "privlog.language", primary_language)


def _query(rule: FieldRule, ctx: StepContext) -> Step:
    shapes = {name: make_shape(spec) for name, spec in rule.options["values"].items()}
    filt = make_query_filter(rule.options["allow"], shapes)
    rejected = ctx.rejected

    def query(f: Facts, c: Capture, r: Attributes) -> None:
        kept, dropped = filt(f.query)
        if kept is not None:
            r["url.query"] = kept
        if dropped:
            rejected.count += dropped

    return query


StepFactory = Callable[[FieldRule, StepContext], Step | None]
"""Builds a field's step from its rule, once; None for a field every record carries anyway."""

#: The step factory of every field of the registry (``_policy/catalogue.py``), by name.
STEP_FACTORIES: dict[str, StepFactory] = {
    "timestamp": lambda rule, ctx: None,  # every record has its timestamp
    "duration": _scalar(_duration),
    "method": _scalar(_method),
    "scheme": _scalar(_scheme),
    "http_version": _scalar(_http_version),
    "path": _path,
    "query": _query,
    "status": _scalar(_status),
    "request_bytes": _scalar(_request_bytes),
    "response_bytes": _scalar(_response_bytes),
    "referrer": _referrer,
    "user_agent": _user_agent,
    "language": _language,
    "client_ip": _client_ip,
    "client_port": _scalar(_client_port),
    "location": _location,
    "user_id": _user_id,
    "session_id": _session_id,
}


def field_step(name: str, rule: FieldRule, ctx: StepContext) -> Step | None:
    """The step for one allow-listed field (None for fields carried by every record)."""
    return STEP_FACTORIES[name](rule, ctx)


def extra_step(f: Facts, c: Capture, r: Attributes) -> None:
    """WebSocket counters and the session's start and end; the auth event's name; whether an
    HTTP response was cut short."""
    extra = c.extra
    if extra is None:
        return
    if c.kind == "websocket":
        r["privlog.session.start"] = iso_utc(c.start_ns)
        r["privlog.session.end"] = iso_utc(c.start_ns + c.duration_ns)
        for key in ("messages_in", "messages_out", "bytes_in", "bytes_out", "close_code"):
            value = extra.get(key)
            if value is not None:
                r[f"privlog.websocket.{key}"] = value
    elif c.kind == "auth":
        r["event.name"] = f"auth.{extra['event']}"
    elif extra.get("incomplete"):
        r["privlog.incomplete"] = True  # the response started, but did not finish
