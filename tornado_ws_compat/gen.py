"""Generator coroutines (``tornado.gen`` of Tornado 6.6.1) over asyncio.

``@gen.coroutine`` turns a generator function into one that returns an `asyncio.Future`:
each ``yield`` waits for a future, an awaitable, a list or dict of them (all at once, see
`multi`), or None/`moment` (one loop iteration); ``raise gen.Return(value)`` or ``return
value`` sets the result. The code before the first ``yield`` runs at call time, as in Tornado.
The futures are asyncio's, so ``await`` works on them and asyncio code can wait for them.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import datetime
import functools
import sys
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from inspect import isawaitable
from typing import Any, TypeVar, cast

# tornado.gen.Future: Tornado 6.6.1's gen imports it and programs use it from there.
from tornado_ws_compat.concurrent import Future as Future
from tornado_ws_compat.concurrent import (
    chain_future,
    future_add_done_callback,
    future_set_exc_info,
    future_set_result_unless_cancelled,
    is_future,
)
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.log import app_log
from tornado_ws_compat.util import TimeoutError

__all__ = [
    "Arguments",
    "BadYieldError",
    "KeyReuseError",
    "LeakedCallbackError",
    "Multi",
    "Return",
    "ReturnValueIgnoredError",
    "Task",
    "TimeoutError",
    "UnknownKeyError",
    "WaitIterator",
    "convert_yielded",
    "coroutine",
    "is_coroutine_function",
    "maybe_future",
    "moment",
    "multi",
    "multi_future",
    "sleep",
    "with_timeout",
]

_T = TypeVar("_T")
_Quiet = type[BaseException] | tuple[type[BaseException], ...]


class KeyReuseError(Exception):
    """Kept for code that imports it (Tornado 4's callback keys)."""


class UnknownKeyError(Exception):
    """Kept for code that imports it (Tornado 4's callback keys)."""


class LeakedCallbackError(Exception):
    """Kept for code that imports it (Tornado 4's callback keys)."""


class BadYieldError(Exception):
    """A coroutine yielded something that is neither a future, an awaitable, nor a list or
    dict of them; it is raised at the ``yield``."""


class ReturnValueIgnoredError(Exception):
    """Kept for code that imports it; Tornado 6 no longer raises it."""


class Return(Exception):
    """``raise gen.Return(value)``: the Python 2 way to return a value from a coroutine."""

    def __init__(self, value: Any = None) -> None:
        super().__init__()
        self.value = value
        self.args = (value,)


def _returned(stop: StopIteration | Return) -> Any:
    return stop.value


def coroutine(func: Callable[..., Any]) -> Callable[..., asyncio.Future[Any]]:
    """Decorate a generator function (or a plain one) to return an `asyncio.Future`.

    A plain function's result or exception goes into an already-done future. Every step of a
    generator runs in one copy of the caller's `contextvars` context (Tornado 5.1).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = _new_future()
        run = contextvars.copy_context().run
        try:
            result = run(func, *args, **kwargs)
        except (Return, StopIteration) as stop:
            result = _returned(stop)
        except asyncio.CancelledError:
            future.cancel()
            return future
        except Exception:
            future_set_exc_info(future, sys.exc_info())
            return future
        if isinstance(result, Generator):
            try:
                yielded = run(next, result)
            except (Return, StopIteration) as stop:
                future_set_result_unless_cancelled(future, _returned(stop))
            except asyncio.CancelledError:
                future.cancel()
            except Exception:
                future_set_exc_info(future, sys.exc_info())
            else:
                runner = _Runner(run, result, future)
                # The result future keeps the runner alive while someone holds the future.
                future.add_done_callback(lambda _: runner)
                runner.resume(yielded)
            return future
        future_set_result_unless_cancelled(future, result)
        return future

    wrapper.__wrapped__ = func
    wrapper.__tornado_coroutine__ = True  # type: ignore[attr-defined]
    return wrapper


def is_coroutine_function(func: Any) -> bool:
    """True if ``func`` was decorated with `coroutine` (Tornado 4.5)."""
    return bool(getattr(func, "__tornado_coroutine__", False))


def _new_future() -> asyncio.Future[Any]:
    return asyncio.Future(loop=IOLoop.current().asyncio_loop)


class _Moment:
    """A done future-like value: yielding it gives the loop one iteration (Tornado 4.0)."""

    def result(self) -> None:
        return None

    def done(self) -> bool:
        return True


#: ``yield gen.moment`` (or ``await gen.sleep(0)``) lets other callbacks run first.
moment = cast(asyncio.Future[None], _Moment())


class _Runner:
    """Drives one generator: sends results of what it yields back into it."""

    def __init__(
        self,
        run: Callable[..., Any],
        generator: Generator[Any, Any, Any],
        result: asyncio.Future[Any],
    ) -> None:
        self.run = run
        self.generator = generator
        self.result = result
        self.io_loop = IOLoop.current()
        self.waiting_on: Any = None

    def resume(self, yielded: Any) -> None:
        """Wait for ``yielded``; step the generator synchronously while results are ready."""
        while True:
            try:
                waited = convert_yielded(yielded)
            except BadYieldError:
                waited = _new_future()
                future_set_exc_info(waited, sys.exc_info())
            yielded = None
            if waited is moment:
                self.io_loop.add_callback(self.run, self._step, moment)
                return
            if not waited.done():
                self.waiting_on = waited
                self.io_loop.add_future(waited, lambda done: self.run(self._step, done))
                return
            finished, yielded = self._send(waited)
            if finished:
                return

    def _step(self, done: Any) -> None:
        self.waiting_on = None
        finished, yielded = self._send(done)
        if not finished:
            self.resume(yielded)

    def _send(self, done: Any) -> tuple[bool, Any]:
        """Send ``done``'s outcome into the generator: (finished, what it yielded next)."""
        try:
            try:
                value = done.result()
            except (Exception, asyncio.CancelledError) as error:
                return False, self.generator.throw(error)
            return False, self.generator.send(value)
        except (StopIteration, Return) as stop:
            future_set_result_unless_cancelled(self.result, _returned(stop))
        except asyncio.CancelledError:
            self.result.cancel()
        except Exception:
            future_set_exc_info(self.result, sys.exc_info())
        return True, None


@functools.singledispatch
def convert_yielded(yielded: Any) -> asyncio.Future[Any]:
    """The future a coroutine waits on for ``yielded`` (Tornado 4.1).

    None and `moment` mean one loop iteration; lists and dicts go to `multi`; futures are
    returned as they are; other awaitables are wrapped in a task. Register converters for
    other types with ``convert_yielded.register(MyType)``; anything else raises
    `BadYieldError`.
    """
    if yielded is None or yielded is moment:
        return moment
    if isinstance(yielded, list | dict):
        return multi(yielded)
    if is_future(yielded):
        return cast(asyncio.Future[Any], yielded)
    if isawaitable(yielded):
        return IOLoop.current()._keep(asyncio.ensure_future(yielded))
    raise BadYieldError(f"yielded unknown object {yielded!r}")


def multi(
    children: Sequence[Any] | Mapping[Any, Any],
    quiet_exceptions: _Quiet = (),
) -> asyncio.Future[Any]:
    """Wait for a list or dict of yieldables at once; the result has the same shape.

    The first failure fails the whole; later failures are logged on ``tornado.application``
    unless they are instances of ``quiet_exceptions`` (Tornado 4.2).
    """
    return multi_future(children, quiet_exceptions=quiet_exceptions)


Multi = multi


def multi_future(
    children: Sequence[Any] | Mapping[Any, Any],
    quiet_exceptions: _Quiet = (),
) -> asyncio.Future[Any]:
    """`multi` for futures (kept by Tornado 6 as the same function)."""
    keys = list(children.keys()) if isinstance(children, dict) else None
    values = children.values() if isinstance(children, dict) else children
    waited = [convert_yielded(child) for child in values]
    pending = set(waited)
    future = _new_future()
    if not waited:
        future_set_result_unless_cancelled(future, {} if keys is not None else [])

    def child_done(child: Any) -> None:
        pending.discard(child)
        if pending:
            return
        results = []
        for each in waited:
            try:
                results.append(each.result())
            except (Exception, asyncio.CancelledError) as error:
                if not future.done():
                    future_set_exc_info(future, sys.exc_info())
                elif not isinstance(error, (asyncio.CancelledError, quiet_exceptions)):
                    app_log.error("Multiple exceptions in yield list", exc_info=True)
        if not future.done():
            result = dict(zip(keys, results, strict=True)) if keys is not None else results
            future_set_result_unless_cancelled(future, result)

    for child in dict.fromkeys(waited):  # each distinct child once, in order
        future_add_done_callback(child, child_done)
    return future


def maybe_future(x: Any) -> asyncio.Future[Any]:
    """``x`` if it is a future, else a done future holding ``x`` (deprecated since 4.3)."""
    if is_future(x):
        return cast(asyncio.Future[Any], x)
    future = _new_future()
    future.set_result(x)
    return future


#: What `Task` resolves with when the callback gets several arguments or keywords.
Arguments = collections.namedtuple("Arguments", ["args", "kwargs"])


def Task(func: Callable[..., object], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
    """Call ``func(*args, callback=..., **kwargs)`` and return a future of what the callback
    gets: its one argument, None for none, `Arguments` for several or keywords (Tornado 2.1
    to 5.1, removed in 6.0; ``yield gen.Task(io_loop.add_timeout, deadline)`` sleeps). An
    exception ``func`` raises fails the future; a second callback call is ignored."""
    future = _new_future()

    def callback(*values: Any, **keywords: Any) -> None:
        if future.done():
            return
        if keywords or len(values) > 1:
            future.set_result(Arguments(values, keywords))
        else:
            future.set_result(values[0] if values else None)

    try:
        func(*args, callback=callback, **kwargs)
    except Exception as error:
        if not future.done():
            future.set_exception(error)
    return future


def with_timeout(
    timeout: float | datetime.timedelta,
    future: Any,
    quiet_exceptions: _Quiet | IOLoop = (),
    *,
    message: str | Callable[[], str] | None = None,
    io_loop: IOLoop | None = None,
) -> asyncio.Future[Any]:
    """A future with ``future``'s outcome, or `TimeoutError` once ``timeout`` passes.

    ``timeout`` is an absolute `IOLoop.time` deadline or a `datetime.timedelta` from now.
    ``future`` itself is not cancelled; its later failure is logged unless quiet (Tornado 4.0).
    ``message`` (a string or a function returning one) replaces "Timeout" (Tornado 6.6).
    Tornado 4's ``io_loop`` (keyword, or the third argument then) is accepted and ignored:
    the current loop is the one (Tornado 5.0).
    """
    if isinstance(quiet_exceptions, IOLoop):
        quiet_exceptions = ()
    waited = convert_yielded(future)
    result = _new_future()
    chain_future(waited, result)
    io_loop = IOLoop.current()

    def log_late_failure(done: Any) -> None:
        try:
            done.result()
        except asyncio.CancelledError:
            pass
        except Exception as error:
            if not isinstance(error, quiet_exceptions):
                app_log.error("Exception in Future %r after timeout", done, exc_info=True)

    def expire() -> None:
        if not result.done():
            text = message() if callable(message) else "Timeout" if message is None else message
            result.set_exception(TimeoutError(text))
        future_add_done_callback(waited, log_late_failure)

    handle = io_loop.add_timeout(timeout, expire)
    if isinstance(waited, asyncio.Future):
        future_add_done_callback(waited, lambda _: io_loop.remove_timeout(handle))
    else:
        io_loop.add_future(waited, lambda _: io_loop.remove_timeout(handle))
    return result


def sleep(duration: float) -> asyncio.Future[None]:
    """A future resolved with None after ``duration`` seconds (Tornado 4.1)."""
    future: asyncio.Future[None] = _new_future()
    IOLoop.current().call_later(duration, future_set_result_unless_cancelled, future, None)
    return future


class WaitIterator:
    """Iterate over futures in the order they finish (Tornado 4.1).

    ``while not it.done(): result = yield it.next()`` or ``async for result in it`` (Tornado
    4.3); `current_index` and `current_future` name the one just finished. Positional futures
    are indexed by position, keyword ones by name.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("You must provide args or kwargs, not both")
        items = list(kwargs.items()) if kwargs else list(enumerate(args))
        self._unfinished: dict[Any, collections.deque[int | str]] = {}
        for key, future in items:
            self._unfinished.setdefault(future, collections.deque()).append(key)
        self._finished: collections.deque[Any] = collections.deque()
        self.current_index: int | str | None = None
        self.current_future: Any = None
        self._running: asyncio.Future[Any] | None = None
        for _, future in items:
            future_add_done_callback(future, self._done)

    def done(self) -> bool:
        """True when every future has been returned by `next`."""
        if self._finished or self._unfinished:
            return False
        self.current_index = self.current_future = None
        return True

    def next(self) -> asyncio.Future[Any]:
        """A future for the next future to finish (with its outcome)."""
        self._running = _new_future()
        if self._finished:
            return self._hand_over(self._finished.popleft())
        return self._running

    def _done(self, future: Any) -> None:
        if self._running is not None and not self._running.done():
            self._hand_over(future)
        else:
            self._finished.append(future)

    def _hand_over(self, future: Any) -> asyncio.Future[Any]:
        running = cast(asyncio.Future[Any], self._running)
        chain_future(future, running)
        self._running = None
        self.current_future = future
        keys = self._unfinished[future]
        self.current_index = keys.popleft()
        if not keys:
            del self._unfinished[future]
        return running

    def __aiter__(self) -> WaitIterator:
        return self

    def __anext__(self) -> Awaitable[Any]:
        if self.done():
            raise StopAsyncIteration
        return self.next()
