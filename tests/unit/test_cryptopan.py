"""Crypto-PAn: the reference implementation's vectors, prefix preservation, keys, the cache."""

from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privlog._keys.cryptopan import CryptoPAn, make_cryptopan
from privlog._transforms.address import parse_ip

# The sample key of the Crypto-PAn reference distribution (sample.cpp).
REFERENCE_KEY = bytes(
    [21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16]  # AES key
) + bytes([216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2])  # pad

# sample_trace_raw.dat -> sample_trace_sanitized.dat of the reference distribution, duplicates removed.
REFERENCE_IPV4 = [
    ("128.11.68.132", "135.242.180.132"),
    ("129.118.74.4", "134.136.186.123"),
    ("130.132.252.244", "133.68.164.234"),
    ("141.223.7.43", "141.167.8.160"),
    ("141.233.145.108", "141.129.237.235"),
    ("152.163.225.39", "151.140.114.167"),
    ("156.29.3.236", "147.225.12.42"),
    ("165.247.96.84", "162.9.99.234"),
    ("166.107.77.190", "160.132.178.185"),
    ("192.102.249.13", "252.138.62.131"),
    ("192.215.32.125", "252.43.47.189"),
    ("192.233.80.103", "252.25.108.8"),
    ("192.41.57.43", "252.222.221.184"),
    ("193.150.244.223", "253.169.52.216"),
    ("195.205.63.100", "255.186.223.5"),
    ("198.200.171.101", "249.199.68.213"),
    ("198.26.132.101", "249.36.123.202"),
    ("198.36.213.5", "249.7.21.132"),
    ("198.51.77.238", "249.18.186.254"),
    ("199.217.79.101", "248.38.184.213"),
    ("202.49.198.20", "245.206.7.234"),
    ("203.12.160.252", "244.248.163.4"),
    ("204.184.162.189", "243.192.77.90"),
    ("204.202.136.230", "243.178.4.198"),
    ("204.29.20.4", "243.33.20.123"),
    ("205.178.38.67", "242.108.198.51"),
    ("205.188.147.153", "242.96.16.101"),
    ("205.188.248.25", "242.96.88.27"),
    ("205.245.121.43", "242.21.121.163"),
    ("207.105.49.5", "241.118.205.138"),
    ("207.135.65.238", "241.202.129.222"),
    ("207.155.9.214", "241.220.250.22"),
    ("207.188.7.45", "241.255.249.220"),
    ("207.25.71.27", "241.33.119.156"),
    ("207.33.151.131", "241.1.233.131"),
    ("208.147.89.59", "227.237.98.191"),
    ("208.234.120.210", "227.154.67.17"),
    ("208.28.185.184", "227.39.94.90"),
    ("208.52.56.122", "227.8.63.165"),
    ("209.12.231.7", "226.243.167.8"),
    ("209.238.72.3", "226.6.119.243"),
    ("209.246.74.109", "226.22.124.76"),
    ("209.68.60.238", "226.184.220.233"),
    ("209.85.249.6", "226.170.70.6"),
    ("212.120.124.31", "228.135.163.231"),
    ("212.146.8.236", "228.19.4.234"),
    ("212.186.227.154", "228.59.98.98"),
    ("212.204.172.118", "228.71.195.169"),
    ("212.206.130.201", "228.69.242.193"),
    ("216.148.237.145", "235.84.194.111"),
    ("216.157.30.252", "235.89.31.26"),
    ("216.184.159.48", "235.96.225.78"),
    ("216.227.10.221", "235.28.253.36"),
    ("216.254.18.172", "235.7.16.162"),
    ("216.32.132.250", "235.192.139.38"),
    ("216.35.217.178", "235.195.157.81"),
    ("24.0.250.221", "100.15.198.226"),
    ("24.13.62.231", "100.2.192.247"),
    ("24.14.213.138", "100.1.42.141"),
    ("24.5.0.80", "100.9.15.210"),
    ("24.7.198.88", "100.10.6.25"),
    ("24.94.26.44", "100.88.228.35"),
    ("38.15.67.68", "64.3.66.187"),
    ("4.3.88.225", "124.60.155.63"),
    ("63.14.55.111", "95.9.215.7"),
    ("63.195.241.44", "95.179.238.44"),
    ("63.97.7.140", "95.97.9.123"),
    ("64.14.118.196", "0.255.183.58"),
    ("64.34.154.117", "0.221.154.117"),
    ("64.39.15.238", "0.219.7.41"),
    ("10.185.25.118", "117.161.29.118"),
    # Not in the sample trace; computed with yacryptopan 1.0.2.
    ("0.0.0.0", "120.255.240.1"),
    ("255.255.255.255", "206.120.97.255"),
    ("127.0.0.1", "33.0.243.129"),
]

# IPv6 under the same key: the first five are other Crypto-PAn ports' vectors, all are yacryptopan 1.0.2's.
REFERENCE_IPV6 = [
    ("::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"),
    ("::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"),
    ("::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"),
    ("2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"),
    ("2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"),
    ("::", "78ff:f001:9fc0:20df:8380:b1f1:704:ec"),
    ("fe80::1", "cf7f:c0e:1fc3:da1c:70:b18e:f7f3:2101"),
    ("2001:db8:85a3::8a2e:370:7334", "4401:2bc:867e:e401:fdff:85b2:fb57:7ccb"),
    ("2606:4700:4700::1111", "4009:788c:3b3c:1ddc:1ff:8071:f900:cf2"),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ce78:61ff:387e:8078:38c4:407:c3bf:f781"),
]

