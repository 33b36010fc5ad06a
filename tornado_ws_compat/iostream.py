"""Tornado's ``tornado.iostream`` names that programs catch or check.

The exceptions are Tornado's (``except tornado.iostream.StreamClosedError`` keeps working);
the stream classes are not provided, since aiohttp owns the sockets here: constructing one
raises :class:`~tornado_ws_compat.errors.NotSupportedError`.
"""

from __future__ import annotations

from typing import Any

from tornado_ws_compat.errors import NotSupportedError

__all__ = [
    "BaseIOStream",
    "IOStream",
    "SSLIOStream",
    "StreamBufferFullError",
    "StreamClosedError",
    "UnsatisfiableReadError",
]


class StreamClosedError(IOError):
    """An operation on a closed stream; ``real_error`` is the cause, if any (Tornado 4.3)."""

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class UnsatisfiableReadError(Exception):
    """A read with ``max_bytes`` cannot be satisfied."""


class StreamBufferFullError(Exception):
    """A read would exceed the buffer's maximum size."""


class BaseIOStream:
    """Not provided: this project's engine (aiohttp) owns the sockets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(
            f"tornado.iostream.{type(self).__name__} is not provided by tornado_ws_compat: "
            "aiohttp owns the sockets; use asyncio streams (asyncio.open_connection)"
        )


class IOStream(BaseIOStream):
    """Not provided (see `BaseIOStream`)."""


class SSLIOStream(IOStream):
    """Not provided (see `BaseIOStream`)."""
