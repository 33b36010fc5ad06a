"""Differential helpers: run the same calls on real Tornado 6.6.1 and on this project.

A call's *outcome* is its result, or the name and message of the exception it raised; two
implementations agree on a call when their outcomes are equal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import tornado.concurrent
import tornado.gen
import tornado.ioloop
import tornado.locks
import tornado.queues
import tornado.util

import tornado_ws_compat.concurrent
import tornado_ws_compat.gen
import tornado_ws_compat.ioloop
import tornado_ws_compat.locks
import tornado_ws_compat.queues
import tornado_ws_compat.util

ROOT = Path(__file__).resolve().parent.parent

#: The two implementations, by the package name a program imports.
IMPLEMENTATIONS = ("tornado", "tornado_ws_compat")


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("raise", "ExceptionName: message")``."""
    try:
        return ("ok", call())
    except BaseException as error:  # SystemExit included: --help exits
        return ("raise", f"{type(error).__name__}: {error}")


def run_program(
    package: str,
    code: str,
    args: list[str] | tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (``PKG`` in it replaced by ``package``) as a script in a subprocess."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    source = textwrap.dedent(code).replace("PKG", package)
    return subprocess.run(
        [sys.executable, "-c", source, *args],
        cwd=cwd or ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


#: The async modules of each implementation, by Tornado's names.
TORNADO = SimpleNamespace(
    gen=tornado.gen,
    concurrent=tornado.concurrent,
    ioloop=tornado.ioloop,
    util=tornado.util,
    locks=tornado.locks,
    queues=tornado.queues,
)
OURS = SimpleNamespace(
    gen=tornado_ws_compat.gen,
    concurrent=tornado_ws_compat.concurrent,
    ioloop=tornado_ws_compat.ioloop,
    util=tornado_ws_compat.util,
    locks=tornado_ws_compat.locks,
    queues=tornado_ws_compat.queues,
)
#: Deadline for anything a scenario waits for.
WAIT = 5.0

#: An async scenario: gets the modules of one implementation and a trace list to append to.
Scenario = Callable[[Any, list[Any]], Awaitable[Any]]


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


async def settle(future: Any) -> Any:
    """The outcome of a future, bounded in time, as a comparable value."""
    try:
        return ("ok", await asyncio.wait_for(asyncio.shield(future), WAIT))
    except asyncio.CancelledError:
        return ("cancelled",)
    except Exception as error:
        return ("raise", describe(error))


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        line = f"{record.name} {record.getMessage()} {exc!r}"
        self.lines.append(re.sub(r"0x[0-9a-f]+", "ADDR", line))


async def both(scenario: Scenario) -> list[Any]:
    """Run ``scenario`` on Tornado, then on this project; their traces must be equal."""
    traces = []
    for modules in (TORNADO, OURS):
        records = Records()
        logging.getLogger("tornado").addHandler(records)
        trace: list[Any] = []
        try:
            trace.append(("result", await scenario(modules, trace)))
            await asyncio.sleep(0)  # callbacks scheduled by the last step
        finally:
            logging.getLogger("tornado").removeHandler(records)
        traces.append((trace, records.lines))
    assert traces[0] == traces[1], f"\ntornado: {traces[0]!r}\nours:    {traces[1]!r}"
    return traces[1][0]
