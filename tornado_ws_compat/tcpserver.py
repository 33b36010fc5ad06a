"""Tornado's ``tornado.tcpserver``: a raw TCP server handing each connection to
``handle_stream(stream, address)`` as an `~tornado_ws_compat.iostream.IOStream`.

Programs run one beside their WebSocket application (devices that speak a line protocol over
TCP, relayed to browsers). As in Tornado 6.6.1: ``listen``, ``add_sockets``, ``bind`` then
``start(n)`` (forking with ``process.fork_processes``), ``stop``; ``handle_stream`` may be a
coroutine, whose exception is logged. HTTP is ``httpserver.HTTPServer``'s, on the engine; TLS
on a raw server (``ssl_options``) is not provided and raises ``NotSupportedError`` when
started.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tornado_ws_compat import gen
from tornado_ws_compat.errors import NotSupportedError
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.iostream import IOStream
from tornado_ws_compat.log import app_log
from tornado_ws_compat.netutil import DEFAULT_BACKLOG, add_accept_handler, bind_sockets

__all__ = ["TCPServer"]


class TCPServer:
    """Subclass it and override `handle_stream`."""

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
    ) -> None:
        self.ssl_options = ssl_options
        self.max_buffer_size = max_buffer_size
        self.read_chunk_size = read_chunk_size
        self._sockets: dict[int, socket.socket] = {}  # by descriptor, as Tornado names it
        self._handlers: dict[int, Callable[[], None]] = {}
        self._pending_sockets: list[socket.socket] = []
        self._started = False
        self._stopped = False

    def listen(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Accept connections on ``port`` (``address`` "" or None: every interface)."""
        sockets = bind_sockets(
            port,
            address=address,
            family=family,
            backlog=backlog,
            flags=flags,
            reuse_port=reuse_port,
        )
        self.add_sockets(sockets)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Accept connections on listening ``sockets`` (from ``netutil.bind_sockets``)."""
        if self.ssl_options is not None:
            raise NotSupportedError(
                "tornado.tcpserver.TCPServer with ssl_options is not provided by "
                "tornado_ws_compat: terminate TLS in front of it"
            )
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = add_accept_handler(sock, self._handle_connection)

    def add_socket(self, socket: socket.socket) -> None:
        """`add_sockets` for one socket."""
        self.add_sockets([socket])

    def bind(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Bind now, accept from `start` (deprecated in Tornado 6.3, as there)."""
        sockets = bind_sockets(
            port,
            address=address,
            family=family,
            backlog=backlog,
            flags=flags,
            reuse_port=reuse_port,
        )
        if self._started:
            self.add_sockets(sockets)
        else:
            self._pending_sockets.extend(sockets)

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        """Accept on the sockets given to `bind`, in ``num_processes`` forked processes."""
        assert not self._started
        self._started = True
        if num_processes != 1:
            from tornado_ws_compat import process

            process.fork_processes(num_processes, max_restarts)
        sockets, self._pending_sockets = self._pending_sockets, []
        self.add_sockets(sockets)

    def stop(self) -> None:
        """Stop accepting and close the listening sockets (connections stay open)."""
        if self._stopped:
            return
        self._stopped = True
        for fd, sock in self._sockets.items():
            self._handlers.pop(fd)()
            sock.close()

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> Awaitable[None] | None:
        """Serve one connection; override it (a coroutine, or a plain method)."""
        raise NotImplementedError()

    def _handle_connection(self, connection: socket.socket, address: Any) -> None:
        try:
            stream = IOStream(
                connection,
                max_buffer_size=self.max_buffer_size,
                read_chunk_size=self.read_chunk_size,
            )
            future = self.handle_stream(stream, address)
            if future is not None:
                IOLoop.current().add_future(gen.convert_yielded(future), lambda f: f.result())
        except Exception:
            app_log.error("Error in connection callback", exc_info=True)
