"""HTTP on aiohttp's low-level server: requests to handlers, responses and upgrades back.

aiohttp parses HTTP/1.1; this module turns each request into an ``HTTPServerRequest``, runs the
matching handler's ``_execute`` (Tornado's order of checks), and sends what the handler wrote:
a plain response, a streamed one, or a 101 followed by a :class:`ServerConnection`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import socket
import ssl
import sys
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http import HttpRequestParser, HttpVersion10, HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.http_parser import RawRequestMessage
from aiohttp.http_writer import StreamWriter
from aiohttp.web_protocol import MAX_MSG_QUEUE_SIZE, RequestPayloadError
from aiohttp.web_protocol import RequestHandler as AiohttpProtocol
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server
from multidict import CIMultiDict

from tornado_ws_compat._engine.connection import (
    DEFAULT_MAX_WRITE_BUFFER,
    DEFAULT_WRITE_STALL_TIMEOUT,
    FrameGuard,
    ServerConnection,
    set_nodelay,
)
from tornado_ws_compat.errors import HTTPError, WebSocketClosedError
from tornado_ws_compat.extensions import negotiate_deflate
from tornado_ws_compat.httputil import (
    AddressSet,
    HTTPHeaders,
    HTTPServerRequest,
    RequestContext,
    headers_from_raw,
)
from tornado_ws_compat.ioloop import register_server
from tornado_ws_compat.log import app_log, gen_log
from tornado_ws_compat.websocket import WebSocketHandler

if TYPE_CHECKING:
    from tornado_ws_compat.lifecycle import WebSocketParams
    from tornado_ws_compat.web import Application, RequestHandler

__all__ = ["EngineServer"]

#: Largest request body read into memory (Tornado's HTTPServer ``max_body_size`` is 100 MiB;
#: the pages beside a socket need far less).
DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024
#: Largest request head: request line, header fields and the blank line together
#: (Tornado's ``max_header_size``, 64 KiB). A longer head closes the connection, as Tornado's.
DEFAULT_MAX_HEADER_SIZE = 65536
#: Seconds a connection has to send a complete request head: from accept for the first
#: request, from its first byte for each later one on a keep-alive connection.
DEFAULT_REQUEST_HEAD_TIMEOUT = 10.0
#: Seconds a keep-alive connection may stay idle between requests (Tornado's
#: ``idle_connection_timeout``; Tornado's default is 3600). 75 s is nginx's ``keepalive_timeout``
#: and outlasts the 60 s for which proxies keep idle upstream connections (nginx
#: ``keepalive_timeout`` in an upstream block, AWS ALB), so the proxy closes first and never
#: reuses a connection this server is closing. Behind a proxy that keeps them longer, raise it.
DEFAULT_IDLE_CONNECTION_TIMEOUT = 75.0
#: A deadline that expires while bytes wait unread in the socket (the loop was busy) is judged
#: again after this delay, once the loop has read them; at most this many times.
_RECHECK_DELAY = 0.001
_RECHECKS = 10
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNSET = object()  # a context variable with no value
_VERSIONS = {HttpVersion11: "HTTP/1.1", HttpVersion10: "HTTP/1.0"}


class _HandedOver(web.StreamResponse):
    """What aiohttp's request loop gets back for an upgraded request: the 101 is out already
    and the connection belongs to the WebSocket, so there is nothing to prepare or finish."""

    async def prepare(self, request: BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


class _BadRequest(web.StreamResponse):
    """Tornado 6.6.1's answer to a malformed request (tornado.http1connection): the status
    line alone, ``HTTP/1.1 400 Bad Request`` and an empty head, whatever the request's
    version, then the connection closed."""

    async def prepare(self, request: BaseRequest) -> None:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def _bad_request() -> _BadRequest:
    refusal = _BadRequest(status=400)
    refusal.force_close()  # aiohttp's loop then closes the connection
    return refusal


async def _write_tornado_head(self: web.StreamResponse) -> None:
    """aiohttp's ``_write_headers`` with Tornado 6.6.1's head for an HTTP/1.0 request
    (tornado.http1connection): the status line says HTTP/1.1, the server's own version
    (RFC 9110 section 2.5), and a connection kept alive is told ``Connection: Keep-Alive``."""
    request = self._req
    writer = self._payload_writer
    if request is None or writer is None or request.version != HttpVersion10:
        await web.StreamResponse._write_headers(self)
        return
    headers = self._headers
    if headers.get("Connection") == "keep-alive":  # (aiohttp's: the connection is kept)
        headers["Connection"] = "Keep-Alive"
    await writer.write_headers(f"HTTP/1.1 {self._status} {self._reason}", headers)
    if self._send_headers_immediately:
        writer.send_headers()


class _Response(web.Response):
    """A whole response, with Tornado's head (see _write_tornado_head)."""

    _write_headers = _write_tornado_head


class _StreamResponse(web.StreamResponse):
    """A response written in parts, with Tornado's head (see _write_tornado_head)."""

    _write_headers = _write_tornado_head


class _UpgradeResponse(web.StreamResponse):
    # As aiohttp's WebSocketResponse: a 101 has no body, so no length or chunking.
    _length_check = False


# aiohttp's defaults for its per-connection protocol (its parser's among them).
_PROTOCOL_DEFAULTS: Final = inspect.signature(AiohttpProtocol.__init__).parameters

_HANDED_OVER = _HandedOver(status=101)
_HANDED_OVER.force_close()  # aiohttp's loop then ends with this request


def _switching_protocols(headers: HTTPHeaders) -> bytes:
    """The 101 response head: the handler's headers as they are (RFC 9110 section 15.2.2;
    a 1xx response has no content, so no length or transfer coding is added)."""
    # One f-string per line: str.format parses its template at every call.
    lines = [
        f"{name}: {value}\r\n" for name, values in headers._values.items() for value in values
    ]
    return f"HTTP/1.1 101 Switching Protocols\r\n{''.join(lines)}\r\n".encode()


def _single(values: list[str] | None) -> str | None:
    """A header's value as ``HTTPHeaders.get`` gives it, from its list of values."""
    return None if values is None else ",".join(values)


def _consumed_encoding(headers: HTTPHeaders) -> None:
    """A gzip body that aiohttp decompressed (``decompress_request``): its encoding moves to
    ``X-Consumed-Content-Encoding``, as Tornado 6.6.1's ``_GzipMessageDelegate`` moves it."""
    encoding = headers["Content-Encoding"]
    if encoding.lower() == "gzip":
        headers.add("X-Consumed-Content-Encoding", encoding)
        del headers["Content-Encoding"]


def _aiohttp_headers(headers: HTTPHeaders) -> CIMultiDict[str]:
    return CIMultiDict(headers.get_all())


