"""A minimal Django site for the shutdown tests: ``asgi`` and ``wsgi`` applications.

Its only middleware is privlog's; the store is ``PRIVLOG_TEST_DIR`` (see ``shutdown_policy``).
As in a real project, the PrivacyLog is built on the first request, in the server's thread.
"""

from __future__ import annotations

import time

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

from .shutdown_policy import SLOW
from .shutdown_policy import policy as _policy


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"hello")


def slow(request: HttpRequest) -> HttpResponse:
    time.sleep(SLOW)
    return HttpResponse(b"slow")


urlpatterns = [path("hello", hello), path("slow", slow)]

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only-not-secret-" + "x" * 40,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["privlog.django"],
    MIDDLEWARE=["privlog.django.middleware.PrivacyLogMiddleware"],
    DATABASES={},
    USE_TZ=True,
    PRIVLOG=_policy(),
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

asgi = get_asgi_application()
wsgi = get_wsgi_application()
