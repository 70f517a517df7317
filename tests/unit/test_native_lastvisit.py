"""Last-visit streams on the compiled path: the same bytes and the same index of last visits.

A stream whose retention counts from each subject's last visit writes the subject's pseudonym
under the subject key (which does not rotate), and the JSONL store notes each subject's last
day. The extension must write the pseudonym byte for byte as the Python pipeline does, and hand
the store the same subjects, so its index of last visits is the same. Skipped without the
extension.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("privlog_native")

from privlog import Policy, PrivacyLog

from ..support.native import compare, make_capture
from ..support.policies import ENV
from .test_native import SETTINGS, captures

SHIPPED = Path(__file__).parents[2] / "src" / "privlog" / "policies" / "analytics-2-years.toml"


def last_visit(subject: str, store: str | None = None) -> Policy:
    """Two streams, one kept from each subject's last visit (by ``subject``), one plain."""
    data: dict[str, Any] = {
        "service": "shop",
        "proxies": {"trusted": ["10.0.0.0/8", "127.0.0.1"]},
        "retention": {
            "behaviour": {"days": 730, "from": "last_visit", "subject": subject, "purpose": "analytics", "legal_basis": "consent"},
            "ops": {"days": 7, "purpose": "operations", "legal_basis": "legitimate interest"},
        },
        "streams": {
            "analytics": {
                "retention": "behaviour",
                "consent_gated": True,
                "fields": {
                    "timestamp": "keep",
                    "path": "template",
                    "status": "keep",
                    "client_ip": "hash" if subject == "client_ip" else "truncate",  # a subject is keyed
                    "user_id": "pseudonymise",
                    "session_id": {"action": "pseudonymise", "cookie": "session"},
                },
                "headers": {"x-tenant": "hash"},
            },
            "ops": {"retention": "ops", "fields": {"status": "keep", "client_ip": "hash"}},
        },
    }
    if store is not None:
        data["secret"] = {"store": store}
    return Policy.from_dict(data, environ=ENV if store is None else {})


class TestSameBytes:
    @SETTINGS
    @given(st.sampled_from(["user_id", "session_id", "client_ip"]), st.lists(captures(), min_size=1, max_size=8))
    def test_any_capture_under_any_subject(self, subject: str, caps: list[Any]) -> None:
        compare(last_visit(subject), caps)

    @pytest.mark.parametrize("subject", ["user_id", "session_id", "client_ip"])
    def test_realistic_captures_need_no_fallback(self, subject: str) -> None:
        caps = [
            make_capture(
                {"path": f"/p/{i}", "peer": "10.0.0.2", "headers": {b"x-forwarded-for": f"203.0.113.{i}", b"cookie": f"session=s{i % 7}"}},
                user_id=f"u{i % 5}",
            )
            for i in range(30)
        ]
        assert compare(last_visit(subject), caps) == (0, 0)

    def test_with_a_key_store(self, tmp_path: Path) -> None:
        from privlog._keys.store import KeyStore

        KeyStore.init(tmp_path, rotation="daily", retention_days=730)
        caps = [make_capture({"path": "/a", "peer": "198.51.100.7", "headers": {b"cookie": "session=abc"}}, user_id="u1")]
        assert compare(last_visit("session_id", str(tmp_path)), caps) == (0, 0)


def test_the_shipped_last_visit_policy_takes_the_compiled_path(tmp_path: Path) -> None:
    log = PrivacyLog(Policy.from_toml(SHIPPED, environ=ENV), directory=tmp_path)
    assert log.dispatcher.native is not None
    log.close()


def test_the_store_keeps_the_same_index_of_last_visits(tmp_path: Path) -> None:
    files = {}
    for native in (False, True):
        directory = tmp_path / str(native)
        log = PrivacyLog(last_visit("session_id"), directory=directory, native=native)
        assert (log.dispatcher.native is not None) is native
        for i in range(40):
            day = 1_764_000_000 * 10**9 + (i % 3) * 86_400 * 10**9
            facts = {"path": f"/p/{i}", "peer": "10.0.0.2", "headers": {b"cookie": f"session=s{i % 6}"}}
            log.dispatcher.submit(make_capture(facts, start_ns=day))
        log.close()
        files[native] = {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
    assert files[True] == files[False]
    assert any("last" in name for name in files[True]), sorted(files[True])
