"""A typed Tornado program type-checks against this package as it does against Tornado 6.6.1's
own annotations: ``await self.write_message(...)`` and ``Future[None]`` for its result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import asyncio

from {package} import web, websocket


class Echo(websocket.WebSocketHandler):
    async def on_message(self, message: str | bytes) -> None:
        await self.write_message(message, binary=isinstance(message, bytes))
        pending: asyncio.Future[None] = self.write_message({{"echoed": True}})
        await asyncio.gather(pending)


def make_app() -> web.Application:
    return web.Application([(r"/ws", Echo)])
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("package", ["tornado", "tornado_ws_compat"])
def test_typed_handler_passes_mypy_strict(tmp_path: Path, package: str) -> None:
    program = tmp_path / "typed_app.py"
    program.write_text(PROGRAM.format(package=package))
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
    checked = subprocess.run(
        [*command, str(program)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=110,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
