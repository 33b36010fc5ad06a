"""Restart the process when a source file changes (``tornado.autoreload``).

``Application(..., autoreload=True)`` (or ``debug=True``) calls `start`: every half second
the modification times of every imported module's file, and of the files given to `watch`,
are compared with the first ones seen; on a change one ``tornado.general`` line is logged
(``<path> modified; restarting server``), the `add_reload_hook` functions run, and the
process replaces itself with a fresh interpreter (``os.execv``) on the same command line.
Requests in progress are lost, as in Tornado.

One difference from Tornado 6.6.1, on purpose: the new process gets the original interpreter
command line (``sys.orig_argv``: interpreter flags such as ``-u``, ``-m module``, and
``python -m tornado_ws_compat run app.py``) where Tornado rebuilds it from ``sys.argv``, which
would restart a program launched through ``run`` without the runner.

``python -m tornado_ws_compat.autoreload SCRIPT [ARGS]`` (or ``-m MODULE``) runs a program
and, once it has exited, waits for a change and runs it again, as Tornado's ``main``.
"""

from __future__ import annotations

import functools
import os
import runpy
import signal
import sys
import traceback
import types
import weakref
from collections.abc import Callable

from tornado_ws_compat import ioloop
from tornado_ws_compat.log import gen_log

__all__ = ["add_reload_hook", "main", "start", "wait", "watch"]

_watched_files: set[str] = set()
_reload_hooks: list[Callable[[], None]] = []
_reload_attempted = False
_io_loops: weakref.WeakKeyDictionary[ioloop.IOLoop, bool] = weakref.WeakKeyDictionary()


def start(check_time: int = 500) -> None:
    """Check for changed files every ``check_time`` milliseconds on the current IOLoop.

    Calling it again on the same loop does nothing (Tornado 5.0 has no ``io_loop`` argument).
    """
    io_loop = ioloop.IOLoop.current()
    if io_loop in _io_loops:
        return
    _io_loops[io_loop] = True
    if len(_io_loops) > 1:
        gen_log.warning("tornado.autoreload started more than once in the same process")
    modify_times: dict[str, float] = {}
    ioloop.PeriodicCallback(functools.partial(_reload_on_update, modify_times), check_time).start()


def wait() -> None:
    """Block until a watched file changes, then restart (for the end of test scripts)."""
    io_loop = ioloop.IOLoop(make_current=False)
    io_loop.add_callback(start)
    io_loop.start()


def watch(filename: str) -> None:
    """Also restart when ``filename`` changes (imported modules are watched already)."""
    _watched_files.add(filename)


def add_reload_hook(fn: Callable[[], None]) -> None:
    """Call ``fn()`` just before the process restarts (file descriptors marked
    close-on-exec, as Python makes them by default, need no hook).
    """
    _reload_hooks.append(fn)


def _reload_on_update(modify_times: dict[str, float]) -> None:
    if _reload_attempted:
        return  # the restart failed part way; do not try again from the same process
    process = sys.modules.get("tornado_ws_compat.process")
    if process is not None and getattr(process, "task_id", lambda: None)() is not None:
        return  # a forked child restarting alone would leave its siblings running
    for module in list(sys.modules.values()):
        if not isinstance(module, types.ModuleType):
            continue
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path:
            continue
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        _check_file(modify_times, path)
    for path in list(_watched_files):
        _check_file(modify_times, path)


def _check_file(modify_times: dict[str, float], path: str) -> None:
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return
    previous = modify_times.setdefault(path, modified)
    if previous != modified:
        gen_log.info("%s modified; restarting server", path)
        _reload()


def _reload() -> None:
    global _reload_attempted
    _reload_attempted = True
    for fn in _reload_hooks:
        fn()
    # An interval timer would be inherited by the new process and could kill it.
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


_USAGE = """\
usage: python -m tornado_ws_compat.autoreload -m module.to.run [args...]
       python -m tornado_ws_compat.autoreload path/to/script.py [args...]
"""


def main(argv: list[str] | None = None) -> None:
    """Run a script or module; when it ends, wait for a source change and run it again.

    Exceptions in the program are logged and the files of its traceback watched, so a
    syntax error is retried once fixed. ``--until-success`` stops after an exit status 0.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    until_success = "--until-success" in args[:1]
    if until_success:
        args = args[1:]
    module = None
    if args[:1] == ["-m"] and len(args) > 1:
        module, rest = args[1], args[2:]
    elif args and not args[0].startswith("-"):
        rest = args
    else:
        sys.stderr.write(_USAGE + "Either -m or a path must be specified\n")
        sys.exit(1)
    original_argv = sys.argv
    sys.argv = [sys.argv[0], *rest] if module is not None else rest
    status: int | str | None = 1
    try:
        if module is not None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(rest[0], run_name="__main__")
    except SystemExit as exc:
        status = exc.code
        gen_log.info("Script exited with status %s", exc.code)
    except Exception as exc:
        gen_log.warning("Script exited with uncaught exception", exc_info=True)
        for frame in traceback.extract_tb(exc.__traceback__):
            watch(frame.filename)
        if isinstance(exc, SyntaxError) and exc.filename is not None:
            watch(exc.filename)
    else:
        status = 0
        gen_log.info("Script exited normally")
    sys.argv = original_argv
    if module is not None:
        import importlib.util

        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            watch(spec.origin)
    if until_success and not status:
        return
    wait()


if __name__ == "__main__":
    main()
