"""Limits, backpressure, graceful shutdown and failure isolation (issue: production grade)."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import sys
import textwrap
from typing import Any

import aiohttp
import pytest
from helpers import build_frame

from tornado_ws_compat import web, websocket
from tornado_ws_compat.errors import WebSocketClosedError
from tornado_ws_compat.testing import running

TIMEOUT = 10


async def raw_upgrade(
    port: int, path: str = "/ws"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


class Recorder:
    """Events a handler reports, with a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.changed = asyncio.Event()

    def add(self, event: Any) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, predicate: Any) -> None:
        async def wait() -> None:
            while not predicate(self.events):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)


def closes(events: list[Any]) -> int:
    return sum(1 for event in events if event[0] == "close")


def make_app(recorder: Recorder, **settings: Any) -> web.Application:
    class Handler(websocket.WebSocketHandler):
        def open(self) -> None:
            recorder.add(("open", id(self)))

        def on_message(self, message: str | bytes) -> None:
            if message == "flood":
                self.flood()
                return
            self.write_message(message, binary=isinstance(message, bytes))

        def flood(self) -> None:
            try:
                for _ in range(16_384):  # 16 MiB, more than loopback's socket buffers hold
                    self.write_message("x" * 1024)
            except WebSocketClosedError:
                recorder.add(("write refused",))

        def on_close(self) -> None:
            recorder.add(("close", self.close_code, self.close_reason))

    class Slow(websocket.WebSocketHandler):
        release: asyncio.Event

        def initialize(self, release: asyncio.Event) -> None:
            self.release = release

        async def on_message(self, message: str | bytes) -> None:
            await self.release.wait()
            recorder.add(("slow", len(message)))

    return web.Application(
        [("/ws", Handler), ("/slow", Slow, {"release": settings.pop("release", None)})],
        **settings,
    )


@pytest.mark.asyncio
async def test_graceful_shutdown_closes_with_1001_after_pending_frames() -> None:
    recorder = Recorder()
    async with running(make_app(recorder)) as server:
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(server.url("/ws")) for _ in range(3)]
            await recorder.wait_for(lambda events: len(events) == 3)
            for ws in sockets:
                await ws.send_str("last words")
            for ws in sockets:
                assert await asyncio.wait_for(ws.receive_str(), TIMEOUT) == "last words"
            shutdown = asyncio.ensure_future(server.shutdown(TIMEOUT))
            for ws in sockets:
                message = await asyncio.wait_for(ws.receive(), TIMEOUT)
                assert message.type is aiohttp.WSMsgType.CLOSE
                assert (message.data, message.extra) == (1001, "going away")
            await asyncio.wait_for(shutdown, TIMEOUT)
            assert closes(recorder.events) == 3


class Page(web.RequestHandler):
    def initialize(self, entered: asyncio.Event, release: asyncio.Event) -> None:
        self.entered = entered
        self.release = release

    async def get(self) -> None:
        if self.get_argument("wait", None):
            self.entered.set()
            await self.release.wait()
        self.write("page")


