"""Listening: sockets bound at once, served by the engine on the current loop (uvloop if any).

``Application.listen`` calls :func:`listen`; it works before the loop runs (the legacy
``app.listen(8888)`` followed by ``IOLoop.current().start()``) and inside a coroutine.
:func:`serve` adds what a process needs: SIGTERM/SIGINT and a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.log import gen_log

if TYPE_CHECKING:
    from tornado_ws_compat._engine.http import EngineServer
    from tornado_ws_compat.web import Application

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "HTTPServer", "bind_sockets", "listen", "serve"]

#: Seconds a graceful shutdown waits for WebSockets to finish their closing handshake.
DEFAULT_SHUTDOWN_TIMEOUT = 10.0


def bind_sockets(
    port: int,
    address: str | None = None,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    backlog: int = 128,
    reuse_port: bool = False,
) -> list[socket.socket]:
    """Bind listening sockets for every address ``address`` resolves to (all if empty).

    With ``port=0`` every socket gets the same free port, as ``tornado.netutil.bind_sockets``.
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("the platform doesn't support SO_REUSEPORT")
    host = address or None
    sockets: list[socket.socket] = []
    bound_port: int | None = None
    infos = socket.getaddrinfo(
        host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE | socket.AI_ADDRCONFIG
    )
    seen: set[tuple[Any, ...]] = set()
    for af, socktype, proto, _canon, sockaddr in infos:
        key = (af, sockaddr)
        if key in seen:
            continue
        seen.add(key)
        if port == 0 and bound_port is not None:
            sockaddr = (sockaddr[0], bound_port, *sockaddr[2:])
        sock = socket.socket(af, socktype, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if af == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setblocking(False)
            sock.bind(sockaddr)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRNOTAVAIL and af == socket.AF_INET6:
                continue  # no IPv6 on this host: serve IPv4 only, as Tornado does
            for other in sockets:
                other.close()
            raise
        bound_port = sock.getsockname()[1]
        sock.listen(backlog)
        sockets.append(sock)
    return sockets


def ssl_context_from(options: ssl.SSLContext | dict[str, Any] | None) -> ssl.SSLContext | None:
    """Accept Tornado's ``ssl_options``: an ``SSLContext`` or a dict of wrap_socket keys."""
    if options is None or isinstance(options, ssl.SSLContext):
        return options
    known = {"certfile", "keyfile", "cert_reqs", "ca_certs", "ciphers"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown ssl_options keys: {sorted(unknown)}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if "certfile" in options:
        context.load_cert_chain(options["certfile"], options.get("keyfile"))
    if "cert_reqs" in options:
        context.verify_mode = options["cert_reqs"]
    if "ca_certs" in options:
        context.load_verify_locations(options["ca_certs"])
    if "ciphers" in options:
        context.set_ciphers(options["ciphers"])
    return context


class HTTPServer:
    """What ``listen`` returns: the bound sockets and ways to stop (``tornado.httpserver``)."""

    def __init__(self, engine: EngineServer, sockets: list[socket.socket]) -> None:
        self.engine = engine
        self.sockets = sockets
        self.started: asyncio.Future[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        return int(self.sockets[0].getsockname()[1])

    def url(self, path: str = "/", scheme: str = "http") -> str:
        """``scheme://host:port/path`` for this server's first socket (for tests and logs)."""
        host = self.sockets[0].getsockname()[0]
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        """Stop accepting new connections; open ones keep running (Tornado's ``stop``)."""
        self.engine.stop_accepting()

    async def shutdown(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        """Graceful shutdown: stop accepting, new requests get 503, every WebSocket is closed
        with 1001 "going away" (frames already written go first), ``on_close`` runs for each,
        and whatever has not finished after ``timeout`` seconds is dropped."""
        if self.started is not None:
            await self.started
        await self.engine.shutdown(timeout)

    close_all_connections = shutdown


def listen(
    application: Application,
    port: int,
    address: str | None = None,
    *,
    ssl_options: ssl.SSLContext | dict[str, Any] | None = None,
    xheaders: bool = False,
    reuse_port: bool = False,
    trusted_downstream: Iterable[str] = (),
    backlog: int = 128,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    **limits: Any,
) -> HTTPServer:
    """Bind ``port`` now and serve ``application`` on the current IOLoop.

    ``limits`` are the engine's: ``max_body_size``, ``max_header_size``, ``max_write_buffer``.
    """
    from tornado_ws_compat._engine.http import EngineServer

    context = ssl_context_from(ssl_options)
    sockets = bind_sockets(port, address, family=family, backlog=backlog, reuse_port=reuse_port)
    loop = IOLoop.current().asyncio_loop
    engine = EngineServer(
        application, xheaders=xheaders, trusted_downstream=trusted_downstream, **limits
    )
    server = HTTPServer(engine, sockets)
    if loop.is_running():
        server.started = asyncio.ensure_future(engine.start(sockets, context, backlog))
    else:
        loop.run_until_complete(engine.start(sockets, context, backlog))
    return server


async def serve(
    application: Application,
    port: int,
    address: str | None = None,
    *,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ready: Any = None,
    **kwargs: Any,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully and return.

    ``ready(server)`` is called once the sockets accept connections.
    """
    server = listen(application, port, address, **kwargs)
    if server.started is not None:
        await server.started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Linux
            pass
    if ready is not None:
        ready(server)
    try:
        await stop.wait()
        gen_log.info("Shutting down (pid %d)", os.getpid())
        await server.shutdown(shutdown_timeout)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
