"""A handshake's hooks run in one task from prepare to the end of open, as in Tornado 6.6.1
(where they are steps of the request's coroutine): the task seen before an ``await`` is the
task seen after it, so ``asyncio.timeout`` and ``current_task().cancel()`` inside a hook
reach the hook, on the connection's first request and on later ones."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from differential import serving_both
from helpers import raw_connection, raw_websocket, upgrade_headers

import tornado_ws_compat.websocket


def _routes(web: ModuleType) -> list[Any]:
    websocket = tornado.websocket if web is tornado.web else tornado_ws_compat.websocket

    class TimesOut(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        async def prepare(self) -> None:
            self.seen = [self._waits("prepare")]
            self.tasks = [asyncio.current_task()]
            if self.get_argument("in_prepare", None):
                self.seen.append(await self._times_out())
            self.tasks.append(asyncio.current_task())

        async def open(self) -> None:
            self.tasks.append(asyncio.current_task())
            if self.get_argument("in_open", None):
                self.seen.append(await self._times_out())
            self.tasks.append(asyncio.current_task())
            same = all(task is self.tasks[0] for task in self.tasks)
            self.write_message(f"{'; '.join(self.seen)}; one task: {same}")

        def _waits(self, hook: str) -> str:
            return f"{hook} in a task: {asyncio.current_task() is not None}"

        async def _times_out(self) -> str:
            try:
                async with asyncio.timeout(0.05):
                    await asyncio.Event().wait()
            except TimeoutError:
                return "timed out"
            return "not timed out"

    return [("/ws", TimesOut)]


@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["", "?in_prepare=1", "?in_open=1", "?in_prepare=1&in_open=1"])
async def test_a_timeout_in_a_handshake_hook_fires_in_that_hook(query: str) -> None:
    seen = {}
    async with serving_both(_routes) as servers:
        for name, server in servers.items():
            async with raw_websocket(server, "/ws" + query) as conn:
                seen[name] = (await conn.read_frame()).payload.decode()
    assert seen["ours"] == seen["tornado"]
    assert seen["ours"].endswith("one task: True")


@pytest.mark.asyncio
async def test_a_timeout_in_a_later_handshake_on_a_kept_connection() -> None:
    # The second request of a connection (after a refused upgrade) is aiohttp's.
    seen = {}
    async with serving_both(_routes) as servers:
        for name, server in servers.items():
            async with raw_connection(server) as conn:
                refused = await conn.request("/ws", {**upgrade_headers(), "Sec-WebSocket-Key": ""})
                response = await conn.request("/ws?in_open=1", upgrade_headers())
                seen[name] = (refused.status, response.status, (await conn.read_frame()).payload)
    assert seen["ours"] == seen["tornado"]
    assert seen["ours"][2].endswith(b"one task: True")
