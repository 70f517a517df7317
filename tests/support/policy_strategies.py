"""Random valid policies for the differential tests of the compiled path.

``tests/unit/test_native.py`` (the worker's batches) and ``test_native_anonymize.py`` (``privlog
anonymize``) draw policies the same way: per stream, a random set of fields with a random
action each, a truncation's prefixes, an allow-list's parameters and value shapes, a session
cookie. What differs is said by each caller: the parameters and shapes, how many parameters
an allow-list names, which cookies, the purposes, and what a stream and the policy carry
besides their fields (events, headers, consent, proxies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st

from privlog import Policy, PolicyError
from privlog._keys.epochs import ROTATIONS
from privlog._policy.catalogue import FIELDS

from .policies import ENV

_NAMES = sorted(n for n in FIELDS if n != "location")  # location needs a geo database


@st.composite
def random_policies(
    draw: st.DrawFn,
    *,
    streams: st.SearchStrategy[int],
    params: Sequence[str],
    shapes: st.SearchStrategy[Any],
    max_allowed: int,
    cookies: Sequence[str],
    purposes: Sequence[str] = ("ops",),
    stream_extras: st.SearchStrategy[dict[str, Any]] = st.just({"events": ["http"]}),
    policy_extras: st.SearchStrategy[dict[str, Any]] = st.just({}),
) -> Policy:
    """A valid policy of ``streams`` streams; a drawn combination the policy refuses is rejected.

    ``params``: the query parameters an allow-list may name, at most ``max_allowed``, and a kept
    one's value is one of ``shapes``; ``cookies``: the session cookie's names; ``stream_extras``
    and ``policy_extras``: keys added to each stream and to the policy.
    """
    retention, out = {}, {}
    for i in range(draw(streams)):
        names = draw(st.lists(st.sampled_from(_NAMES), unique=True, min_size=1, max_size=12))
        fields: dict[str, Any] = {}
        for name in names:
            action = draw(st.sampled_from(sorted(FIELDS[name].actions)))
            spec: dict[str, Any] = {"action": action}
            if action == "truncate":
                spec.update(ipv4_prefix=draw(st.integers(0, 32)), ipv6_prefix=draw(st.integers(0, 128)))
            elif action == "allowlist":
                allow = draw(st.lists(st.sampled_from(params), unique=True, max_size=max_allowed))
                kept = draw(st.lists(st.sampled_from(allow), unique=True)) if allow else []
                spec.update(allow=allow, values={n: draw(shapes) for n in kept})
            if name == "session_id":
                spec["cookie"] = draw(st.sampled_from(cookies))
            fields[name] = spec
        retention[f"r{i}"] = {
            "days": draw(st.integers(1, 3650)),
            "purpose": draw(st.sampled_from(purposes)),
            "legal_basis": "legitimate interest",
        }
        out[f"s{i}"] = {"retention": f"r{i}", **draw(stream_extras), "fields": fields}
    data = {
        "service": "svc",
        "retention": retention,
        "streams": out,
        "secret": {
            "algorithm": draw(st.sampled_from(["blake2b", "hmac-sha256"])),
            "rotation": draw(st.sampled_from(ROTATIONS)),
        },
        **draw(policy_extras),
    }
    try:
        return Policy.from_dict(data, environ=ENV)
    except PolicyError:
        reject()
