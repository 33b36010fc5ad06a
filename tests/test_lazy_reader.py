"""What most connections never use is made when first needed.

aiohttp's frame reader and its message queue are made for a connection when a frame first
needs them (``ServerConnection.full_reader``): the common frames (a whole message in one
frame, the peer's close frame) are delivered by ``FrameGuard`` alone, so most connections
never make them. A connection that needs them midway (a fragmented message, a ping, a frame
that breaks the protocol, messages or the end arriving while ``open`` waits) makes them then
and behaves as before: messages in order, ``on_close`` once. A connection's ``closed``
future is made when first asked for, and is done at once when that is after the end.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import (
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Probe,
    build_frame,
    close_payload,
    raw_websocket,
    serve,
)

from tornado_ws_compat import websocket


def _echo(recorder: Probe, opened: asyncio.Event | None = None) -> type[Any]:
    class Echo(websocket.WebSocketHandler):
        async def open(self) -> None:
            self.connection = self.ws_connection  # (None again once it closes)
            assert type(self.connection).__name__ == "ServerConnection"
            recorder.record("open")
            if opened is not None:
                await opened.wait()  # messages and the end wait in the queue meanwhile

        def on_message(self, message: str | bytes) -> None:
            recorder.record("message", message)
            self.write_message(f"echo {message!s}")

        def on_close(self) -> None:
            made = self.connection.reader is not None
            recorder.record("close", self.close_code, made)

    return Echo


@pytest.mark.asyncio
async def test_common_frames_never_make_the_reader() -> None:
    recorder = Probe()
    async with serve([("/ws", _echo(recorder))]) as server:
        async with raw_websocket(server, "/ws") as conn:
            for text in ("a", "b" * 125):
                await conn.send_text(text)
                assert (await conn.read_frame()).payload == f"echo {text}".encode()
            await conn.send_close(1000)
            frames = await conn.frames_until_eof()
            assert [f.opcode for f in frames] == [OP_CLOSE]
        assert await recorder.wait("close") == (1000, False)
    assert [name for name in recorder.names() if name != "message"] == ["open", "close"]


@pytest.mark.asyncio
async def test_the_reader_is_made_midway_and_messages_stay_in_order() -> None:
    recorder = Probe()
    async with serve([("/ws", _echo(recorder))]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("first")  # delivered without the reader
            assert (await conn.read_frame()).payload == b"echo first"
            # A fragmented message, a ping between its fragments, then a common frame, all
            # in one write: the reader is made for the first fragment.
            await conn.send(
                build_frame(OP_TEXT, b"frag", fin=False)
                + build_frame(OP_PING, b"p")
                + build_frame(OP_CONT, b"ment")
                + build_frame(OP_TEXT, b"last")
            )
            frames = [await conn.read_frame() for _ in range(3)]
            assert [(f.opcode, f.payload) for f in frames] == [
                (OP_PONG, b"p"),
                (OP_TEXT, b"echo fragment"),
                (OP_TEXT, b"echo last"),
            ]
            await conn.send_text("after")  # the reader's path from now on
            assert (await conn.read_frame()).payload == b"echo after"
            await conn.send_close(1001)
            await conn.frames_until_eof()
        assert await recorder.wait("close") == (1001, True)
    assert [m for (m,) in recorder.of("message")] == ["first", "fragment", "last", "after"]


@pytest.mark.asyncio
async def test_a_protocol_error_before_any_reader_fails_the_connection() -> None:
    recorder = Probe()
    async with serve([("/ws", _echo(recorder))]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("ok")
            assert (await conn.read_frame()).payload == b"echo ok"
            await conn.send(build_frame(OP_TEXT, b"x", masked=False))  # RFC 6455 5.1
            frames = await conn.frames_until_eof()
            assert [f.opcode for f in frames] == [OP_CLOSE]
            assert frames[0].close_code == 1002
        assert (await recorder.wait("close"))[1:] == (True,)


@pytest.mark.asyncio
@pytest.mark.parametrize("end", ["close frame", "eof"])
async def test_messages_and_the_end_during_open_wait_in_the_queue(end: str) -> None:
    recorder = Probe()
    opened = asyncio.Event()
    async with serve([("/ws", _echo(recorder, opened))]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await recorder.wait("open")
            await conn.send_text("early")
            if end == "close frame":
                await conn.send(build_frame(OP_CLOSE, close_payload(1000)))
            else:
                conn.writer.write_eof()  # the peer half-closes (no close frame)
            opened.set()
            frames = await conn.frames_until_eof()
            assert frames[0].payload == b"echo early"
        await recorder.wait("close")
    assert recorder.names().count("close") == 1
    assert recorder.names().index("message") < recorder.names().index("close")


@pytest.mark.asyncio
async def test_a_peer_that_half_closes_without_a_reader_gets_on_close() -> None:
    recorder = Probe()
    async with serve([("/ws", _echo(recorder))]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("one")
            assert (await conn.read_frame()).payload == b"echo one"
            conn.writer.write_eof()
            await conn.frames_until_eof()
        assert await recorder.wait("close") == (None, False)


@pytest.mark.asyncio
@pytest.mark.parametrize("asked", ["before the end", "after the end"])
async def test_closed_resolves_whenever_it_is_asked_for(asked: str) -> None:
    recorder = Probe()
    connections: list[Any] = []

    class Kept(websocket.WebSocketHandler):
        def open(self) -> None:
            connections.append(self.ws_connection)

        def on_close(self) -> None:
            recorder.record("close")

    async with serve([("/ws", Kept)]) as server:
        async with raw_websocket(server, "/ws") as conn:
            assert len(connections) == 1  # open ran as the 101 went out
            closed = connections[0].closed if asked == "before the end" else None
            if closed is not None:
                assert not closed.done()
            await conn.send_close(1000)
            await conn.frames_until_eof()
        await recorder.wait("close")
        if closed is None:
            closed = connections[0].closed
            assert closed.done()  # at once: the end has come
        await asyncio.wait_for(closed, 5.0)
        assert connections[0].closed is closed  # one future, whoever asks
