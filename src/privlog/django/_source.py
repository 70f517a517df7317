"""What a Django request hands to the worker, and the reader that turns it into facts.

Kept free of Django imports: it runs in the worker, which must never touch the ORM, the
session or ``request.user``; it reads only plain dicts captured on the request thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .._asgi_scope import read_asgi_scope
from .._core.capture import Facts
from ..wsgi import mounted_route, read_wsgi_environ


class DjangoSource(NamedTuple):
    """``request.META``, the ASGI scope under Django's ASGI handler, and the route template."""

    meta: Mapping[str, Any]
    scope: Mapping[str, Any] | None
    route: str | None


def request_source(request: Any) -> DjangoSource:
    """The source of a request whose URL has been resolved (or not: then no route)."""
    # Copies: META is the WSGI environ, which uWSGI empties and reuses after the request, and
    # the worker reads both later (an auth event's request goes on after the event).
    scope = getattr(request, "scope", None)
    return DjangoSource(dict(request.META), dict(scope) if scope is not None else None, route_template(request))


def route_template(request: Any) -> str | None:
    """``users/<int:pk>/`` -> ``/users/<int:pk>/``; a ``re_path`` regex loses its anchors."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if not isinstance(route, str):
        return None
    return "/" + route.removeprefix("^").removesuffix("$").removeprefix("/")


def read_django(source: DjangoSource, wanted: frozenset[bytes]) -> Facts:
    """Facts of a Django request: from the ASGI scope when there is one (it has the protocol
    version and the raw query), else from the WSGI environ, which ``request.META`` is."""
    if source.scope is not None:
        facts = read_asgi_scope(source.scope, wanted)
        query: Any = facts.query
        if isinstance(query, str):  # Django's AsyncClient puts text here; servers put bytes
            facts.query = query.encode("utf-8", "replace")
    else:
        facts = read_wsgi_environ(source.meta, wanted)
    facts.route = mounted_route(source.meta.get("SCRIPT_NAME"), source.route)
    return facts
