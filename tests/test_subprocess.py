"""``tornado.process.Subprocess`` and ``tornado.iostream.PipeIOStream`` (issue 8): programs that
run a command and stream its output to WebSockets read the pipes with Tornado's stream API.
Each scenario runs on real Tornado 6.6.1 and on this project, on the same loop, and the two
transcripts must be equal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import types
from typing import Any

import pytest
import tornado.iostream
import tornado.process

from tornado_ws_compat import iostream, process

SIDES = {
    "tornado": types.SimpleNamespace(process=tornado.process, iostream=tornado.iostream),
    "ours": types.SimpleNamespace(process=process, iostream=iostream),
}

# A child that answers each line and leaves with the status of the line "exit N".
ECHO = """
import sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith("exit"):
        sys.stdout.write("tail without newline")
        sys.exit(int(line.split()[1]))
    print("got " + line, flush=True)
"""


async def _failure(start: Any) -> Any:
    """The result of ``start()``'s awaitable, or the error it raised (at once or later)."""
    try:
        return ["ok", await start()]
    except Exception as error:  # the transcript records what a program would catch
        real = getattr(error, "real_error", None)
        return [type(error).__name__, str(error), type(real).__name__ if real else None]


async def _dialogue(side: Any) -> list[Any]:
    Subprocess = side.process.Subprocess
    child = Subprocess(
        [sys.executable, "-c", ECHO],
        stdin=Subprocess.STREAM,
        stdout=Subprocess.STREAM,
        stderr=subprocess.STDOUT,
    )
    closed = asyncio.Event()
    child.stdout.set_close_callback(closed.set)
    exited = child.wait_for_exit(raise_error=False)
    out: list[Any] = [type(child.stdin).__name__, child.pid == child.proc.pid]
    await child.stdin.write(b"first\nsecond\n")
    out.append(await child.stdout.read_until(b"\n"))
    out.append(await child.stdout.read_bytes(4))
    out.append(await child.stdout.read_until_regex(rb"o\w+\n"))
    out.append([child.stdout.reading(), child.stdin.writing()])
    await child.stdin.write(b"a much longer line than the limit\n")
    out.append(await _failure(lambda: child.stdout.read_until(b"\n", max_bytes=8)))
    out.append(child.stdout.closed())
    await asyncio.wait_for(closed.wait(), 10)
    out.append(await _failure(lambda: child.stdout.read_bytes(1)))
    await child.stdin.write(b"exit 3\n")
    out.append(await asyncio.wait_for(exited, 10))
    out.append(child.returncode)
    child.stdin.close()
    out.append(await _failure(lambda: child.stdin.write(b"late")))
    return out


async def _until_close(side: Any) -> list[Any]:
    Subprocess = side.process.Subprocess
    child = Subprocess(
        [sys.executable, "-c", ECHO], stdin=Subprocess.STREAM, stdout=Subprocess.STREAM
    )
    exited = child.wait_for_exit()
    await child.stdin.write(b"one\ntwo\nexit 2\n")
    out: list[Any] = [await child.stdout.read_until_close()]
    out.append(await _failure(lambda: asyncio.wait_for(exited, 10)))
    out.append(await child.stdout.read_until_close())  # closed: at once, empty
    out.append(await _failure(lambda: child.stdout.read_until(b"\n")))
    child.stdin.close()
    return out


async def _killed_and_partial(side: Any) -> list[Any]:
    Subprocess = side.process.Subprocess
    child = Subprocess(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.stdout.write('x' * 5); sys.stdout.flush(); time.sleep(60)",
        ],
        stdout=Subprocess.STREAM,
    )
    out: list[Any] = [await child.stdout.read_bytes(100, partial=True)]
    exited = asyncio.get_running_loop().create_future()
    child.set_exit_callback(exited.set_result)
    child.proc.send_signal(signal.SIGKILL)
    out.append(await asyncio.wait_for(exited, 10))
    out.append(await _failure(lambda: child.stdout.read_bytes(1)))
    out.append(child.stdout.error)
    return out


async def _big_pipe(side: Any) -> list[Any]:
    """A megabyte through a bare os.pipe(): the writer waits for the reader, nothing is lost."""
    read_end, write_end = os.pipe()
    reader = side.iostream.PipeIOStream(read_end)
    writer = side.iostream.PipeIOStream(write_end)
    payload = bytes(range(256)) * 4096
    written = writer.write(payload)
    flushed_at_once = written.done()
    received = await reader.read_bytes(len(payload))
    await written
    writer.close()
    tail = await reader.read_until_close()
    reader.close()
    return [flushed_at_once, received == payload, tail, writer.closed(), reader.closed()]


SCENARIOS = [_dialogue, _until_close, _killed_and_partial, _big_pipe]


@pytest.fixture(scope="module")
def tornado_transcripts() -> dict[str, list[Any]]:
    """Tornado's transcripts, on asyncio's loop: its exit callbacks need a SIGCHLD handler,
    which uvloop refuses (ours work on both loops)."""

    async def run(scenario: Any) -> list[Any]:
        try:
            return list(await scenario(SIDES["tornado"]))
        finally:
            tornado.process.Subprocess.uninitialize()  # the handler belongs to this loop

    return {scenario.__name__: asyncio.run(run(scenario)) for scenario in SCENARIOS}


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
async def test_subprocess_streams_match_tornado(
    scenario: Any, tornado_transcripts: dict[str, list[Any]]
) -> None:
    assert await scenario(SIDES["ours"]) == tornado_transcripts[scenario.__name__]
