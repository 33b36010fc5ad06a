"""Tornado's ``IOLoop`` and ``PeriodicCallback`` over asyncio (stdlib only).

Behaviour follows ``tornado.ioloop`` and ``tornado.platform.asyncio`` of Tornado 6.6.1: an
`IOLoop` is a thin view of one asyncio event loop, and there is exactly one per asyncio loop.
When no loop exists, `IOLoop.current` creates one, on uvloop when it is importable, unless the
environment variable ``TORNADO_WS_COMPAT_NO_UVLOOP`` is set to a value other than ``0``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime
import functools
import inspect
import math
import numbers
import os
import random
import signal
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar, cast, overload

from tornado_ws_compat.log import app_log

# tornado.ioloop.TimeoutError, what run_sync raises (Tornado 6.6.1 imports it from util).
from tornado_ws_compat.util import TimeoutError as TimeoutError
from tornado_ws_compat.util import import_object

__all__ = ["IOLoop", "PeriodicCallback"]

_T = TypeVar("_T")
_F = TypeVar("_F", bound="asyncio.Future[Any] | concurrent.futures.Future[Any]")

# Set to anything but ``""``/``"0"`` to create plain asyncio loops instead of uvloop's.
_NO_UVLOOP_ENV = "TORNADO_WS_COMPAT_NO_UVLOOP"
#: Seconds a graceful stop on SIGINT/SIGTERM waits for WebSockets to close, unless the server
#: registered another (its application's ``websocket_close_timeout``): Tornado's 5 s.
_GRACEFUL_STOP_TIMEOUT = 5.0


class _Cancellable(Protocol):
    def cancel(self) -> object: ...


# One IOLoop per asyncio loop. Values hold their loop only weakly (unless they created it), so
# an entry goes away with its loop.
_ioloops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IOLoop] = (
    weakref.WeakKeyDictionary()
)
_ioloops_lock = threading.Lock()

#: The error handler of the request whose ``@web.asynchronous`` method scheduled the running
#: callback (Tornado 1.x-5.x's ExceptionStackContext). asyncio copies the context into every
#: callback, timer and task it schedules, so callbacks chained from that method see it too.
#: The handler returns True when it dealt with the exception.
stack_handler: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "tornado_ws_compat_stack_handler", default=None
)


def _new_event_loop() -> asyncio.AbstractEventLoop:
    if os.environ.get(_NO_UVLOOP_ENV, "") in ("", "0"):
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _thread_event_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set for this thread with ``asyncio.set_event_loop``, without creating one."""
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)  # asyncio's (and uvloop's) default policy
    if local is not None and hasattr(local, "_loop"):
        loop = local._loop
    else:
        try:
            loop = policy.get_event_loop()
        except RuntimeError:
            return None
    if not isinstance(loop, asyncio.AbstractEventLoop) or loop.is_closed():
        return None
    return loop


def _bind(callback: Callable[..., object], args: Any, kwargs: Any) -> Callable[[], object]:
    return functools.partial(callback, *args, **kwargs) if args or kwargs else callback


#: Servers started on a loop (``register_server``), stopped gracefully by ``IOLoop.start``'s
#: SIGINT/SIGTERM handling.
_servers: weakref.WeakKeyDictionary[Any, tuple[asyncio.AbstractEventLoop, float]] = (
    weakref.WeakKeyDictionary()
)


class GracefulServer(Protocol):
    async def shutdown(self, timeout: float) -> None: ...


def register_server(
    server: GracefulServer,
    loop: asyncio.AbstractEventLoop,
    timeout: float = _GRACEFUL_STOP_TIMEOUT,
) -> None:
    """Let ``IOLoop.start`` shut ``server`` down gracefully on SIGINT/SIGTERM, giving its
    WebSockets ``timeout`` seconds to finish their closing handshake."""
    _servers[server] = (loop, timeout)


