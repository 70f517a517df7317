"""A tiny Django project for the tests: settings (configured once per session), views and URLs.

``ROOT_URLCONF`` points at this module, so the views and ``urlpatterns`` live here too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path, re_path

from .policies import policy_dict

MIDDLEWARE = [
    "privlog.django.middleware.PrivacyLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def configure(directory: Path) -> None:
    """Configure Django for this process, once; the database and JSONL store go to ``directory``."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    if settings.configured:
        return
    session_policy = {**policy_dict(), "export": {"sink": "jsonl", "directory": str(directory / "logs")}}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only-not-secret-" + "x" * 40,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "privlog.django",
        ],
        MIDDLEWARE=MIDDLEWARE,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(directory / "db.sqlite3")}
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        PRIVLOG=session_policy,
    )
    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    User.objects.create_user(username="alice@example.com", password="correct horse", pk=90817263)


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


async def ahello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


def user(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"id": pk})


def article(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("app bug")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"a" * 10
        yield b"b" * 5

    return StreamingHttpResponse(chunks())


async def astream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * 10
        yield b"b" * 5

    return StreamingHttpResponse(chunks())


def stream_boom(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first chunk"
        raise RuntimeError("the stream failed")

    return StreamingHttpResponse(chunks(), status=201)


async def astream_boom(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first chunk"
        raise RuntimeError("the stream failed")

    return StreamingHttpResponse(chunks(), status=201)


def endless(request: HttpRequest) -> StreamingHttpResponse:
    """A long stream a client hangs up on (bounded: 10 s at most)."""

    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b"x" * 16384
            time.sleep(0.05)

    return StreamingHttpResponse(chunks())


async def aendless(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(200):
            yield b"x" * 16384
            await asyncio.sleep(0.05)

    return StreamingHttpResponse(chunks())


def do_login(request: HttpRequest) -> HttpResponse:
    found = authenticate(request, username=request.POST["username"], password=request.POST["password"])
    if found is None:
        return HttpResponse("no", status=401)
    login(request, found)
    return HttpResponse("ok")


def do_logout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("bye")


def me(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.user.is_authenticated))


api: Any = [path("users/<int:pk>/", user)]

urlpatterns = [
    path("hello", hello),
    path("ahello", ahello),
    path("users/<int:pk>/", user),
    path("api/v1/", include(api)),
    re_path(r"^articles/(?P<year>[0-9]{4})/$", article),
    path("boom/", boom),
    path("stream/", stream),
    path("astream/", astream),
    path("stream-boom/", stream_boom),
    path("astream-boom/", astream_boom),
    path("endless/", endless),
    path("aendless/", aendless),
    path("login/", do_login),
    path("logout/", do_logout),
    path("me/", me),
]
