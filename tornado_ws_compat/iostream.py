"""Tornado's ``tornado.iostream``: the exceptions, and streams over sockets and pipes.

The exceptions are Tornado's (``except tornado.iostream.StreamClosedError`` keeps working).
`IOStream` (a plain TCP or Unix socket: ``tcpserver.TCPServer`` hands one to
``handle_stream``, IoT bridges read their devices with it) and `PipeIOStream`
(``tornado.process.Subprocess`` gives one per ``Subprocess.STREAM``, programs wrap
``os.pipe()`` or a pty with it) have Tornado 6.6.1's read and write API, on the asyncio loop's
readers and writers. HTTP and WebSocket connections are aiohttp's, not streams; TLS streams
(`SSLIOStream`) are not provided: constructing one raises
:class:`~tornado_ws_compat.errors.NotSupportedError`.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import re
import socket
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from tornado_ws_compat.errors import NotSupportedError
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.log import gen_log

__all__ = [
    "BaseIOStream",
    "IOStream",
    "PipeIOStream",
    "SSLIOStream",
    "StreamBufferFullError",
    "StreamClosedError",
    "UnsatisfiableReadError",
]

# The errors that mean the peer went away (Tornado 6.6.1's tuple, which programs such as
# webssh import to tell a reset from a real error; macOS adds EPROTOTYPE, as there).
_ERRNO_CONNRESET: tuple[int, ...] = (
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ETIMEDOUT,
) + ((errno.EPROTOTYPE,) if sys.platform == "darwin" else ())

_ExcInfo = (
    None
    | bool
    | BaseException
    | tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
)


class StreamClosedError(IOError):
    """An operation on a closed stream; ``real_error`` is the cause, if any (Tornado 4.3)."""

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class UnsatisfiableReadError(Exception):
    """A read with ``max_bytes`` cannot be satisfied."""


class StreamBufferFullError(Exception):
    """A read would exceed the buffer's maximum size."""