class _Resume:
    """Awaiting this goes on with a coroutine whose first step ran before the awaiting task's
    first step (see ``EngineServer._first_step``, with that task current): what the coroutine
    waits on is handed to the task, which runs the later steps (in its context, the one the
    first step ran in)."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self._coro = coro
        self._waiting = waiting

    def __await__(self) -> Generator[Any, None, Any]:
        coro, waiting = self._coro, self._waiting
        while True:
            try:
                yield waiting  # a future (or None: a bare yield), as the coroutine yielded it
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # the task is cancelled: the coroutine is told so
                step: Any = coro.throw
                value: Any = exc
            else:
                step, value = coro.send, None
            try:
                waiting = step(value)
            except StopIteration as stop:
                return stop.value


class _EarlyRequest:
    """A request head as the first step of ``EngineServer.handshake_now`` (or
    ``upgrade_at_once``) sees it: what the engine reads of aiohttp's ``BaseRequest`` for a
    GET without a body, without building one. The ``BaseRequest`` is built when something
    needs it (a streamed response), or when aiohttp's request loop takes the request up;
    both get the same one."""

    __slots__ = (
        "_loop",
        "_message",
        "_payload",
        "_protocol",
        "_task",
        "outcome",
        "protocol",
        "real",
        "rest",
        "unclaimed",
    )

    method = "GET"

    def __init__(
        self, protocol: _Protocol, message: RawRequestMessage, payload: Any, task: Any
    ) -> None:
        self.protocol = self._protocol = protocol
        self._message = message
        self._payload = payload
        self._task = task
        self._loop = protocol._loop
        self.real: BaseRequest | None = None
        # What aiohttp's request loop is to get for it (see EngineServer.handle): the
        # response, the exception, or the handshake's task when it did not end at once.
        self.outcome: Any = None
        # The rest of a handshake that waits, for its task (see _rest_of_handshake).
        self.rest: _Resume | None = None
        # Why no request loop awaits the handshake's task (see unclaim), or "".
        self.unclaimed = ""

    @property
    def transport(self) -> asyncio.Transport | None:
        return self.protocol.transport

    @property
    def headers(self) -> Any:
        return self._message.headers

    @property
    def secure(self) -> bool:  # as aiohttp's: https when the connection has TLS
        protocol = self.protocol
        # (The transport is asked only when a listener of this server has TLS.)
        return protocol._engine.tls and bool(protocol.ssl_context)

    @property
    def remote(self) -> str | None:  # as aiohttp's BaseRequest.remote, without building it
        transport = self.protocol.transport
        peer = None if transport is None else transport.get_extra_info("peername")
        if peer is None:
            return None
        return str(peer[0]) if isinstance(peer, (list, tuple)) else str(peer)

    def taken_up(self, message: Any, payload: Any, task: Any) -> None:
        """aiohttp's request loop is to take this request up as ``message``: the same head,
        parsed again by the protocol that woke after the first step (see _Protocol)."""
        self._message = message
        self._payload = payload
        self._task = task

    def unclaim(self, why: str) -> None:
        """No request loop is to await this handshake's task: it goes on to its end by
        itself, and an exception it ends with is logged (as ``why``)."""
        task = self.outcome
        self.unclaimed = why
        if task.done():
            _log_unclaimed(self, task)
        else:
            _UNCLAIMED.add(task)
            task.add_done_callback(functools.partial(_log_unclaimed, self))

    def full(self) -> BaseRequest:
        """aiohttp's request for this head (built once)."""
        if self.real is None:
            protocol = self.protocol
            self.real = protocol._engine._server.build_request(  # type: ignore[union-attr]
                self._message,
                self._payload,
                protocol,
                StreamWriter(protocol, self._loop),
                self._task,
            )
        return self.real


async def _rest_of_handshake(request: _EarlyRequest) -> Any:
    """The body of a handshake's own task (see ``EngineServer._first_step``): the task was
    current while the handshake's first step ran, so what that step saw of its task (a
    timeout entered, ``asyncio.current_task()``) is the task that runs the rest, as in
    Tornado 6.6.1, where the hooks from ``prepare`` to ``open`` are steps of one coroutine.
    The task's own first step comes after that first step: it has nothing to do when the
    handshake ended there."""
    rest = request.rest
    if rest is None:
        return None
    request.rest = None
    return await rest


# Handshakes' tasks that no request loop awaits, referenced until done (the loop holds weak
# references to tasks).
_UNCLAIMED: set[asyncio.Task[Any]] = set()


def _log_unclaimed(request: _EarlyRequest, task: asyncio.Task[Any]) -> None:
    """Log how a handshake ended that no request loop awaits (its connection was lost, or
    it upgraded without aiohttp's protocol): as aiohttp logs a request task's exception."""
    _UNCLAIMED.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        app_log.error("Exception in a handshake %s", request.unclaimed, exc_info=exc)


