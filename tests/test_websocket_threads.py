"""write_message, close and ping called from worker threads (issue 8, point 4).

Tornado 6.6.1 does not allow it; Tornado 2-4 era apps push from threads. Here each call is
handed to the loop in order and returns a ``concurrent.futures.Future``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import aiohttp
import pytest
from helpers import TIMEOUT, wait

from tornado_ws_compat import web
from tornado_ws_compat.testing import running
from tornado_ws_compat.websocket import WebSocketClosedError, WebSocketHandler


class Reports:
    """What worker threads report, handed to the test's loop; ``get()`` awaits the next one."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def append(self, item: Any) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def get(self) -> Any:
        return await wait(self._queue.get())


class ThreadPusher(WebSocketHandler):
    """``push N``: a worker thread writes N messages, waits for every future, then closes."""

    def initialize(self, results: Reports) -> None:
        self.results = results

    def on_message(self, message: str | bytes) -> None:
        assert isinstance(message, str)
        command, _, argument = message.partition(" ")
        if command == "push":
            threading.Thread(target=self._push, args=(int(argument),)).start()
        elif command == "ping":
            threading.Thread(target=self._ping).start()
        elif command == "late":
            threading.Thread(target=self._write_after_close).start()

    def _push(self, count: int) -> None:
        futures = [self.write_message(f"message {i}") for i in range(count)]
        futures.append(self.write_message(b"\x00binary", binary=True))
        futures.append(self.write_message({"json": True}))
        assert all(isinstance(f, concurrent.futures.Future) for f in futures)
        done, _ = concurrent.futures.wait(futures, timeout=TIMEOUT)
        self.results.append(("flushed", len(done), [f.result() for f in done]))
        closing = self.close(4000, "bye from a thread")
        assert isinstance(closing, concurrent.futures.Future)
        self.results.append(("closed", closing.result(timeout=TIMEOUT)))

    def _ping(self) -> None:
        pinged = self.ping(b"thread-ping")
        assert isinstance(pinged, concurrent.futures.Future)
        self.results.append(("pinged", pinged.result(timeout=TIMEOUT)))

    def _write_after_close(self) -> None:
        self.close(1000)
        # The close is handed to the loop; this write is queued behind it and fails there,
        # or (when the loop already ran the close) fails at once.
        try:
            future = self.write_message("too late")
        except WebSocketClosedError:
            self.results.append(("late", "raised"))
            return
        try:
            future.result(timeout=TIMEOUT)
        except WebSocketClosedError:
            self.results.append(("late", "failed"))


def _app(results: Reports) -> web.Application:
    return web.Application([(r"/ws", ThreadPusher, {"results": results})])


@pytest.mark.asyncio
async def test_thread_writes_arrive_in_order_and_futures_resolve() -> None:
    results = Reports()
    count = 500
    async with running(_app(results)) as server, aiohttp.ClientSession() as session:
        async with session.ws_connect(server.url("/ws")) as ws:
            await ws.send_str(f"push {count}")
            received = [await wait(ws.receive_str()) for _ in range(count)]
            assert received == [f"message {i}" for i in range(count)]
            assert await wait(ws.receive_bytes()) == b"\x00binary"
            assert await wait(ws.receive_str()) == '{"json": true}'
            closing = await wait(ws.receive())
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert (closing.data, closing.extra) == (4000, "bye from a thread")
    assert await results.get() == ("flushed", count + 2, [None] * (count + 2))
    assert await results.get() == ("closed", None)


@pytest.mark.asyncio
async def test_ping_from_a_thread() -> None:
    results = Reports()
    async with running(_app(results)) as server, aiohttp.ClientSession() as session:
        async with session.ws_connect(server.url("/ws"), autoping=False) as ws:
            await ws.send_str("ping")
            message = await wait(ws.receive())
            assert (message.type, message.data) == (aiohttp.WSMsgType.PING, b"thread-ping")
    assert await results.get() == ("pinged", None)


@pytest.mark.asyncio
async def test_write_after_close_from_a_thread_fails_with_closed_error() -> None:
    results = Reports()
    async with running(_app(results)) as server, aiohttp.ClientSession() as session:
        async with session.ws_connect(server.url("/ws")) as ws:
            await ws.send_str("late")
            message = await wait(ws.receive())
            assert message.type is aiohttp.WSMsgType.CLOSE
    assert await results.get() in (("late", "raised"), ("late", "failed"))
