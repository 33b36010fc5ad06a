"""Queues for coroutines (``tornado.queues`` of Tornado 6.6.1).

`Queue` (FIFO), `PriorityQueue` (lowest first) and `LifoQueue`, with ``put``/``get`` that wait
(optionally until a ``timeout``: an `IOLoop.time` deadline or a `datetime.timedelta`, then
`TimeoutError`), the ``_nowait`` forms that raise `QueueFull`/`QueueEmpty`, ``task_done`` and
``join``, and ``async for item in queue`` (Tornado 4.3). Not thread-safe.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import heapq
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

from tornado_ws_compat.concurrent import future_set_result_unless_cancelled
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.locks import Event

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueEmpty", "QueueFull"]

_T = TypeVar("_T")
Timeout = float | datetime.timedelta | None


class QueueEmpty(Exception):
    """`Queue.get_nowait` on an empty queue."""


class QueueFull(Exception):
    """`Queue.put_nowait` on a full queue."""


def _expire_at(future: asyncio.Future[Any], timeout: Timeout) -> None:
    if timeout is None:
        return

    def expire() -> None:
        if not future.done():
            future.set_exception(TimeoutError())

    io_loop = IOLoop.current()
    handle = io_loop.add_timeout(timeout, expire)
    future.add_done_callback(lambda _: io_loop.remove_timeout(handle))


class _QueueIterator(Generic[_T]):
    def __init__(self, queue: Queue[_T]) -> None:
        self.q = queue

    def __anext__(self) -> Awaitable[_T]:
        return self.q.get()


class Queue(Generic[_T]):
    """A FIFO queue of at most ``maxsize`` items (0: unbounded)."""

    _queue: Any = None

    def __init__(self, maxsize: int = 0) -> None:
        if maxsize is None:
            raise TypeError("maxsize can't be None")
        if maxsize < 0:
            raise ValueError("maxsize can't be negative")
        self._maxsize = maxsize
        self._init()
        self._getters: collections.deque[asyncio.Future[_T]] = collections.deque()
        self._putters: collections.deque[tuple[_T, asyncio.Future[None]]] = collections.deque()
        self._unfinished_tasks = 0
        self._finished = Event()
        self._finished.set()

    @property
    def maxsize(self) -> int:
        """The most items the queue holds (0: no limit)."""
        return self._maxsize

    def qsize(self) -> int:
        """Items in the queue."""
        return len(self._queue)

    def empty(self) -> bool:
        return not self._queue

    def full(self) -> bool:
        return self._maxsize > 0 and self.qsize() >= self._maxsize

    def put(self, item: _T, timeout: Timeout = None) -> asyncio.Future[None]:
        """Add ``item``, waiting for room; the future resolves once it is in."""
        future: asyncio.Future[None] = asyncio.Future(loop=IOLoop.current().asyncio_loop)
        try:
            self.put_nowait(item)
        except QueueFull:
            self._putters.append((item, future))
            _expire_at(future, timeout)
        else:
            future.set_result(None)
        return future

    def put_nowait(self, item: _T) -> None:
        """Add ``item`` at once (straight to a waiting getter), or raise `QueueFull`."""
        self._drop_expired()
        if self._getters:
            getter = self._getters.popleft()
            self._add(item)
            future_set_result_unless_cancelled(getter, self._get())
        elif self.full():
            raise QueueFull
        else:
            self._add(item)

    def get(self, timeout: Timeout = None) -> Awaitable[_T]:
        """A future for the next item, waiting for one if the queue is empty."""
        future: asyncio.Future[_T] = asyncio.Future(loop=IOLoop.current().asyncio_loop)
        try:
            future.set_result(self.get_nowait())
        except QueueEmpty:
            self._getters.append(future)
            _expire_at(future, timeout)
        return future

    def get_nowait(self) -> _T:
        """The next item at once, or `QueueEmpty`; a waiting putter's item takes its place."""
        self._drop_expired()
        if self._putters:
            item, putter = self._putters.popleft()
            self._add(item)
            future_set_result_unless_cancelled(putter, None)
            return self._get()
        if self.qsize():
            return self._get()
        raise QueueEmpty

    def task_done(self) -> None:
        """Mark one item taken with ``get`` as processed (for `join`)."""
        if self._unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished_tasks -= 1
        if self._unfinished_tasks == 0:
            self._finished.set()

    def join(self, timeout: Timeout = None) -> Awaitable[None]:
        """A future resolved when every item put has been marked `task_done`."""
        return self._finished.wait(timeout)

    def __aiter__(self) -> _QueueIterator[_T]:
        return _QueueIterator(self)

    # Storage, overridden by the subclasses.
    def _init(self) -> None:
        self._queue = collections.deque()

    def _get(self) -> _T:
        item: _T = self._queue.popleft()
        return item

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    def _add(self, item: _T) -> None:
        self._unfinished_tasks += 1
        self._finished.clear()
        self._put(item)

    def _drop_expired(self) -> None:
        # Waiters whose timeout fired (or that were cancelled) are done: skip them.
        while self._putters and self._putters[0][1].done():
            self._putters.popleft()
        while self._getters and self._getters[0].done():
            self._getters.popleft()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {hex(id(self))} {self._format()}>"

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self._format()}>"

    def _format(self) -> str:
        text = f"maxsize={self._maxsize!r}"
        if self._queue:
            text += f" queue={self._queue!r}"
        if self._getters:
            text += f" getters[{len(self._getters)}]"
        if self._putters:
            text += f" putters[{len(self._putters)}]"
        if self._unfinished_tasks:
            text += f" tasks={self._unfinished_tasks}"
        return text


class PriorityQueue(Queue[_T]):
    """A `Queue` that returns the smallest item first (put ``(priority, item)`` tuples)."""

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        heapq.heappush(self._queue, item)

    def _get(self) -> _T:
        item: _T = heapq.heappop(self._queue)
        return item


class LifoQueue(Queue[_T]):
    """A `Queue` that returns the most recently put item first."""

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    def _get(self) -> _T:
        item: _T = self._queue.pop()
        return item
