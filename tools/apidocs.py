"""Build the API reference from the docstrings (`make docs`): HTML in build/api/.

Run by CI, so a docstring or signature that pdoc cannot read fails the build instead of rotting.
Django needs settings to import its modules: a minimal, throw-away configuration is set here.
"""

from __future__ import annotations

import importlib
import sys
import warnings
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


def materialise(name: str) -> None:
    """Set a module's lazily imported public names (a module ``__getattr__``) on the module,
    so pdoc finds them: ``privlog.sinks`` imports each sink only when it is first named."""
    module = importlib.import_module(name)
    for public in getattr(module, "__all__", ()):
        if public not in vars(module):
            setattr(module, public, getattr(module, public))


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/api")
    settings.configure(INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"], SECRET_KEY="apidocs")
    django.setup()
    # A public name pdoc cannot resolve would be missing from the reference: fail instead.
    warnings.filterwarnings("error", message=r".*in \S+\.__all__, but it does not resolve")
    for name in MODULES:
        materialise(name)
    pdoc.render.configure(docformat="restructuredtext", footer_text="privlog-middleware")
    pdoc.pdoc(*MODULES, output_directory=out)
    missing = [m for m in MODULES if not (out / (m.replace(".", "/") + ".html")).is_file()]
    if missing:
        sys.exit(f"no page for: {', '.join(missing)}")
    print(f"API reference: {out}/index.html ({len(MODULES)} modules)")


if __name__ == "__main__":
    main()
