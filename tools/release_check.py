"""The release check (`make release-check`): what a user gets from the package index.

Builds the wheel and the sdist, installs each into a fresh virtual environment under the
distribution's name, imports privlog with ``fcntl`` missing (as on Windows), runs every
``privlog`` command's ``--help``, and serves the FastAPI, Flask and Django examples on real
servers, checking that each request became a privacy-safe record. Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DIST = "privlog-middleware"

NO_FCNTL = """
import sys
sys.modules["fcntl"] = None
import privlog, privlog._filelock as lock
from privlog import Policy, PrivacyLog
p = Policy.from_toml(sys.argv[1])
pl = PrivacyLog(p, directory=sys.argv[2])
pl.close()
assert lock.METHOD == "lockfile", lock.METHOD
print("imported without fcntl:", privlog.__version__, lock.METHOD)
"""

COMMANDS = """
import argparse, json
from privlog._cli import build_parser
def walk(parser, path):
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, [*path, name])
print(json.dumps(list(walk(build_parser(), []))))
"""


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(*cmd: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(c) for c in cmd], text=True, capture_output=True, **kw)  # type: ignore[call-overload]
    if out.returncode != 0:
        sys.exit(f"FAILED ({out.returncode}): {' '.join(map(str, cmd))}\n{out.stdout}\n{out.stderr}")
    return out  # type: ignore[no-any-return]


def venv(where: Path, requirement: str) -> Path:
    run(sys.executable, "-m", "venv", where)
    run(where / "bin" / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(where / "bin" / "python", "-m", "pip", "install", "--quiet", requirement)
    return where / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(name: str, cmd: list[str | Path], port: int, cwd: Path, env: dict[str, str], path: str) -> None:
    """Start a server, request ``path`` (user 4711), stop it, and check the one record it wrote."""
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    sys.exit(f"FAILED: the {name} example did not serve\n{out}")
                time.sleep(0.2)
        assert body == {"id": 4711}, body
        time.sleep(1.5)  # the worker flushes every 0.5 s
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    files = list((cwd / "privlog-logs" / "access").glob("*.jsonl"))
    records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    if len(records) != 1:
        sys.exit(f"FAILED: the {name} example wrote {len(records)} records, expected 1")
    rec = records[0]
    assert rec["client.address"] == "127.0.0.0", rec  # truncated to /16 by the example policy
    assert "4711" not in json.dumps(rec), rec
    print(f"{name}: served {path}, logged {rec.get('http.route')} {rec.get('http.response.status_code')}")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="privlog-release-"))
    try:
        step("build the wheel and the sdist")
        run(sys.executable, "-m", "build", "--outdir", work / "dist", ROOT)
        (wheel,) = (work / "dist").glob("*.whl")
        (sdist,) = (work / "dist").glob("*.tar.gz")
        assert wheel.name.startswith("privlog_middleware-"), wheel.name
        print(wheel.name, sdist.name)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PRIVLOG_", "DJANGO_"))}
        env.pop("PYTHONPATH", None)
        for label, requirement in (("sdist", str(sdist)), ("wheel", f"{wheel}[demo,flask,django]")):
            step(f"install the {label} into a fresh venv")
            start = time.monotonic()
            bin_ = venv(work / f"venv-{label}", requirement)
            print(f"installed in {time.monotonic() - start:.0f} s:", run(bin_ / "pip", "show", DIST).stdout.splitlines()[1])
            step(f"{label}: import privlog with fcntl missing")
            store = work / f"store-{label}"
            print(run(bin_ / "python", "-c", NO_FCNTL, EXAMPLES / "access-7-days.toml", store, cwd=work, env=env).stdout.strip())
            print(run(bin_ / "python", "-m", "privlog", "--version", cwd=work, env=env).stdout.strip())

        step("every command's --help, through the installed `privlog` script")
        paths = json.loads(run(bin_ / "python", "-c", COMMANDS, cwd=work, env=env).stdout)
        for path in paths:
            out = run(bin_ / "privlog", *path, "--help", cwd=work, env=env).stdout
            assert out.startswith("usage: privlog"), out
        print(f"{len(paths)} commands: " + ", ".join(" ".join(p) or "privlog" for p in paths))

        step("the examples on real servers")
        for name, path, cmd in (
            ("FastAPI", "/users/4711", [bin_ / "uvicorn", "--app-dir", EXAMPLES, "fastapi_app:app", "--port", "{port}"]),
            ("Flask", "/users/4711", [bin_ / "flask", "--app", EXAMPLES / "flask_app.py", "run", "--port", "{port}"]),
            ("Django", "/users/4711/", [bin_ / "python", EXAMPLES / "django_project" / "manage.py", "runserver", "--noreload", "127.0.0.1:{port}"]),
        ):
            port = free_port()
            cwd = work / f"run-{name}"
            cwd.mkdir()
            serve(name, [str(c).format(port=port) for c in cmd], port, cwd, env, path)
        step("release check passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
