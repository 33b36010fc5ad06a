"""Serve the same routes on real Tornado 6.6.1 and on this project, side by side.

``serving_both(make_routes, **settings)`` yields ``{"tornado": (host, port), "ours": (host,
port)}``: ``make_routes(web_module)`` builds the route list against ``tornado.web`` or
``tornado_ws_compat.web``, so one set of handler classes runs on both. Tests then send the same
requests to both and compare what a client observes (statuses, headers, bodies).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import tornado.web
from helpers import RawResponse, raw_connection

import tornado_ws_compat.web
from tornado_ws_compat.testing import running

#: Headers that differ on purpose (the Server names the implementation) or by the clock.
CLOCK_HEADERS = frozenset({"server", "date", "expires"})


class _Address:
    def __init__(self, port: int) -> None:
        self.sockets = [_Sock(port)]


class _Sock:
    def __init__(self, port: int) -> None:
        self._port = port

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self._port)


@asynccontextmanager
async def serving_both(
    make_routes: Callable[[ModuleType], list[Any]],
    listen: Mapping[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[dict[str, Any]]:
    """Both servers on 127.0.0.1, free ports; values are usable with ``raw_connection``.
    ``listen`` holds the HTTPServer keywords (``xheaders``, ...) given to both."""
    listen = dict(listen or {})
    tornado_app = tornado.web.Application(make_routes(tornado.web), **settings)
    tornado_server = tornado_app.listen(0, "127.0.0.1", **listen)
    port = next(iter(tornado_server._sockets.values())).getsockname()[1]
    try:
        ours_app = tornado_ws_compat.web.Application(
            make_routes(tornado_ws_compat.web), **settings
        )
        async with running(ours_app, shutdown_timeout=2.0, **listen) as ours:
            yield {"tornado": _Address(port), "ours": ours}
    finally:
        tornado_server.stop()
        await tornado_server.close_all_connections()


def observed(response: RawResponse, ignore: Iterable[str] = ()) -> dict[str, Any]:
    """Status, headers (but the clock's and the Server's) and body, comparable across servers."""
    skipped = CLOCK_HEADERS | {name.lower() for name in ignore}
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.items():
        if name.lower() not in skipped:
            headers.setdefault(name.lower(), []).append(value)
    return {
        "status": response.status,
        "headers": dict(sorted(headers.items())),
        "body": response.body,
    }


async def request_both(
    servers: Mapping[str, Any],
    path: str,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    ignore: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """One request to each server, on a fresh connection; the observations by server."""
    results = {}
    for name, server in servers.items():
        async with raw_connection(server) as connection:
            response = await connection.request(path, headers or {}, method=method)
        results[name] = observed(response, ignore)
    return results
