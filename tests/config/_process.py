"""Run ``python -m tornado_ws_compat`` as a child process and follow what it prints."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .conftest import TIMEOUT

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "pingbot" / "pingbot.yaml"
_LISTENING = re.compile(r"listening on (http://([^/:]+|\[[^\]]+\]):(\d+)/)")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The CLI must make stdout line-buffered by itself: no help from the environment.
    env.pop("PYTHONUNBUFFERED", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def run_cli(*args: str, timeout: float = TIMEOUT) -> tuple[int, str, str]:
    """Run to completion: (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tornado_ws_compat",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env=child_env(),
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class Served:
    """``python -m tornado_ws_compat serve ...`` running; stdout read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.stderr = bytearray()
        self.url = ""
        self.port = 0
        assert process.stderr is not None
        self._stderr_task = asyncio.ensure_future(self._drain_stderr(process.stderr))

    @classmethod
    async def start(cls, config: str | Path, *args: str) -> Served:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tornado_ws_compat",
            "serve",
            str(config),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=REPO,
            env=child_env(),
        )
        served = cls(process)
        try:
            line = await served.expect("listening on ")
        except BaseException:
            await served.stop(signal.SIGKILL)
            raise
        match = _LISTENING.search(line)
        assert match, line
        served.url, served.port = match.group(1), int(match.group(3))
        return served

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr += chunk

    async def line(self, timeout: float = TIMEOUT) -> str:
        """The next line on stdout (fails after ``timeout``: it must come by then)."""
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            raise AssertionError(f"stdout closed; stderr:\n{self.stderr.decode()}")
        text = raw.decode().rstrip("\n")
        self.lines.append(text)
        return text

    async def expect(self, fragment: str, timeout: float = TIMEOUT) -> str:
        """Read lines until one contains ``fragment``; return it."""

        async def find() -> str:
            while True:
                text = await self.line(timeout)
                if fragment in text:
                    return text

        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no line with {fragment!r} in {self.lines}; stderr:\n{self.stderr.decode()}"
            ) from None

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = TIMEOUT) -> int:
        """Send ``signum`` and return the exit status."""
        if self.process.returncode is None:
            self.process.send_signal(signum)
        try:
            status = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise
        await self._stderr_task
        return status

    async def rest_of_stdout(self) -> list[str]:
        """Lines printed until the process exited (call after ``stop``)."""
        assert self.process.stdout is not None
        rest = (await self.process.stdout.read()).decode().splitlines()
        self.lines += rest
        return rest


async def stop_all(servers: Sequence[Served]) -> None:
    for served in servers:
        if served.process.returncode is None:
            await served.stop(signal.SIGKILL)
