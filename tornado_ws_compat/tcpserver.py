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

import os
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
    """Subclass it and override `handle_stream`. ``httpserver.HTTPServer`` is one (as in
    Tornado), whose engine accepts its connections instead (see `_add`)."""

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
    ) -> None:
        if isinstance(ssl_options, dict):
            # Tornado 6.6.1: wrong paths fail here, not at the first client.
            if "certfile" not in ssl_options:
                raise KeyError('missing key "certfile" in ssl_options')
            if not os.path.exists(ssl_options["certfile"]):
                raise ValueError(f'certfile "{ssl_options["certfile"]}" does not exist')
            if "keyfile" in ssl_options and not os.path.exists(ssl_options["keyfile"]):
                raise ValueError(f'keyfile "{ssl_options["keyfile"]}" does not exist')
        self.ssl_options = ssl_options
        self.max_buffer_size = max_buffer_size
        self.read_chunk_size = read_chunk_size
        # Tornado keeps the listening sockets by descriptor in this private attribute, and
        # programs read it for a port-0 server's port.
        self._sockets: dict[int, socket.socket] = {}
        self._handlers: dict[int, Callable[[], None]] = {}
        self._pending_sockets: list[tuple[list[socket.socket], int]] = []
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
        """Bind ``port`` (as `netutil.bind_sockets`) and accept connections at once."""
        self._add(bind_sockets(port, address, family, backlog, flags, reuse_port), backlog)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Accept connections on sockets bound elsewhere (``netutil.bind_sockets``)."""
        self._add(list(sockets), DEFAULT_BACKLOG)

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
        """Bind now, accept from `start` on (at once if `start` has run)."""
        sockets = bind_sockets(port, address, family, backlog, flags, reuse_port)
        if self._started:
            self._add(sockets, backlog)
        else:
            self._pending_sockets.append((sockets, backlog))

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        """Accept connections on the sockets given to `bind`.

        With ``num_processes`` other than 1, first fork that many worker processes (one per
        core for ``None`` or 0) with `process.fork_processes`; every worker then accepts on
        the same sockets, bound once before the fork (Tornado 6.6.1). No event loop may have
        run in this process before a fork.
        """
        if num_processes != 1:
            from tornado_ws_compat import process

            process.fork_processes(num_processes, max_restarts)
        if self._started:
            raise RuntimeError(f"{type(self).__name__}.start() was already called")
        self._started = True
        pending, self._pending_sockets = self._pending_sockets, []
        for sockets, backlog in pending:
            self._add(sockets, backlog)

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

    def _add(self, sockets: list[socket.socket], backlog: int) -> None:
        """Accept on listening ``sockets`` (``backlog`` is the engine's, for HTTPServer)."""
        if self.ssl_options is not None:
            raise NotSupportedError(
                "tornado.tcpserver.TCPServer with ssl_options is not provided by "
                "tornado_ws_compat: terminate TLS in front of it"
            )
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = add_accept_handler(sock, self._handle_connection)

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