@pytest.mark.asyncio
async def test_shutdown_closes_idle_connections_and_finishes_requests_in_progress() -> None:
    # A shutdown with a long timeout ends as soon as the requests in progress have ended:
    # then connections waiting for a request (kept alive after one, or that never sent a
    # byte) are closed instead of holding the shutdown for its whole timeout.
    entered, release = asyncio.Event(), asyncio.Event()
    app = web.Application([("/page", Page, {"entered": entered, "release": release})])
    async with running(app) as server:
        kept = await asyncio.open_connection("127.0.0.1", server.port)
        kept[1].write(b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(kept[0].readuntil(b"page"), TIMEOUT)).startswith(
            b"HTTP/1.1 200"
        )
        silent = await asyncio.open_connection("127.0.0.1", server.port)
        busy = await asyncio.open_connection("127.0.0.1", server.port)
        busy[1].write(b"GET /page?wait=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(entered.wait(), TIMEOUT)
        shutdown = asyncio.ensure_future(server.shutdown(3600))
        # While a request is in progress, the others may still ask (and get a 503).
        kept[1].write(b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
        refused = await asyncio.wait_for(kept[0].readuntil(b"\r\n\r\n"), TIMEOUT)
        assert refused.startswith(b"HTTP/1.1 503"), refused
        release.set()
        answer = await asyncio.wait_for(busy[0].read(), TIMEOUT)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"page"), answer
        await asyncio.wait_for(silent[0].read(), TIMEOUT)  # (EOF: closed, not timed out)
        await asyncio.wait_for(kept[0].read(), TIMEOUT)
        await asyncio.wait_for(shutdown, TIMEOUT)
        for _reader, writer in (kept, silent, busy):
            writer.close()


@pytest.mark.asyncio
async def test_requests_during_shutdown_get_503() -> None:
    recorder = Recorder()
    async with running(make_app(recorder)) as server:
        # A peer that never answers our close keeps the shutdown waiting.
        stuck_reader, stuck_writer = await raw_upgrade(server.port)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", server.port)
        # One request first, so the server surely holds this keep-alive connection.
        idle_writer.write(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(idle_reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 404")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await asyncio.wait_for(idle_reader.readexactly(length), TIMEOUT)
        shutdown = asyncio.ensure_future(server.shutdown(1.0))
        close_frame = await asyncio.wait_for(stuck_reader.readexactly(4), TIMEOUT)
        assert close_frame[:2] == b"\x88\x0c"  # close, 12 bytes: 1001 "going away"
        idle_writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
        status = await asyncio.wait_for(idle_reader.readline(), TIMEOUT)
        assert status.startswith(b"HTTP/1.1 503"), status
        await asyncio.wait_for(shutdown, TIMEOUT)
        # After the timeout the unresponsive peer is dropped and on_close still runs.
        assert await asyncio.wait_for(stuck_reader.read(), TIMEOUT) is not None
        await recorder.wait_for(lambda events: closes(events) == 1)
        for writer in (stuck_writer, idle_writer):
            writer.close()


@pytest.mark.asyncio
async def test_sigterm_stops_serve_gracefully(tmp_path: Any) -> None:
    script = tmp_path / "srv.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            from tornado_ws_compat import web, websocket
            from tornado_ws_compat.server import serve

            class Echo(websocket.WebSocketHandler):
                def on_message(self, message):
                    self.write_message(message)
                def on_close(self):
                    print("closed", self.close_code, flush=True)

            app = web.Application([("/ws", Echo)])
            asyncio.run(serve(app, 0, "127.0.0.1",
                              ready=lambda s: print("port", s.port, flush=True)))
            print("exited cleanly", flush=True)
            """
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        port = int(line.split()[1])
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws")
            await ws.send_str("hello")
            assert await asyncio.wait_for(ws.receive_str(), TIMEOUT) == "hello"
            process.send_signal(signal.SIGTERM)
            message = await asyncio.wait_for(ws.receive(), TIMEOUT)
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
            await ws.close()
        rest = await asyncio.wait_for(process.stdout.read(), TIMEOUT)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
        # close_code is the peer's: aiohttp's client answers our 1001 with 1000.
        assert b"closed 1000" in rest and b"exited cleanly" in rest, rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.asyncio
async def test_peer_that_never_reads_is_dropped_after_the_stall_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the write limit the writes still succeed; the peer, reading nothing, is dropped
    once the stall timeout passes (the write-buffer policy of issue 10)."""
    recorder = Recorder()
    limit = 256 * 1024
    async with running(
        make_app(recorder), max_write_buffer=limit, write_stall_timeout=0.2
    ) as server:
        _reader, writer = await raw_upgrade(server.port)
        writer.write(build_frame(0x1, b"flood"))
        await recorder.wait_for(lambda events: closes(events) == 1)
        assert ("write refused",) not in recorder.events
        assert any("bytes pending, none read" in r.getMessage() for r in caplog.records)
        writer.close()


@pytest.mark.asyncio
async def test_slow_coroutine_on_message_pauses_reading() -> None:
    recorder = Recorder()
    release = asyncio.Event()
    async with running(make_app(recorder, release=release)) as server:
        _reader, writer = await raw_upgrade(server.port, "/slow")
        frame = build_frame(0x2, b"\0" * 65536)
        sent = 0
        blocked = False
        for _ in range(2000):  # at most 128 MiB, far beyond any socket buffer
            writer.write(frame)
            sent += 1
            try:
                await asyncio.wait_for(writer.drain(), 0.5)
            except TimeoutError:
                blocked = True
                break
        assert blocked, "the server kept reading while on_message was blocked"
        release.set()
        await recorder.wait_for(lambda events: len(events) == sent)
        assert all(event == ("slow", 65536) for event in recorder.events)
        writer.close()


@pytest.mark.asyncio
async def test_peer_vanishing_mid_frame_runs_on_close_once() -> None:
    recorder = Recorder()
    async with running(make_app(recorder)) as server:
        _reader, writer = await raw_upgrade(server.port)
        writer.write(build_frame(0x1, b"x" * 1000)[:300])
        await writer.drain()
        writer.close()
        await recorder.wait_for(lambda events: closes(events) == 1)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(server.url("/ws")) as ws:
                await ws.send_str("still serving")
                assert await asyncio.wait_for(ws.receive_str(), TIMEOUT) == "still serving"
    assert closes(recorder.events) == 2


@pytest.mark.asyncio
async def test_exception_in_on_close_is_logged_and_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = asyncio.Event()

    class Broken(websocket.WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message)

        def on_close(self) -> None:
            closed.set()
            raise RuntimeError("on_close failed")

    async with running(web.Application([("/ws", Broken)])) as server:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(server.url("/ws"))
            await ws.close()
            await asyncio.wait_for(closed.wait(), TIMEOUT)
            async with session.ws_connect(server.url("/ws")) as ws:
                await ws.send_str("ok")
                assert await asyncio.wait_for(ws.receive_str(), TIMEOUT) == "ok"
    errors = [r for r in caplog.records if r.name == "tornado.application"]
    assert errors and errors[0].levelno == logging.ERROR


@pytest.mark.asyncio
async def test_slowloris_gets_408_and_is_dropped() -> None:
    recorder = Recorder()
    async with running(make_app(recorder), request_head_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        writer.close()


@pytest.mark.asyncio
async def test_header_line_over_max_header_line_size_gets_400() -> None:
    # The per-line limit, when set below the head's (max_header_size, 64 KiB), answers 400;
    # heads over max_header_size are tests/security/test_request_limits.py's.
    recorder = Recorder()
    async with running(make_app(recorder), max_header_line_size=8190) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), TIMEOUT)
        assert status.split()[1] == b"400", status
        writer.close()
