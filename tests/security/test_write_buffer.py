"""The write-buffer policy (issue 10, point 6): a peer that reads is never dropped for what
waits for it; one that stops reading is.

Past ``max_write_buffer`` unread bytes the server stops reading from the peer (its messages
wait, so replies stop piling up) until everything is flushed; the peer is dropped only when
the pending bytes have not shrunk for ``write_stall_timeout`` seconds, with one
``tornado.general`` line naming it and the bytes pending. Tornado 6.6.1 has no limit at all:
a burst or a broadcast larger than the limit reaches a reading client whole, as there.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import aiohttp
import pytest
from helpers import OP_BINARY, Probe, RawConnection, read_frame, upgrade_headers, wait

from tornado_ws_compat import web
from tornado_ws_compat.testing import running
from tornado_ws_compat.websocket import WebSocketClosedError, WebSocketHandler

pytestmark = pytest.mark.asyncio

MIB = 1024 * 1024


class Writer(WebSocketHandler):
    """``"<count> <size>"``: write ``count`` binary messages of ``size`` bytes at once."""

    def initialize(self, probe: Probe, small_send_buffer: bool = False) -> None:
        self.probe = probe
        self.small_send_buffer = small_send_buffer

    def open(self) -> None:
        if self.small_send_buffer:
            # What the peer has not read then stays in the server's own buffer, where the
            # policy applies (loopback would otherwise absorb megabytes).
            transport: Any = self.ws_connection._transport  # type: ignore[union-attr]
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
        self.probe.record("open", self)

    def on_message(self, message: str | bytes) -> None:
        count, size = map(int, str(message).split())
        try:
            for i in range(count):
                self.write_message(bytes([i % 256]) * size, binary=True)
        except Exception as exc:  # the old policy raised here
            self.probe.record("write failed", repr(exc))
            return
        connection: Any = self.ws_connection
        self.probe.record("written", connection.is_closing(), connection._protocol._buffer_paused)

    def on_close(self) -> None:
        self.probe.record("on_close")


def _app(probe: Probe, small_send_buffer: bool = False) -> web.Application:
    kwargs = {"probe": probe, "small_send_buffer": small_send_buffer}
    return web.Application([("/ws", Writer, kwargs)])


async def _receive(ws: Any, count: int, size: int) -> None:
    for i in range(count):
        message = await wait(ws.receive())
        assert message.type == aiohttp.WSMsgType.BINARY, message
        assert message.data == bytes([i % 256]) * size


async def test_burst_past_the_limit_reaches_a_reading_client() -> None:
    """20 x 1 MiB written in a loop, then one 8 MiB message, with a 1 MiB limit."""
    probe = Probe()
    async with running(_app(probe), max_write_buffer=MIB, write_stall_timeout=5) as server:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(server.url("/ws"), max_msg_size=0) as ws:
                await ws.send_str(f"20 {MIB}")
                await _receive(ws, 20, MIB)
                await ws.send_str(f"1 {8 * MIB}")
                await _receive(ws, 1, 8 * MIB)
    assert probe.count("write failed") == 0
    # The burst went past the limit: the server throttled the client, and kept it.
    assert probe.of("written")[0] == (False, True)


async def test_broadcast_past_a_small_limit_keeps_fast_clients() -> None:
    """30 clients, a 256 KiB limit, 40 x 64 KiB sent to every one in one loop."""
    probe = Probe()
    clients = 30
    async with running(_app(probe, small_send_buffer=True), max_write_buffer=256 * 1024) as server:
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(server.url("/ws")) for _ in range(clients)]
            await probe.wait_count("open", clients)
            handlers = [event[1] for event in probe.events if event[0] == "open"]
            for _ in range(40):
                for handler in handlers:
                    handler.write_message(b"b" * 65536, binary=True)
            for ws in sockets:
                for _ in range(40):
                    message = await wait(ws.receive())
                    assert (message.type, len(message.data)) == (aiohttp.WSMsgType.BINARY, 65536)
            for ws in sockets:
                await ws.close()
        await probe.wait_count("on_close", clients)


async def _small_window_client(server: Any) -> RawConnection:
    """A raw WebSocket whose receive buffer is small, so that the server's buffer holds what
    the client has not read (the kernel does not absorb megabytes)."""
    host, port = server.sockets[0].getsockname()[:2]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.setblocking(False)
    await wait(asyncio.get_running_loop().sock_connect(sock, (host, port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    conn = RawConnection(reader, writer, host, port)
    response = await conn.request("/ws", upgrade_headers())
    assert response.status == 101
    return conn


async def test_slow_reader_is_throttled_not_dropped() -> None:
    """16 MiB to a client that reads one MiB frame every 50 ms or so, with a 1 MiB limit and
    a 0.5 s stall timeout: stall checks pass while it reads; it gets everything."""
    probe = Probe()
    async with running(_app(probe), max_write_buffer=MIB, write_stall_timeout=0.5) as server:
        conn = await _small_window_client(server)
        try:
            await conn.send_text(f"16 {MIB}")
            assert await probe.wait("written") == (False, True)
            for i in range(16):
                frame, _masked = await read_frame(conn.reader)
                assert (frame.opcode, frame.payload) == (OP_BINARY, bytes([i]) * MIB)
                await asyncio.sleep(0.05)  # pacing a slow reader, not waiting for an event
            assert probe.count("on_close") == 0
        finally:
            await conn.aclose()
        await probe.wait("on_close")


async def test_peer_that_stops_reading_is_dropped_after_the_stall_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """16 MiB to a client that reads nothing: the writes succeed, the connection stays open,
    then is dropped once the stall timeout passes with nothing read; one log line says so."""
    caplog.set_level(logging.WARNING, logger="tornado.general")
    probe = Probe()
    async with running(_app(probe), max_write_buffer=MIB, write_stall_timeout=0.2) as server:
        conn = await _small_window_client(server)
        try:
            await conn.send_text(f"16 {MIB}")
            assert await probe.wait("written") == (False, True)
            await probe.wait("on_close")
        finally:
            await conn.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == "tornado.general"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("WebSocket to 127.0.0.1: "), lines
    pending = int(lines[0].split(": ")[1].split()[0])
    assert pending > MIB, lines
    assert "bytes pending, none read in 0.2 s; closing the connection" in lines[0]


class Streamer(WebSocketHandler):
    """On any message: write 256 KiB every 10 ms (a broadcast that never pauses)."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def on_message(self, message: str | bytes) -> None:
        # A small kernel buffer: what the peer has not read stays in the server's own
        # buffer, and each read the peer makes frees room at once.
        transport: Any = self.ws_connection._transport  # type: ignore[union-attr]
        transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024
        )
        self.ticks = 0
        self.tick()

    def tick(self) -> None:
        if self.ws_connection is None or self.ticks >= 2000:  # bounded: 20 s at most
            return
        self.ticks += 1
        try:
            self.write_message(b"s" * (256 * 1024), binary=True)
        except WebSocketClosedError:
            return
        asyncio.get_running_loop().call_later(0.01, self.tick)

    def on_close(self) -> None:
        self.probe.record("on_close")


async def test_reader_slower_than_the_writes_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that keeps reading, but far more slowly than it is written to, would make
    the server's buffer grow without bound: once what waits for it has grown at two stall
    checks in a row, it is dropped, with one log line."""
    caplog.set_level(logging.WARNING, logger="tornado.general")
    probe = Probe()
    app = web.Application([("/ws", Streamer, {"probe": probe})])
    async with running(app, max_write_buffer=MIB, write_stall_timeout=0.2) as server:
        conn = await _small_window_client(server)
        try:
            await conn.send_text("go")
            dropped = asyncio.ensure_future(probe.wait("on_close", timeout=15))
            while not dropped.done():  # about 64 KiB every 20 ms: it reads, slowly
                try:
                    await asyncio.wait_for(conn.reader.read(65536), 0.5)
                except TimeoutError:
                    pass
                await asyncio.sleep(0.02)  # pacing a slow reader, not waiting for an event
            await dropped
        finally:
            await conn.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == "tornado.general"]
    assert len(lines) == 1, lines
    assert "bytes pending and growing for 0.4 s" in lines[0], lines
