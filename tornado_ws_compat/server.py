"""Listening: sockets bound at once, served by the engine on the current loop (uvloop if any).

``Application.listen`` calls :func:`listen`; it works before the loop runs (the legacy
``app.listen(8888)`` followed by ``IOLoop.current().start()``) and inside a coroutine.
:func:`serve` adds what a process needs: SIGTERM/SIGINT and a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tornado_ws_compat.errors import NotSupportedError
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.log import gen_log
from tornado_ws_compat.netutil import DEFAULT_BACKLOG, bind_sockets, ssl_options_to_context
from tornado_ws_compat.tcpserver import TCPServer

if TYPE_CHECKING:
    from tornado_ws_compat.web import Application

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "HTTPServer",
    "bind_sockets",
    "listen",
    "mount_in_aiohttp",
    "serve",
]

#: Seconds a graceful shutdown waits for WebSockets to finish their closing handshake.
DEFAULT_SHUTDOWN_TIMEOUT = 10.0


class HTTPServer(TCPServer):
    """Tornado's ``tornado.httpserver.HTTPServer``: serves an Application on sockets.

    ``HTTPServer(app, xheaders=True).listen(8888)``, ``bind(port)`` then ``start()``, or
    ``add_sockets(netutil.bind_sockets(...))``, as with Tornado 6.6.1; ``Application.listen``
    builds one too. Tornado's keywords map onto the engine: ``max_header_size``,
    ``max_body_size`` (``max_buffer_size`` when it is not given), ``no_keep_alive``,
    ``protocol``, ``decompress_request``, ``trusted_downstream``, ``ssl_options`` (a dict or an
    ``SSLContext``); ``idle_connection_timeout`` and ``body_timeout`` go to the engine's
    timeouts; ``chunk_size`` is accepted and unused (aiohttp reads in its own sizes). Other
    keywords are the engine's own limits (``max_write_buffer``, ``write_stall_timeout``).

    The request callback must be an ``Application``: Tornado's other callbacks (a function
    taking the request, an ``HTTPServerConnectionDelegate``) write through Tornado's
    ``HTTP1Connection``, which does not exist here, and raise ``NotSupportedError``.
    """

    def __init__(
        self,
        request_callback: Application,
        no_keep_alive: bool = False,
        xheaders: bool = False,
        ssl_options: ssl.SSLContext | dict[str, Any] | None = None,
        protocol: str | None = None,
        decompress_request: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        idle_connection_timeout: float | None = None,
        body_timeout: float | None = None,
        max_body_size: int | None = None,
        max_buffer_size: int | None = None,
        trusted_downstream: Iterable[str] | None = None,
        io_loop: Any = None,  # Tornado 4's, accepted and ignored: the current loop serves
        **engine_options: Any,
    ) -> None:
        from tornado_ws_compat._engine.http import EngineServer
        from tornado_ws_compat.web import Application

        if not isinstance(request_callback, Application):
            raise NotSupportedError(
                "HTTPServer: the request callback must be a tornado_ws_compat Application; "
                f"{request_callback!r} (a plain request callback or connection delegate) "
                "needs Tornado's HTTP1Connection, which this project does not provide"
            )
        # The TCPServer part: ssl_options checked as Tornado does, the sockets' bookkeeping.
        super().__init__(ssl_options, max_buffer_size)
        self.request_callback = request_callback
        self.xheaders = xheaders
        self.protocol = protocol
        self.trusted_downstream = trusted_downstream
        self._ssl_context = None if ssl_options is None else ssl_options_to_context(ssl_options)
        if max_body_size is None:
            max_body_size = max_buffer_size
        tornado_options = {
            "max_header_size": max_header_size,
            "max_body_size": max_body_size,
            "idle_connection_timeout": idle_connection_timeout,
            "body_timeout": body_timeout,
        }
        engine_options.update((k, v) for k, v in tornado_options.items() if v is not None)
        known = inspect.signature(EngineServer).parameters
        for name in engine_options:
            if name not in known:
                raise NotSupportedError(f"HTTPServer({name}=...) is not supported by the engine")
        self.engine = EngineServer(
            request_callback,
            xheaders=xheaders,
            trusted_downstream=trusted_downstream or (),
            no_keep_alive=no_keep_alive,
            protocol=protocol,
            decompress_request=decompress_request,
            **engine_options,
        )
        self.sockets: list[socket.socket] = []
        #: Resolves once every socket added so far accepts connections (set while the loop
        #: runs; ``None`` when the sockets were started synchronously).
        self.started: asyncio.Future[None] | None = None

    # ---- Tornado's TCPServer API: listen, bind + start, add_sockets from TCPServer ----

    def stop(self) -> None:
        """Stop accepting new connections and close the listening sockets; requests in
        progress and open WebSockets go on (Tornado's ``stop``)."""
        if self._stopped:
            return
        self._stopped = True
        self.engine.stop_accepting()
        for sockets, _backlog in self._pending_sockets:
            for sock in sockets:
                sock.close()
        self._pending_sockets = []

    async def close_all_connections(self) -> None:
        """Close every HTTP connection (idle or busy) and wait until they are gone.

        As in Tornado 6.6.1, open WebSockets are not closed: `shutdown` does that gracefully.
        Call `stop` first, so that no new connection arrives meanwhile.
        """
        if self.started is not None:
            await self.started
        await self.engine.close_http_connections()

    # ---- this project's additions ----

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        return int(self.sockets[0].getsockname()[1])

    def url(self, path: str = "/", scheme: str | None = None) -> str:
        """``scheme://host:port/path`` for this server's first socket (for tests and logs)."""
        if scheme is None:
            scheme = "http" if self._ssl_context is None else "https"
        host = self.sockets[0].getsockname()[0]
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}{path}"

    async def shutdown(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        """Graceful shutdown: stop accepting, new requests get 503, every WebSocket is closed
        with 1001 "going away" (frames already written go first), ``on_close`` runs for each,
        and whatever has not finished after ``timeout`` seconds is dropped."""
        if self.started is not None:
            await self.started
        self._stopped = True
        await self.engine.shutdown(timeout)

    def _add(self, sockets: list[socket.socket], backlog: int) -> None:
        if self._stopped:
            for sock in sockets:
                sock.close()
            raise RuntimeError("HTTPServer was stopped")
        self.sockets.extend(sockets)
        self._sockets.update((sock.fileno(), sock) for sock in sockets)
        loop = IOLoop.current().asyncio_loop
        if loop.is_running():
            self.started = asyncio.ensure_future(self._start(self.started, sockets, backlog))
        else:
            loop.run_until_complete(self._start(self.started, sockets, backlog))

    async def _start(
        self, previous: asyncio.Future[None] | None, sockets: list[socket.socket], backlog: int
    ) -> None:
        if previous is not None:
            await previous
        if self._stopped:  # stop() came before the loop got here
            for sock in sockets:
                sock.close()
            return
        await self.engine.start(sockets, self._ssl_context, backlog)


def listen(
    application: Application,
    port: int,
    address: str | None = None,
    *,
    ssl_options: ssl.SSLContext | dict[str, Any] | None = None,
    reuse_port: bool = False,
    backlog: int = DEFAULT_BACKLOG,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    flags: int | None = None,
    **server_options: Any,
) -> HTTPServer:
    """Bind ``port`` now and serve ``application`` on the current IOLoop.

    ``server_options`` are `HTTPServer`'s (``xheaders``, ``max_body_size``, ...), as
    ``Application.listen`` passes them in Tornado 6.6.1.
    """
    server = HTTPServer(application, ssl_options=ssl_options, **server_options)
    server.listen(
        port, address, family=family, backlog=backlog, flags=flags, reuse_port=reuse_port
    )
    return server


async def serve(
    application: Application,
    port: int,
    address: str | None = None,
    *,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ready: Any = None,
    sockets: list[socket.socket] | None = None,
    **kwargs: Any,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully and return.

    ``ready(server)`` is called once the sockets accept connections. ``sockets``, when given,
    are already bound (before a fork, say) and served instead of binding ``port``.
    """
    if sockets is None:
        server = listen(application, port, address, **kwargs)
    else:
        for bind_option in ("reuse_port", "backlog", "family", "flags"):
            kwargs.pop(bind_option, None)
        server = HTTPServer(application, **kwargs)
        server.add_sockets(sockets)
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


def mount_in_aiohttp(
    aiohttp_app: Any,
    application: Application | Iterable[Any],
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    **server_options: Any,
) -> Any:
    """Serve a Tornado-style ``Application`` (or a list of routes) inside an aiohttp
    ``web.Application``, beside its own views, on aiohttp's server.

    Only requests that the Application's routes match (path and host) go to the legacy
    handlers, with their full behaviour (upgrades, hooks, close codes); everything else goes
    through aiohttp's router. aiohttp views registered for the same paths take precedence.
    On aiohttp's shutdown the legacy WebSockets are closed with 1001 and their ``on_close``
    runs, within ``shutdown_timeout``. ``server_options`` are the engine's keywords
    (``xheaders``, ``max_body_size``, ``max_write_buffer``, ...). Call it before the aiohttp
    application starts; returns the aiohttp resource registered.
    """
    from tornado_ws_compat._engine.mount import mount

    return mount(aiohttp_app, application, shutdown_timeout, **server_options)
