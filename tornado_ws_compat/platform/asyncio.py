"""Tornado's ``tornado.platform.asyncio``: the names of the Tornado 4.x-5.x asyncio bridge.

Here every IOLoop already runs on asyncio, so these are thin: ``AsyncIOMainLoop()`` is the
IOLoop of the thread's asyncio loop (``AsyncIOMainLoop().install()`` from the Tornado 4.x era
keeps working), ``AsyncIOLoop`` is `IOLoop`, and the future converters pass futures through
(Tornado 5.0 made Tornado's futures asyncio's).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable
from typing import Any, TypeVar

from tornado_ws_compat.ioloop import IOLoop, _new_event_loop

__all__ = [
    "AnyThreadEventLoopPolicy",
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
    "to_asyncio_future",
    "to_tornado_future",
]

T = TypeVar("T")

#: Every IOLoop of this project is an asyncio loop.
BaseAsyncIOLoop = IOLoop


class AsyncIOLoop(IOLoop):
    """An IOLoop on a new asyncio loop (what ``IOLoop()`` is, as in Tornado 6)."""


class AsyncIOMainLoop(IOLoop):
    """The IOLoop of the thread's current asyncio loop (deprecated since Tornado 5.0).

    ``AsyncIOMainLoop()`` returns that loop's `IOLoop` (creating the asyncio loop when the
    thread has none, as `IOLoop.current` does); its ``install()`` makes it current.
    """

    def __new__(cls, **kwargs: Any) -> IOLoop:  # type: ignore[misc]
        return IOLoop.current()


class AnyThreadEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose ``get_event_loop`` creates a loop in any thread, as before
    Tornado 5.0 (Tornado 5.0; deprecated since 6.2, with its warning). Its loops are this
    project's: uvloop's unless ``TORNADO_WS_COMPAT_NO_UVLOOP`` is set."""

    def __init__(self) -> None:
        super().__init__()
        warnings.warn(
            "AnyThreadEventLoopPolicy is deprecated, use asyncio.run "
            "or asyncio.new_event_loop instead",
            DeprecationWarning,
            stacklevel=2,
        )

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        try:
            return super().get_event_loop()
        except RuntimeError:  # no loop in this (non-main) thread: make one
            loop = self.new_event_loop()
            self.set_event_loop(loop)
            return loop

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _new_event_loop()


def to_tornado_future(asyncio_future: asyncio.Future[T]) -> asyncio.Future[T]:
    """Return the future itself: Tornado's futures are asyncio's since Tornado 5.0."""
    return asyncio_future


def to_asyncio_future(tornado_future: Awaitable[T]) -> asyncio.Future[T]:
    """An asyncio future for a future, coroutine or other awaitable (Tornado 4.1)."""
    return asyncio.ensure_future(tornado_future)
