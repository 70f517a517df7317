"""What a user installs: the distribution name, one version, the license, `python -m privlog`,
the clash with the unrelated `privlog` distribution, and an import that loads only what is used."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from importlib import metadata
from pathlib import Path

import pytest

import privlog
from privlog._cli import DISTRIBUTION, main

ROOT = Path(__file__).parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


class TestMetadata:
    def test_installed_under_the_free_name_with_the_packages_own_version(self) -> None:
        """The import package is `privlog`; the index name is privlog-middleware; one version."""
        assert PYPROJECT["project"]["name"] == DISTRIBUTION == "privlog-middleware"
        assert metadata.version(DISTRIBUTION) == privlog.__version__
        assert "version" in PYPROJECT["project"]["dynamic"]

    def test_exporters_report_the_package_version(self) -> None:
        from privlog.sinks import otel, otlp

        assert otel._VERSION == otlp._VERSION == privlog.__version__

    def test_license_file_is_the_apache_license(self) -> None:
        text = (ROOT / "LICENSE").read_text()
        assert "Apache License" in text
        assert "Version 2.0, January 2004" in text
        assert PYPROJECT["project"]["license"] == "Apache-2.0"

    def test_install_commands_name_the_distribution(self) -> None:
        """`pip install privlog[...]` would install the unrelated project: every install command
        in the docs, the CHANGELOG and the messages names privlog-middleware."""
        wrong = re.compile(r"pip install ['\"]?privlog(?![-\w])")
        files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")]
        files += (ROOT / "src" / "privlog").rglob("*.py")
        found = [
            f"{path.relative_to(ROOT)}:{n}"
            for path in files
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if wrong.search(line) and "unrelated" not in line
        ]
        assert found == []

    def test_no_placeholder_urls(self) -> None:
        assert "example.invalid" not in (ROOT / "pyproject.toml").read_text()

    def test_classifiers_state_the_platforms(self) -> None:
        oses = {c for c in PYPROJECT["project"]["classifiers"] if c.startswith("Operating System")}
        assert {"Operating System :: Microsoft :: Windows", "Operating System :: POSIX :: Linux"} <= oses


class TestCommand:
    def test_python_dash_m_privlog_runs_the_command(self) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "privlog", "--version"], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == f"privlog {privlog.__version__} ({DISTRIBUTION})"

    def test_warns_when_the_unrelated_privlog_distribution_is_installed(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        info = tmp_path / "privlog-0.2.2.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: privlog\nVersion: 0.2.2\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        assert main(["secret"]) == 0
        err = capsys.readouterr().err
        assert "unrelated 'privlog' distribution 0.2.2" in err
        assert "pip uninstall privlog" in err

    def test_no_warning_without_the_clash(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["secret"]) == 0
        assert capsys.readouterr().err == ""


def _loaded_after(code: str) -> set[str]:
    """Top-level package names loaded by ``import privlog`` followed by ``code``, in a fresh process."""
    script = f"import sys, json\nimport privlog\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


_BUILD = """
import asyncio
from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from tests.support.policies import policy_dict, ENV
p = Policy.from_dict({{**policy_dict(**{fields}), "export": {{"sink": "jsonl", "directory": {d!r}}}}}, environ=ENV)
pl = PrivacyLog(p)
async def app(scope, receive, send):
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": b"ok"}})
async def receive():
    return {{"type": "http.request", "body": b"", "more_body": False}}
async def send(message):
    pass
scope = {{"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"",
    "headers": [], "client": ("203.0.113.9", 5000), "scheme": "http", "http_version": "1.1"}}
asyncio.run(PrivacyLogMiddleware(app, privlog=pl, user_id=lambda scope: "u1")(scope, receive, send))
pl.close()
assert pl.stats().exported == 1, pl.stats()
"""


class TestLazyImport:
    def test_import_loads_neither_the_sdk_nor_cryptography(self) -> None:
        loaded = _loaded_after("")
        assert not {m for m in loaded if m.startswith(("opentelemetry", "cryptography"))}

    def test_a_jsonl_policy_with_truncation_and_hashes_loads_neither(self, tmp_path: Path) -> None:
        fields = {"status": "keep", "client_ip": "hash", "user_id": "pseudonymise"}
        loaded = _loaded_after(_BUILD.format(fields=fields, d=str(tmp_path)))
        assert not {m for m in loaded if m.startswith(("opentelemetry", "cryptography"))}

    @pytest.mark.parametrize("fields", [{"client_ip": "cryptopan"}, {"user_id": "reversible"}])
    def test_cryptography_is_loaded_for_the_actions_that_need_it(
        self, tmp_path: Path, fields: dict[str, str]
    ) -> None:
        # On the Python pipeline: the compiled path (privlog-native) needs no cryptography at all.
        python = 'import os\nos.environ["PRIVLOG_NATIVE"] = "0"\n'
        loaded = _loaded_after(python + _BUILD.format(fields=fields, d=str(tmp_path)))
        assert "cryptography" in loaded


@pytest.mark.skipif(shutil.which("maturin") is None, reason="maturin is not installed")
def test_the_extensions_sdist_carries_the_crate_its_cargo_patch_points_at(tmp_path: Path) -> None:
    # native/Cargo.toml patches regex-filtered with native/vendor/regex-filtered: an sdist
    # without that folder cannot be built by anyone who installs privlog-native from source.
    patched = re.findall(r'path\s*=\s*"([^"]+)"', (ROOT / "native" / "Cargo.toml").read_text().split("[patch.crates-io]", 1)[-1])
    assert patched, "no [patch.crates-io] path in native/Cargo.toml"
    subprocess.run(
        ["maturin", "sdist", "--manifest-path", str(ROOT / "native" / "Cargo.toml"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (sdist,) = tmp_path.glob("privlog_native-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    for path in patched:
        assert any(name.endswith(f"/{path.strip('/')}/Cargo.toml") for name in names), f"{path} is not in the sdist"