class _ClosedView:
    """The part of Tornado's IOStream a request handler may ask about: ``closed()``, and
    ``socket`` (programs read the peer's port or set socket options through it)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: _RequestConnection) -> None:
        self._connection = connection

    def closed(self) -> bool:
        transport = self._connection.transport
        return transport is None or transport.is_closing()

    @property
    def socket(self) -> socket.socket | None:
        """The connection's socket (None once it is closed), as the WebSocket's stream."""
        transport = self._connection.transport
        if transport is None or transport.is_closing():
            return None
        sock: socket.socket | None = transport.get_extra_info("socket")
        return sock


def _unread_bytes(transport: asyncio.BaseTransport) -> int:
    """Bytes the kernel holds for this connection that the loop has not read yet."""
    if sys.platform == "win32" or not transport.is_reading():  # type: ignore[attr-defined]
        return 0
    import fcntl
    import termios

    sock = transport.get_extra_info("socket")
    try:
        answer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (AttributeError, OSError, ValueError):
        return 0
    return int.from_bytes(answer, sys.byteorder)


def _head_size(message: object) -> int:
    """The size of a parsed request head as sent without optional whitespace (a lower bound):
    request line, ``name: value`` lines and the blank line (RFC 9112 sections 2.1, 3, 5)."""
    if not isinstance(message, RawRequestMessage):
        return 0
    size = len(message.method) + len(message.path) + len(" HTTP/1.1\r\n\r\n") + 1
    for name, value in message.raw_headers:
        size += len(name) + len(value) + 4
    return size


class _Unset:
    """No close callback was chosen (None is a choice: nothing is called)."""


_NO_CHOICE = _Unset()


class _RequestConnection:
    """The engine's side of one request: implements ``httputil.RequestConnection``."""

    __slots__ = (
        "_close_callback",
        "_context",
        "_finished",
        "_last_write",
        "_loop",
        "_request",
        "_server",
        "_stream",
        "_upgraded",
        "done",
        "handler",
        "response",
        "websocket",
    )

    def __init__(self, server: EngineServer, request: BaseRequest) -> None:
        self._server = server
        # What a client's leaving calls: the handler's on_connection_close unless the
        # program chose another callback (or None) with set_close_callback.
        self._close_callback: Callable[[], object] | _Unset | None = _NO_CHOICE
        # The context variables as the request found them, before any hook ran.
        self._context = contextvars.copy_context()
        self._request: BaseRequest | None = request
        # The transport, once a WebSocket owns it (the aiohttp request is released then).
        self._upgraded: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop = request._loop
        self.response: web.StreamResponse | None = None
        self._stream: web.StreamResponse | None = None
        self._last_write: asyncio.Future[None] | None = None
        self.done = False
        self._finished: asyncio.Future[None] | None = None
        self.handler: RequestHandler | None = None
        self.websocket: ServerConnection | None = None

    @property
    def stream(self) -> _ClosedView:
        """``request.connection.stream.closed()``, which Tornado 2.x-4.x long-polling
        handlers check before finishing (Tornado's own chat demo does)."""
        return _ClosedView(self)

    @property
    def context(self) -> RequestContext:
        """Tornado's ``request.connection.context``: the peer's address, IP and scheme
        (built when asked for: few programs read it). Not the ``xheaders`` ones, which are
        the request's: Tornado 6.6.1 applies them to the context only while it reads the
        request and undoes that before the handler runs."""
        transport = self.transport
        address: Any = None if transport is None else transport.get_extra_info("peername")
        sock = None if transport is None else transport.get_extra_info("socket")
        family = None if sock is None else int(sock.family)
        inet = family in (socket.AF_INET, socket.AF_INET6) and address is not None
        remote_ip = address[0] if inet else "0.0.0.0"
        tls = transport is not None and transport.get_extra_info("sslcontext") is not None
        protocol = "https" if tls else "http"
        trusted = set(self._server.trusted_downstream)
        return RequestContext(address, family, remote_ip, protocol, trusted, remote_ip, protocol)

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport (None once it is gone)."""
        if self._upgraded is not None:
            return self._upgraded
        request = self._request
        return None if request is None else request.transport

    def _aiohttp_request(self) -> BaseRequest:
        request = self._request
        if request is None:  # after a WebSocket upgrade: no more HTTP on this connection
            raise WebSocketClosedError()
        return request

    def write(
        self, status: int, reason: str, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> asyncio.Future[None]:
        if finishing and self._stream is None and self._last_write is None:
            self.response = _Response(
                status=status, reason=reason, headers=_aiohttp_headers(headers), body=chunk
            )
            done: asyncio.Future[None] = self._loop.create_future()
            done.set_result(None)
            self._finish()
            return done
        previous = self._last_write
        task = self._loop.create_task(
            self._write_stream(previous, status, reason, headers, chunk, finishing)
        )
        self._last_write = task
        if finishing:
            task.add_done_callback(lambda _: self._finish())
        return task

    async def _write_stream(
        self,
        previous: asyncio.Future[None] | None,
        status: int,
        reason: str,
        headers: HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> None:
        if previous is not None:
            await previous
        try:
            if self._stream is None:
                self._stream = _StreamResponse(
                    status=status, reason=reason, headers=_aiohttp_headers(headers)
                )
                request = self._aiohttp_request()
                if isinstance(request, _EarlyRequest):
                    request = self._request = request.full()
                await self._stream.prepare(request)
                self.response = self._stream
            if chunk:
                await self._stream.write(chunk)
            if finishing:
                await self._stream.write_eof()
        except (ConnectionError, RuntimeError) as exc:
            raise WebSocketClosedError() from exc

    def _finish(self) -> None:
        self.done = True
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(None)

    def set_max_body_size(self, max_body_size: int) -> None:
        """Tornado's per-request body limit (HTTP1Connection, Tornado 4.0), which a
        ``stream_request_body`` handler raises in ``prepare``. The engine has read the whole
        body under the server's ``max_body_size`` before any handler code runs, so nothing of
        this body is left for the new limit to judge: a body that fits the server's limit is
        delivered, as Tornado delivers one under a raised limit."""

    def set_body_timeout(self, timeout: float) -> None:
        """Tornado's per-request body timeout (HTTP1Connection, Tornado 4.0). The body was
        read, under the server's ``body_timeout``, before the handler ran: no read is left
        for this timeout to bound."""

    def set_close_callback(self, callback: Callable[[], object] | None) -> None:
        """Call ``callback`` instead of the handler's ``on_connection_close`` if the client
        leaves before the response is finished (Tornado's HTTP1Connection has one such
        callback, which RequestHandler sets to its on_connection_close); None: nothing."""
        self._close_callback = callback

    def finished(self) -> asyncio.Future[None]:
        """Resolves when the response has been finished (or the client went away)."""
        if self._finished is None:
            self._finished = self._loop.create_future()
            if self.done:
                self._finished.set_result(None)
        return self._finished

    def connection_lost(self) -> None:
        """The client went away before the response finished (long-lived requests)."""
        self._finish()
        handler = self.handler
        # A WebSocket handler that has not opened has nothing to close: its on_close pairs
        # with open. After the upgrade the WebSocket connection reports the loss itself.
        if (
            handler is not None
            and self.websocket is None
            and not isinstance(handler, WebSocketHandler)
        ):
            callback = self._close_callback
            self._close_callback = None
            if isinstance(callback, _Unset):
                callback = handler.on_connection_close
            try:
                if callback is not None:
                    callback()
            except Exception:
                app_log.error("Exception in on_connection_close", exc_info=True)

    async def accept_websocket(
        self, handler: WebSocketHandler, headers: HTTPHeaders, params: WebSocketParams
    ) -> ServerConnection:
        request = self._aiohttp_request()
        agreement = None
        if params.compression_options is not None:
            agreement = negotiate_deflate(request.headers.get("Sec-WebSocket-Extensions"))
            if agreement is not None:
                headers["Sec-WebSocket-Extensions"] = agreement.response
        head = None
        if isinstance(request, web.Request):
            # Mounted in an aiohttp application (mount.py): aiohttp writes the 101, so that
            # the application's on_response_prepare signals see it as they see every answer.
            response: web.StreamResponse = _UpgradeResponse(
                status=101, headers=_aiohttp_headers(headers)
            )
            response.force_close()
            await response.prepare(request)
        else:
            head = _switching_protocols(headers)
            response = _HANDED_OVER
        protocol = request.protocol
        transport = protocol.transport
        if transport is None or transport.is_closing():
            raise WebSocketClosedError()
        self.response = response
        # From here the WebSocket owns the transport: its bytes go to a small protocol of
        # its own, and aiohttp's HTTP protocol (parser, queues, timers, the tasks of this
        # request) ends with this request instead of living as long as the socket.
        ws_protocol = _WebSocketProtocol(self._loop, transport, self._server)
        # The connection (and its FrameGuard) first: uvloop looks the protocol's
        # data_received up once, in set_protocol, and it must be the FrameGuard's.
        connection = ServerConnection(
            handler,
            ws_protocol,
            transport,
            params,
            agreement,
            _single(headers._values.get("Sec-Websocket-Protocol")),
            max_write_buffer=self._server.max_write_buffer,
            write_stall_timeout=self._server.write_stall_timeout,
        )
        ws_protocol.attach(connection)
        ws_protocol._paused = protocol._paused
        reading_paused = protocol._reading_paused or protocol._buffer_paused
        tail, protocol._message_tail = protocol._message_tail, b""
        # A protocol that never woke (see _Protocol) has no idle timer and no request task:
        # the manager merely forgets it.
        asleep = getattr(protocol, "_state", _AWAKE) == _ASLEEP
        if not asleep:
            protocol.keep_alive(False)
        transport.set_protocol(ws_protocol)
        protocol.transport = None  # so that aiohttp neither writes to it nor closes it
        protocol._parser = None  # no more HTTP here (and not a declined upgrade to undo)
        if head is not None:
            transport.write(head)
        manager = protocol._manager
        if manager is not None:
            if asleep:
                manager._connections.pop(protocol, None)
            else:
                Server.connection_lost(manager, protocol)  # aiohttp's bookkeeping only
        self._upgraded = transport
        self.websocket = connection
        self._server.websockets.add(connection)
        if reading_paused:
            ws_protocol._resume_transport_reading()
        if tail:  # frames that came with (or right after) the request
            ws_protocol.data_received(tail)
        self._finish()
        return connection

    def websocket_opened(self) -> None:
        # Tornado 6.6.1 runs a WebSocket's whole life in the coroutine that ran prepare and
        # open, so what they set in context variables (PEP 567) is what on_message and on_close
        # see, and what each hook sets the next sees. Here the socket's callbacks run outside
        # the request's task: when the handshake set any variable, the connection's callbacks
        # and tasks run in one context of their own, a copy of the handshake's. When it set
        # none (the usual case), nothing changes and nothing is paid per read.
        before = self._context
        after = contextvars.copy_context()
        if len(after) == len(before) and (
            not after or all(before.get(var, _UNSET) is value for var, value in after.items())
        ):
            return
        websocket = self.websocket
        if websocket is not None and isinstance(websocket._protocol, _WebSocketProtocol):
            websocket.context = after
            websocket._protocol.run_in(after)

    def release_request(self) -> None:
        """The request is over and a WebSocket owns the connection: let aiohttp's request,
        response and protocol go (``request.connection`` stays, for ``stream.closed()``)."""
        self._request = None
        self.response = None
        self._stream = None

    def set_nodelay(self, value: bool) -> None:
        set_nodelay(self.transport, value)


def _drop_data(data: bytes) -> None:
    """The protocol's data_received while no FrameGuard takes the bytes."""