def _install_graceful_stop(loop: asyncio.AbstractEventLoop, received: list[int]) -> dict[int, Any]:
    """Handle SIGINT/SIGTERM for ``IOLoop.start``; returns the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    defaults: dict[int, Any] = {
        signal.SIGINT: signal.default_int_handler,
        signal.SIGTERM: signal.SIG_DFL,
    }
    if any(signal.getsignal(signum) is not default for signum, default in defaults.items()):
        return {}  # the program handles signals itself: leave them to it

    def stop_gracefully(signum: int) -> None:
        servers = [
            (server, timeout)
            for server, (owner, timeout) in list(_servers.items())
            if owner is loop
        ]
        app_log.info(
            "Received %s: shutting down %d server(s) gracefully",
            signal.Signals(signum).name,
            len(servers),
        )

        async def shutdown() -> None:
            await asyncio.gather(
                *(server.shutdown(timeout) for server, timeout in servers),
                return_exceptions=True,
            )

        loop.create_task(shutdown()).add_done_callback(lambda _: loop.stop())

    def on_signal(signum: int, _frame: object) -> None:
        # A Python-level handler, not loop.add_signal_handler: Python runs it between two
        # bytecodes of the main thread, also while a callback is busy (a CPU loop, a
        # blocking call), where the loop would never get to a handler of its own.
        if received:
            if signum != signal.SIGINT:
                # A SIGTERM while stopping already (a supervisor or the parent of workers
                # repeating it, or passing a Ctrl-C on): the stop is bounded by the close
                # timeout anyway, and SIGKILL is there for impatience.
                return
            # Ctrl-C again: no more waiting. KeyboardInterrupt is raised where the program
            # is now, as on Tornado.
            for default_signum, default in defaults.items():
                signal.signal(default_signum, default)
            raise KeyboardInterrupt
        received.append(signum)
        loop.call_soon_threadsafe(stop_gracefully, signum)

    for signum in defaults:
        signal.signal(signum, on_signal)
    return defaults


def _end_by_sigterm() -> None:
    """SIGTERM's default action, as the process would have had without us. That action does
    not flush Python's buffers: what on_close printed to a pipe would be lost."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # None, closed or broken
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


