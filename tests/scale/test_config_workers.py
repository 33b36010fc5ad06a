"""Configuration mode on several workers with ``app.pubsub`` on Redis (issue 12)."""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp
import pytest
from helpers import wait

from .redis_server import RedisServer
from .test_workers import RECEIVE_TIMEOUT, launched

HOOKS = """
import os


def open(handler):
    return handler.subscribe("room")  # awaited: joined before the first message

def on_message(handler, message):
    handler.publish("room", f"{os.getpid()}:{message}")
"""

CONFIG = """
app:
  listen:
    address: 127.0.0.1
    workers: 2
  pubsub: {url}
url:
  room:
    pattern: /room
    handler: WebSocketHandler
    kwargs:
      open: {{function: hooks.open}}
      on_message: {{function: hooks.on_message}}
"""


@pytest.mark.parametrize("where", ["yaml", "flag"])
@pytest.mark.asyncio
async def test_serve_workers_broadcast_over_redis(
    redis_server: RedisServer, tmp_path: Path, where: str
) -> None:
    (tmp_path / "hooks.py").write_text(HOOKS)
    config = tmp_path / "rooms.yaml"
    text = CONFIG.format(url=redis_server.url)
    if where == "flag":  # serve --workers 2 instead of app.listen.workers
        text = text.replace("    workers: 2\n", "")
    config.write_text(text)
    args = ["-m", "tornado_ws_compat", "serve", str(config), "--port", "0"]
    if where == "flag":
        args += ["--workers", "2"]
    async with launched(args) as served, aiohttp.ClientSession() as session:
        first = await served.line("")
        while "listening on" not in first:
            first = await served.line("")
        second = await served.line("")
        while "listening on" not in second:
            second = await served.line("")
        workers = {line.split("listening on ")[1].split(" ", 1)[1] for line in (first, second)}
        assert workers == {"(worker 0)", "(worker 1)"}
        url = first.split("listening on ")[1].split()[0]
        # Connect until both workers hold a socket (each reply names the publisher's pid).
        clients = []
        pids: set[str] = set()
        for attempt in range(200):
            ws = await session.ws_connect(url + "room")
            clients.append(ws)
            await ws.send_str(f"hi {attempt}")
            for other in clients:
                while True:
                    message = await wait(other.receive(), RECEIVE_TIMEOUT)
                    assert message.type == aiohttp.WSMsgType.TEXT, message
                    text = message.data
                    if text.endswith(f":hi {attempt}"):
                        break
            pids.add(text.split(":")[0])
            if len(pids) == 2:
                break
        assert len(pids) == 2, "every client landed on one worker"
        for ws in clients:
            await ws.close()
        served.process.send_signal(signal.SIGTERM)
        # The parent passes SIGTERM on, both workers shut down, the parent exits 0.
        assert await wait(served.process.wait(), 30) == 0
