"""Build the API reference from the docstrings (`make docs`): HTML in build/api/.

Run by CI, so a docstring or signature that pdoc cannot read fails the build instead of rotting.
Django needs settings to import its modules: a minimal, throw-away configuration is set here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
import pdoc
from django.conf import settings

MODULES = [
    "privlog",
    "privlog.asgi",
    "privlog.wsgi",
    "privlog.flask",
    "privlog.django",
    "privlog.django.middleware",
    "privlog.django.checks",
    "privlog.django.conf",
    "privlog.sinks",
    "privlog.testing",
    "privlog.clickhouse",
]


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/api")
    settings.configure(INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"], SECRET_KEY="apidocs")
    django.setup()
    pdoc.render.configure(docformat="restructuredtext", footer_text="privlog-middleware")
    pdoc.pdoc(*MODULES, output_directory=out)
    missing = [m for m in MODULES if not (out / (m.replace(".", "/") + ".html")).is_file()]
    if missing:
        sys.exit(f"no page for: {', '.join(missing)}")
    print(f"API reference: {out}/index.html ({len(MODULES)} modules)")


if __name__ == "__main__":
    main()
