"""``ws_connection.client_terminated`` / ``server_terminated`` and
``ws_connection.stream.closed()``, which public programs' ping timers and senders check, read
as on Tornado 6.6.1 at each point of a connection's life (issue 8). Differential: the same
handler on both servers, the same client."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import aiohttp
import pytest
import tornado.websocket
from differential import serving_both

import tornado_ws_compat.websocket


def routes(web: ModuleType) -> list[Any]:
    websocket = tornado.websocket if web.__name__ == "tornado.web" else tornado_ws_compat.websocket
    seen: list[Any] = []
    done = asyncio.Event()

    class Flags(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def flags(self, when: str) -> None:
            kept = self.kept  # the connection as open saw it (programs keep it too)
            seen.append([when, "kept", kept.client_terminated, kept.server_terminated])
            seen.append([when, "stream closed", kept.stream.closed()])
            connection = self.ws_connection
            seen.append(
                [when, connection.client_terminated, connection.server_terminated]
                if connection is not None
                else [when, None]
            )

        def open(self) -> None:
            self.kept = self.ws_connection
            self.flags("open")

        def on_message(self, message: str) -> None:
            self.flags("message")
            if message == "close":
                self.close(4000)
                self.flags("after close()")
            else:
                self.write_message(message)

        def on_close(self) -> None:
            self.flags("on_close")
            done.set()

    return [("/ws", Flags, {}), ("/seen", _Seen(seen, done))]


class _Seen:
    """Not a route: carries what the handler saw to the test (a route entry is a tuple)."""

    def __init__(self, seen: list[Any], done: asyncio.Event) -> None:
        self.seen, self.done = seen, done


@pytest.mark.asyncio
async def test_termination_flags_as_tornado() -> None:
    records: dict[str, _Seen] = {}

    def make(web: ModuleType) -> list[Any]:
        built = routes(web)
        records[web.__name__] = built.pop()[1]
        return built

    async with serving_both(make) as servers, aiohttp.ClientSession() as session:
        results = {}
        for name, server in servers.items():
            record = records["tornado.web" if name == "tornado" else "tornado_ws_compat.web"]
            port = server.sockets[0].getsockname()[1]
            for ending in ("client", "server"):
                record.done.clear()
                async with session.ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
                    await ws.send_str("hi")
                    await ws.receive(timeout=5)
                    if ending == "server":
                        await ws.send_str("close")
                    await ws.close()
                await asyncio.wait_for(record.done.wait(), 5)
            results[name] = list(record.seen)
    assert results["ours"] == results["tornado"]
    assert ["on_close", "kept", True, True] in results["ours"]
    assert ["after close()", "kept", False, True] in results["ours"]
    assert ["after close()", "stream closed", False] in results["ours"]
    assert ["on_close", "stream closed", True] in results["ours"]
