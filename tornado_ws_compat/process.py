"""Tornado's ``tornado.process``: worker processes on every core.

``fork_processes(n)`` forks ``n`` children (one per core when ``n`` is None or <= 0) that each
return from the call with their task id, while the parent stays behind and watches them, as
Tornado 6.6.1 does: a child that dies from a signal or exits with a non-zero status is started
again with the same task id (at most ``max_restarts`` times in all, 100 by default); one that
exits with status 0 is not; once every child has exited the parent calls ``sys.exit(0)``.

Beyond Tornado: SIGTERM or SIGINT sent to the parent is passed on to every child and ends the
restarts, so that stopping the parent (systemd, docker stop, Ctrl-C) stops the workers
gracefully (each closes its WebSockets with 1001 and runs ``on_close``); the parent exits once
they have. Listening sockets bound before the fork (``HTTPServer.bind`` then ``start(n)``, or
``netutil.bind_sockets``) are shared by the workers, and the kernel spreads connections among
them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from subprocess import CalledProcessError
from types import FrameType
from typing import Any

from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.iostream import PipeIOStream
from tornado_ws_compat.log import gen_log

__all__ = ["CalledProcessError", "Subprocess", "cpu_count", "fork_processes", "task_id"]

_task_id: int | None = None
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def cpu_count() -> int:
    """The number of processors this process may run on (1 when it cannot be told)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def task_id() -> int | None:
    """This worker's task id (0 to n - 1), or None outside ``fork_processes`` children."""
    return _task_id


def _reseed_random() -> None:
    # Children must not share the parent's random sequence (Tornado reseeds too).
    if "random" in sys.modules:
        import random

        random.seed()


def fork_processes(num_processes: int | None, max_restarts: int | None = None) -> int:
    """Fork worker processes; in each child, return its task id.

    The parent never returns: it restarts children that fail, and exits with status 0 once
    every child has exited (after a SIGTERM/SIGINT, once they have shut down). Raises
    ``RuntimeError("Too many child restarts, giving up")`` in the parent past
    ``max_restarts``. No event loop may have been started before the fork.
    """
    global _task_id
    if sys.platform == "win32":  # pragma: no cover - fork is POSIX only
        raise RuntimeError("fork not available on windows")
    if _task_id is not None:
        raise RuntimeError("fork_processes was already called in this process")
    if max_restarts is None:
        max_restarts = 100
    if num_processes is None or num_processes <= 0:
        num_processes = cpu_count()
    gen_log.info("Starting %d processes", num_processes)
    children: dict[int, int] = {}
    stopping: list[int] = []  # the signal that stops the workers, once received

    def start_child(number: int) -> int | None:
        # SIGTERM/SIGINT are held while forking: the parent must not see one before it knows
        # the child's pid, nor the child run the parent's handler.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            global _task_id
            # The parent's signal handlers are not the worker's.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            _reseed_random()
            _task_id = number
            return number
        children[pid] = number
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return None

    def stop_children(signum: int, frame: FrameType | None) -> None:
        if not stopping:
            gen_log.info(
                "Received %s: stopping %d worker processes",
                signal.Signals(signum).name,
                len(children),
            )
        stopping.append(signum)
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # The handlers are in place before the first fork, so that a SIGTERM that comes as soon
    # as a worker is up (a supervisor stopping the service) is passed on, not fatal.
    previous = {signum: signal.signal(signum, stop_children) for signum in _STOP_SIGNALS}
    for number in range(num_processes):
        if stopping:
            break  # stopped while starting: start no more
        if start_child(number) is not None:
            return number
    try:
        restarts = 0
        while children:
            pid, status = os.wait()  # retried after a signal handler runs (PEP 475)
            if pid not in children:
                continue
            number = children.pop(pid)
            if os.WIFSIGNALED(status):
                if stopping:
                    continue
                gen_log.warning(
                    "child %d (pid %d) killed by signal %d, restarting",
                    number,
                    pid,
                    os.WTERMSIG(status),
                )
            elif os.WEXITSTATUS(status) != 0:
                if stopping:
                    continue
                gen_log.warning(
                    "child %d (pid %d) exited with status %d, restarting",
                    number,
                    pid,
                    os.WEXITSTATUS(status),
                )
            else:
                gen_log.info("child %d (pid %d) exited normally", number, pid)
                continue
            restarts += 1
            if restarts > max_restarts:
                raise RuntimeError("Too many child restarts, giving up")
            if start_child(number) is not None:
                return number
    finally:
        if _task_id is None:  # the parent, leaving
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    # Every child has exited: the parent ends here rather than going on to start a server of
    # its own after the call (Tornado's rule).
    sys.exit(0)


