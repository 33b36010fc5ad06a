"""Tornado 4's API that Tornado 5 and 6 removed and Tornado 4 programs and their tests use
(issue 8): ``gen.Task`` over callback-style functions, and ``io_loop`` passed to
``websocket_connect``, ``PeriodicCallback``, ``AsyncHTTPClient``, ``HTTPServer`` and
``gen.with_timeout`` (accepted and ignored: everything runs on the current loop). Expected
values are Tornado 4.5's documented behaviour; Tornado 6.6.1 has neither."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

import pytest

from tornado_ws_compat import gen, httpclient, httpserver, ioloop, web, websocket


def calls_back(*values: Any, **keywords: Any) -> Callable[..., None]:
    def function(callback: Callable[..., None]) -> None:
        ioloop.IOLoop.current().add_callback(callback, *values, **keywords)

    return function


@pytest.mark.asyncio
async def test_task_resolves_with_what_the_callback_gets() -> None:
    assert await gen.Task(calls_back("one")) == "one"
    assert await gen.Task(calls_back()) is None
    several = await gen.Task(calls_back("a", "b"))
    assert several == gen.Arguments(("a", "b"), {})
    assert several.args == ("a", "b")
    keywords = await gen.Task(calls_back("a", key=1))
    assert keywords == gen.Arguments(("a",), {"key": 1})


@pytest.mark.asyncio
async def test_task_passes_arguments_and_fails_with_what_the_function_raises() -> None:
    def add(a: int, b: int, callback: Callable[[int], None]) -> None:
        callback(a + b)

    assert await gen.Task(add, 2, b=3) == 5

    def broken(callback: Callable[[int], None]) -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        await gen.Task(broken)

    def twice(callback: Callable[[int], None]) -> None:
        callback(1)
        callback(2)

    assert await gen.Task(twice) == 1


@pytest.mark.asyncio
async def test_task_sleeps_with_add_timeout_in_a_coroutine() -> None:
    loop = ioloop.IOLoop.current()

    @gen.coroutine
    def nap() -> Any:
        start = loop.time()
        yield gen.Task(loop.add_timeout, datetime.timedelta(seconds=0.02))
        raise gen.Return(loop.time() - start)

    assert await nap() >= 0.015


@pytest.mark.asyncio
async def test_io_loop_is_accepted_where_tornado_4_took_it() -> None:
    loop = ioloop.IOLoop.current()
    with pytest.raises(gen.TimeoutError):
        await gen.with_timeout(datetime.timedelta(seconds=0.01), asyncio.Future(), loop)
    with pytest.raises(gen.TimeoutError):
        await gen.with_timeout(datetime.timedelta(seconds=0.01), asyncio.Future(), io_loop=loop)
    assert httpclient.AsyncHTTPClient(loop) is httpclient.AsyncHTTPClient()
    assert httpclient.AsyncHTTPClient(io_loop=loop) is httpclient.AsyncHTTPClient()
    ticked = asyncio.Event()
    for timer in (
        ioloop.PeriodicCallback(ticked.set, 5, loop),
        ioloop.PeriodicCallback(ticked.set, 5, io_loop=loop),
    ):
        assert timer.jitter == 0
        ticked.clear()
        timer.start()
        await asyncio.wait_for(ticked.wait(), 5)
        timer.stop()

    class Echo(websocket.WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message)

    server = httpserver.HTTPServer(web.Application([("/ws", Echo)]), io_loop=loop)
    server.listen(0, "127.0.0.1")
    try:
        if server.started is not None:
            await server.started
        url = f"ws://127.0.0.1:{server.port}/ws"
        for connecting in (
            websocket.websocket_connect(url, io_loop=loop),
            websocket.websocket_connect(url, loop),
        ):
            connection = await connecting
            connection.write_message("hi")
            assert await connection.read_message() == "hi"
            connection.close()
    finally:
        server.stop()
        await server.shutdown(1.0)


@pytest.mark.asyncio
async def test_handler_stream_of_tornado_4_and_5() -> None:
    """``self.stream.closed()`` on a WebSocketHandler (Tornado 4.0-5.1 kept the IOStream
    there): open while the connection is, closed before the upgrade and once it ended; a
    program's own ``stream`` attribute wins."""
    seen: list[Any] = []
    gone = asyncio.Event()

    class Room(websocket.WebSocketHandler):
        clients: set[Any] = set()

        def prepare(self) -> None:
            seen.append(["prepare", self.stream.closed()])

        def open(self) -> None:
            Room.clients.add(self)
            seen.append(["open", self.stream.closed()])

        def on_message(self, message: str | bytes) -> None:
            for client in Room.clients:
                if not client.stream.closed():
                    client.write_message(message)
                else:
                    seen.append(["skipped a closed client"])

        def on_close(self) -> None:
            seen.append(["on_close", self.stream.closed()])
            gone.set()

    class Own(websocket.WebSocketHandler):
        def initialize(self) -> None:
            self.stream = "the program's"

        def open(self) -> None:
            self.write_message(self.stream)

    app = web.Application([("/room", Room), ("/own", Own)])
    server = httpserver.HTTPServer(app)
    server.listen(0, "127.0.0.1")
    try:
        if server.started is not None:
            await server.started
        url = f"ws://127.0.0.1:{server.port}"
        first = await websocket.websocket_connect(url + "/room")
        second = await websocket.websocket_connect(url + "/room")
        second.close()
        await asyncio.wait_for(gone.wait(), 5)
        first.write_message("hi")
        assert await first.read_message() == "hi"
        own = await websocket.websocket_connect(url + "/own")
        assert await own.read_message() == "the program's"
        first.close()
        own.close()
    finally:
        server.stop()
        await server.shutdown(1.0)
    assert seen[:4] == [["prepare", True], ["open", False], ["prepare", True], ["open", False]]
    assert ["on_close", True] in seen
    assert ["skipped a closed client"] in seen  # on_close kept it in the set on purpose