class _WebSocketProtocol(BaseProtocol):
    """The transport's protocol once a WebSocket is accepted: what the socket delivers goes
    straight to the connection's frame parser (:class:`FrameGuard`). Flow control (pausing
    reads, waiting for drains) is aiohttp's ``BaseProtocol``, which the reader expects."""

    # data_received is the FrameGuard's feed_data itself once attached (no call in between).
    __slots__ = ("_context", "_engine", "connection", "data_received", "frames")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, engine: EngineServer
    ) -> None:
        super().__init__(loop)
        self._upgraded = True  # no HTTP parser to pause or resume (BaseProtocol)
        self.transport = transport
        self._engine = engine
        self.frames: FrameGuard | None = None
        self.connection: ServerConnection | None = None
        self._context: contextvars.Context | None = None
        # An attribute where asyncio.Protocol has a method: the transport calls it as one.
        self.data_received: Callable[[bytes], None] = _drop_data  # type: ignore[assignment]

    def attach(self, connection: ServerConnection) -> None:
        """What the socket delivers goes to ``connection``'s FrameGuard (before the
        transport's set_protocol, which uvloop reads data_received in)."""
        self.connection = connection
        self.frames = connection.parser
        self.data_received = connection.parser.feed_data

    def run_in(self, context: contextvars.Context) -> None:
        """Run the socket's callbacks in ``context`` from now on (see
        ``_RequestConnection.websocket_opened``)."""
        transport, frames = self.transport, self.frames
        if transport is None or frames is None:  # gone already: on_close has run
            return
        self._context = context
        run: Callable[..., None] = context.run
        self.data_received = functools.partial(run, frames.feed_data)
        transport.set_protocol(self)  # uvloop reads data_received in set_protocol

    def eof_received(self) -> bool:
        # The peer half-closed: keep our side open so that replies to what it sent before
        # its FIN still go out; the connection then closes itself.
        if self._context is not None:
            return self._context.run(self._peer_eof)
        return self._peer_eof()

    def _peer_eof(self) -> bool:
        if self.frames is not None:
            self.frames.feed_peer_eof()
        return True

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._context is not None:
            self._context.run(self._lost, exc)
        else:
            self._lost(exc)

    def _lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)  # wakes a writer waiting for a drain
        self.data_received = _drop_data
        frames, self.frames = self.frames, None
        if frames is not None:
            frames.feed_eof()
        connection, self.connection = self.connection, None
        if connection is not None:
            self._engine.websocket_lost(connection)


class _HeadLimit:
    """aiohttp's HTTP parser, with the limits on request heads: ``max_header_size`` bytes and
    ``request_head_timeout`` seconds. It sees only HTTP bytes: a WebSocket's frames go to
    the frame parser, so this adds nothing per message.
    """

    __slots__ = ("_body", "_head_bytes", "_parser", "_protocol")

    def __init__(self, parser: Any, protocol: _Protocol) -> None:
        self._parser = parser
        self._protocol = protocol
        # Bytes of the request head in progress, and the body being received (if any).
        self._head_bytes = 0
        self._body: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)

    def message_consumed(self) -> None:  # once per request: without __getattr__'s detour
        self._parser.message_consumed()

    def feed_data(self, data: bytes) -> Any:
        body = self._body
        in_body = body is not None and not body.is_eof()
        protocol = self._protocol
        engine = protocol._engine
        try:
            result = self._parser.feed_data(data)
        except LineTooLong:
            # With the default line limit (the head's), a line that long is a head over the
            # limit: closed without an answer, as Tornado does. A smaller limit set on
            # purpose keeps aiohttp's 400.
            if engine.line_size == engine.max_header_size:
                return self._refuse()
            engine.head_done(protocol)
            raise
        except HttpProcessingError:
            engine.head_done(protocol)
            raise
        messages = result[0]
        if messages:
            # Heads completed in this read. Bytes of a next, unfinished head in the same read
            # are not counted: the cap is exact to within one read.
            limit = engine.max_header_size
            if self._head_bytes + len(data) > limit:
                if any(_head_size(message) > limit for message, _ in messages):
                    return self._refuse()
            self._head_bytes = 0
            self._body = messages[-1][1]
            engine.head_done(protocol)
        elif data and not in_body:
            if not self._head_bytes and protocol not in engine.awaiting_head:
                engine.expect_request_head(protocol)  # a keep-alive request's first byte
            self._head_bytes += len(data)
            if self._head_bytes > engine.max_header_size:
                return self._refuse()
        return result

    def _refuse(self) -> tuple[tuple[()], bool, bytes]:
        # Tornado 6.6.1 closes a connection whose head exceeds max_header_size without an
        # answer (its iostream's "Unsatisfiable read"); so do we, with one line.
        protocol = self._protocol
        transport = protocol.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        limit = protocol._engine.max_header_size
        gen_log.info("Closing connection from %s: request head larger than %d bytes", peer, limit)
        protocol._engine.head_done(protocol)
        protocol.force_close()
        return (), False, b""


