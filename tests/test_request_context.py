"""``request.connection.context``, differential with Tornado 6.6.1: the peer's address and
family, the remote IP and protocol, ``str()`` of it, in a page handler and in a WebSocket's
``open`` (programs log who connected from there)."""

from __future__ import annotations

import socket
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from differential import observed, serving_both
from helpers import raw_connection, raw_websocket

import tornado_ws_compat.websocket


def _describe(handler: Any) -> str:
    context = handler.request.connection.context
    return " ".join(
        [
            str(context),
            context.remote_ip,
            context.protocol,
            context.address[0],
            type(context.address).__name__,
            str(context.address_family == socket.AF_INET),
            context._orig_remote_ip,
            context._orig_protocol,
            "request:",
            handler.request.remote_ip,
            handler.request.protocol,
        ]
    )


def _routes(web: ModuleType) -> list[Any]:
    websocket = tornado.websocket if web is tornado.web else tornado_ws_compat.websocket

    class Page(web.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            # The stream's socket too: programs read the peer's port or set options on it.
            sock = self.request.connection.stream.socket
            peer = sock.getpeername()
            self.write(f"{_describe(self)} socket: {peer[0]} {peer[1] > 0} {sock.family.name}")

    class Socket(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def open(self) -> None:
            self.write_message(_describe(self))

    return [("/page", Page), ("/ws", Socket)]


@pytest.mark.asyncio
async def test_connection_context_matches_tornado() -> None:
    seen: dict[str, list[Any]] = {}
    async with serving_both(_routes) as servers:
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                page = observed(await conn.request("/page", {"X-Real-Ip": "10.0.0.9"}))
            async with raw_websocket(server, "/ws") as conn:
                message = (await conn.read_frame()).payload
            seen[name] = [page, message]
    assert seen["ours"] == seen["tornado"]
    expected = (
        b"127.0.0.1 127.0.0.1 http 127.0.0.1 tuple True 127.0.0.1 http request: 127.0.0.1 http"
    )
    assert seen["ours"][1] == expected


@pytest.mark.asyncio
async def test_connection_context_behind_a_proxy_keeps_the_connections_own() -> None:
    """With xheaders the request's IP and scheme are the proxy's word, but a handler sees the
    connection's own on the context: Tornado 6.6.1 undoes the xheaders there before the
    handler runs (``_orig_remote_ip``/``_orig_protocol`` too, which webssh reads)."""
    seen: dict[str, list[Any]] = {}
    proxy = {"X-Real-Ip": "10.0.0.9", "X-Scheme": "https"}
    async with serving_both(_routes, listen={"xheaders": True}) as servers:
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                page = observed(await conn.request("/page", proxy))
            async with raw_websocket(server, "/ws", proxy) as conn:
                message = (await conn.read_frame()).payload
            seen[name] = [page, message]
    assert seen["ours"] == seen["tornado"]
    expected = (
        b"127.0.0.1 127.0.0.1 http 127.0.0.1 tuple True 127.0.0.1 http request: 10.0.0.9 https"
    )
    assert seen["ours"][1] == expected
