"""``@web.asynchronous``, with Tornado 5.1's documented semantics (Tornado 6 removed it).

No differential run is possible: Tornado 6.6.1 has no ``asynchronous``. The expected
transcripts are what Tornado 5.1 answers: the request stays open after the method returns
until ``finish()``; an exception in a callback scheduled from the method (directly or through
other callbacks) is the request's uncaught exception (logged once on
``tornado.application`` as "Uncaught exception GET ...", answered with the error page); a
method returning a future finishes the request when the future completes.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
from collections.abc import Awaitable
from typing import Any

import aiohttp
import pytest

from tornado_ws_compat import web
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.testing import running

TIMEOUT = 5.0


class Later(web.RequestHandler):
    """Finishes two callbacks later: add_callback, then add_timeout with a timedelta."""

    @web.asynchronous
    def get(self) -> None:
        self.write("started ")
        IOLoop.current().add_callback(self.step)

    def step(self) -> None:
        self.write("step ")
        IOLoop.current().add_timeout(datetime.timedelta(milliseconds=5), self.done)

    def done(self) -> None:
        self.finish("done")


class Fails(web.RequestHandler):
    """A callback two levels down raises: the request answers with the error page."""

    @web.asynchronous
    def get(self, kind: str) -> None:
        self.write("never sent")
        IOLoop.current().add_callback(lambda: IOLoop.current().call_later(0, self.boom, kind))

    def boom(self, kind: str) -> None:
        if kind == "http":
            raise web.HTTPError(418, "teapot %s", "log")
        raise ValueError("boom")


class FailsAfterFinish(web.RequestHandler):
    @web.asynchronous
    def get(self) -> None:
        IOLoop.current().add_callback(self.finish_then_fail)

    def finish_then_fail(self) -> None:
        self.finish("finished")
        IOLoop.current().add_callback(self.boom)

    def boom(self) -> None:
        raise ValueError("late")


class ReturnsFuture(web.RequestHandler):
    """Returns a future a callback resolves: finished when it resolves (no finish() call)."""

    @web.asynchronous
    def get(self) -> Awaitable[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def resolve() -> None:
            self.write("resolved")
            future.set_result(None)

        IOLoop.current().add_callback(resolve)
        return future


class NativeCoroutine(web.RequestHandler):
    @web.asynchronous
    async def get(self) -> None:
        await asyncio.sleep(0)
        self.write("coroutine")


class FailingCoroutine(web.RequestHandler):
    @web.asynchronous
    async def get(self) -> None:
        await asyncio.sleep(0)
        raise web.HTTPError(409)


class Held(web.RequestHandler):
    """Stays open until the test finishes it; records its hooks."""

    waiting: asyncio.Queue[Held]
    events: list[str]

    @web.asynchronous
    def get(self) -> None:
        self.write("held ")
        self.waiting.put_nowait(self)

    def on_connection_close(self) -> None:
        self.events.append("on_connection_close")

    def on_finish(self) -> None:
        self.events.append("on_finish")


class FromThread(web.RequestHandler):
    """A worker thread hands back a callback: outside the method's context, so only
    ``async_callback`` (Tornado 1.x-3.x) makes its exception the request's.
    """

    @web.asynchronous
    def get(self, kind: str) -> None:
        loop = IOLoop.current()
        callback = self.async_callback(self.reply, kind)
        threading.Thread(target=loop.add_callback, args=(callback,)).start()

    def reply(self, kind: str) -> None:
        if kind == "fails":
            raise ValueError("in the reply")
        if kind == "fails-late":
            self.flush()
            raise ValueError("after the headers")
        self.finish("from the thread")


class Synchronous(web.RequestHandler):
    """A method that finishes before returning is fine too (Tornado 5.1)."""

    @web.asynchronous
    def get(self) -> None:
        self.finish("at once")


def make_app() -> web.Application:
    return web.Application(
        [
            (r"/later", Later),
            (r"/fails/(\w+)", Fails),
            (r"/fails-after-finish", FailsAfterFinish),
            (r"/future", ReturnsFuture),
            (r"/coroutine", NativeCoroutine),
            (r"/failing-coroutine", FailingCoroutine),
            (r"/held", Held),
            (r"/sync", Synchronous),
            (r"/thread/([\w-]+)", FromThread),
        ]
    )


async def get(server: Any, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url(path)) as response:
            return response.status, await response.read()


def app_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (r.levelname, r.getMessage().split("\n")[0])
        for r in caplog.records
        if r.name in ("tornado.application", "tornado.general")
    ]


@pytest.mark.asyncio
async def test_finished_by_later_callbacks() -> None:
    async with running(make_app()) as server:
        assert await asyncio.wait_for(get(server, "/later"), TIMEOUT) == (
            200,
            b"started step done",
        )
        assert await get(server, "/sync") == (200, b"at once")


@pytest.mark.asyncio
async def test_exception_in_a_callback_is_the_requests(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tornado")
    async with running(make_app()) as server:
        status, body = await asyncio.wait_for(get(server, "/fails/value"), TIMEOUT)
        assert status == 500
        assert body == (
            b"<html><title>500: Internal Server Error</title>"
            b"<body>500: Internal Server Error</body></html>"
        )
        status, body = await asyncio.wait_for(get(server, "/fails/http"), TIMEOUT)
        assert status == 418
    assert app_lines(caplog) == [
        ("ERROR", "Uncaught exception GET /fails/value (127.0.0.1)"),
        ("WARNING", "418 GET /fails/http (127.0.0.1): teapot log"),
    ]


@pytest.mark.asyncio
async def test_exception_after_finish_is_logged_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tornado")
    async with running(make_app()) as server:
        assert await asyncio.wait_for(get(server, "/fails-after-finish"), TIMEOUT) == (
            200,
            b"finished",
        )
        # The late callback runs on the loop after the response: a round trip later it has.
        assert await get(server, "/sync") == (200, b"at once")
    assert app_lines(caplog) == [
        ("ERROR", "Uncaught exception GET /fails-after-finish (127.0.0.1)")
    ]


@pytest.mark.asyncio
async def test_returned_future_or_coroutine_finishes_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(make_app()) as server:
        assert await asyncio.wait_for(get(server, "/future"), TIMEOUT) == (200, b"resolved")
        assert await asyncio.wait_for(get(server, "/coroutine"), TIMEOUT) == (200, b"coroutine")
        status, _ = await asyncio.wait_for(get(server, "/failing-coroutine"), TIMEOUT)
        assert status == 409
    assert app_lines(caplog) == []


@pytest.mark.asyncio
async def test_request_stays_open_until_finish() -> None:
    Held.waiting = asyncio.Queue()
    Held.events = []
    async with running(make_app()) as server:
        async with aiohttp.ClientSession() as session:
            request = asyncio.ensure_future(session.get(server.url("/held")))
            handler = await asyncio.wait_for(Held.waiting.get(), TIMEOUT)
            assert not handler.request.connection.stream.closed()
            # get() has returned: the response has not been sent, the request is open.
            await asyncio.sleep(0)
            assert not request.done()
            assert Held.events == []
            handler.finish("finished")
            response = await asyncio.wait_for(request, TIMEOUT)
            assert (response.status, await response.read()) == (200, b"held finished")
            response.release()
    assert Held.events == ["on_finish"]


@pytest.mark.asyncio
async def test_client_leaving_calls_on_connection_close() -> None:
    Held.waiting = asyncio.Queue()
    Held.events = []
    async with running(make_app()) as server:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        handler = await asyncio.wait_for(Held.waiting.get(), TIMEOUT)
        closed = asyncio.get_running_loop().create_future()
        original = handler.on_connection_close

        def record() -> None:
            original()
            closed.set_result(None)

        handler.on_connection_close = record  # type: ignore[method-assign]
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(closed, TIMEOUT)
        assert handler.request.connection.stream.closed()  # as Tornado 4's chat demo asks
        handler.finish("too late")  # harmless once the client has gone
    assert Held.events == ["on_connection_close", "on_finish"]


@pytest.mark.asyncio
async def test_async_callback_from_another_thread(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tornado")
    async with running(make_app()) as server:
        assert await asyncio.wait_for(get(server, "/thread/ok"), TIMEOUT) == (
            200,
            b"from the thread",
        )
        status, _ = await asyncio.wait_for(get(server, "/thread/fails"), TIMEOUT)
        assert status == 500
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url("/thread/fails-late")) as response:
                assert response.status == 200  # the headers went out before the error
                # The request is left open, as in Tornado 3: the client gives up.
    assert app_lines(caplog) == [
        ("ERROR", "Uncaught exception GET /thread/fails (127.0.0.1)"),
        ("ERROR", "Exception after headers written"),
    ]