class _NoSecondNodelay(BaseProtocol):
    """aiohttp's ``BaseProtocol.connection_made`` minus its ``TCP_NODELAY``: asyncio's and
    uvloop's TCP transports set that option on every connection already, and aiohttp's second
    setting costs three system calls per connection (two getsockname, one setsockopt) and a
    socket object. Placed between aiohttp's protocol and ``BaseProtocol`` in the MRO."""

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]


# The states of a connection's aiohttp protocol (see _Protocol).
_AWAKE: Final = 0
_WAKING: Final = 1
_ASLEEP: Final = 2


class _Protocol(AiohttpProtocol, _NoSecondNodelay):
    """aiohttp's per-connection protocol, with Tornado's answer to malformed requests and the
    limits on request heads (:class:`_HeadLimit`).

    It starts asleep (when the server's idle timeout is not shorter than its head timeout,
    see ``EngineServer.wake_late``): aiohttp's setup (its parser, its request loop's task,
    its idle timer) waits for the connection's first read. A read that is a whole WebSocket
    upgrade request runs the handshake at once (``EngineServer.upgrade_at_once``) and most
    WebSockets never need aiohttp's protocol; anything else wakes it first, and aiohttp
    then sees the connection as it would have from accept (the server registered it and the
    request head's deadline runs from accept). Whatever else reaches an asleep protocol
    (the connection lost, closed or shut down before a byte came) wakes it too.
    """

    __slots__ = ("_engine", "_state")

    def __init__(self, engine: EngineServer, manager: _Server) -> None:
        self._engine = engine
        if engine.wake_late:
            self._state = _ASLEEP
            # What is read of a protocol before it wakes: by the manager, the head's
            # deadline, a handshake that upgrades at once (accept_websocket, ssl_context).
            self._manager = manager
            self._loop = manager._loop
            self.transport = None
            self._paused = self._reading_paused = self._buffer_paused = False
            self._request_in_progress = False
            self._keepalive_handle = None
            self._task_handler = None
            self._message_tail = b""
            self._parser = None
            self._cache = {}
            return
        self._state = _AWAKE
        super().__init__(manager, loop=manager._loop, **manager._kwargs)
        self._parser = _HeadLimit(self._parser, self)  # type: ignore[assignment]

    def _wake(self) -> None:
        """Set aiohttp's protocol up as it would have been at accept (the manager has the
        connection already: _Server.connection_made passes while it wakes)."""
        transport = self.transport
        self._state = _WAKING
        manager = self._manager
        assert manager is not None
        AiohttpProtocol.__init__(self, manager, loop=self._loop, **manager._kwargs)
        self._parser = _HeadLimit(self._parser, self)  # type: ignore[assignment]
        if transport is not None:
            AiohttpProtocol.connection_made(self, transport)
        self._state = _AWAKE

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._state:
            self.transport = transport  # type: ignore[assignment]
            manager = self._manager
            assert manager is not None
            manager.connection_made(self, transport)  # type: ignore[arg-type]
            return
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        engine = self._engine
        if self._state:  # the connection's first read
            if engine.upgrade_at_once(self, data):
                return
            if self._state:  # (not woken by the handshake's first step)
                self._wake()
        super().data_received(data)
        # A WebSocket upgrade as the connection's first request, just queued for aiohttp's
        # request loop (which has handled nothing yet): run the handshake now rather than in
        # a task of its own (EngineServer.handshake_now).
        if self._upgraded and self._request_count == 1 and len(self._messages) == 1:
            early = engine.early.get(self)
            if early is None:
                engine.handshake_now(self)
            elif early._message is not self._messages[0][0]:
                # Begun by upgrade_at_once before this protocol woke: aiohttp has parsed
                # the same head again, and takes the request up as that one.
                early.taken_up(*self._messages[0], self._task_handler)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._state:
            self._wake()
        super().connection_lost(exc)

    def close(self) -> None:
        if self._state:
            self._wake()
        super().close()

    def force_close(self) -> None:
        if self._state:
            self._wake()
        super().force_close()

    async def shutdown(self, timeout: float | None = 15.0) -> None:
        if self._state:
            self._wake()
            # Its request loop waits for a request first, as it would have since accept
            # (aiohttp's shutdown then waits for one until the timeout, as for any idle
            # connection).
            await asyncio.sleep(0)
        await super().shutdown(timeout)

    def _process_keepalive(self) -> None:
        # aiohttp's idle timer. After a long stall of the loop a request may wait unread in
        # the socket: read it first, then judge (issue 10, point 9).
        transport = self.transport
        if transport is not None and _unread_bytes(transport):
            self._keepalive_handle = self._loop.call_later(_RECHECK_DELAY, self._process_keepalive)
            return
        super()._process_keepalive()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status == 400 and isinstance(exc, HttpProcessingError):
            # A client error, not ours: one line, no traceback, and a bare 400 as
            # tornado.http1connection answers "Malformed HTTP message".
            gen_log.info("Malformed HTTP message from %s: %s", request.remote, exc.message)
            return _bad_request()
        return super().handle_error(request, status, exc, message)


