"""A connection's aiohttp protocol sleeps until its first read (``_Protocol``), and a first
read that is a whole WebSocket upgrade request is handshaken from that read without waking it
(``EngineServer.upgrade_at_once``): no aiohttp parser, request-loop task or idle timer for
such a connection. Everything else wakes the protocol and goes on as aiohttp's: what a
client observes is Tornado 6.6.1's either way (differential tests below), and what the
engine does to a connection before its first byte (its head's deadline, closing it, a
shutdown) reaches a sleeping protocol too.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from aiohttp.web_protocol import RequestHandler as AiohttpProtocol
from differential import observed, serving_both
from helpers import (
    OP_CLOSE,
    OP_TEXT,
    TIMEOUT,
    build_frame,
    close_payload,
    raw_connection,
    upgrade_headers,
    wait,
)

import tornado_ws_compat.web
import tornado_ws_compat.websocket
from tornado_ws_compat.testing import running


def _routes(web: ModuleType) -> list[Any]:
    websocket = tornado.websocket if web is tornado.web else tornado_ws_compat.websocket

    class Echo(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def open(self) -> None:
            self.write_message("opened")

        def on_message(self, message: str | bytes) -> None:
            self.write_message(f"echo {message!s}")

    class Page(web.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.write("page")

    return [("/ws", Echo), ("/page", Page)]


def _head(path: str, headers: dict[str, str]) -> bytes:
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode()


@pytest.fixture
def protocols_set_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Each aiohttp protocol set up (its ``RequestHandler.__init__`` run), in order."""
    made: list[object] = []
    setup = AiohttpProtocol.__init__

    @functools.wraps(setup)
    def counting(self: AiohttpProtocol, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        setup(self, *args, **kwargs)

    monkeypatch.setattr(AiohttpProtocol, "__init__", counting)
    yield made


@pytest.mark.asyncio
async def test_an_upgrade_in_one_read_sets_up_no_aiohttp_protocol(
    protocols_set_up: list[object],
) -> None:
    app = tornado_ws_compat.web.Application(_routes(tornado_ws_compat.web))
    async with running(app, shutdown_timeout=2.0) as server:
        async with raw_connection(server) as conn:
            await conn.send(_head("/ws", upgrade_headers()))
            assert (await conn.read_response()).status == 101
            assert (await conn.read_frame()).payload == b"opened"
            await conn.send_text("hi")
            assert (await conn.read_frame()).payload == b"echo hi"
            await conn.send_close(1000)
            assert [f.opcode for f in await conn.frames_until_eof()] == [OP_CLOSE]
        assert protocols_set_up == []
        async with raw_connection(server) as conn:  # a page: aiohttp's protocol, once
            assert (await conn.request("/page")).body == b"page"
            assert (await conn.request("/page")).body == b"page"  # keep-alive
        assert len(protocols_set_up) == 1


@pytest.mark.asyncio
async def test_a_short_idle_timeout_sets_the_protocol_up_at_accept(
    protocols_set_up: list[object],
) -> None:
    # aiohttp's idle timer, started at accept, could end a connection before the head's
    # deadline: the protocol does not sleep, and the handshake is as before.
    app = tornado_ws_compat.web.Application(_routes(tornado_ws_compat.web))
    async with running(app, shutdown_timeout=2.0, idle_connection_timeout=5.0) as server:
        async with raw_connection(server) as conn:
            await conn.send(_head("/ws", upgrade_headers()))
            assert (await conn.read_response()).status == 101
            assert (await conn.read_frame()).payload == b"opened"
            assert len(protocols_set_up) == 1


async def _first_read(servers: dict[str, Any], data: bytes, responses: int) -> dict[str, Any]:
    """What each server answers to ``data`` sent as a connection's first write: the
    responses, then the frames after a 101 until the text of the last one sent."""
    seen: dict[str, Any] = {}
    for name, server in servers.items():
        async with raw_connection(server) as conn:
            await conn.send(data)
            answers = []
            for _ in range(responses):
                response = await conn.read_response()
                # The 101's headers are compared by tests/compat/test_handshake.py.
                answers.append(response.status if response.status == 101 else observed(response))
            frames = []
            if answers[-1] == 101:
                await conn.send_close(1000)
                frames = [(f.opcode, f.payload) for f in await conn.frames_until_eof()]
            seen[name] = (answers, frames)
    return seen


@pytest.mark.asyncio
async def test_frames_in_the_upgrade_read_come_after_open() -> None:
    frames = build_frame(OP_TEXT, b"a") + build_frame(OP_TEXT, b"b")
    data = _head("/ws", upgrade_headers()) + frames
    async with serving_both(_routes) as servers:
        seen = await _first_read(servers, data, 1)
    assert seen["ours"] == seen["tornado"]
    echoes = [(OP_TEXT, b"opened"), (OP_TEXT, b"echo a"), (OP_TEXT, b"echo b")]
    assert seen["ours"][1][:3] == echoes


@pytest.mark.asyncio
async def test_a_page_then_an_upgrade_in_one_read() -> None:
    data = _head("/page", {}) + _head("/ws", upgrade_headers())
    async with serving_both(_routes) as servers:
        seen = await _first_read(servers, data, 2)
    assert seen["ours"] == seen["tornado"]
    assert seen["ours"][0][1] == 101


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [
        {**upgrade_headers(), "Sec-WebSocket-Key": ""},  # refused by the handler: 400
        {**upgrade_headers(), "Sec-WebSocket-Version": "8"},  # refused: 426
        {**upgrade_headers(), "Origin": "http://elsewhere.example"},  # refused: 403
        {"Upgrade": "websocket"},  # no Connection: upgrade, so not an upgrade to aiohttp
    ],
    ids=["no-key", "old-version", "cross-origin", "no-connection-upgrade"],
)
async def test_a_refused_upgrade_in_one_read_then_a_page(headers: dict[str, str]) -> None:
    async with serving_both(_routes) as servers:
        seen = {}
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                await conn.send(_head("/ws", headers))
                refused = observed(await conn.read_response())
                page = observed(await conn.request("/page"))
                seen[name] = (refused, page)
    assert seen["ours"] == seen["tornado"]
    assert seen["ours"][0]["status"] >= 400 and seen["ours"][1]["status"] == 200


