"""Client addresses: fast validating parse, prefix truncation, trusted-proxy resolution.

Uses ``socket.inet_pton``/``inet_ntop`` (under 1 µs) rather than :mod:`ipaddress` (3–19 µs).
Addresses travel as packed bytes (4 or 16) so no textual form of the input is kept around.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence

#: Marker recorded when a header that should hold an address holds something else.
INVALID = "invalid"

_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_MAX_HOPS = 64  # a forwarded chain longer than this is treated as garbage
#: A proxy header this long may have been cut (the readers keep 8 KiB), losing the right-most
#: hops, which are the ones our proxies wrote: such a header is treated as garbage.
MAX_PROXY_HEADER = 8192
#: The headers a trusted proxy can be set to write, for ``[proxies] header``.
PROXY_HEADERS = ("x-forwarded-for", "forwarded")
_6TO4_FIRST = 0x2002  # 2002::/16 embeds an IPv4 address in bits 16..48 (RFC 3056)
_PEER_CACHE = 1024
_pton = socket.inet_pton
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6


def parse_ip(text: str) -> bytes | None:
    """Packed address for ``text``, or None. Accepts ``[v6]:port``, ``v4:port``, zone ids.

    IPv4-mapped IPv6 addresses are returned as IPv4, so one client gets one form.
    """
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if text[0] == "[":
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    if ":" not in text:  # the family is known before parsing: a failed parse raises, which is slow
        try:
            return _pton(_AF_INET, text)
        except (OSError, ValueError):
            return None
    pct = text.find("%")
    if pct >= 0:
        text = text[:pct]
    try:
        packed = _pton(_AF_INET6, text)
    except (OSError, ValueError):
        return None
    if packed[:12] == _MAPPED_PREFIX:
        return packed[12:]
    return packed


def format_ip(packed: bytes) -> str:
    """Text form of a packed address."""
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def make_truncate(ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> Callable[[bytes], str]:
    """A function keeping exactly the first ``ipv4_prefix``/``ipv6_prefix`` bits of an address.

    A 6to4 address (``2002::/16``) carries its client's IPv4 address in bits 16..48, so
    ``/48`` would keep it whole: for those, only ``16 + ipv4_prefix`` bits are kept (if that
    is fewer than ``ipv6_prefix``), so the embedded address is cut like any IPv4 address and
    the result stays an IPv6 address: ``2002:cb00:7109::1`` gives ``2002:cb00:7100::``.
    """
    mask4 = ((1 << 32) - 1) ^ ((1 << (32 - ipv4_prefix)) - 1)
    mask6 = ((1 << 128) - 1) ^ ((1 << (128 - ipv6_prefix)) - 1)
    bits_6to4 = min(ipv6_prefix, 16 + ipv4_prefix)
    mask_6to4 = ((1 << 128) - 1) ^ ((1 << (128 - bits_6to4)) - 1)
    from_bytes = int.from_bytes
    ntop = socket.inet_ntop
    af4, af6 = socket.AF_INET, socket.AF_INET6

    def truncate_ip(packed: bytes) -> str:
        if len(packed) == 4:
            return ntop(af4, (from_bytes(packed, "big") & mask4).to_bytes(4, "big"))
        value = from_bytes(packed, "big")
        mask = mask_6to4 if value >> 112 == _6TO4_FIRST else mask6
        return ntop(af6, (value & mask).to_bytes(16, "big"))

    return truncate_ip


def make_is_trusted(
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> Callable[[bytes], bool]:
    """A membership test for the trusted proxies, on packed addresses, built once.

    Peers are normalised to IPv4 when they are IPv4-mapped (:func:`parse_ip`), so networks
    written in that form (``::ffff:10.0.0.2``, ``::ffff:10.0.0.0/104``) are normalised too.
    """
    networks = [_unmapped(n) for n in networks]
    v4 = [(int(n.network_address), int(n.netmask)) for n in networks if n.version == 4]
    v6 = [(int(n.network_address), int(n.netmask)) for n in networks if n.version == 6]

    def is_trusted(packed: bytes) -> bool:
        value = int.from_bytes(packed, "big")
        for net, mask in v4 if len(packed) == 4 else v6:  # noqa: SIM110 - a loop beats any() here
            if value & mask == net:
                return True
        return False

    return is_trusted


def _unmapped(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4-mapped IPv6 network (inside ``::ffff:0:0/96``) as the IPv4 network it maps."""
    if network.version == 6 and network.prefixlen >= 96:
        mapped = ipaddress.IPv6Address(network.network_address).ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _forwarded_for(header: str) -> list[str]:
    """The ``for=`` values of an RFC 7239 ``Forwarded`` header, left to right."""
    hops = []
    for element in header.split(","):
        value = ""
        for pair in element.split(";"):
            key, _, val = pair.partition("=")
            if key.strip().lower() == "for":
                value = val.strip().strip('"')
        hops.append(value)
    return hops


def make_client_resolver(
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    header: str = "x-forwarded-for",
) -> Callable[[str | None, str | None, str | None], bytes | str | None]:
    """Build ``resolve(peer, forwarded, x_forwarded_for) -> packed | INVALID | None``.

    Proxy headers are believed only when the peer is a trusted proxy, and only ``header``:
    the one the trusted proxies write (``"x-forwarded-for"`` or ``"forwarded"``). The other
    is ignored, as the client alone wrote it. In the chain, the right-most hop that is not
    itself trusted is the client. A hop that is not an address, a chain of more than 64 hops
    or a header of :data:`MAX_PROXY_HEADER` characters or more (perhaps cut) yields ``INVALID``.
    """
    if header not in PROXY_HEADERS:
        raise ValueError("header must be 'x-forwarded-for' or 'forwarded'")
    use_forwarded = header == "forwarded"
    is_trusted = make_is_trusted(networks)
    trust_any = bool(networks)

    peers: dict[str, tuple[bytes | None, bool]] = {}  # behind proxies, a handful of peers repeat

    def resolve(peer: str | None, forwarded: str | None, xff: str | None) -> bytes | str | None:
        if not peer:
            return None
        known = peers.get(peer)
        if known is None:
            found = parse_ip(peer)
            known = (found, found is not None and trust_any and is_trusted(found))
            if len(peers) >= _PEER_CACHE:
                peers.clear()
            peers[peer] = known
        packed, trusted = known
        if packed is None:
            return INVALID
        if not trusted:
            return packed
        value = forwarded if use_forwarded else xff
        if value is None:
            return packed
        if len(value) >= MAX_PROXY_HEADER:
            return INVALID
        hops = _forwarded_for(value) if use_forwarded else value.split(",")
        if len(hops) > _MAX_HOPS:
            return INVALID
        for hop in reversed(hops):
            hop_packed = parse_ip(hop)
            if hop_packed is None:
                return INVALID
            if not is_trusted(hop_packed):
                return hop_packed
            packed = hop_packed
        return packed  # every hop is a trusted proxy: the left-most one is the client

    return resolve
