"""Futures as Tornado uses them (``tornado.concurrent`` of Tornado 6.6.1).

Since Tornado 5.0 ``Future`` *is* `asyncio.Future`, so everything here is awaitable and mixes
with asyncio code. `run_on_executor` runs a blocking method in ``self.executor`` and returns an
asyncio future; the ``future_*`` helpers work on both asyncio and ``concurrent.futures``
futures.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import types
from collections.abc import Callable
from typing import Any, TypeVar, overload

from tornado_ws_compat.log import app_log

__all__ = [
    "FUTURES",
    "DummyExecutor",
    "Future",
    "ReturnValueIgnoredError",
    "chain_future",
    "dummy_executor",
    "future_add_done_callback",
    "future_set_exc_info",
    "future_set_exception_unless_cancelled",
    "future_set_result_unless_cancelled",
    "is_future",
    "run_on_executor",
]

_T = TypeVar("_T")

Future = asyncio.Future
#: The future classes Tornado accepts wherever it takes a future.
FUTURES = (concurrent.futures.Future, asyncio.Future)


class ReturnValueIgnoredError(Exception):
    """Kept for code that imports it; Tornado 6 no longer raises it."""


def is_future(x: Any) -> bool:
    """True for asyncio and ``concurrent.futures`` futures."""
    return isinstance(x, FUTURES)


class DummyExecutor(concurrent.futures.Executor):
    """An executor that runs each call at once, in the calling thread."""

    def submit(
        self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        try:
            future_set_result_unless_cancelled(future, fn(*args, **kwargs))
        except Exception as error:
            future_set_exception_unless_cancelled(future, error)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to shut down."""


dummy_executor = DummyExecutor()


def run_on_executor(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Decorate a method to run in ``self.executor`` and return an asyncio future.

    ``@run_on_executor(executor="_pool")`` names another attribute (Tornado 4.2). The
    ``io_loop`` keyword of Tornado 4 is accepted and ignored: the future belongs to the
    current loop (Tornado 5.0).
    """
    attribute = kwargs.get("executor", "executor")

    def decorate(method: Callable[..., _T]) -> Callable[..., asyncio.Future[_T]]:
        @functools.wraps(method)
        def wrapper(self: Any, *call_args: Any, **call_kwargs: Any) -> asyncio.Future[_T]:
            result: asyncio.Future[_T] = asyncio.Future(loop=_current_loop())
            submitted = getattr(self, attribute).submit(method, self, *call_args, **call_kwargs)
            chain_future(submitted, result)
            return result

        return wrapper

    if args and kwargs:
        raise ValueError("cannot combine positional and keyword args")
    if len(args) == 1:
        return decorate(args[0])
    if args:
        raise ValueError(f"expected 1 argument, got {len(args)}")
    return decorate


def _current_loop() -> asyncio.AbstractEventLoop:
    from tornado_ws_compat.ioloop import IOLoop

    return IOLoop.current().asyncio_loop


def chain_future(a: Any, b: Any) -> None:
    """Copy the outcome of future ``a`` to future ``b`` unless ``b`` is done by then.

    A cancelled ``a`` cancels ``b`` (Tornado 6.6). ``a`` may be a ``concurrent.futures``
    future, whose outcome is copied on the current IOLoop.
    """

    def copy(source: Any) -> None:
        if b.done():
            return
        if source.cancelled():
            b.cancel()
            return
        error = source.exception()
        if error is not None:
            b.set_exception(error)
        else:
            b.set_result(source.result())

    if isinstance(a, asyncio.Future):
        future_add_done_callback(a, copy)
    else:
        from tornado_ws_compat.ioloop import IOLoop

        IOLoop.current().add_future(a, copy)


def future_set_result_unless_cancelled(future: Any, value: Any) -> None:
    """Set ``future``'s result, unless it was cancelled (Tornado 5.0)."""
    if not future.cancelled():
        future.set_result(value)


def future_set_exception_unless_cancelled(future: Any, exc: BaseException) -> None:
    """Set ``future``'s exception; if it was cancelled, log the exception (Tornado 6.0)."""
    if not future.cancelled():
        future.set_exception(exc)
    else:
        app_log.error("Exception after Future was cancelled", exc_info=exc)


def future_set_exc_info(
    future: Any,
    exc_info: tuple[type | None, BaseException | None, types.TracebackType | None],
) -> None:
    """Set ``future``'s exception from a ``sys.exc_info()`` triple (Tornado 5.0)."""
    if exc_info[1] is None:
        raise Exception("future_set_exc_info called with no exception")
    future_set_exception_unless_cancelled(future, exc_info[1])


@overload
def future_add_done_callback(
    future: concurrent.futures.Future[_T],
    callback: Callable[[concurrent.futures.Future[_T]], None],
) -> None: ...


@overload
def future_add_done_callback(
    future: asyncio.Future[_T], callback: Callable[[asyncio.Future[_T]], None]
) -> None: ...


def future_add_done_callback(future: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback(future)`` when it is done: at once if it already is (Tornado 5.0)."""
    if future.done():
        callback(future)
    else:
        future.add_done_callback(callback)
