"""``@web.asynchronous`` above ``@gen.coroutine``, the stacking Tornado 3.1-5.x allowed.

Expected transcripts are Tornado 5.1's (Tornado 6 removed ``asynchronous``): the request
finishes when the coroutine does, unless the coroutine finished it; an exception raised in
the coroutine, or in a callback scheduled from it, is the request's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator
from typing import Any

import aiohttp
import pytest

from tornado_ws_compat import gen, web
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.testing import running

TIMEOUT = 5.0


class GenPage(web.RequestHandler):
    @web.asynchronous
    @gen.coroutine
    def get(self, kind: str) -> Generator[Any, Any, None]:
        self.write("a ")
        yield gen.sleep(0.001)
        if kind == "callback-fails":
            IOLoop.current().add_callback(self.boom)
            return
        if kind == "raises":
            raise web.HTTPError(410)
        if kind == "finishes":
            self.finish("finished")
            return
        yield [gen.moment, gen.sleep(0.001)]
        self.write("b")

    def boom(self) -> None:
        raise ValueError("late")


async def get(server: Any, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url(path)) as response:
            return response.status, await response.read()


@pytest.mark.asyncio
async def test_asynchronous_over_gen_coroutine(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tornado")
    app = web.Application([(r"/gen/([\w-]+)", GenPage)])
    async with running(app) as server:
        results = [
            await asyncio.wait_for(get(server, "/gen/" + kind), TIMEOUT)
            for kind in ("plain", "finishes", "raises", "callback-fails")
        ]
    assert results == [
        (200, b"a b"),
        (200, b"a finished"),
        (410, b"<html><title>410: Gone</title><body>410: Gone</body></html>"),
        (
            500,
            b"<html><title>500: Internal Server Error</title>"
            b"<body>500: Internal Server Error</body></html>",
        ),
    ]
    assert [
        (r.levelname, r.getMessage().split("\n")[0])
        for r in caplog.records
        if r.name in ("tornado.application", "tornado.general")
    ] == [("ERROR", "Uncaught exception GET /gen/callback-fails (127.0.0.1)")]
