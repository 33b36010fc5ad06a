"""Legacy handlers mounted inside an aiohttp application (issue 12)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web as aioweb
from helpers import wait

from tornado_ws_compat import web, websocket
from tornado_ws_compat.server import mount_in_aiohttp


class LegacyEcho(websocket.WebSocketHandler):
    closed: list[int | None] = []

    def open(self) -> None:
        self.write_message("legacy open")

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)

    def on_close(self) -> None:
        LegacyEcho.closed.append(self.close_code)


class LegacyPage(web.RequestHandler):
    def get(self, name: str) -> None:
        self.write({"legacy": name})


async def aiohttp_view(request: aioweb.Request) -> aioweb.Response:
    return aioweb.Response(text="aiohttp view")


async def start(app: aioweb.Application) -> tuple[aioweb.AppRunner, str]:
    runner = aioweb.AppRunner(app)
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await aioweb.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def served(app: aioweb.Application) -> AsyncIterator[str]:
    runner, base = await start(app)
    try:
        yield base
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_legacy_handlers_beside_aiohttp_views() -> None:
    LegacyEcho.closed = []
    app = aioweb.Application()
    app.router.add_get("/new", aiohttp_view)
    app.router.add_get("/legacy/shadowed", aiohttp_view)  # aiohttp's own route wins
    mount_in_aiohttp(app, [(r"/ws", LegacyEcho), (r"/legacy/(\w+)", LegacyPage)])
    async with aiohttp.ClientSession() as session:
        runner, base = await start(app)
        try:
            async with session.get(base + "/new") as response:
                assert await response.text() == "aiohttp view"
            async with session.get(base + "/legacy/page") as response:
                assert response.status == 200
                assert await response.json() == {"legacy": "page"}
            async with session.get(base + "/legacy/shadowed") as response:
                assert await response.text() == "aiohttp view"
            async with session.get(base + "/nowhere") as response:
                assert response.status == 404  # aiohttp's 404: no legacy route matched
            ws = await session.ws_connect(base + "/ws")
            assert await wait(ws.receive_str()) == "legacy open"
            await ws.send_str("hello")
            assert await wait(ws.receive_str()) == "hello"
            await ws.close()
            assert ws.close_code == 1000
            # A socket still open when aiohttp shuts down gets 1001 and on_close.
            ws = await session.ws_connect(base + "/ws")
            assert await wait(ws.receive_str()) == "legacy open"
        finally:
            stopping = asyncio.ensure_future(runner.cleanup())
        message = await wait(ws.receive())  # the client answers the close frame
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
        await wait(stopping)
    assert len(LegacyEcho.closed) == 2


@pytest.mark.asyncio
async def test_a_whole_application_with_its_settings() -> None:
    legacy = web.Application([(r"/legacy/(\w+)", LegacyPage)], default_host="example")
    app = aioweb.Application()
    resource = mount_in_aiohttp(app, legacy)
    assert resource.application is legacy
    async with served(app) as base, aiohttp.ClientSession() as session:
        async with session.get(base + "/legacy/x") as response:
            assert await response.json() == {"legacy": "x"}


@pytest.mark.asyncio
async def test_a_host_tornado_refuses_is_left_to_the_aiohttp_app() -> None:
    # The legacy routes match on Tornado's request, which refuses a Host outside RFC 3986's
    # grammar; the probe then claims nothing (not a 500): aiohttp's routes decide.
    app = aioweb.Application()
    mount_in_aiohttp(app, [(r"/legacy/(\w+)", LegacyPage)])
    async with aiohttp.ClientSession() as session, served(app) as base:
        async with session.get(base + "/legacy/page", headers={"Host": "a b"}) as response:
            assert response.status == 404
        async with session.get(base + "/legacy/page") as response:
            assert response.status == 200
