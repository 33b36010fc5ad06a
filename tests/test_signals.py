"""Ctrl-C and SIGTERM on a legacy program that runs ``IOLoop.current().start()`` (issue 10,
point 10).

Tornado 6.6.1 installs no signal handler: SIGINT raises ``KeyboardInterrupt`` out of
``start()`` and SIGTERM's default action ends the process, so every client sees its TCP
connection cut (1006) and ``on_close`` runs late or never. Here the same program first closes every
WebSocket with 1001 "going away" and runs each ``on_close``, then the signal acts as on
Tornado (same exit status, same ``KeyboardInterrupt`` traceback). The program runs in a
subprocess, on the same loop kind as the test (uvloop or asyncio's), and on real Tornado.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.asyncio

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "echo.py"

PROGRAM = """
from {package} import httpserver, ioloop, netutil, web, websocket

class Echo(websocket.WebSocketHandler):
    def open(self):
        print("open", flush=True)

    def on_message(self, message):
        self.write_message(message)

    def on_close(self):
        print("on_close", self.close_code, flush=True)

sockets = netutil.bind_sockets(0, "127.0.0.1")
server = httpserver.HTTPServer(web.Application([("/ws", Echo)]))
server.add_sockets(sockets)
print("port", sockets[0].getsockname()[1], flush=True)
ioloop.IOLoop.current().start()
"""


def _env() -> dict[str, str]:
    """The subprocess runs on the loop kind of the test's own loop."""
    uvloop = type(asyncio.get_running_loop()).__module__.startswith("uvloop")
    env = {**os.environ, "TORNADO_WS_COMPAT_NO_UVLOOP": "0" if uvloop else "1"}
    env.pop("PYTHONUNBUFFERED", None)  # stdout a pipe is block-buffered, as in production
    return env


async def _run(args: list[str], signum: int) -> dict[str, Any]:
    """Start the program, open a WebSocket, send ``signum``; what the client and the program's
    output show, and how the process ended."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        match = re.search(r"(?:port |localhost:)(\d+)", line)
        assert match, line
        url = f"http://127.0.0.1:{match.group(1)}"
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                url + ("/websocket" if "localhost" in line else "/ws")
            ) as ws:
                await ws.send_str("ping")
                assert (await asyncio.wait_for(ws.receive(), 10)).data.endswith("ping")
                process.send_signal(signum)
                message = await asyncio.wait_for(ws.receive(), 10)
                seen = (message.type, ws.close_code, message.extra or None)
        out, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = err.decode().strip().splitlines()
    return {
        "client": seen,
        "stdout": out.decode().splitlines(),
        "status": process.returncode,
        "last_stderr": lines[-1] if lines else "",
    }


GOING_AWAY = (aiohttp.WSMsgType.CLOSE, 1001, "going away")
CUT = (aiohttp.WSMsgType.CLOSED, 1006, None)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_legacy_program_closes_sockets_then_obeys_the_signal(
    tmp_path: Path, signum: int
) -> None:
    runs = {}
    for package in ("tornado", "tornado_ws_compat"):
        program = tmp_path / f"legacy_{package}.py"
        program.write_text(PROGRAM.format(package=package))
        runs[package] = await _run([str(program)], signum)
    tornado, ours = runs["tornado"], runs["tornado_ws_compat"]
    # Tornado: the connection is cut; on_close runs only as the interpreter tears the
    # loop down after KeyboardInterrupt (close_code None), never after SIGTERM.
    assert tornado["client"] == CUT, tornado
    if signum == signal.SIGINT:
        assert tornado["stdout"] in (["open"], ["open", "on_close None"]), tornado
    else:
        assert tornado["stdout"] == ["open"], tornado
    # Ours: 1001, then on_close (after the client answered) before the process ends.
    assert ours["client"] == GOING_AWAY, ours
    assert ours["stdout"] == ["open", "on_close 1000"]  # the code of the client's answer
    # Then the signal acts as on Tornado: for SIGINT, KeyboardInterrupt's traceback, and
    # Python (3.8+) ends the process by SIGINT; SIGTERM kills it (no traceback).
    assert ours["status"] == tornado["status"] == -signum
    assert ours["last_stderr"] == tornado["last_stderr"]
    if signum == signal.SIGINT:
        assert ours["last_stderr"] == "KeyboardInterrupt"


async def test_echo_example_ctrl_c() -> None:
    """examples/echo.py catches KeyboardInterrupt: clients get 1001, it prints its on_close
    line and exits 0."""
    run = await _run(["-u", str(EXAMPLE), "--port", "0", "--address", "127.0.0.1"], signal.SIGINT)
    assert run["client"] == GOING_AWAY
    assert run["stdout"] == ["WebSocket opened", "WebSocket closed"]
    assert run["status"] == 0


async def test_echo_example_sigterm_keeps_its_output() -> None:
    """SIGTERM on examples/echo.py, stdout a pipe (block-buffered, no ``-u``): clients get
    1001, the process dies by SIGTERM as on Tornado, and what on_close printed is not lost."""
    run = await _run([str(EXAMPLE), "--port", "0", "--address", "127.0.0.1"], signal.SIGTERM)
    assert run["client"] == GOING_AWAY
    assert run["stdout"] == ["WebSocket opened", "WebSocket closed"]
    assert run["status"] == -signal.SIGTERM


BUSY_PROGRAM = """
import time
from {package} import httpserver, ioloop, netutil, web, websocket

class Busy(websocket.WebSocketHandler):
    def on_message(self, message):
        print("busy", flush=True)
        time.sleep(3600)  # a blocking call: the loop gets no control back

sockets = netutil.bind_sockets(0, "127.0.0.1")
server = httpserver.HTTPServer(web.Application([("/ws", Busy)]))
server.add_sockets(sockets)
print("port", sockets[0].getsockname()[1], flush=True)
ioloop.IOLoop.current().start()
"""


async def _interrupt_busy(program: Path) -> tuple[int, int, str]:
    """Start ``program``, make its on_message block, then send SIGINT (again every second,
    ten times at most) until the process ends: signals sent, exit status, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(program),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        port = line.split()[1]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await ws.send_str("block")
                assert await asyncio.wait_for(process.stdout.readline(), 10) == b"busy\n"
                sent = 0
                while process.returncode is None and sent < 10:
                    process.send_signal(signal.SIGINT)
                    sent += 1
                    try:
                        await asyncio.wait_for(process.wait(), 1)
                    except TimeoutError:
                        continue
        err = await asyncio.wait_for(process.stderr.read(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return sent, process.returncode, err.decode()


async def test_ctrl_c_reaches_a_busy_callback(tmp_path: Path) -> None:
    """An on_message that blocks keeps the loop from ever running a graceful stop. Tornado:
    the first Ctrl-C raises KeyboardInterrupt inside it. Here the first asks for the
    graceful stop, which cannot start; the second raises KeyboardInterrupt inside the
    callback, as on Tornado, instead of leaving a process that only SIGKILL ends."""
    runs = {}
    for package in ("tornado", "tornado_ws_compat"):
        program = tmp_path / f"busy_{package}.py"
        program.write_text(BUSY_PROGRAM.format(package=package))
        runs[package] = await _interrupt_busy(program)
    (tornado_sent, tornado_status, tornado_err) = runs["tornado"]
    (sent, status, err) = runs["tornado_ws_compat"]
    assert (tornado_sent, tornado_status) == (1, -signal.SIGINT), tornado_err
    assert (sent, status) == (2, -signal.SIGINT), err
    for stderr in (tornado_err, err):
        assert ", in on_message\n" in stderr and stderr.strip().endswith("KeyboardInterrupt")
