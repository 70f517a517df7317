"""Per-address cost of the client-address actions, and of yacryptopan for comparison, one run.

    pytest benchmarks/test_ip_actions.py --benchmark-only --benchmark-json=/tmp/ipbench.json
    python benchmarks/report.py /tmp/ipbench.json

Each round handles ADDRESSES distinct addresses. The uncached Crypto-PAn figures are the real
cost of a new client; the cached ones are a client seen before. yacryptopan is optional (a
development comparison only): its benchmarks are skipped when it is not installed.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable
from typing import Any

import pytest

from privlog._keys.cryptopan import make_cryptopan
from privlog._keys.reversible import make_sealer
from privlog._keys.ring import KeyRing
from privlog._transforms.address import make_truncate

ADDRESSES = 100
KEY = bytes(range(32))

_rng = random.Random(4)
IPV4 = [_rng.randbytes(4) for _ in range(ADDRESSES)]
IPV6 = [_rng.randbytes(16) for _ in range(ADDRESSES)]
IPV4_TEXT = [socket.inet_ntop(socket.AF_INET, a) for a in IPV4]
IPV6_TEXT = [socket.inet_ntop(socket.AF_INET6, a) for a in IPV6]
FAMILIES = {"ipv4": (IPV4, IPV4_TEXT), "ipv6": (IPV6, IPV6_TEXT)}

pytestmark = [
    pytest.mark.benchmark(group="ip-actions"),
    pytest.mark.parametrize("family", ["ipv4", "ipv6"]),
]


def per_address(benchmark: Any, action: Callable[[Any], object], inputs: list[Any], rounds: int) -> None:
    """Benchmark ``action`` over ``inputs``; report.py divides the round time by their number."""

    def run() -> None:
        for value in inputs:
            action(value)

    benchmark.extra_info["requests_per_round"] = len(inputs)
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)


def test_yacryptopan(benchmark: Any, family: str) -> None:
    yacryptopan = pytest.importorskip("yacryptopan")
    cp = yacryptopan.CryptoPAn(KEY)
    packed, text = FAMILIES[family]
    ours = make_cryptopan(KEY, cache_size=0)
    assert [
        socket.inet_pton(socket.AF_INET6 if ":" in t else socket.AF_INET, cp.anonymize(t)) for t in text
    ] == [
        socket.inet_pton(socket.AF_INET6 if ":" in t else socket.AF_INET, ours(p))
        for p, t in zip(packed, text)
    ]
    per_address(benchmark, cp.anonymize, text, rounds=5 if family == "ipv6" else 20)


def test_privlog_cryptopan_uncached(benchmark: Any, family: str) -> None:
    per_address(benchmark, make_cryptopan(KEY, cache_size=0), FAMILIES[family][0], rounds=300)


def test_privlog_cryptopan_cached(benchmark: Any, family: str) -> None:
    per_address(benchmark, make_cryptopan(KEY), FAMILIES[family][0], rounds=300)


def test_privlog_truncate(benchmark: Any, family: str) -> None:
    per_address(benchmark, make_truncate(), FAMILIES[family][0], rounds=300)


def test_privlog_keyed_hash(benchmark: Any, family: str) -> None:
    per_address(
        benchmark, KeyRing.from_secret(b"x" * 32).hasher("client_ip"), FAMILIES[family][0], rounds=300
    )


def test_privlog_aes_siv_seal(benchmark: Any, family: str) -> None:
    per_address(benchmark, make_sealer(bytes(range(64)), "client_ip"), FAMILIES[family][0], rounds=300)
