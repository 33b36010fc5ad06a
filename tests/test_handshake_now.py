"""The engine runs a connection's first request, when it is a WebSocket upgrade, from the read
that completed it instead of a task of its own (``EngineServer.handshake_now``); a handshake
that does not end in that first step (an ``await`` in ``prepare`` or ``open``, a refusal, a
streamed answer) goes on in aiohttp's request loop. What a handler and a client observe stays
Tornado 6.6.1's: a current task in every hook, context variables kept across awaits, the
answer and the connection after a refusal.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from differential import observed, serving_both
from helpers import (
    OP_BINARY,
    Probe,
    build_frame,
    raw_connection,
    raw_websocket,
    serve,
    upgrade_headers,
    wait,
)

import tornado_ws_compat.websocket

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def _routes(web: ModuleType, awaits: bool) -> list[Any]:
    websocket = tornado.websocket if web is tornado.web else tornado_ws_compat.websocket

    class Observed(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        seen: list[str]

        async def prepare(self) -> None:
            REQUEST_ID.set("from prepare")
            self.seen = [f"prepare task={asyncio.current_task() is not None}"]
            if awaits:
                await asyncio.sleep(0)
            self.seen.append(f"prepare after await {REQUEST_ID.get('-')}")

        async def open(self) -> None:
            if awaits:
                await asyncio.sleep(0)
            task = asyncio.current_task() is not None
            self.seen.append(f"open task={task} {REQUEST_ID.get('-')}")
            self.write_message("; ".join(self.seen))

    class Streamed(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        async def prepare(self) -> None:
            self.set_status(403)
            self.write("streamed ")
            await self.flush()
            self.finish("refusal")

    class Page(web.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.write(f"page {REQUEST_ID.get('-')}")

    return [("/ws", Observed), ("/streamed", Streamed), ("/page", Page)]


@pytest.mark.asyncio
@pytest.mark.parametrize("awaits", [False, True], ids=["at-once", "awaiting"])
async def test_hooks_run_in_a_task_with_their_context(awaits: bool) -> None:
    seen = {}
    async with serving_both(lambda web: _routes(web, awaits)) as servers:
        for name, server in servers.items():
            async with raw_websocket(server, "/ws") as conn:
                seen[name] = (await conn.read_frame()).payload.decode()
    assert seen["ours"] == seen["tornado"]
    assert "task=False" not in seen["ours"] and "from prepare" in seen["ours"]


@pytest.mark.asyncio
async def test_refused_upgrade_then_next_request_on_the_connection() -> None:
    answers: dict[str, list[Any]] = {}
    async with serving_both(lambda web: _routes(web, False)) as servers:
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                refused = await conn.request("/ws", {**upgrade_headers(), "Sec-WebSocket-Key": ""})
                page = await conn.request("/page", {})
                answers[name] = [observed(refused), observed(page)]
    assert answers["ours"] == answers["tornado"]
    assert [answer["status"] for answer in answers["ours"]] == [400, 200]
    # The refused handshake's context variable did not leak into the next request.
    assert answers["ours"][1]["body"] == b"page -"


@pytest.mark.asyncio
async def test_streamed_answer_to_an_upgrade() -> None:
    answers = {}
    async with serving_both(lambda web: _routes(web, False)) as servers:
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                answers[name] = observed(await conn.request("/streamed", upgrade_headers()))
    assert answers["ours"] == answers["tornado"]
    assert answers["ours"]["status"] == 403


class Waits(tornado_ws_compat.websocket.WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    async def prepare(self) -> None:
        self.probe.record("prepare")
        await self.probe.wait("go")
        self.probe.record("resumed", asyncio.current_task() is not None)

    def open(self) -> None:
        self.probe.record("open")

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=True)

    def on_close(self) -> None:
        self.probe.record("on_close")


@pytest.mark.asyncio
async def test_handshake_left_waiting_by_a_client_that_went_away(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As a request's task would, the handshake goes on after the client left: prepare
    # resumes, and nothing is opened on a connection that is gone.
    probe = Probe()
    async with serve([("/ws", Waits, {"probe": probe})]) as server:
        async with raw_connection(server) as conn:
            head = "".join(f"{k}: {v}\r\n" for k, v in upgrade_headers().items())
            await conn.send(f"GET /ws HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
            await probe.wait("prepare")
        probe.record("go")
        assert await probe.wait("resumed") == (True,)
        async with raw_websocket(server, "/ws") as conn:  # and the server serves on
            await probe.wait("open")
            await conn.send_close(1000)
            await wait(conn.frames_until_eof())
    assert probe.names().count("open") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.asyncio
async def test_bytes_behind_a_waiting_handshake_do_not_start_it_again() -> None:
    # More than one read's worth of frames right behind a request whose handshake waits in
    # prepare: they wait for the WebSocket (aiohttp keeps them, pausing the socket), arrive
    # in order, and the handshake runs once.
    probe = Probe()
    async with serve([("/ws", Waits, {"probe": probe})]) as server:
        async with raw_connection(server) as conn:
            head = "".join(f"{k}: {v}\r\n" for k, v in upgrade_headers().items())
            frames = build_frame(OP_BINARY, b"x" * 100_000) * 5
            await conn.send(f"GET /ws HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + frames)
            await probe.wait("prepare")
            probe.record("go")
            response = await conn.read_response(head_only=True)
            assert response.status == 101
            for _ in range(5):
                assert len((await conn.read_frame()).payload) == 100_000
    assert probe.names().count("prepare") == 1
    assert probe.names().count("open") == 1