def _is_connreset(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _ERRNO_CONNRESET


class BaseIOStream:
    """A buffered, non-blocking stream over one descriptor (Tornado's read/write API).

    Subclasses say how to reach the descriptor: `fileno`, `read_from_fd`, `write_to_fd` and
    `close_fd`. One read at a time; any number of writes, each future resolved once its bytes
    are written. A read that the buffered bytes satisfy completes even after the close.
    """

    def __init__(
        self,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> None:
        self.io_loop = IOLoop.current()
        # Tornado 6.6.1's defaults: 100 MiB of read buffer, 64 KiB reads, unbounded writes.
        self.max_buffer_size = max_buffer_size or 104857600
        self.read_chunk_size = min(read_chunk_size or 65536, self.max_buffer_size // 2)
        self.max_write_buffer_size = max_write_buffer_size
        self.error: BaseException | None = None
        self._read_buffer = bytearray()
        self._read_future: asyncio.Future[Any] | None = None
        self._read_bytes: int | None = None
        self._read_partial = False
        self._read_delimiter: bytes | None = None
        self._read_regex: re.Pattern[bytes] | None = None
        self._read_max_bytes: int | None = None
        self._read_until_close = False
        self._write_buffer = bytearray()
        self._written = 0  # bytes written since the start; write futures wait for a total
        self._write_futures: list[tuple[int, asyncio.Future[None]]] = []
        self._close_callback: Callable[[], None] | None = None
        self._watching_read = False
        self._watching_write = False
        self._closed = False

    # -- the descriptor, given by subclasses ---------------------------------------------------

    def fileno(self) -> int:
        """The descriptor this stream reads or writes."""
        raise NotSupportedError(f"{type(self).__name__} has no descriptor")

    def close_fd(self) -> None:
        """Close the descriptor."""
        raise NotSupportedError(f"{type(self).__name__} has no descriptor")

    def write_to_fd(self, data: memoryview) -> int:
        """Write what the descriptor takes now; return how many bytes it took."""
        raise NotSupportedError(f"{type(self).__name__} has no descriptor")

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        """Read into ``buf``; the count, 0 at the end, None when nothing is ready."""
        raise NotSupportedError(f"{type(self).__name__} has no descriptor")

    # -- reads ---------------------------------------------------------------------------------

    def read_until(self, delimiter: bytes, max_bytes: int | None = None) -> asyncio.Future[bytes]:
        """Resolve with the bytes up to and including ``delimiter``.

        With ``max_bytes``, a delimiter not found within that many bytes closes the stream
        with `UnsatisfiableReadError`.
        """
        future = self._start_read()
        self._read_delimiter = delimiter
        self._read_max_bytes = max_bytes
        return self._begin(future)

    def read_until_regex(
        self, regex: bytes, max_bytes: int | None = None
    ) -> asyncio.Future[bytes]:
        """Resolve with the bytes up to and including the first match of ``regex``."""
        future = self._start_read()
        self._read_regex = re.compile(regex)
        self._read_max_bytes = max_bytes
        return self._begin(future)

    def read_bytes(self, num_bytes: int, partial: bool = False) -> asyncio.Future[bytes]:
        """Resolve with ``num_bytes`` bytes; with ``partial``, with what came first (at
        least one byte, at most ``num_bytes``)."""
        future = self._start_read()
        self._read_bytes = num_bytes
        self._read_partial = partial
        return self._begin(future)

    def read_until_close(self) -> asyncio.Future[bytes]:
        """Resolve with everything up to the end of the stream (at once if it is closed)."""
        future = self._start_read()
        if self.closed():
            self._finish_read(len(self._read_buffer))
            return future
        self._read_until_close = True
        return self._begin(future)

    def _start_read(self) -> asyncio.Future[Any]:
        if self._read_future is not None:
            # Tornado 6.6.1: a read left pending by the close is reported as the close.
            self._check_closed()
            raise AssertionError("Already reading")
        self._read_future = self.io_loop.asyncio_loop.create_future()
        return self._read_future

    def _begin(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        try:
            position = self._find_read_pos()
        except UnsatisfiableReadError as error:
            self.close(exc_info=error)
            return future
        if position is not None:
            self._finish_read(position)
        elif self.closed():
            self._read_future = None
            self._check_closed()
        else:
            self._watch()
        return future

    def _find_read_pos(self) -> int | None:
        size = len(self._read_buffer)
        if self._read_bytes is not None:
            if size >= self._read_bytes or (self._read_partial and size > 0):
                return min(self._read_bytes, size)
        elif self._read_delimiter is not None:
            found = self._read_buffer.find(self._read_delimiter)
            if found != -1:
                return self._within_max(found + len(self._read_delimiter))
            self._within_max(size)
        elif self._read_regex is not None:
            match = self._read_regex.search(self._read_buffer)
            if match is not None:
                return self._within_max(match.end())
            self._within_max(size)
        return None

    def _within_max(self, size: int) -> int:
        if self._read_max_bytes is not None and size > self._read_max_bytes:
            wanted = self._read_delimiter or self._read_regex
            raise UnsatisfiableReadError(
                f"delimiter {wanted!r} not found within {self._read_max_bytes} bytes"
            )
        return size

    def _finish_read(self, size: int) -> None:
        data = bytes(self._read_buffer[:size])
        del self._read_buffer[:size]
        self._read_bytes = self._read_delimiter = self._read_regex = self._read_max_bytes = None
        self._read_partial = self._read_until_close = False
        future, self._read_future = self._read_future, None
        if future is not None and not future.done():
            future.set_result(data)
        self._watch()

    def _handle_read(self) -> None:
        buffer = bytearray(self.read_chunk_size)
        try:
            count = self.read_from_fd(buffer)
        except OSError as error:
            self.close(exc_info=error)
            return
        if count is None:
            return
        if count == 0:
            self.close()
            return
        self._read_buffer += memoryview(buffer)[:count]
        if len(self._read_buffer) > self.max_buffer_size:
            gen_log.error("Reached maximum read buffer size")
            self.close(exc_info=StreamBufferFullError("Reached maximum read buffer size"))
            return
        if self._read_future is None or self._read_until_close:
            self._watch()
            return
        try:
            position = self._find_read_pos()
        except UnsatisfiableReadError as error:
            self.close(exc_info=error)
            return
        if position is not None:
            self._finish_read(position)

    # -- writes --------------------------------------------------------------------------------

    def write(self, data: bytes | memoryview) -> asyncio.Future[None]:
        """Queue ``data``; the future resolves once all of it is written."""
        self._check_closed()
        if data:
            limit = self.max_write_buffer_size
            if limit is not None and len(self._write_buffer) + len(data) > limit:
                raise StreamBufferFullError("Reached maximum write buffer size")
            self._write_buffer += data
        future: asyncio.Future[None] = self.io_loop.asyncio_loop.create_future()
        self._write_futures.append((self._written + len(self._write_buffer), future))
        self._handle_write()
        return future

    def _handle_write(self) -> None:
        while self._write_buffer:
            try:
                count = self.write_to_fd(memoryview(self._write_buffer))
            except BlockingIOError:
                break
            except OSError as error:
                self.close(exc_info=error)
                return
            if count == 0:
                break
            del self._write_buffer[:count]
            self._written += count
        while self._write_futures and self._write_futures[0][0] <= self._written:
            _, future = self._write_futures.pop(0)
            if not future.done():
                future.set_result(None)
        self._watch()

    # -- state ---------------------------------------------------------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` (on the loop) once the stream is closed."""
        self._close_callback = callback
        self._watch()

    def close(self, exc_info: _ExcInfo = False) -> None:
        """Close the stream; ``exc_info`` (true, an exception or a ``sys.exc_info()`` tuple)
        becomes `error`. A pending `read_until_close` gets the buffered bytes unless an error
        closed the stream; another pending read gets them if they satisfy it."""
        if not self._closed:
            if isinstance(exc_info, tuple):
                self.error = exc_info[1]
            elif isinstance(exc_info, BaseException):
                self.error = exc_info
            elif exc_info:
                self.error = sys.exc_info()[1] or self.error
            if self._read_until_close:
                # A reset is an ordinary end (Tornado 6.6.1): the data read so far is the
                # result; after a real error the read fails with StreamClosedError.
                if self.error is None or _is_connreset(self.error):
                    self._finish_read(len(self._read_buffer))
            elif self._read_future is not None:
                try:
                    position = self._find_read_pos()
                except UnsatisfiableReadError:
                    position = None
                if position is not None:
                    self._finish_read(position)
            self._closed = True
            self._watch()
            self.close_fd()
        futures = [future for _, future in self._write_futures]
        self._write_futures.clear()
        if self._read_future is not None:
            futures.append(self._read_future)
            self._read_future = None
        for future in futures:
            if not future.done():
                future.set_exception(StreamClosedError(real_error=self.error))
                future.exception()  # retrieved: nobody awaiting it is not an error
        if self._close_callback is not None:
            callback, self._close_callback = self._close_callback, None
            self.io_loop.add_callback(callback)
        self._write_buffer.clear()

    def closed(self) -> bool:
        """Whether the stream has been closed."""
        return self._closed

    def reading(self) -> bool:
        """Whether a read is pending."""
        return self._read_future is not None

    def writing(self) -> bool:
        """Whether bytes wait to be written."""
        return bool(self._write_buffer)

    def set_nodelay(self, value: bool) -> None:
        """No effect: only TCP streams have Nagle's algorithm (as on Tornado)."""

    def _check_closed(self) -> None:
        if self._closed:
            raise StreamClosedError(real_error=self.error)

    def _watch(self) -> None:
        """Watch for reads while a read waits (or a close callback, to see the end, while the
        buffer is empty: Tornado 6.6.1's rule), for writes while bytes wait."""
        loop = self.io_loop.asyncio_loop
        read = not self._closed and (
            self._read_future is not None
            or (self._close_callback is not None and not self._read_buffer)
        )
        write = not self._closed and bool(self._write_buffer)
        if read != self._watching_read:
            if read:
                loop.add_reader(self.fileno(), self._handle_read)
            else:
                loop.remove_reader(self.fileno())
            self._watching_read = read
        if write != self._watching_write:
            if write:
                loop.add_writer(self.fileno(), self._handle_write)
            else:
                loop.remove_writer(self.fileno())
            self._watching_write = write


class IOStream(BaseIOStream):
    """A stream over a connected (or, with `connect`, connecting) non-blocking socket."""

    def __init__(self, socket: socket.socket, *args: Any, **kwargs: Any) -> None:
        self.socket = socket
        self.socket.setblocking(False)
        self._fd = socket.fileno()
        super().__init__(*args, **kwargs)

    def fileno(self) -> int:
        return self._fd

    def close_fd(self) -> None:
        self.socket.close()

    def write_to_fd(self, data: memoryview) -> int:
        return self.socket.send(data)

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        try:
            return self.socket.recv_into(buf, len(buf))
        except BlockingIOError:
            return None

    def set_nodelay(self, value: bool) -> None:
        """Set TCP_NODELAY (no effect on a Unix socket or a closed stream)."""
        if self.closed() or self.socket.family not in (socket.AF_INET, socket.AF_INET6):
            return
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)
        except OSError as error:
            if error.errno != errno.EINVAL:  # the peer has already gone: nothing to set
                raise

    def connect(self, address: Any, server_hostname: str | None = None) -> asyncio.Future[Any]:
        """Connect the socket to ``address``; the future resolves with this stream, or fails
        with `StreamClosedError` (whose ``real_error`` is the cause) and closes it."""
        loop = self.io_loop.asyncio_loop
        connected: asyncio.Future[Any] = loop.create_future()

        async def connecting() -> None:
            try:
                await loop.sock_connect(self.socket, address)
            except OSError as error:
                self.close(exc_info=error)
                if not connected.done():
                    connected.set_exception(StreamClosedError(real_error=error))
                    connected.exception()
                return
            if not connected.done():
                connected.set_result(self)

        self.io_loop.add_future(loop.create_task(connecting()), lambda _: None)
        return connected

    def start_tls(self, server_side: bool, *args: Any, **kwargs: Any) -> Any:
        """Not provided: TLS streams are not (see `SSLIOStream`)."""
        raise NotSupportedError(
            "tornado.iostream.IOStream.start_tls is not provided by tornado_ws_compat"
        )


class SSLIOStream(IOStream):
    """Not provided: TLS on raw streams (HTTPS and wss are the engine's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(
            "tornado.iostream.SSLIOStream is not provided by tornado_ws_compat: serve TLS "
            "through HTTPServer(ssl_options=...) or a proxy in front"
        )


class PipeIOStream(BaseIOStream):
    """A stream over a pipe's descriptor (or a pty's), which it makes non-blocking and
    closes when closed. One-way: use it to read or to write, as on Tornado."""

    def __init__(self, fd: int, *args: Any, **kwargs: Any) -> None:
        self.fd = fd
        self._file = io.FileIO(fd, "r+")
        os.set_blocking(fd, False)
        super().__init__(*args, **kwargs)

    def fileno(self) -> int:
        return self.fd

    def close_fd(self) -> None:
        self._file.close()

    def write_to_fd(self, data: memoryview) -> int:
        return os.write(self.fd, data)

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        try:
            return self._file.readinto(buf)
        except OSError as error:
            # A pty whose other side has closed reads EIO; a pipe whose writing half is closed
            # may read EBADF: both are the end of the stream.
            if error.errno in (errno.EIO, errno.EBADF):
                return 0
            raise
