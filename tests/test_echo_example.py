"""The README's main job: ``python examples/echo.py`` serves the seed's echo handler."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "echo.py"


@pytest.mark.asyncio
async def test_echo_example_serves_page_and_socket() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-u",
        str(EXAMPLE),
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        match = re.search(r"http://localhost:(\d+)/", line)
        assert match, line
        base = f"http://127.0.0.1:{match.group(1)}"
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/") as response:
                assert response.status == 200
                page = await response.text()
                assert 'ws.send("Hello, world")' in page
            async with session.ws_connect(base + "/websocket") as ws:
                assert (await asyncio.wait_for(process.stdout.readline(), 10)) == (
                    b"WebSocket opened\n"
                )
                await ws.send_str("Hello, world")
                reply = await asyncio.wait_for(ws.receive_str(), 10)
                assert reply == "You said: Hello, world"
        assert (await asyncio.wait_for(process.stdout.readline(), 10)) == b"WebSocket closed\n"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 10)
