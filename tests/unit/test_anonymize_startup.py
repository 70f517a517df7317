"""``privlog anonymize`` starts as fast as a pipe from the web server needs: ``import privlog``
loads none of the middleware, and Python's user-agent parser (a tenth of a second of regexes)
is built only when a line on the Python path has a user agent to generalise. The middleware's
pipeline still builds it at start-up, off the first request's way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from privlog import Policy
from privlog._core.pipeline import Pipeline
from privlog._ops.anonymize import Anonymizer, python_line
from privlog._ops.anonymize_native import compiled_lines
from privlog._ops.logformats import log_format
from privlog._transforms import useragent

from ..support.policies import ENV, policy_dict

ROOT = Path(__file__).parents[2]
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
LINE = f'203.0.113.9 - - [29/Nov/2026:08:00:00 +0000] "GET /users/7 HTTP/1.1" 200 12 "-" "{UA}"'.encode()
UNPARSED = b"not a log line from 203.0.113.9"
TRAILING = LINE + b" rt=0.012"  # a parsed line the extension hands back to Python


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every UserAgentGeneraliser built from now on."""
    built: list[object] = []
    original = useragent.UserAgentGeneraliser.__init__

    def counted(self: useragent.UserAgentGeneraliser, *args: int) -> None:
        built.append(self)
        original(self, *args)

    monkeypatch.setattr(useragent.UserAgentGeneraliser, "__init__", counted)
    return built


def _policy() -> Policy:
    return Policy.from_dict(policy_dict(), environ=ENV)  # generalises the user agent


def test_the_middleware_pipeline_builds_the_parser_at_start_up(builds: list[object]) -> None:
    Pipeline(_policy())
    assert len(builds) == 1


def test_the_python_path_builds_it_at_the_first_user_agent(builds: list[object]) -> None:
    anonymizer = Anonymizer(_policy(), log_format("nginx-combined"))
    assert builds == []
    python_line(anonymizer, UNPARSED, False)  # scrubbed as free text: no user agent read
    assert builds == []
    first = python_line(anonymizer, LINE, False)
    assert b"Firefox 133 / Linux / desktop" in first
    python_line(anonymizer, LINE, False)
    assert len(builds) == 1


def test_the_compiled_path_builds_it_only_for_a_line_handed_back(builds: list[object]) -> None:
    pytest.importorskip("privlog_native")
    anonymizer = Anonymizer(_policy(), log_format("nginx-combined"))
    compiled = compiled_lines(anonymizer)
    assert compiled is not None
    out = compiled.block(LINE + b"\n" + UNPARSED + b"\n")
    assert b"Firefox 133 / Linux / desktop" in out
    assert (compiled.fallback, builds) == (1, [])
    reference = Anonymizer(_policy(), log_format("nginx-combined"))
    assert compiled.block(TRAILING + b"\n") == python_line(reference, TRAILING, False)
    assert compiled.fallback == 2
    assert len(builds) == 2  # the handed-back line's, and the reference's


def _loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, cwd=ROOT, check=True)  # fmt: skip
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_privlog_loads_no_middleware_until_asked() -> None:
    loaded = _loaded("import privlog")
    assert not loaded & {"privlog.asgi", "privlog._core.dispatcher", "privlog._core.pipeline", "ua_parser"}
    assert "privlog.asgi" in _loaded("import privlog\nprivlog.PrivacyLogMiddleware")
    assert "privlog.wsgi" in _loaded("import privlog\nassert privlog.asgi.PrivacyLogMiddleware and privlog.wsgi")


def test_the_command_line_loads_neither_the_middleware_nor_the_user_agent_parser() -> None:
    loaded = _loaded("from privlog._cli import build_parser\nbuild_parser()")
    assert not loaded & {"privlog.asgi", "privlog._core.dispatcher", "privlog._ops.audit_checks", "ua_parser"}
