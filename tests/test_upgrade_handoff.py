"""After the 101 the WebSocket owns its connection: the HTTP request that upgraded it ends.

An open WebSocket keeps no task and none of aiohttp's HTTP machinery (issue 11, idle memory);
what a handler observes stays Tornado's: hooks in order, ``request`` and its headers readable,
``request.connection.stream.closed()`` telling whether the socket is still there.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any

import aiohttp
import pytest
from helpers import OP_CLOSE, Probe, raw_websocket, serve, settle

from tornado_ws_compat import testing, web
from tornado_ws_compat.websocket import WebSocketHandler


class Echo(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def open(self) -> None:
        self.probe.record("open", self.request.headers.get("X-Tag"))

    def on_message(self, message: str | bytes) -> None:
        stream_closed = self.request.connection.stream.closed()  # type: ignore[union-attr]
        self.write_message(f"{message!s} closed={stream_closed}")

    def on_close(self) -> None:
        self.probe.record("on_close", self.close_code)


class SlowOpen(Echo):
    async def open(self) -> None:  # type: ignore[override]
        self.probe.record("open", None)
        await self.probe.wait("go")
        self.probe.record("opened")


@pytest.mark.asyncio
async def test_open_websockets_hold_no_task() -> None:
    probe = Probe()
    async with serve([("/ws", Echo, {"probe": probe})]) as server:
        await settle()
        before = len(asyncio.all_tasks())
        async with raw_websocket(server, "/ws", {"X-Tag": "a"}) as one:
            async with raw_websocket(server, "/ws", {"X-Tag": "b"}) as two:
                await probe.wait_count("open", 2)
                await settle()
                # Two idle WebSockets, and no task more than before them.
                assert len(asyncio.all_tasks()) == before
                for conn, text in ((one, "hello"), (two, "again")):
                    await conn.send_text(text)
                    assert (await conn.read_frame()).payload == f"{text} closed=False".encode()
                await two.send_close(1000)
                reply = await two.read_frame()
                assert (reply.opcode, reply.close_code) == (OP_CLOSE, 1000)
                assert await two.read_eof() == b""
                await probe.wait_count("on_close", 1)
            await one.send_text("still here")
            assert (await one.read_frame()).payload == b"still here closed=False"
        assert [tag for (tag,) in probe.of("open")] == ["a", "b"]


@pytest.mark.asyncio
async def test_handler_keeps_request_and_sees_stream_closed() -> None:
    probe = Probe()
    handlers: list[Any] = []

    class Keeper(Echo):
        def open(self) -> None:
            handlers.append(self)
            super().open()

    async with serve([("/ws", Keeper, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws", {"X-Tag": "kept"}) as conn:
            await probe.wait("open")
            await conn.send_close(1001)
            await conn.read_eof()
        await probe.wait("on_close")
        (handler,) = handlers
        assert handler.close_code == 1001
        assert handler.request.headers["X-Tag"] == "kept"
        assert handler.request.connection.stream.closed()


@pytest.mark.asyncio
async def test_messages_during_async_open_wait_for_it() -> None:
    # The request's task runs a coroutine open() to its end; messages that come meanwhile
    # are delivered after it, in order; a client gone meanwhile still gets on_close.
    probe, probe2 = Probe(), Probe()
    routes = [("/ws", SlowOpen, {"probe": probe}), ("/ws2", SlowOpen, {"probe": probe2})]
    async with serve(routes) as server:
        async with raw_websocket(server, "/ws") as conn:
            await probe.wait("open")
            await conn.send_text("first")
            await conn.send_text("second")
            await settle()
            probe.record("go")
            assert (await conn.read_frame()).payload == b"first closed=False"
            assert (await conn.read_frame()).payload == b"second closed=False"
        await probe.wait("on_close")
        assert probe.names()[-3:] == ["go", "opened", "on_close"]

        async with raw_websocket(server, "/ws2") as conn:
            await probe2.wait("open")
            conn.abort()
        await settle()
        probe2.record("go")
        await probe2.wait("on_close")
        assert "opened" in probe2.names()


@pytest.mark.asyncio
async def test_hand_off_over_tls() -> None:
    # The WebSocket's protocol takes over a TLS transport too (wss://): messages, the close
    # handshake and on_close as over plain TCP.
    folder = os.path.dirname(testing.__file__)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(
        os.path.join(folder, "testing.crt"), os.path.join(folder, "testing.key")
    )
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    probe = Probe()
    app = web.Application([("/ws", Echo, {"probe": probe})])
    async with testing.running(app, shutdown_timeout=2.0, ssl_options=context) as server:
        port = server.sockets[0].getsockname()[1]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"wss://127.0.0.1:{port}/ws", ssl=client) as ws:
                await probe.wait("open")
                await ws.send_str("secret")
                assert await asyncio.wait_for(ws.receive_str(), 5) == "secret closed=False"
                await ws.close(code=1000)
                assert ws.close_code == 1000
        assert (await probe.wait("on_close")) == (1000,)