class Subprocess:
    """``subprocess.Popen`` whose pipes may be `PipeIOStream` objects, with an exit callback.

    Takes Popen's arguments; ``stdin``, ``stdout`` or ``stderr`` given as `STREAM` become
    `~tornado_ws_compat.iostream.PipeIOStream` attributes (the caller closes them), the others
    are Popen's. `set_exit_callback` and `wait_for_exit` learn of the exit from a pidfd on the
    loop (Linux 5.3+), else from a thread waiting for it; Tornado 6.6.1 installs a SIGCHLD
    handler instead, which `initialize` and `uninitialize` manage there and need not here.
    """

    STREAM = object()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.io_loop = IOLoop.current()
        created: list[int] = []  # every descriptor made here, closed if Popen fails
        child_ends: list[int] = []  # the child's ends, closed here once it has them
        streams: dict[str, PipeIOStream] = {}
        try:
            for name in ("stdin", "stdout", "stderr"):
                if kwargs.get(name) is Subprocess.STREAM:
                    read_end, write_end = os.pipe()
                    created += (read_end, write_end)
                    ours, theirs = (
                        (write_end, read_end) if name == "stdin" else (read_end, write_end)
                    )
                    kwargs[name] = theirs
                    child_ends.append(theirs)
                    streams[name] = PipeIOStream(ours)
            self.proc = subprocess.Popen(*args, **kwargs)
        except BaseException:
            for fd in created:
                try:
                    os.close(fd)
                except OSError:
                    pass  # already closed by its stream's FileIO
            raise
        for fd in child_ends:
            os.close(fd)
        self.pid = self.proc.pid
        self.stdin: Any = streams.get("stdin", self.proc.stdin)
        self.stdout: Any = streams.get("stdout", self.proc.stdout)
        self.stderr: Any = streams.get("stderr", self.proc.stderr)
        self.returncode: int | None = None
        self._exit_callback: Callable[[int], None] | None = None
        self._watching = False

    def set_exit_callback(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(returncode)`` on the loop once the process has exited (a negative
        code is the signal that ended it)."""
        self._exit_callback = callback
        if self.returncode is not None:
            self.io_loop.add_callback(self._exited, self.returncode)
        elif not self._watching:
            self._watching = True
            self._watch_exit()

    def wait_for_exit(self, raise_error: bool = True) -> asyncio.Future[int]:
        """A future of the exit status; a non-zero one fails it with
        ``subprocess.CalledProcessError`` unless ``raise_error`` is false (Tornado 4.2)."""
        future: asyncio.Future[int] = self.io_loop.asyncio_loop.create_future()

        def exited(returncode: int) -> None:
            if future.done():
                return
            if returncode != 0 and raise_error:
                # Tornado 6.6.1 no longer has the command here either.
                future.set_exception(CalledProcessError(returncode, "unknown"))
            else:
                future.set_result(returncode)

        self.set_exit_callback(exited)
        return future

    @classmethod
    def initialize(cls) -> None:
        """Nothing to install: exits are watched per process, not with SIGCHLD."""

    @classmethod
    def uninitialize(cls) -> None:
        """Nothing to remove (see `initialize`)."""

    def _watch_exit(self) -> None:
        loop = self.io_loop.asyncio_loop
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # not Linux 5.3+, or already reaped
            thread = threading.Thread(target=self._wait_in_thread, args=(loop,), daemon=True)
            thread.start()
            return

        def readable() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._exited(self.proc.wait())

        loop.add_reader(pidfd, readable)

    def _wait_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        returncode = self.proc.wait()
        try:
            loop.call_soon_threadsafe(self._exited, returncode)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            pass

    def _exited(self, returncode: int) -> None:
        self.returncode = returncode
        callback, self._exit_callback = self._exit_callback, None
        if callback is not None:
            callback(returncode)
