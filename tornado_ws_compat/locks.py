"""Coroutine synchronisation primitives (``tornado.locks`` of Tornado 6.6.1).

Like asyncio's, but with Tornado's API: every wait takes an optional ``timeout``, either a
deadline in `IOLoop.time` seconds or a `datetime.timedelta` from now. A timed-out
`Condition.wait` resolves to False; the other waits raise `TimeoutError`. Not thread-safe: use
them from the loop's thread.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import types
from collections.abc import Awaitable, Callable
from typing import Any, cast

from tornado_ws_compat import gen
from tornado_ws_compat.concurrent import future_set_result_unless_cancelled
from tornado_ws_compat.ioloop import IOLoop

__all__ = ["BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"]

Timeout = float | datetime.timedelta | None


def _new_future() -> asyncio.Future[Any]:
    return asyncio.Future(loop=IOLoop.current().asyncio_loop)


def _on_timeout(future: asyncio.Future[Any], timeout: Timeout, expire: Callable[[], None]) -> None:
    """Call ``expire()`` at ``timeout`` unless ``future`` is done first."""
    if timeout is None:
        return
    io_loop = IOLoop.current()
    handle = io_loop.add_timeout(timeout, expire)
    future.add_done_callback(lambda _: io_loop.remove_timeout(handle))


class _Waiters:
    """A FIFO of waiter futures; timed-out ones are swept out after every 100 timeouts."""

    def __init__(self) -> None:
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._timeouts = 0

    def _garbage_collect(self) -> None:
        self._timeouts += 1
        if self._timeouts > 100:
            self._timeouts = 0
            self._waiters = collections.deque(w for w in self._waiters if not w.done())


class Condition(_Waiters):
    """Coroutines `wait` until another calls `notify` or `notify_all`."""

    def __repr__(self) -> str:
        waiting = f" waiters[{len(self._waiters)}]" if self._waiters else ""
        return f"<{type(self).__name__}{waiting}>"

    def wait(self, timeout: Timeout = None) -> Awaitable[bool]:
        """A future resolved with True when notified, or with False at ``timeout``."""
        waiter: asyncio.Future[bool] = _new_future()
        self._waiters.append(waiter)

        def expire() -> None:
            if not waiter.done():
                future_set_result_unless_cancelled(waiter, False)
            self._garbage_collect()

        _on_timeout(waiter, timeout, expire)
        return waiter

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters, oldest first (timed-out ones do not count)."""
        woken = []
        while n and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                n -= 1
                woken.append(waiter)
        for waiter in woken:
            future_set_result_unless_cancelled(waiter, True)

    def notify_all(self) -> None:
        """Wake every waiter."""
        self.notify(len(self._waiters))


class Event:
    """A flag: `wait` blocks until it is `set`; `clear` makes it block again."""

    def __init__(self) -> None:
        self._value = False
        self._waiters: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {'set' if self._value else 'clear'}>"

    def is_set(self) -> bool:
        """True if the flag is set."""
        return self._value

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        if self._value:
            return
        self._value = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Reset the flag; later waits block."""
        self._value = False

    def wait(self, timeout: Timeout = None) -> Awaitable[None]:
        """A future resolved when the flag is set; `TimeoutError` at ``timeout`` (4.2)."""
        waiter: asyncio.Future[None] = _new_future()
        if self._value:
            waiter.set_result(None)
            return waiter
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.remove)
        if timeout is None:
            return waiter
        timed = gen.with_timeout(timeout, waiter)
        timed.add_done_callback(lambda _: waiter.cancel() if not waiter.done() else None)
        return timed


class _ReleasingContextManager:
    """What ``with (yield semaphore.acquire()):`` enters: releases on exit."""

    def __init__(self, obj: Semaphore | Lock) -> None:
        self._obj = obj

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: types.TracebackType | None,
    ) -> None:
        self._obj.release()


class _AsyncWithOnly:
    """``async with`` acquires and releases; a plain ``with`` raises, with Tornado's message."""

    _with_refused = ""

    def __enter__(self) -> None:
        raise RuntimeError(self._with_refused)

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.__enter__()

    async def __aenter__(self) -> None:
        await cast(Any, self).acquire()

    async def __aexit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        cast(Any, self).release()


class Semaphore(_Waiters, _AsyncWithOnly):
    """A counter: `acquire` decrements it or waits while it is zero; `release` increments it.

    ``async with semaphore:`` acquires and releases; a plain ``with`` raises RuntimeError.
    """

    def __init__(self, value: int = 1) -> None:
        super().__init__()
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._value = value

    def __repr__(self) -> str:
        state = "locked" if self._value == 0 else f"unlocked,value:{self._value}"
        if self._waiters:
            state += f",waiters:{len(self._waiters)}"
        return f"<{object.__repr__(self)[1:-1]} [{state}]>"

    def release(self) -> None:
        """Increment the counter and hand it to the oldest waiter still waiting."""
        self._value += 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._value -= 1
                waiter.set_result(_ReleasingContextManager(self))
                break

    def acquire(self, timeout: Timeout = None) -> Awaitable[_ReleasingContextManager]:
        """A future resolved once the counter was decremented; `TimeoutError` at ``timeout``."""
        waiter: asyncio.Future[_ReleasingContextManager] = _new_future()
        if self._value > 0:
            self._value -= 1
            waiter.set_result(_ReleasingContextManager(self))
            return waiter
        self._waiters.append(waiter)

        def expire() -> None:
            if not waiter.done():
                waiter.set_exception(TimeoutError())
            self._garbage_collect()

        _on_timeout(waiter, timeout, expire)
        return waiter

    #: Tornado 6.6.1's message for a plain ``with``.
    _with_refused = "Use 'async with' instead of 'with' for Semaphore"


class BoundedSemaphore(Semaphore):
    """A `Semaphore` whose `release` raises ValueError above the initial value."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value=value)
        self._initial_value = value

    def release(self) -> None:
        """Increment the counter; ValueError if that would exceed the initial value."""
        if self._value >= self._initial_value:
            raise ValueError("Semaphore released too many times")
        super().release()


class Lock(_AsyncWithOnly):
    """A mutex for coroutines: ``async with lock:`` (or ``with (yield lock.acquire()):``)."""

    def __init__(self) -> None:
        self._block = BoundedSemaphore(value=1)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} _block={self._block}>"

    def acquire(self, timeout: Timeout = None) -> Awaitable[_ReleasingContextManager]:
        """A future resolved once the lock is held; `TimeoutError` at ``timeout``."""
        return self._block.acquire(timeout)

    def release(self) -> None:
        """Unlock; RuntimeError if it is not locked."""
        try:
            self._block.release()
        except ValueError:
            raise RuntimeError("release unlocked lock") from None

    _with_refused = "Use `async with` instead of `with` for Lock"
