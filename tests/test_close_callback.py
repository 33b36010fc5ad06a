"""``request.connection.set_close_callback``, which long-poll and event-stream handlers beside
a program's sockets call (a public log streamer releases a lock with it): the callback runs
instead of ``on_connection_close`` when the client leaves mid-response, None silences both,
as on Tornado 6.6.1 (issue 8). Differential: the same handlers on both servers."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest
from differential import serving_both
from helpers import raw_connection


class _Seen:
    """Not a route: what the handlers saw, for the test."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.event = asyncio.Event()


def routes(web: ModuleType) -> list[Any]:
    seen = _Seen()

    class Stream(web.RequestHandler):  # type: ignore[name-defined,misc]
        async def get(self, mode: str) -> None:
            if mode == "callback":
                self.request.connection.set_close_callback(self.released)
            elif mode == "none":
                self.request.connection.set_close_callback(None)
            self.set_header("Content-Type", "text/event-stream")
            self.write("data: hello\n\n")
            await self.flush()
            await asyncio.Event().wait()  # until the client leaves (the task is cancelled)

        def released(self) -> None:
            seen.calls.append("callback")
            seen.event.set()

        def on_connection_close(self) -> None:
            seen.calls.append("on_connection_close")
            seen.event.set()

    return [("/stream/(.*)", Stream), ("/seen", seen)]


@pytest.mark.asyncio
async def test_close_callback_as_tornado() -> None:
    records: dict[str, _Seen] = {}

    def make(web: ModuleType) -> list[Any]:
        built = routes(web)
        records[web.__name__] = built.pop()[1]
        return built

    async with serving_both(make) as servers:
        results = {}
        for name, server in servers.items():
            seen = records["tornado.web" if name == "tornado" else "tornado_ws_compat.web"]
            outcome = []
            for mode in ("default", "callback", "none"):
                seen.calls.clear()
                seen.event.clear()
                async with raw_connection(server) as conn:
                    await conn.send(f"GET /stream/{mode} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                    head = await asyncio.wait_for(conn.reader.readuntil(b"data: hello\n\n"), 5)
                    outcome.append(head.split(b"\r\n")[0].decode())
                if mode != "none":
                    await asyncio.wait_for(seen.event.wait(), 5)
                outcome.append(list(seen.calls))
            results[name] = outcome
    assert results["ours"] == results["tornado"]
    assert results["ours"][1::2] == [["on_connection_close"], ["callback"], []]
