"""Differential helpers: run the same calls on real Tornado 6.6.1 and on this project.

A call's *outcome* is its result, or the name and message of the exception it raised; two
implementations agree on a call when their outcomes are equal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
