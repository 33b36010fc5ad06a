"""Tornado's ``tornado.tcpserver``: importable, declined when used.

``TCPServer`` hands each connection to ``handle_stream(stream, address)`` as a Tornado
``IOStream``; this project serves HTTP and WebSockets through aiohttp and has no ``IOStream``,
so a raw TCP server cannot be offered on the same engine. The class can still be imported and
subclassed (many programs import it and never use it); starting one raises
``NotSupportedError`` naming the feature. Use ``asyncio.start_server`` for raw TCP.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any

from tornado_ws_compat.errors import NotSupportedError

__all__ = ["TCPServer"]


def _declined(what: str) -> NotSupportedError:
    return NotSupportedError(
        f"tornado.tcpserver.TCPServer.{what}: raw TCP servers (handle_stream with an IOStream) "
        "are not provided by tornado_ws_compat; use asyncio.start_server, or HTTPServer for HTTP"
    )


class TCPServer:
    """Tornado's TCP server base class; every way of starting it raises `NotSupportedError`."""

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
    ) -> None:
        self.ssl_options = ssl_options
        self.max_buffer_size = max_buffer_size
        self.read_chunk_size = read_chunk_size

    def listen(self, port: int, address: str | None = None, **kwargs: Any) -> None:
        raise _declined("listen")

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        raise _declined("add_sockets")

    def add_socket(self, socket: socket.socket) -> None:
        raise _declined("add_socket")

    def bind(self, port: int, address: str | None = None, **kwargs: Any) -> None:
        raise _declined("bind")

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        raise _declined("start")

    def stop(self) -> None:
        """Nothing listens, so there is nothing to stop."""

    def handle_stream(self, stream: Any, address: tuple[Any, ...]) -> None:
        raise _declined("handle_stream")
