"""Ctrl-C / SIGTERM on a legacy program that calls ``IOLoop.current().start()``.

Every open WebSocket gets 1001 and its ``on_close`` before the process ends; SIGINT still
raises ``KeyboardInterrupt`` out of ``start()`` and SIGTERM ends the process as its default
action would (Tornado's observable exit).
"""

from __future__ import annotations

import signal

import aiohttp
import pytest
from helpers import wait

from .test_workers import REPO, launched

ECHO = REPO / "examples" / "echo.py"

LEGACY = """
import sys
from tornado_ws_compat import ioloop, web, websocket

class Echo(websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)

    def on_close(self):
        print("on_close", self.close_code, flush=True)

server = web.Application([(r"/ws", Echo)]).listen(0, "127.0.0.1")
print("listening", server.port, flush=True)
try:
    ioloop.IOLoop.current().start()
except KeyboardInterrupt:
    print("KeyboardInterrupt reached the program", flush=True)
    sys.exit(7)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.asyncio
async def test_every_socket_closes_with_1001_before_the_process_ends(
    signum: signal.Signals,
) -> None:
    async with launched(["-c", LEGACY]) as app:
        port = int((await app.line("listening ")).split()[1])
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(f"http://127.0.0.1:{port}/ws") for _ in range(3)]
            for ws in sockets:
                await ws.send_str("hi")
                assert await wait(ws.receive_str()) == "hi"
            app.process.send_signal(signum)
            for ws in sockets:
                message = await wait(ws.receive())
                assert message.type == aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 1001
        assert app.process.stdout is not None
        out, _ = await wait(app.process.communicate())
        lines = app.lines + out.decode().splitlines()
        # close_code is the one the client answered with (aiohttp echoes 1000).
        assert [line for line in lines if line.startswith("on_close")] == ["on_close 1000"] * 3
        if signum == signal.SIGINT:
            assert "KeyboardInterrupt reached the program" in lines
            assert app.process.returncode == 7
        else:
            assert app.process.returncode == -signal.SIGTERM


@pytest.mark.asyncio
async def test_echo_example_closes_its_sockets_on_ctrl_c() -> None:
    async with launched([str(ECHO), "--port", "0", "--address", "127.0.0.1"]) as app:
        url = (await app.line("Echo server listening on ")).rsplit(" ", 1)[1]
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/websocket")
            await app.line("WebSocket opened")
            app.process.send_signal(signal.SIGINT)
            message = await wait(ws.receive())
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 1001
        await app.line("WebSocket closed")  # on_close ran before the process ended
        assert await wait(app.process.wait()) == 0  # the example catches KeyboardInterrupt