class IOLoop:
    """Tornado's ``IOLoop`` API over one asyncio event loop (attribute `asyncio_loop`).

    ``IOLoop()`` creates a new asyncio loop and makes it current, as ``AsyncIOLoop`` in Tornado
    6.3+; ``IOLoop(loop)`` wraps an existing one. Prefer `IOLoop.current`.
    """

    # Event masks of ``add_handler`` in Tornado, kept for code that refers to them.
    NONE = 0
    READ = 0x001
    WRITE = 0x004
    ERROR = 0x018

    def __init__(
        self,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
        *,
        make_current: bool = True,
    ) -> None:
        owned = asyncio_loop is None
        loop = _new_event_loop() if asyncio_loop is None else asyncio_loop
        self._attach(loop, owned)
        # The loop handed to the constructor lives as long as this IOLoop, as Tornado's
        # IOLoop holds its asyncio loop: ``IOLoop(asyncio.new_event_loop())`` keeps the
        # only reference to it (a cycle inside asyncio's loop would otherwise let the
        # cyclic collector take it at any time). Until close(), as on Tornado.
        self._owned_loop: asyncio.AbstractEventLoop | None = loop
        if IOLoop._register(loop, self) is not self:
            if owned:
                loop.close()
            raise RuntimeError(f"an IOLoop already wraps asyncio loop {loop!r}")
        if make_current:
            asyncio.set_event_loop(loop)

    def _attach(self, loop: asyncio.AbstractEventLoop, owned: bool) -> None:
        self._loop_ref = weakref.ref(loop)
        # A loop we created has no other owner; a strong reference keeps it alive.
        self._owned_loop = loop if owned else None
        # Tasks started for callbacks that returned awaitables (asyncio keeps weak references).
        self._tasks: set[asyncio.Future[Any]] = set()
        # add_handler's descriptors: fd -> (the object given, its handler); which are watched.
        self._handlers: dict[int, tuple[Any, Callable[[Any, int], object]]] = {}
        self._readers: set[int] = set()
        self._writers: set[int] = set()

    @staticmethod
    def _register(loop: asyncio.AbstractEventLoop, ioloop: IOLoop) -> IOLoop:
        with _ioloops_lock:
            for closed in [other for other in _ioloops if other.is_closed()]:
                _ioloops.pop(closed, None)
            return _ioloops.setdefault(loop, ioloop)

    @staticmethod
    def _wrap(loop: asyncio.AbstractEventLoop, owned: bool) -> IOLoop:
        ioloop = IOLoop.__new__(IOLoop)
        ioloop._attach(loop, owned)
        return IOLoop._register(loop, ioloop)

    @property
    def asyncio_loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio event loop this IOLoop runs on."""
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("the asyncio loop of this IOLoop no longer exists")
        return loop

    # -- current loop ------------------------------------------------------------------------

    @overload
    @staticmethod
    def current() -> IOLoop: ...

    @overload
    @staticmethod
    def current(instance: Literal[True]) -> IOLoop: ...

    @overload
    @staticmethod
    def current(instance: bool) -> IOLoop | None: ...

    @staticmethod
    def current(instance: bool = True) -> IOLoop | None:
        """The IOLoop of the running asyncio loop, else of the thread's current loop.

        With neither, creates and sets a new loop (uvloop's when available) if ``instance`` is
        true, else returns None. As Tornado 6.6.1, ``instance=False`` never creates an IOLoop,
        not even for a running asyncio loop. A closed thread loop counts as none.
        """
        loop = asyncio._get_running_loop()
        if loop is None:
            loop = _thread_event_loop()
            if loop is None:
                if not instance:
                    return None
                loop = _new_event_loop()
                asyncio.set_event_loop(loop)
                return IOLoop._wrap(loop, owned=True)
        ioloop = _ioloops.get(loop)
        if ioloop is None and instance:
            ioloop = IOLoop._wrap(loop, owned=False)
        return ioloop

    @staticmethod
    def instance() -> IOLoop:
        """Alias for `current` (Tornado 5.0)."""
        return IOLoop.current()

    def make_current(self) -> None:
        """Set this loop as the thread's asyncio loop (deprecated since Tornado 6.2)."""
        warnings.warn(
            "make_current is deprecated; start the event loop first",
            DeprecationWarning,
            stacklevel=2,
        )
        asyncio.set_event_loop(self.asyncio_loop)

    def install(self) -> None:
        """Alias for `make_current` (Tornado 5.0)."""
        self.make_current()

    @staticmethod
    def clear_current() -> None:
        """Unset the thread's asyncio loop (deprecated since Tornado 6.2).

        No effect inside a running loop; the next `current` outside one creates a new loop.
        """
        warnings.warn("clear_current is deprecated", DeprecationWarning, stacklevel=2)
        if asyncio._get_running_loop() is None:
            asyncio.set_event_loop(None)

    @staticmethod
    def clear_instance() -> None:
        """Alias for `clear_current` (Tornado 5.0)."""
        IOLoop.clear_current()

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop until `stop` is called.

        Beyond Tornado: when started in the main thread with the default SIGINT and SIGTERM
        handlers in place, either signal first shuts down every server on this loop
        gracefully (each open WebSocket gets 1001 "going away" and its ``on_close``, within
        the close timeout), then acts as on Tornado: SIGINT raises ``KeyboardInterrupt``
        out of ``start()``, SIGTERM ends the process with the default action. A second
        SIGINT raises ``KeyboardInterrupt`` at once, wherever the program is (inside a
        callback that blocks the loop too, where the graceful stop cannot start); a SIGTERM
        during the stop changes nothing.
        """
        loop = self.asyncio_loop
        received: list[int] = []
        installed = _install_graceful_stop(loop, received)
        try:
            loop.run_forever()
        finally:
            for signum, handler in installed.items():
                signal.signal(signum, handler)
        if not received:
            return
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt
        _end_by_sigterm()

    def stop(self) -> None:
        """Stop the loop after the current iteration; from any thread.

        If the loop is not running, the next `start` returns at once (Tornado 6.6.1).
        """
        loop = self._loop_ref()
        if loop is None:
            return
        if asyncio._get_running_loop() is loop:
            loop.stop()
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # the loop is closed: nothing to stop
            pass

    # -- descriptors (Tornado's add_handler, on the asyncio loop's add_reader/add_writer) -----

    @classmethod
    def configure(cls, impl: Any, **kwargs: Any) -> None:
        """Accept Tornado 4-5's ``IOLoop.configure(...)`` (most often
        ``"tornado.platform.asyncio.AsyncIOLoop"``): every IOLoop here runs on asyncio (uvloop
        when installed), so the choice changes nothing; another class is refused with
        Tornado 6.6.1's RuntimeError."""
        if isinstance(impl, str):
            impl = import_object(
                "tornado_ws_compat." + impl.removeprefix("tornado.")
                if impl.startswith("tornado.")
                else impl
            )
        if impl is not None and not (isinstance(impl, type) and issubclass(impl, IOLoop)):
            raise RuntimeError("only AsyncIOLoop is allowed when asyncio is available")
        IOLoop._configured = impl

    _configured: type[IOLoop] | None = None

    @classmethod
    def configurable_base(cls) -> type[IOLoop]:
        """The class whose `configure` chooses the implementation (Tornado's Configurable)."""
        return IOLoop

    @classmethod
    def configurable_default(cls) -> type[IOLoop]:
        """``AsyncIOLoop``, the only implementation (Tornado 6.6.1)."""
        from tornado_ws_compat.platform.asyncio import AsyncIOLoop

        return AsyncIOLoop

    @classmethod
    def configured_class(cls) -> type[IOLoop]:
        """The class `configure` chose, else `configurable_default`."""
        return IOLoop._configured or cls.configurable_default()

    @staticmethod
    def split_fd(fd: Any) -> tuple[int, Any]:
        """``(descriptor, object)`` for a descriptor or an object with ``fileno()`` (4.0)."""
        if isinstance(fd, int):
            return fd, fd
        return fd.fileno(), fd

    @staticmethod
    def close_fd(fd: Any) -> None:
        """Close a descriptor or a file-like object, ignoring OSError (Tornado 4.0)."""
        try:
            if isinstance(fd, int):
                os.close(fd)
            else:
                fd.close()
        except OSError:
            pass

    def add_handler(self, fd: Any, handler: Callable[[Any, int], object], events: int) -> None:
        """Call ``handler(fd, events)`` when ``fd`` (a descriptor or an object with
        ``fileno()``, which the handler gets back) is readable (`READ`) or writable (`WRITE`),
        as Tornado 6.6.1 does on asyncio: programs watch serial ports, pipes and database
        connections with it. A descriptor added twice raises ValueError."""
        number, given = self.split_fd(fd)
        if number in self._handlers:
            raise ValueError(f"fd {number} added twice")
        self._handlers[number] = (given, handler)
        self.update_handler(number, events)

    def update_handler(self, fd: Any, events: int) -> None:
        """Watch ``fd`` for ``events`` from now on (`READ`, `WRITE` or both)."""
        number, _given = self.split_fd(fd)
        loop = self.asyncio_loop
        for event, watched, add, remove in (
            (self.READ, self._readers, loop.add_reader, loop.remove_reader),
            (self.WRITE, self._writers, loop.add_writer, loop.remove_writer),
        ):
            if events & event and number not in watched:
                add(number, self._handle_events, number, event)
                watched.add(number)
            elif not events & event and number in watched:
                remove(number)
                watched.discard(number)

    def remove_handler(self, fd: Any) -> None:
        """Stop watching ``fd`` (nothing happens for a descriptor not added)."""
        number, _given = self.split_fd(fd)
        if number in self._handlers:
            self.update_handler(number, self.NONE)
            del self._handlers[number]

    def _handle_events(self, fd: int, events: int) -> None:
        given, handler = self._handlers[fd]
        handler(given, events)

    def close(self, all_fds: bool = False) -> None:
        """Close the stopped asyncio loop; with ``all_fds``, the descriptors given to
        `add_handler` too (Tornado closes them then)."""
        loop = self.asyncio_loop
        if loop.is_running():
            raise RuntimeError("Cannot close a running event loop")
        for number, (given, _handler) in list(self._handlers.items()):
            self.remove_handler(number)
            if all_fds:
                self.close_fd(given)
        with _ioloops_lock:
            if _ioloops.get(loop) is self:
                del _ioloops[loop]
        loop.close()

    def run_sync(self, func: Callable[[], object], timeout: float | None = None) -> Any:
        """Run the loop until ``func``'s result is ready and return it.

        ``func`` may return an awaitable, a list or dict of them (as `gen.multi`), or a plain
        value; Tornado 4.3+ raises ``BadYieldError`` for a plain value other than None, we
        return it. After ``timeout``
        seconds the awaitable is cancelled and TimeoutError raised (Tornado 5.0/6.2).
        """

        async def run() -> Any:
            result = func()
            if isinstance(result, concurrent.futures.Future):
                result = asyncio.wrap_future(result)
            elif result is not None and not inspect.isawaitable(result):
                # Lists, dicts and types registered with gen.convert_yielded, as Tornado.
                from tornado_ws_compat.gen import BadYieldError, convert_yielded

                try:
                    result = convert_yielded(result)
                except BadYieldError:
                    return result
            if not inspect.isawaitable(result):
                return result
            if timeout is None:
                return await result
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    return await result
            except TimeoutError:
                if deadline.expired():
                    raise TimeoutError(f"Operation timed out after {timeout} seconds") from None
                raise

        coro = run()
        try:
            return self.asyncio_loop.run_until_complete(coro)
        except BaseException:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()  # the loop refused to run it (closed, or already running)
            raise

    # -- time and timeouts -------------------------------------------------------------------

    def time(self) -> float:
        """The IOLoop clock: ``time.time()``, as in Tornado 6.6.1 (not ``loop.time()``).

        Deadlines given to `add_timeout`/`call_at` are in this clock and turned into delays at
        once, so legacy ``add_timeout(time.time() + 5, ...)`` keeps working.
        """
        return time.time()

    def add_timeout(
        self,
        deadline: float | datetime.timedelta,
        callback: Callable[..., object],
        *args: Any,
        **kwargs: Any,
    ) -> object:
        """Run ``callback(*args, **kwargs)`` at ``deadline``: a `time` value or a timedelta.

        Returns a handle for `remove_timeout`.
        """
        if isinstance(deadline, numbers.Real):
            return self.call_at(float(deadline), callback, *args, **kwargs)
        if isinstance(deadline, datetime.timedelta):
            return self.call_later(deadline.total_seconds(), callback, *args, **kwargs)
        raise TypeError(f"Unsupported deadline {deadline!r}")

    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any, **kwargs: Any
    ) -> object:
        """Run ``callback(*args, **kwargs)`` after ``delay`` seconds (Tornado 4.0)."""
        return self.asyncio_loop.call_later(
            max(0.0, delay), self._run_callback, _bind(callback, args, kwargs)
        )

    def call_at(
        self, when: float, callback: Callable[..., object], *args: Any, **kwargs: Any
    ) -> object:
        """Run ``callback(*args, **kwargs)`` at ``when``, in `time` units (Tornado 4.0)."""
        return self.call_later(when - self.time(), callback, *args, **kwargs)

    def remove_timeout(self, timeout: object) -> None:
        """Cancel a pending timeout; harmless if it already ran."""
        cast(_Cancellable, timeout).cancel()

    # -- callbacks ---------------------------------------------------------------------------

    def add_callback(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Call ``callback(*args, **kwargs)`` on the next iteration; safe from any thread.

        Silently dropped if the loop is closed (Tornado 6.6.1).
        """
        try:
            loop = self.asyncio_loop
            if asyncio._get_running_loop() is loop:
                loop.call_soon(self._run_callback, _bind(callback, args, kwargs))
            else:
                loop.call_soon_threadsafe(self._run_callback, _bind(callback, args, kwargs))
        except RuntimeError:  # the loop is closed or gone
            pass

    def add_callback_from_signal(
        self, callback: Callable[..., object], *args: Any, **kwargs: Any
    ) -> None:
        """Like `add_callback` (deprecated since Tornado 6.4)."""
        # Tornado 6.4+ warns from its own module (no stacklevel): hidden by default, as there.
        warnings.warn("add_callback_from_signal is deprecated", DeprecationWarning, stacklevel=1)
        try:
            self.asyncio_loop.call_soon_threadsafe(
                self._run_callback, _bind(callback, args, kwargs)
            )
        except RuntimeError:
            pass

    def spawn_callback(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Same as `add_callback` (Tornado 6.0)."""
        self.add_callback(callback, *args, **kwargs)

    def add_future(self, future: _F, callback: Callable[[_F], object]) -> None:
        """Call ``callback(future)`` on this loop once ``future`` is done.

        Accepts asyncio and ``concurrent.futures`` futures, as Tornado 6.6.1.
        """
        if asyncio.isfuture(future):
            future.add_done_callback(
                lambda _: self._run_callback(functools.partial(callback, future))
            )
        elif isinstance(future, concurrent.futures.Future):
            future.add_done_callback(lambda _: self.add_callback(callback, future))
        else:
            raise TypeError(f"expected a Future, got {future!r}")

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> asyncio.Future[_T]:
        """Run ``func(*args)`` in ``executor`` (None: the default one) (Tornado 5.0)."""
        return self.asyncio_loop.run_in_executor(executor, func, *args)

    def set_default_executor(self, executor: concurrent.futures.Executor) -> None:
        """Set the executor `run_in_executor` uses for None (Tornado 5.0)."""
        self.asyncio_loop.set_default_executor(executor)

    def _keep(self, future: asyncio.Future[_T]) -> asyncio.Future[_T]:
        """Hold a strong reference to ``future`` until it is done (asyncio keeps weak ones)."""
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    def _run_callback(self, callback: Callable[[], object]) -> None:
        # Tornado 6.0: errors are logged, cancellation is not; an awaitable result is run.
        try:
            result = callback()
        except asyncio.CancelledError:
            return
        except Exception:
            handler = stack_handler.get()
            if handler is None or not handler():
                # Tornado always holds callbacks as functools.partial, and logs them so.
                shown = (
                    callback
                    if isinstance(callback, functools.partial)
                    else functools.partial(callback)
                )
                app_log.error("Exception in callback %r", shown, exc_info=True)
            return
        if result is None:
            return
        future: asyncio.Future[Any]
        if isinstance(result, concurrent.futures.Future):
            future = asyncio.wrap_future(result, loop=self.asyncio_loop)
        elif asyncio.isfuture(result):
            future = result
        elif inspect.isawaitable(result):
            future = asyncio.ensure_future(result, loop=self.asyncio_loop)
        else:
            return  # other return values are ignored, as by Tornado
        self._tasks.add(future)
        future.add_done_callback(functools.partial(self._callback_done, callback))

    def _callback_done(self, callback: Callable[[], object], future: asyncio.Future[Any]) -> None:
        self._tasks.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            handler = stack_handler.get()
            try:
                raise error
            except BaseException:  # the handler reads sys.exc_info()
                if handler is None or not handler():
                    app_log.error("Exception in callback %r", callback, exc_info=True)


class PeriodicCallback:
    """Call ``callback`` every ``callback_time`` milliseconds (or a timedelta, Tornado 6.2).

    The period runs from the start of one call to the start of the next; calls missed
    because a call took too long are skipped, so the schedule does not drift. A callback that
    returns an awaitable is awaited before the next call is scheduled (Tornado 6.2). ``jitter``
    varies each period randomly by up to ``jitter * callback_time`` (Tornado 5.1). Errors are
    logged on ``tornado.application`` and the timer continues. Call `start` to begin.
    """

    io_loop: IOLoop

    def __init__(
        self,
        callback: Callable[[], object],
        callback_time: datetime.timedelta | float,
        jitter: float | IOLoop = 0,
        io_loop: IOLoop | None = None,
    ) -> None:
        # Tornado 4's io_loop (a keyword, or the third argument then) is accepted and
        # ignored: the timer runs on the loop current at start() (Tornado 5.0).
        if isinstance(jitter, IOLoop):
            jitter = 0
        if isinstance(callback_time, datetime.timedelta):
            callback_time = callback_time / datetime.timedelta(milliseconds=1)
        if not callback_time > 0:
            raise ValueError("Periodic callback must have a positive callback_time")
        self.callback = callback
        self.callback_time = callback_time
        self.jitter = jitter
        self._running = False
        self._next_timeout = 0.0
        self._timeout: _Cancellable | None = None
        self._pending: asyncio.Future[Any] | None = None
        # Bumped by start() and stop(), so a call still running from an earlier start()
        # does not schedule a second chain of calls.
        self._generation = 0

    def start(self) -> None:
        """Start the timer on the current IOLoop; no effect if it is running."""
        if self._running:
            return
        self.io_loop = IOLoop.current()
        self._running = True
        self._generation += 1
        self._next_timeout = self.io_loop.time()
        self._schedule_next()

    def stop(self) -> None:
        """Stop the timer. A call in progress finishes but is not followed by another."""
        self._running = False
        self._generation += 1
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None

    def is_running(self) -> bool:
        """True between `start` and `stop` (Tornado 4.1)."""
        return self._running

    def _run(self, generation: int) -> None:
        self._timeout = None
        if not self._running or generation != self._generation:
            return
        try:
            result = self.callback()
        except asyncio.CancelledError:
            pass
        except Exception:
            app_log.error("Exception in callback %r", self.callback, exc_info=True)
        else:
            if result is not None and inspect.isawaitable(result):
                self._pending = asyncio.ensure_future(result)
                self._pending.add_done_callback(functools.partial(self._finished, generation))
                return
        self._schedule_next()

    def _finished(self, generation: int, future: asyncio.Future[Any]) -> None:
        self._pending = None
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                app_log.error("Exception in callback %r", self.callback, exc_info=error)
        if generation == self._generation:
            self._schedule_next()

    def _schedule_next(self) -> None:
        if not self._running:
            return
        now = self.io_loop.time()
        self._update_next(now)
        self._timeout = self.io_loop.asyncio_loop.call_later(
            max(0.0, self._next_timeout - now), self._run, self._generation
        )

    def _update_next(self, current_time: float) -> None:
        period = self.callback_time / 1000.0
        if self.jitter:
            period *= 1 + self.jitter * (random.random() - 0.5)
        if self._next_timeout <= current_time:
            # Due or late: the first multiple of the period after now (Tornado 6.6.1).
            missed = math.floor((current_time - self._next_timeout) / period)
            self._next_timeout += (missed + 1) * period
        else:
            # time() went backwards: still advance by one period (Tornado 6.6.1).
            self._next_timeout += period
