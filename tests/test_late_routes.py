"""Routes registered after the Application is built (issue 8): Tornado 4.5+ programs add them
with ``app.wildcard_router.add_rules([...])`` (plugins, flask-like route decorators). The same
program runs on Tornado 6.6.1 and here; a client must see the same pages."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import aiohttp
import pytest
import tornado.web

import tornado_ws_compat.web
from tornado_ws_compat.testing import running


def _app(web: ModuleType) -> Any:
    class Hello(web.RequestHandler):  # type: ignore[name-defined,misc]
        def initialize(self, greeting: str = "hello") -> None:
            self.greeting = greeting

        def get(self, name: str = "world") -> None:
            self.write(f"{self.greeting} {name}; " + self.reverse_url("late", "x y"))

    app = web.Application([(r"/first", Hello)])
    app.wildcard_router.add_rules(
        [
            (r"/late/(.*)", Hello, {"greeting": "late"}, "late"),
            web.url(r"/first", Hello, {"greeting": "shadowed"}),  # the earlier route wins
            (r"/spec", Hello, {"greeting": "spec"}),
        ]
    )
    app.wildcard_router.add_rules([(r"/last", Hello, {"greeting": "last"})])
    return app


async def _pages(base: str) -> list[Any]:
    out = []
    async with aiohttp.ClientSession() as session:
        for path in ("/first", "/late/ann", "/spec", "/last", "/nowhere"):
            async with session.get(base + path) as response:
                out.append([path, response.status, (await response.text())[:60]])
    return out


@pytest.mark.asyncio
async def test_rules_added_to_the_wildcard_router_are_served_as_on_tornado() -> None:
    theirs = _app(tornado.web).listen(0, "127.0.0.1")
    port = next(iter(theirs._sockets.values())).getsockname()[1]
    try:
        expected = await _pages(f"http://127.0.0.1:{port}")
    finally:
        theirs.stop()
        await theirs.close_all_connections()
    async with running(_app(tornado_ws_compat.web)) as ours:
        port = ours.sockets[0].getsockname()[1]
        assert await _pages(f"http://127.0.0.1:{port}") == expected
    assert expected[1] == ["/late/ann", 200, "late ann; /late/x%20y"]
