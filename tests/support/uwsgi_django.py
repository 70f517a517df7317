"""The test Django project as a WSGI application, for the real uWSGI in ``test_uwsgi.py``."""

from __future__ import annotations

import os
from pathlib import Path

from .django_site import configure

configure(Path(os.environ["PRIVLOG_TEST_DIR"]))

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402 - after settings exist

application = WSGIHandler()
