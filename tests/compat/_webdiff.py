"""Differential harness for ``web`` features: one application factory, both servers.

``both(build, scenario)`` builds the application twice, once with ``tornado.web`` and once with
``tornado_ws_compat.web`` (``build(web)``), serves each on 127.0.0.1 port 0, runs the same
aiohttp ``scenario(side)`` against each, and returns both results for the test to compare.
``observe(response, body)`` is the comparable form of an HTTP response: status, reason,
headers (but Server and Date, which name the implementation and the clock), and body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import aiohttp
import tornado.web

import tornado_ws_compat.web
from tornado_ws_compat.testing import running

#: Deadline of one scenario on one side.
SCENARIO_TIMEOUT = 15.0

WEBS: dict[str, ModuleType] = {"tornado": tornado.web, "ours": tornado_ws_compat.web}

_IGNORED = frozenset({"server", "date"})


@dataclass
class WebSide:
    """One running implementation as a scenario sees it."""

    impl: str
    web: ModuleType
    port: int
    app: Any
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def fetch(self, path: str, method: str = "GET", **kwargs: Any) -> dict[str, Any]:
        """One request, redirects not followed; its comparable observation."""
        kwargs.setdefault("allow_redirects", False)
        async with self.session.request(method, self.url(path), **kwargs) as response:
            return observe(response, await response.read())


def observe(response: aiohttp.ClientResponse, body: bytes) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.items():
        if name.lower() not in _IGNORED:
            headers.setdefault(name.lower(), []).append(value)
    return {
        "status": response.status,
        "reason": response.reason,
        "headers": dict(sorted(headers.items())),
        "body": body,
    }


@asynccontextmanager
async def serve_app(impl: str, app: Any) -> AsyncIterator[int]:
    """Serve ``app`` (built on ``impl``'s web module) on a free loopback port."""
    if impl == "tornado":
        server = app.listen(0, "127.0.0.1")
        try:
            yield next(iter(server._sockets.values())).getsockname()[1]
        finally:
            server.stop()
            await server.close_all_connections()
    else:
        async with running(app, shutdown_timeout=2.0) as server:
            yield server.port


class _Lines(logging.Handler):
    """Collects ``tornado.general``/``tornado.application`` lines (first line, no timings)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in ("tornado.general", "tornado.application"):
            first = record.getMessage().split("\n", 1)[0]
            self.lines.append((record.name, record.levelname, first))


async def run_side(
    impl: str,
    build: Callable[[ModuleType], Any],
    scenario: Callable[[WebSide], Awaitable[Any]],
) -> tuple[Any, list[tuple[str, str, str]]]:
    """Build, serve and drive one side; its result and its log lines (ports replaced)."""
    web = WEBS[impl]
    app = build(web)
    lines = _Lines()
    logger = logging.getLogger("tornado")
    logger.addHandler(lines)
    try:
        async with serve_app(impl, app) as port:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                side = WebSide(impl, web, port, app, session)
                result = await asyncio.wait_for(scenario(side), SCENARIO_TIMEOUT)
    finally:
        logger.removeHandler(lines)
    return result, [(n, lv, m.replace(str(port), "PORT")) for n, lv, m in lines.lines]


async def both(
    build: Callable[[ModuleType], Any], scenario: Callable[[WebSide], Awaitable[Any]]
) -> dict[str, tuple[Any, list[tuple[str, str, str]]]]:
    """``{"tornado": (result, log), "ours": (result, log)}`` of ``scenario`` on each."""
    return {impl: await run_side(impl, build, scenario) for impl in WEBS}


async def same(
    build: Callable[[ModuleType], Any], scenario: Callable[[WebSide], Awaitable[Any]]
) -> Any:
    """Run on both, assert equal results and log lines; return Tornado's result."""
    results = await both(build, scenario)
    assert results["ours"] == results["tornado"], (
        f"\n tornado: {results['tornado']!r}\n ours:    {results['ours']!r}"
    )
    return results["tornado"][0]