class _Server(Server):
    """aiohttp's server, told when a connection ends so the handler can be too."""

    def __call__(self) -> AiohttpProtocol:
        # (aiohttp's protocol is given loop=self._loop and self._kwargs when it is set up.)
        return _Protocol(self.engine, self)

    def __init__(self, engine: EngineServer, **kwargs: Any) -> None:
        super().__init__(engine.handle, request_factory=self._make_limited_request, **kwargs)
        self.engine = engine

    def _make_limited_request(
        self,
        message: Any,
        payload: Any,
        protocol: AiohttpProtocol,
        writer: Any,
        task: asyncio.Task[None],
    ) -> BaseRequest:
        early = self.engine.early.get(protocol)
        if early is not None and early._message is message:
            return early.full()  # the request handshake_now began
        return self.build_request(message, payload, protocol, writer, task)

    def build_request(
        self,
        message: Any,
        payload: Any,
        protocol: AiohttpProtocol,
        writer: Any,
        task: asyncio.Task[None],
    ) -> BaseRequest:
        # aiohttp's default body limit is 1 MiB; ours is the engine's max_body_size.
        return BaseRequest(
            message,
            payload,
            protocol,
            writer,
            task,
            self._loop,
            client_max_size=self.engine.max_body_size,
        )

    def connection_made(self, handler: AiohttpProtocol, transport: asyncio.Transport) -> None:
        if handler._state == _WAKING:  # type: ignore[attr-defined]
            return  # registered, its head's deadline running, since accept
        super().connection_made(handler, transport)
        self.engine.expect_request_head(handler)

    def connection_lost(self, handler: AiohttpProtocol, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self.engine.head_done(handler)
        pending = self.engine.pending.pop(handler, None)
        if pending is not None:
            pending.connection_lost()
        early = self.engine.early.pop(handler, None)
        if early is not None and isinstance(early.outcome, asyncio.Task):
            # A handshake begun in handshake_now that aiohttp will not take up now: it goes
            # on to its end in its task, as a request's task would.
            early.unclaim("whose connection was lost")
        closing = self.engine.closing.pop(handler, None)
        if closing is not None and not closing.done():
            closing.set_result(None)


class EngineServer:
    """Serves one :class:`~tornado_ws_compat.web.Application` on listening sockets."""

    def __init__(
        self,
        application: Application,
        *,
        xheaders: bool = False,
        trusted_downstream: Iterable[str] = (),
        forwarded_allow_ips: Iterable[str] | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_header_size: int | None = DEFAULT_MAX_HEADER_SIZE,
        max_header_line_size: int | None = None,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
        write_stall_timeout: float = DEFAULT_WRITE_STALL_TIMEOUT,
        request_head_timeout: float = DEFAULT_REQUEST_HEAD_TIMEOUT,
        no_keep_alive: bool = False,
        protocol: str | None = None,
        decompress_request: bool = False,
        idle_connection_timeout: float | None = DEFAULT_IDLE_CONNECTION_TIMEOUT,
        body_timeout: float | None = None,
    ) -> None:
        self.application = application
        self.no_keep_alive = no_keep_alive
        self.protocol = protocol
        # None means the default, as in Tornado's HTTPServer.
        self.max_header_size = max_header_size or DEFAULT_MAX_HEADER_SIZE
        self.request_head_timeout = request_head_timeout
        # Seconds to receive a request body (Tornado's body_timeout; None: no limit, its default).
        self.body_timeout = body_timeout
        self.decompress_request = decompress_request
        # Connections whose request head is incomplete, with their deadline, oldest first;
        # one timer sweeps them (no timer per connection).
        self.awaiting_head: dict[AiohttpProtocol, float] = {}
        # Deadlines that expired while bytes waited unread: judged again once read.
        self.late_heads: dict[AiohttpProtocol, int] = {}
        self._head_sweep: asyncio.TimerHandle | None = None
        self._late_sweep: asyncio.TimerHandle | None = None
        self.xheaders = xheaders
        self.trusted_downstream = set(trusted_downstream)
        # With xheaders, whose X-Real-Ip/X-Forwarded-For/X-Scheme are believed: None is
        # Tornado's rule (every peer's); a list keeps them to the proxies it names (as
        # uvicorn's forwarded_allow_ips), so a direct client cannot fake its IP or https.
        self.forwarded_allow = (
            None if forwarded_allow_ips is None else AddressSet(forwarded_allow_ips)
        )
        self.max_body_size = max_body_size
        self.max_write_buffer = max_write_buffer
        self.write_stall_timeout = write_stall_timeout
        self.websockets: set[ServerConnection] = set()
        self.pending: dict[AiohttpProtocol, _RequestConnection] = {}
        # Requests whose handshake began in handshake_now or upgrade_at_once and did not end
        # in that first step (nor upgrade in it): their request, and what to give aiohttp's
        # request loop for it (see handle).
        self.early: dict[AiohttpProtocol, _EarlyRequest] = {}
        self.shutting_down = False
        # aiohttp's parser limits each line; by default to the whole head's size, so that, as
        # in Tornado, only the total counts (a longer line is answered with a bare 400).
        line_size = min(max_header_line_size or self.max_header_size, self.max_header_size)
        self.line_size = line_size
        self._server_options: dict[str, Any] = {
            "access_log": None,
            # Tornado 6.6.1 does not set SO_KEEPALIVE on accepted connections (one system
            # call per connection saved); idle WebSockets find dead peers by their pings.
            "tcp_keepalive": False,
            "keepalive_timeout": idle_connection_timeout or DEFAULT_IDLE_CONNECTION_TIMEOUT,
            "max_line_size": line_size,
            "max_field_size": line_size,
            # Tornado's HTTPServer hands gzip bodies over as sent unless decompress_request.
            "auto_decompress": decompress_request,
        }
        # A connection's aiohttp protocol may wait for its first read to be set up (see
        # _Protocol) unless aiohttp's idle timer, which it starts, could end a connection
        # before the request head's deadline does.
        self.wake_late = self._server_options["keepalive_timeout"] >= request_head_timeout
        # The parser aiohttp's protocol would make, for the reads upgrade_at_once parses.
        defaults = _PROTOCOL_DEFAULTS
        self._parser_limit: int = defaults["read_bufsize"].default
        self._parser_options: dict[str, Any] = {
            "max_line_size": line_size,
            "max_field_size": line_size,
            "max_headers": defaults["max_headers"].default,
            "payload_exception": RequestPayloadError,
            "auto_decompress": decompress_request,
            "max_msg_queue_size": MAX_MSG_QUEUE_SIZE,
        }
        self._server: _Server | None = None
        self._listeners: list[asyncio.Server] = []
        # Whether a listener has TLS (see _EarlyRequest.secure).
        self.tls = False
        # Connections being closed by close_http_connections, resolved by connection_lost.
        self.closing: dict[AiohttpProtocol, asyncio.Future[None]] = {}

    async def start(
        self,
        sockets: Iterable[socket.socket],
        ssl_context: ssl.SSLContext | None,
        backlog: int = 128,
    ) -> None:
        loop = asyncio.get_running_loop()
        if self._server is None:
            self._server = _Server(self, loop=loop, **self._server_options)
            # IOLoop.start() stops it gracefully on a signal, within the close timeout.
            close_timeout = self.application.settings.get("websocket_close_timeout", 5.0)
            register_server(self, loop, float(close_timeout))
        if ssl_context is not None:
            self.tls = True
        for sock in sockets:
            # create_server listens again: give it the backlog, or it uses its own 100.
            listener = await loop.create_server(
                self._server, sock=sock, ssl=ssl_context, backlog=backlog
            )
            self._listeners.append(listener)

    def expect_request_head(self, protocol: AiohttpProtocol) -> None:
        """Slowloris guard: start the deadline of a request head (RFC 9110 section 15.5.9)."""
        loop = protocol._loop  # get_running_loop() costs a getpid() system call on 3.11
        deadline = loop.time() + self.request_head_timeout
        self.awaiting_head[protocol] = deadline  # deadlines grow: the dict stays in order
        if self._head_sweep is None:
            self._head_sweep = loop.call_at(deadline, self._sweep_request_heads)

    def _sweep_request_heads(self) -> None:
        self._head_sweep = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for protocol, deadline in list(self.awaiting_head.items()):
            if deadline > now:
                self._head_sweep = loop.call_at(deadline, self._sweep_request_heads)
                break
            del self.awaiting_head[protocol]
            self._judge_head(protocol, 0)

    def _judge_head(self, protocol: AiohttpProtocol, rechecks: int) -> None:
        """Answer 408 to a connection whose request head is still incomplete; but when bytes
        wait unread in its socket (the loop was stalled), judge after the loop has read them:
        what has arrived counts, not the time since accept (issue 10, point 9)."""
        transport = protocol.transport
        if transport is None or transport.is_closing():
            return
        if protocol._request_in_progress:
            # A pipelined head waits behind a response in progress (its bytes are bounded by
            # max_header_size): it gets a new deadline rather than a 408 amid that response.
            self.expect_request_head(protocol)
            return
        if rechecks < _RECHECKS and _unread_bytes(transport):
            self.late_heads[protocol] = rechecks + 1
            if self._late_sweep is None:
                loop = asyncio.get_running_loop()
                self._late_sweep = loop.call_later(_RECHECK_DELAY, self._sweep_late_heads)
            return
        peer = transport.get_extra_info("peername")
        gen_log.info("Closing connection from %s: no complete request in time", peer)
        transport.write(_REQUEST_TIMEOUT)
        protocol.force_close()

    def _sweep_late_heads(self) -> None:
        self._late_sweep = None
        late, self.late_heads = self.late_heads, {}
        for protocol, rechecks in late.items():
            self._judge_head(protocol, rechecks)

    def websocket_lost(self, connection: ServerConnection) -> None:
        """A WebSocket's socket is gone: forget it once its ``on_close`` has run."""
        if connection.ended:
            self.websockets.discard(connection)
        else:  # a coroutine hook still holds its messages
            connection.closed.add_done_callback(lambda _: self.websockets.discard(connection))

    def head_done(self, protocol: AiohttpProtocol) -> None:
        """A request head completed (or the connection ended): its deadline no longer runs."""
        self.awaiting_head.pop(protocol, None)
        self.late_heads.pop(protocol, None)

    def handshake_now(self, protocol: _Protocol) -> None:
        """Run a WebSocket upgrade from the read that completed its request, without the task
        aiohttp gives each request, and end aiohttp's request loop if it upgraded.

        Called when aiohttp has queued the request for its request loop, which has not taken
        up a request yet (its task waits for one, or has not started). The handshake's first
        step runs here, in a task and a context of its own, as aiohttp's request task would
        run it; most handshakes end in it (101, ``open`` done). Otherwise the request stays
        queued and aiohttp takes it up as any other, with the response, or the handshake's
        task (which runs the rest), from this first step: same hooks, same order, same
        answer.
        """
        message, payload = protocol._messages[0]
        task = protocol._task_handler
        loop = protocol._loop
        if (
            task is None
            or self.shutting_down
            or not isinstance(message, RawRequestMessage)
            or message.method != "GET"
            or not payload.is_eof()
            or asyncio.current_task(loop) is not None  # (a read resumed from inside a task)
        ):
            return
        if self._first_step(_EarlyRequest(protocol, message, payload, task), loop):
            # Upgraded: aiohttp's request loop has no more to do.
            protocol._messages.popleft()
            task.cancel()

    def upgrade_at_once(self, protocol: _Protocol, data: bytes) -> bool:
        """The first read of a connection whose aiohttp protocol has not woken (see
        _Protocol): when it is a whole WebSocket upgrade request (a GET without a body, and
        at most the frames behind it), run the handshake's first step from it, as
        handshake_now does, and return True if it upgraded: aiohttp's protocol is never set
        up. Otherwise (not such a request, or a handshake not done in one step) return
        False: the protocol wakes and parses the read, and aiohttp's request loop takes the
        request up with what the first step left, as after handshake_now.

        The head is parsed by the parser aiohttp's protocol would use, with the same
        limits; whatever it refuses, the woken protocol refuses again, as before.
        """
        loop = protocol._loop
        if (
            self.shutting_down
            or len(data) > self.max_header_size  # (the head's limit: _HeadLimit judges)
            or data[:4] != b"GET "
            or (b"ebsocket" not in data and b"ebSocket" not in data)  # (a cheap first look)
            or asyncio.current_task(loop) is not None
        ):
            return False
        parser = HttpRequestParser(protocol, loop, self._parser_limit, **self._parser_options)
        try:
            messages, upgraded, tail = parser.feed_data(data)
        except Exception:  # the woken protocol's parser refuses it again, and answers
            return False
        if not upgraded or len(messages) != 1:
            return False
        message, payload = messages[0]
        if message.method != "GET" or not payload.is_eof():
            return False
        self.head_done(protocol)
        protocol._message_tail = tail
        request = _EarlyRequest(protocol, message, payload, None)
        if self._first_step(request, loop):
            return True
        if protocol.transport is None and protocol._state == _ASLEEP:
            # Upgraded, the handshake waiting in a coroutine open(): no request loop will
            # take it up; it goes on in its own task.
            del self.early[protocol]
            outcome = request.outcome
            if isinstance(outcome, asyncio.Task):
                request.unclaim("after its upgrade")
            elif isinstance(outcome, Exception):
                app_log.error("Exception in a handshake after its upgrade", exc_info=outcome)
            return True
        return False

    def _first_step(self, request: _EarlyRequest, loop: asyncio.AbstractEventLoop) -> bool:
        """Run ``request``'s handling up to its first wait, in a context of its own and with
        the handshake's own task as the current task (the task then runs the rest, if there
        is a rest); True if it upgraded, else keep what aiohttp's request loop is to get for
        it: the response, the exception, or that task."""
        coro = self.handle(request)  # type: ignore[arg-type]
        context = contextvars.copy_context()
        task = loop.create_task(_rest_of_handshake(request), context=context)
        if request._task is None:  # (no aiohttp request loop: the request's task is this)
            request._task = task
        asyncio.tasks._enter_task(loop, task)
        try:
            waiting = context.run(coro.send, None)
        except StopIteration as stop:
            if stop.value is _HANDED_OVER:
                return True
            request.outcome = stop.value
        except (Exception, asyncio.CancelledError) as exc:  # aiohttp's loop gets it, raised
            request.outcome = exc
        else:
            request.rest = _Resume(coro, waiting)
            request.outcome = task
        finally:
            asyncio.tasks._leave_task(loop, task)
        self.early[request.protocol] = request
        return False

    async def handle(self, aio_request: BaseRequest) -> web.StreamResponse:
        """aiohttp's request handler: one request, one Tornado-style handler."""
        if self.early:
            early = self.early.get(aio_request._protocol)
            if early is not None and early.real is aio_request:
                del self.early[aio_request._protocol]
                outcome = early.outcome
                if isinstance(outcome, BaseException):
                    raise outcome
                if isinstance(outcome, asyncio.Task):  # the rest of the handshake
                    resumed: web.StreamResponse = await outcome
                    return resumed
                return outcome  # type: ignore[no-any-return]
        transport = aio_request.transport
        if transport is None or transport.is_closing():
            # The client left between sending its request and this task starting: no
            # handler runs, so nothing waits for a connection that is gone.
            return web.Response(status=400)
        if self.shutting_down:
            return _Response(status=503, text="Server is shutting down")
        request_connection = _RequestConnection(self, aio_request)
        peer = transport.get_extra_info("peername")
        body = b""
        if aio_request.method in _BODY_METHODS and aio_request.can_read_body:
            # Tornado 6.6.1 (http1connection): a body over max_body_size is a malformed
            # message: one INFO line, a bare 400, and the connection closed. A declared
            # length is judged before a byte of the body is read.
            length = aio_request.content_length
            try:
                if length is not None and length > self.max_body_size:
                    raise web.HTTPRequestEntityTooLarge(
                        max_size=self.max_body_size, actual_size=length
                    )
                body = await asyncio.wait_for(aio_request.read(), self.body_timeout)
            except TimeoutError:
                # Tornado 6.6.1 (http1connection): one INFO line, the connection closed.
                gen_log.info("Timeout reading body from %s", aio_request.remote)
                aio_request.protocol.force_close()
                return web.Response(status=408)  # never sent: the connection is gone
            except web.HTTPRequestEntityTooLarge:
                too_long = (
                    "Content-Length too long" if length is not None else "chunked body too large"
                )
                gen_log.info("Malformed HTTP message from %s: %s", aio_request.remote, too_long)
                refusal = _bad_request()
                await refusal.prepare(aio_request)
                await refusal.write_eof()
                # Close now: aiohttp would otherwise linger, reading the unwanted body.
                aio_request.protocol.force_close()
                return refusal
            except web.HTTPException as exc:
                return exc
        # The parsed head itself (what aiohttp's method, raw_path, version and raw_headers
        # properties read, one Python call each).
        message = aio_request._message
        version = message.version
        remote_ip = peer[0] if isinstance(peer, tuple) else None
        headers = headers_from_raw(message.raw_headers)
        if self.decompress_request and body and "Content-Encoding" in headers:
            _consumed_encoding(headers)
        try:
            request = HTTPServerRequest(
                method=message.method,
                uri=message.path,
                version=_VERSIONS.get(version) or f"HTTP/{version.major}.{version.minor}",
                headers=headers,
                body=body,
                connection=request_connection,
                remote_ip=remote_ip,
                protocol=self.protocol or ("https" if aio_request.secure else "http"),
                xheaders=self.xheaders
                and (self.forwarded_allow is None or remote_ip in self.forwarded_allow),
                trusted_downstream=self.trusted_downstream,
            )
        except HTTPError as exc:
            # Tornado 6.6.1 refuses such a request before any handler: a bare 400, one line.
            gen_log.info("Malformed HTTP message from %s: %s", aio_request.remote, exc.log_message)
            return _bad_request()
        application = self.application
        try:
            handler_class, kwargs, args, path_kwargs = application.find_handler(request)
            handler = handler_class(application, request, **kwargs)
        except Exception:
            app_log.error("Uncaught exception %s %s", request.method, request.uri, exc_info=True)
            return _Response(status=500, text="Internal Server Error")
        request_connection.handler = handler
        protocol = aio_request.protocol
        self.pending[protocol] = request_connection
        try:
            await handler._execute(*args, **path_kwargs)
            if not request_connection.done:
                await request_connection.finished()  # a handler that finishes later
            if request_connection._last_write is not None:
                await request_connection._last_write
        except WebSocketClosedError:
            pass
        finally:
            self.pending.pop(protocol, None)
            # The handler and this object refer to each other through the request; let
            # their memory go now rather than at the next full garbage collection.
            request_connection.handler = None
            request_connection.websocket = None
        response = request_connection.response
        if request_connection._upgraded is not None:
            request_connection.release_request()
            assert response is not None
            return response  # the 101, sent already; aiohttp is done with this connection
        if response is None:
            transport = aio_request.transport
            if transport is not None and not transport.is_closing():
                gen_log.error("Handler %r produced no response", handler)
            return _Response(status=500, text="Internal Server Error")
        if self.no_keep_alive:
            response.force_close()
        return response

    @property
    def sockets(self) -> list[socket.socket]:
        return [sock for listener in self._listeners for sock in (listener.sockets or ())]

    async def close_http_connections(self) -> None:
        """Close every HTTP connection now (idle or in a request) and wait until they are gone.

        WebSockets stay open: Tornado 6.6.1's ``HTTPServer.close_all_connections`` does not
        close them either.
        """
        server = self._server
        if server is None:
            return
        loop = asyncio.get_running_loop()
        waiters = []
        for protocol in list(server.connections):
            # WebSockets stay; so do connections already lost whose handler still runs (a
            # long poll that ignores on_connection_close: Tornado does not wait for it either).
            if protocol.transport is None:
                continue
            waiter = self.closing.get(protocol)
            if waiter is None:
                waiter = self.closing[protocol] = loop.create_future()
            waiters.append(waiter)
            protocol.force_close()
        if waiters:
            await asyncio.wait(waiters, timeout=DEFAULT_REQUEST_HEAD_TIMEOUT)

    async def abort_websockets(self) -> None:
        """Drop every open WebSocket now and wait until each ``on_close`` has run."""
        closed = [connection.closed for connection in self.websockets]
        for connection in list(self.websockets):
            connection.abort()
        if closed:
            await asyncio.wait(closed, timeout=DEFAULT_REQUEST_HEAD_TIMEOUT)

    def stop_accepting(self) -> None:
        for listener in self._listeners:
            listener.close()

    async def shutdown(self, timeout: float) -> None:
        """Stop accepting; close each WebSocket with 1001; wait up to ``timeout``; drop the rest.

        New requests meanwhile are answered 503 (RFC 6455 section 7.4.1: 1001 "going away").
        """
        self.shutting_down = True
        self.stop_accepting()
        for connection in list(self.websockets):
            if not connection.is_closing():
                connection.close(1001, "going away")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiters = [c.closed for c in self.websockets]
        waiters += [p.finished() for p in self.pending.values()]
        pending = [w for w in waiters if not w.done()]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        for connection in list(self.websockets):
            connection.abort()
        if self._server is not None:
            # Connections waiting for a request (idle keep-alive ones, or ones that never
            # sent a byte) are closed now, as nginx and Tornado's close_all_connections close
            # them: aiohttp's shutdown would wait out the rest of the timeout for a request
            # on each. A request read or in progress still gets the rest of the timeout.
            for protocol in self._server.connections:
                if protocol._state or not (  # type: ignore[attr-defined]
                    protocol._request_in_progress or protocol._messages
                ):
                    protocol.force_close()
            # aiohttp reads a timeout of 0 as "no timeout"; idle keep-alive connections
            # would then hold the shutdown for their whole keep-alive period.
            await self._server.shutdown(max(0.05, deadline - loop.time()))
        for listener in self._listeners:
            await listener.wait_closed()