@pytest.mark.asyncio
async def test_a_malformed_upgrade_head_is_answered_as_before() -> None:
    # aiohttp's parser refuses it when the protocol wakes, as it would have at accept.
    data = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nno colon here\r\n\r\n"
    async with serving_both(_routes) as servers:
        seen = {}
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                await conn.send(data)
                seen[name] = await conn.read_eof()
    # The status (aiohttp's status line for a head it cannot parse says HTTP/1.0, Tornado's
    # HTTP/1.1: a difference older than this path, which leaves that answer to aiohttp).
    assert seen["ours"].split(b" ")[1] == seen["tornado"].split(b" ")[1] == b"400"


@pytest.mark.asyncio
async def test_a_connection_that_sends_nothing_gets_408(protocols_set_up: list[object]) -> None:
    # Its head's deadline runs from accept, while the protocol sleeps.
    app = tornado_ws_compat.web.Application(_routes(tornado_ws_compat.web))
    async with running(app, shutdown_timeout=2.0, request_head_timeout=0.2) as server:
        async with raw_connection(server) as conn:
            answer = await conn.read_eof()
    assert answer.startswith(b"HTTP/1.1 408"), answer


@pytest.mark.asyncio
async def test_a_sleeping_connection_is_closed_and_the_server_shuts_down() -> None:
    app = tornado_ws_compat.web.Application(_routes(tornado_ws_compat.web))
    async with running(app, shutdown_timeout=2.0) as server:
        async with raw_connection(server) as idle:
            async with raw_connection(server) as conn:
                assert (await conn.request("/page")).body == b"page"
            await wait(server.close_all_connections())
            assert await idle.read_eof() == b""
        async with raw_connection(server) as idle:
            # A connection that came and went without a byte is forgotten.
            pass
        async with raw_connection(server) as idle:
            # As any idle connection, it is closed by the shutdown without waiting.
            await asyncio.wait_for(server.shutdown(3600), TIMEOUT)
            assert await idle.read_eof() == b""
    assert not server.engine.awaiting_head and not server.engine.early


@pytest.mark.asyncio
async def test_a_handshake_in_two_reads() -> None:
    # A head cut across reads wakes the protocol: the handshake is handshake_now's.
    head = _head("/ws", upgrade_headers())
    async with serving_both(_routes) as servers:
        seen = {}
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                await conn.send(head[:20])
                await asyncio.sleep(0)  # not a wait for an event: only gives the read a turn
                await conn.send(head[20:] + build_frame(OP_TEXT, b"x"))
                status = (await conn.read_response()).status
                frames = [(await conn.read_frame()).payload for _ in range(2)]
                await conn.send_frame(OP_CLOSE, close_payload(1000))
                seen[name] = (status, frames)
    assert seen["ours"] == seen["tornado"] == (101, [b"opened", b"echo x"])


@pytest.mark.asyncio
async def test_a_refused_upgrade_and_a_page_in_one_read() -> None:
    # The woken protocol parses the read again; the page behind the refused upgrade is
    # answered after it, as aiohttp answered it before.
    data = _head("/ws", {**upgrade_headers(), "Sec-WebSocket-Key": ""}) + _head("/page", {})
    async with serving_both(_routes) as servers:
        seen = await _first_read(servers, data, 2)
    assert seen["ours"] == seen["tornado"]
    assert [answer["status"] for answer in seen["ours"][0]] == [400, 200]
