"""``autoreload=True`` / ``autoreload``: the process restarts when a source file changes.

The same small program runs under real Tornado 6.6.1 and under this project, each in a
subprocess; the test edits a module it imports (then a file given to ``autoreload.watch``)
and reads the program's output: both must restart the same way (same argv, the reload hook
run first, the ``... modified; restarting server`` line). Every wait is a bounded read of
the child's output.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import python_child

TIMEOUT = 15.0

PROGRAM = """\
import logging
import os
import sys

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
from {pkg} import autoreload, ioloop, web
import sibling

app = web.Application([], {setting}=True)
autoreload.watch(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.txt"))
autoreload.add_reload_hook(lambda: print("hook", flush=True))
print("started", sibling.VALUE, sys.argv[1:], app.settings.get("serve_traceback"), flush=True)
ioloop.IOLoop.current().start()
"""


@asynccontextmanager
async def program(
    tmp_path: Path, pkg: str, setting: str, via_run: bool = False
) -> AsyncIterator[Any]:
    """The program on ``pkg``; with ``via_run``, ``import tornado`` under
    ``python -m tornado_ws_compat run`` with the real package made unimportable.
    """
    (tmp_path / "sibling.py").write_text("VALUE = 1\n")
    (tmp_path / "data.txt").write_text("one\n")
    script = tmp_path / "app.py"
    script.write_text(PROGRAM.format(pkg=pkg, setting=setting))
    env = dict(os.environ)
    launcher: list[str] = []
    if via_run:
        poison = tmp_path / "poison" / "tornado"
        poison.mkdir(parents=True)
        (poison / "__init__.py").write_text("raise ImportError('real tornado imported')\n")
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(poison.parent), env.get("PYTHONPATH", "")])
        )
        launcher = ["-m", "tornado_ws_compat", "run"]
    args = [*launcher, str(script), "--flag", "value with space"]
    async with python_child(*args, env=env, cwd=str(tmp_path), merge_stderr=True) as child:
        yield child


async def line(child: Any, timeout: float = TIMEOUT) -> str:
    assert child.stdout is not None
    raw = await asyncio.wait_for(child.stdout.readline(), timeout)
    assert raw, "the program exited"
    return raw.decode().rstrip("\n")


def touch(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime + 10  # a different mtime whatever the clock's resolution
    os.utime(path, (stamp, stamp))


async def edit_until_output(child: Any, path: Path, text: str) -> str:
    """Edit ``path`` and return the child's next line.

    The first check after start records modification times, and an edit before it is
    the baseline, not a change; so an edit not followed by output within a check period
    or two is made again (each with a new mtime), a bounded number of times.
    """
    for _ in range(8):  # 12 s at most, inside the test's 60 s
        touch(path, text)
        try:
            return await line(child, timeout=1.5)
        except TimeoutError:
            continue
    raise AssertionError(f"no restart after editing {path}")


async def transcript(tmp_path: Path, pkg: str, setting: str, via_run: bool = False) -> list[str]:
    seen: list[str] = []
    async with program(tmp_path, pkg, setting, via_run) as child:
        seen.append(await line(child))
        for path, text in ((tmp_path / "sibling.py", "VALUE = 2\n"), (tmp_path / "data.txt", "2")):
            output = await edit_until_output(child, path, text)
            while True:
                seen.append(output.replace(str(tmp_path), "TMP"))
                if output.startswith("started"):
                    break
                output = await line(child)
    return seen


def expected(setting: str) -> list[str]:
    """Tornado 6.6.1's transcript (asserted against it below)."""
    traceback_setting = "True" if setting == "debug" else "None"
    return [
        f"started 1 ['--flag', 'value with space'] {traceback_setting}",
        "tornado.general TMP/sibling.py modified; restarting server",
        "hook",
        f"started 2 ['--flag', 'value with space'] {traceback_setting}",
        "tornado.general TMP/data.txt modified; restarting server",
        "hook",
        f"started 2 ['--flag', 'value with space'] {traceback_setting}",
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("setting", ["autoreload", "debug"])
async def test_restart_on_source_change_as_tornado(tmp_path: Path, setting: str) -> None:
    theirs = await transcript(tmp_path / "tornado", "tornado", setting)
    ours = await transcript(tmp_path / "ours", "tornado_ws_compat", setting)
    assert ours == theirs
    assert theirs == expected(setting)


@pytest.mark.asyncio
async def test_restart_under_run(tmp_path: Path) -> None:
    """The unchanged program under run restarts under run (real Tornado stays out)."""
    ran = await transcript(tmp_path / "run", "tornado", "autoreload", via_run=True)
    assert ran == expected("autoreload")


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    for name in ("tornado", "ours", "run"):
        (tmp_path / name).mkdir()
    return tmp_path


@pytest.mark.asyncio
async def test_main_reruns_a_failing_script_once_fixed(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    # An exception (not an exit status) makes the files of its traceback watched.
    script.write_text("print('run 1', flush=True)\nraise RuntimeError('fails')\n")
    args = ["-m", "tornado_ws_compat.autoreload", "--until-success", str(script)]
    async with python_child(*args, merge_stderr=True) as child:
        assert await line(child) == "run 1"
        # The failure is logged with its traceback (on stderr, merged here).
        lines = [await line(child)]
        while lines[-1] != "RuntimeError: fails":
            lines.append(await line(child))
        assert lines[:2] == [
            "Script exited with uncaught exception",
            "Traceback (most recent call last):",
        ]
        assert await edit_until_output(child, script, "print('run 2', flush=True)\n") == "run 2"
        assert await asyncio.wait_for(child.wait(), TIMEOUT) == 0  # --until-success
