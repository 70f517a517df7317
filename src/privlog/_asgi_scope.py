"""The ASGI scope reader: the allow-listed facts of a finished request, read in the worker.

The Python reference of what the compiled path (``privlog-native``) reads out of a scope
itself: method, scheme, version, path, the route template (through Starlette/FastAPI mounts),
query string, client, and the wanted headers only, decoded leniently.
"""

from __future__ import annotations

from typing import Any

from ._core.capture import Facts

#: The scope keys a reader looks at: this module's and the compiled path's (``scope.rs``).
READ_KEYS = (
    "type",
    "method",
    "scheme",
    "http_version",
    "path",
    "query_string",
    "headers",
    "client",
    "route",
    "root_path",
    "app_root_path",
    "app",
)


def scope_view(scope: Any, keys: tuple[str, ...] = READ_KEYS) -> dict[str, Any]:
    """What a capture keeps of a scope: the keys a reader looks at, nothing else.

    Not a copy of the whole scope: that would keep the request's state, path parameters and
    framework objects alive until the worker's next batch instead of freeing them when the
    request ends. Under a real server, holding a batch of whole scopes cost the app about 10%
    of its requests per second (memory the next requests would reuse hot is held instead); the
    view costs under a microsecond. A key the scope lacks stays absent (readers tell "absent"
    from None).
    """
    return {key: scope[key] for key in keys if key in scope}


def pick_headers(raw: Any, wanted: frozenset[bytes]) -> dict[bytes, str]:
    """The wanted headers from an ASGI header list, decoded leniently, first value wins.

    Repeated ``X-Forwarded-For``/``Forwarded`` are joined with commas as RFC 7230 allows.
    """
    out: dict[bytes, str] = {}
    if not wanted:
        return out
    for name, value in raw:
        if name not in wanted:
            # ASGI servers send lower-case names: lower() (a new bytes object) only the others.
            if name.islower():
                continue
            name = name.lower()
            if name not in wanted:
                continue
        text = value[:8192].decode("latin-1")
        if name in out:
            if name in (b"x-forwarded-for", b"forwarded"):
                out[name] = out[name] + "," + text
            continue
        out[name] = text
    return out


_MAX_DEPTH = 8


def _walk(routes: Any, path: str, depth: int = 0) -> str | None:
    """The template of the route matching ``path``, through nested Starlette/FastAPI mounts."""
    if depth > _MAX_DEPTH:
        return None
    for route in routes:
        regex = getattr(route, "path_regex", None)
        match = regex.match(path) if regex is not None else None
        if match is None:
            continue
        inner = getattr(route, "routes", None)
        params = match.groupdict()
        if inner and "path" in params and getattr(route, "path", None) is not None:
            below = _walk(inner, "/" + params["path"], depth + 1)
            if below is not None:
                return str(route.path) + below
        template = getattr(route, "path_format", None)
        return template if isinstance(template, str) else None
    return None


def find_routes(app: Any) -> Any:
    """The outermost router below an ASGI app (through middleware ``.app`` links), or None.

    Found once, when the middleware is built: mounted apps set ``scope["app"]`` to themselves,
    so only the top router knows the mount templates.
    """
    for _ in range(16):
        if app is None:
            return None
        if getattr(app, "routes", None) is not None:
            return app
        app = getattr(app, "app", None) or getattr(app, "router", None)
    return None


def mounted_template(scope: Any, app_root: str, root: Any = None) -> str | None:
    """The full template (``/api/{tenant}/users/{uid}``) of a request routed through mounts."""
    routes = getattr(root if root is not None else scope.get("app"), "routes", None)
    path = scope.get("path") or ""
    if routes is None or not path.startswith(app_root):
        return None
    try:
        return _walk(routes, path[len(app_root) :] or "/")
    except Exception:  # an unusual router: fall back to a placeholder, never to the raw prefix
        return None


def read_asgi_scope(scope: Any, wanted: frozenset[bytes], routes: Any = None) -> Facts:
    """Facts from an ASGI scope (HTTP or WebSocket), after the app has run.

    ``routes``: the app's top router (see :func:`find_routes`), for templates through mounts.
    """
    client = scope.get("client")
    route = None
    found = scope.get("route")
    template = getattr(found, "path_format", None) if found is not None else None
    if isinstance(template, str):
        route = template
        app_root = scope.get("app_root_path")
        if app_root is not None and (scope.get("root_path") or "") != app_root:
            # Matched inside a Mount: the route's template is relative to it, and root_path now
            # holds the *raw* prefix (with its parameter values), so rebuild it from the routes.
            route = mounted_template(scope, app_root, routes) or "/{mount}" + template
    return Facts(  # positional: this runs for every request
        scope.get("method", "GET" if scope.get("type") == "websocket" else None),
        scope.get("scheme"),
        scope.get("http_version"),
        scope.get("path"),
        route,
        scope.get("query_string", b""),
        client[0] if client else None,
        client[1] if client else None,
        pick_headers(scope.get("headers", ()), wanted),
    )


class ScopeReader:
    """:func:`read_asgi_scope` with the app's top router bound, as the middleware hands it to
    the worker. A class, not a closure: the compiled path (``privlog-native``) recognises it and
    reads the scope itself, and a ``partial`` with a keyword would build a dict per call."""

    __slots__ = ("routes",)

    def __init__(self, routes: Any) -> None:
        self.routes = routes

    def __call__(self, scope: Any, wanted: frozenset[bytes]) -> Facts:
        return read_asgi_scope(scope, wanted, self.routes)
