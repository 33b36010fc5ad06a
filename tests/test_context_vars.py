"""Context variables (PEP 567) through a WebSocket's life, differential with Tornado 6.6.1.

Tornado runs ``prepare``, ``open``, every ``on_message`` and ``on_close`` in the coroutine that
took the request up, so what one hook sets the next sees: a request id set in ``prepare``, a
user set in ``open``. Here the socket's callbacks run outside the request's task; the engine
carries the handshake's variables over to them (``_RequestConnection.websocket_opened``).
"""

from __future__ import annotations

import asyncio
import contextvars
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from differential import serving_both
from helpers import OP_TEXT, Probe, build_frame, raw_connection, upgrade_headers, wait

import tornado_ws_compat.websocket

SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


def _routes(web: ModuleType, probe: Probe, awaits: bool) -> list[Any]:
    websocket = tornado.websocket if web is tornado.web else tornado_ws_compat.websocket

    class Carries(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        async def prepare(self) -> None:
            SEEN.set("prepare")
            if awaits:
                await asyncio.sleep(0)

        async def open(self) -> None:
            if awaits:
                await asyncio.sleep(0)
            probe.record("open", SEEN.get())
            SEEN.set("open")

        def on_message(self, message: str | bytes) -> None:
            probe.record("on_message", message, SEEN.get())
            SEEN.set(f"after {message!r}")
            self.write_message(message)

        def on_close(self) -> None:
            probe.record("on_close", SEEN.get())

    return [("/ws", Carries)]


def _request() -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in upgrade_headers().items())
    return f"GET /ws HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode()


async def _observe(
    awaits: bool, messages: list[str], behind: bool
) -> dict[str, list[tuple[Any, ...]]]:
    probes = {"tornado": Probe(), "ours": Probe()}

    def routes(web: ModuleType) -> list[Any]:
        return _routes(web, probes["tornado" if web is tornado.web else "ours"], awaits)

    async with serving_both(routes) as servers:
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                frames = b"".join(build_frame(OP_TEXT, m.encode()) for m in messages)
                if behind:  # the frames in the same write as the request, before the 101
                    await conn.send(_request() + frames)
                    assert (await conn.read_response(head_only=True)).status == 101
                else:
                    await conn.send(_request())
                    assert (await conn.read_response(head_only=True)).status == 101
                    await probes[name].wait("open")
                    await conn.send(frames)
                for message in messages:
                    assert (await conn.read_frame()).payload == message.encode()
                await conn.send_close(1000)
                await wait(conn.frames_until_eof())
                await probes[name].wait("on_close")
    return {name: probe.events for name, probe in probes.items()}


@pytest.mark.asyncio
@pytest.mark.parametrize("awaits", [False, True], ids=["at-once", "awaiting"])
@pytest.mark.parametrize("behind", [False, True], ids=["after-open", "behind-the-request"])
async def test_hooks_see_what_the_hooks_before_them_set(awaits: bool, behind: bool) -> None:
    seen = await _observe(awaits, ["a", "b"], behind)
    assert seen["ours"] == seen["tornado"]
    assert seen["ours"] == [
        ("open", "prepare"),
        ("on_message", "a", "open"),
        ("on_message", "b", "after 'a'"),
        ("on_close", "after 'b'"),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("awaits", [False, True], ids=["at-once", "awaiting"])
async def test_on_close_without_a_message_sees_what_open_set(awaits: bool) -> None:
    seen = await _observe(awaits, [], False)
    assert seen["ours"] == seen["tornado"] == [("open", "prepare"), ("on_close", "open")]