# yacryptopan's own example: the key bytes 0..31.
COUNTING_KEY = bytes(range(32))
COUNTING = [("192.0.2.1", "2.90.93.17"), ("2001:db8::1", "dd92:2c44:3fc0:ff1e:7ff9:c7f0:8180:7e00")]

REFERENCE = make_cryptopan(REFERENCE_KEY)
ANONYMISE = CryptoPAn(REFERENCE_KEY).anonymise

keys = st.binary(min_size=32, max_size=32)
addresses = st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=16, max_size=16))


def packed(text: str) -> bytes:
    value = parse_ip(text)
    assert value is not None
    return value


def common_prefix(a: bytes, b: bytes) -> int:
    diff = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return len(a) * 8 - diff.bit_length()


@pytest.mark.parametrize(("original", "expected"), REFERENCE_IPV4 + REFERENCE_IPV6)
def test_reference_vectors(original: str, expected: str) -> None:
    assert REFERENCE(packed(original)) == expected


@pytest.mark.parametrize(("original", "expected"), COUNTING)
def test_yacryptopan_example(original: str, expected: str) -> None:
    assert make_cryptopan(COUNTING_KEY, cache_size=0)(packed(original)) == expected


def test_reference_trace_keeps_its_prefixes() -> None:
    originals = [packed(a) for a, _ in REFERENCE_IPV4]
    pseudonyms = [ANONYMISE(p) for p in originals]
    for i, (a, pa) in enumerate(zip(originals, pseudonyms)):
        for b, pb in zip(originals[i + 1 :], pseudonyms[i + 1 :]):
            assert common_prefix(pa, pb) == common_prefix(a, b)


@settings(max_examples=300)
@given(key=keys, address=addresses, data=st.data())
def test_prefix_preserving(key: bytes, address: bytes, data: st.DataObject) -> None:
    """Addresses sharing exactly k leading bits give pseudonyms sharing exactly k leading bits."""
    bits = len(address) * 8
    k = data.draw(st.integers(0, bits), label="k")
    value = int.from_bytes(address, "big")
    if k < bits:
        tail = bits - k - 1
        value ^= 1 << tail  # differ at bit k
        value ^= data.draw(st.integers(0, (1 << tail) - 1), label="low bits")  # anything after it
    other = value.to_bytes(len(address), "big")
    assert common_prefix(address, other) == k
    anonymise = CryptoPAn(key).anonymise
    assert common_prefix(anonymise(address), anonymise(other)) == k


@settings(max_examples=100)
@given(key=keys, address=addresses)
def test_valid_address_of_the_same_family(key: bytes, address: bytes) -> None:
    family = socket.AF_INET if len(address) == 4 else socket.AF_INET6
    text = make_cryptopan(key, cache_size=0)(address)
    out = socket.inet_pton(family, text)
    assert out == CryptoPAn(key).anonymise(address)
    assert len(out) == len(address)


@settings(max_examples=100)
@given(key=keys, other_key=keys, batch=st.lists(addresses, min_size=4, max_size=4))
def test_different_keys_give_different_pseudonyms(key: bytes, other_key: bytes, batch: list[bytes]) -> None:
    if key == other_key:
        return
    one, two = CryptoPAn(key).anonymise, CryptoPAn(other_key).anonymise
    assert [one(a) for a in batch] != [two(a) for a in batch]


def test_a_bijection_on_a_small_subnet() -> None:
    """Prefix preservation makes Crypto-PAn one-to-one: a /16 maps onto a /16, no collisions."""
    base = int.from_bytes(packed("198.51.0.0"), "big")
    outs = {ANONYMISE((base + i).to_bytes(4, "big")) for i in range(1 << 16)}
    assert len(outs) == 1 << 16
    assert len({o[:2] for o in outs}) == 1


def test_cache_is_bounded_and_consistent() -> None:
    anonymise = make_cryptopan(REFERENCE_KEY, cache_size=16)
    uncached = make_cryptopan(REFERENCE_KEY, cache_size=0)
    for i in range(100):
        address = bytes([10, 0, 0, i])
        assert anonymise(address) == anonymise(address) == uncached(address)
    info = anonymise.cache_info()  # type: ignore[attr-defined]
    assert info.currsize == info.maxsize == 16
    assert info.hits == 100
    assert not hasattr(uncached, "cache_info")


def test_wrong_key_or_address_length_is_refused_without_echoing_it() -> None:
    secret = b"s3cret-key-material"
    with pytest.raises(ValueError, match="32-byte key") as excinfo:
        CryptoPAn(secret)
    assert "s3cret" not in str(excinfo.value)
    with pytest.raises(ValueError, match=r"^an address is 4 \(IPv4\) or 16 \(IPv6\) bytes long$"):
        ANONYMISE(b"\x0a\x0b\x0c\x0d\x0e")


def test_shared_between_threads() -> None:
    """The shared encryptor refuses a second thread ("Already borrowed"); that thread gets its own."""
    shared = CryptoPAn(COUNTING_KEY).anonymise
    addresses = [(i << 100).to_bytes(16, "big") for i in range(512)]
    expected = [CryptoPAn(COUNTING_KEY).anonymise(a) for a in addresses]
    results: list[bool] = []

    def work() -> None:
        results.extend([shared(a) for a in addresses] == expected for _ in range(4))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 16
