"""Tornado's ``tornado.websocket`` surface: WebSocketHandler and the client.

A class written for ``tornado.websocket.WebSocketHandler`` (Tornado 1.x to 6.x) runs unchanged
on this module. The handshake rules and hook order follow Tornado 6.6.1; the protocol itself is
run by the engine (``tornado_ws_compat._engine``) behind the ``ws_connection`` object.
"""

from __future__ import annotations

import asyncio
import binascii
import concurrent.futures
import functools
import hashlib
import inspect
import sys
from collections.abc import Awaitable, Callable
from threading import get_ident as _thread_ident
from typing import TYPE_CHECKING, Any, cast

from tornado_ws_compat import web
from tornado_ws_compat.errors import WebSocketClosedError, WebSocketError
from tornado_ws_compat.httputil import HTTPHeaders, HTTPServerRequest, WebSocketChannel
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.lifecycle import DEFAULT_MAX_MESSAGE_SIZE, WebSocketParams
from tornado_ws_compat.log import app_log, gen_log

if TYPE_CHECKING:
    from tornado_ws_compat._engine.client import WebSocketClientConnection
else:

    def __getattr__(name: str) -> Any:
        # Classes that live in the engine, imported on first use so that this module stays
        # above it: tornado.websocket.WebSocketClientConnection (subclassed and used in
        # annotations by programs), and WebSocketProtocol / WebSocketProtocol13, the class of
        # a handler's ws_connection in Tornado 6.6.1 (programs test isinstance against it).
        if name == "WebSocketClientConnection":
            from tornado_ws_compat._engine.client import WebSocketClientConnection

            return WebSocketClientConnection
        if name in ("WebSocketProtocol", "WebSocketProtocol13"):
            from tornado_ws_compat._engine.connection import ServerConnection

            return ServerConnection
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandler",
    "websocket_connect",
]

# RFC 6455 section 1.3: the GUID appended to Sec-WebSocket-Key.
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _raise_not_supported_for_websockets(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("Method not supported for Web Sockets")


def _valid_key(key: str) -> bool:
    """RFC 6455 section 4.2.1 item 5: a base64-encoded 16-byte value."""
    try:
        return len(binascii.a2b_base64(key.strip(), strict_mode=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _accept_value(key: str) -> str:
    """RFC 6455 section 4.2.2: base64 of the SHA-1 of the key and the GUID."""
    digest = hashlib.sha1(key.strip().encode("ascii") + _WS_GUID).digest()
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


# The parameters most connections share (no deflate), one immutable object for each set.
_SHARED_PARAMS: dict[tuple[float, float | None, int, float], WebSocketParams] = {}


def _params(
    ping_interval: float,
    ping_timeout: float | None,
    max_message_size: int,
    compression_options: dict[str, Any] | None,
    close_timeout: float,
) -> WebSocketParams:
    if compression_options is not None:
        return WebSocketParams(
            ping_interval, ping_timeout, max_message_size, compression_options, close_timeout
        )
    key = (ping_interval, ping_timeout, max_message_size, close_timeout)
    params = _SHARED_PARAMS.get(key)
    if params is None:
        if len(_SHARED_PARAMS) >= 64:  # settings that vary per connection: do not grow
            _SHARED_PARAMS.clear()
        params = _SHARED_PARAMS[key] = WebSocketParams(*key[:3], None, close_timeout)
    return params


# After the upgrade these raise, as in Tornado (WebSocketHandler._detach_stream).
_DETACHED = dict.fromkeys(
    ("write", "redirect", "set_header", "set_cookie", "set_status", "flush", "finish"),
    _raise_not_supported_for_websockets,
)


class _NoStream:
    """``self.stream`` of a handler without an open connection: a closed stream."""

    def closed(self) -> bool:
        return True


_NO_STREAM: Any = _NoStream()


class _HandlerStream:
    """``self.stream`` of a WebSocketHandler: Tornado 4.0-5.1 kept the connection's IOStream
    there (6.0 moved it to ``ws_connection.stream``), and programs of that era check
    ``self.stream.closed()`` before writing. A program's own ``self.stream = ...`` replaces
    it (a non-data descriptor: the instance's attribute wins)."""

    def __get__(self, handler: WebSocketHandler | None, owner: type | None = None) -> Any:
        if handler is None:
            return self
        connection = handler.ws_connection
        return _NO_STREAM if connection is None else getattr(connection, "stream", _NO_STREAM)


class WebSocketHandler(web.RequestHandler):
    """Subclass this and override ``on_message`` (and ``open``/``on_close``).

    ``open`` and ``on_message`` may be coroutines: no message is delivered before ``open``
    returns, and each ``on_message`` finishes before the next one starts (Tornado 4.5/5.1).
    Settings read: ``websocket_ping_interval``, ``websocket_ping_timeout``,
    ``websocket_max_message_size`` (10 MiB); cross-origin rules as Tornado 6.6.
    """

    stream = _HandlerStream()

    def __init__(
        self, application: web.Application, request: HTTPServerRequest, **kwargs: Any
    ) -> None:
        super().__init__(application, request, **kwargs)
        self.ws_connection: WebSocketChannel | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._on_close_called = False
        self.open_args: tuple[str, ...] = ()
        self.open_kwargs: dict[str, str] = {}
        # The loop's thread: write_message, close and ping called from any other thread are
        # handed to the loop (see _from_thread). Handlers are created on the loop's thread.
        self._loop_thread = _thread_ident()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """The handshake: Tornado 6.6.1's checks in its order, then the 101 and ``open``."""
        self.open_args = args
        self.open_kwargs = kwargs
        # The headers by the names HTTPHeaders stores them under (a request's values joined
        # with "," as HTTPHeaders.get joins them): this runs for every handshake.
        values = self.request.headers._values
        if self.request.version in ("HTTP/1.0", "HTTP/0.9"):
            # RFC 6455 section 4.2.1 item 1: the opening handshake is an HTTP/1.1 (or later)
            # GET. Tornado 6.6.1 upgrades an HTTP/1.0 request too (a difference on purpose).
            self._reject(400, "WebSocket upgrades need HTTP/1.1 or later")
            return
        upgrade = values.get("Upgrade")
        if upgrade is None or ",".join(upgrade).lower() != "websocket":
            self._reject(400, 'Can "Upgrade" only to "WebSocket".')
            return
        connection = ",".join(values.get("Connection", ()))
        if connection.lower() != "upgrade" and not any(
            token.strip().lower() == "upgrade" for token in connection.split(",")
        ):
            self._reject(400, '"Connection" must be "Upgrade".')
            return
        # Browsers do not apply the same-origin policy to WebSockets, so this check runs for
        # every upgrade, after prepare() (Tornado 6.6).
        error = self._check_cross_origin(self.check_origin)
        if error is not None:
            self._reject(403, "Cross origin websockets not allowed", error)
            return
        version = values.get("Sec-Websocket-Version")
        if version is None or ",".join(version) != "13":
            # Tornado 6.6 speaks only version 13 (RFC 6455 section 4.4).
            self.set_status(426, "Upgrade Required")
            self.set_header("Sec-WebSocket-Version", "13")
            return
        # Tornado builds the connection's parameters (get_compression_options included)
        # before it validates the key and selects the subprotocol.
        params = _params(
            self.ping_interval or 0.0,
            self.ping_timeout,
            self.max_message_size,
            self.get_compression_options(),
            float(self.application.settings.get("websocket_close_timeout", 5.0)),
        )
        keys = values.get("Sec-Websocket-Key")
        key = ",".join(keys) if keys else ""
        if not ",".join(values.get("Host", ())) or not key or not _valid_key(key):
            self._reject(400, "Missing/Invalid WebSocket headers")
            return
        await self._accept(key, params)

    def _reject(self, status: int, message: str, detail: str | None = None) -> None:
        self.set_status(status)
        self.finish(message)
        if detail:
            gen_log.debug("%s: %s", message, detail)
        else:
            gen_log.debug(message)

    async def _accept(self, key: str, params: WebSocketParams) -> None:
        offered = self.request.headers._values.get("Sec-Websocket-Protocol")
        subprotocols = [s.strip() for s in ",".join(offered).split(",")] if offered else []
        selected = self.select_subprotocol(subprotocols)
        if selected:
            assert selected in subprotocols
            self.set_header("Sec-WebSocket-Protocol", selected)
        # Tornado's 101: its headers, no representation headers (RFC 9110 section 15.2: a
        # 1xx response has no content), the upgrade's own, then the cookies set so far.
        values = self._headers._values
        for name in ("Content-Type", "Content-Encoding", "Content-Language"):
            values.pop(name, None)
        self._status_code = 101
        self._reason = "Switching Protocols"
        values["Upgrade"] = ["websocket"]
        values["Connection"] = ["Upgrade"]
        values["Sec-Websocket-Accept"] = [_accept_value(key)]
        self._add_cookie_headers()
        self._headers_written = True
        assert self.request.connection is not None
        try:
            channel: WebSocketChannel = await self.request.connection.accept_websocket(
                self, self._headers, params
            )
        except (WebSocketClosedError, ConnectionError):
            # The client left before the 101 went out: nothing opened, so neither open nor
            # on_close runs, and nothing is logged but this (Tornado fails that write
            # quietly too).
            gen_log.debug("WebSocket client %s left during the handshake", self.request.remote_ip)
            self._finished = True
            return
        self.ws_connection = channel
        self._loop = channel.loop
        if type(self).write_message is WebSocketHandler.write_message:
            # Not overridden: the program's self.write_message(...) calls the connection's
            # directly, which makes the same checks (closing, another thread, a dict sent
            # as JSON): one Python call less per message sent. Removed when it closes.
            self.__dict__["write_message"] = channel.write_message
        # Tornado calls finish() at the 101: the access line and on_finish() happen here.
        self.request._finish()
        self._log()
        self._finished = True
        self.on_finish()
        self.__dict__.update(_DETACHED)
        self._headers = HTTPHeaders()  # sent with the 101; not needed for the socket's life
        try:
            opened = self.open(*self.open_args, **self.open_kwargs)
            if opened is not None:
                await opened
        except Exception:
            # Tornado 6.6.1: log, drop the connection; on_close is not called, since the
            # connection never opened from the application's point of view.
            self.log_exception(*sys.exc_info())
            channel.abandon()
            return
        # Messages flow from here on, each delivered from the socket's callback: the
        # request (and its task) ends now; the connection lives on its own.
        self.request.connection.websocket_opened()
        channel.run()

    @property
    def ping_interval(self) -> float | None:
        """``websocket_ping_interval`` setting: seconds between pings (0/None: no pings)."""
        interval: float | None = self.application.settings.get("websocket_ping_interval")
        return interval

    @property
    def ping_timeout(self) -> float | None:
        """``websocket_ping_timeout``: close if no pong within it (default: the interval)."""
        timeout: float | None = self.application.settings.get("websocket_ping_timeout")
        return timeout

    @property
    def max_message_size(self) -> int:
        """``websocket_max_message_size`` (default 10 MiB); larger messages close with 1009."""
        size: int = self.application.settings.get(
            "websocket_max_message_size", DEFAULT_MAX_MESSAGE_SIZE
        )
        return size

    def write_message(
        self, message: bytes | str | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message: ``str`` (text), ``bytes`` or a ``dict`` (JSON as Tornado encodes it).

        Returns a future that resolves when the data has been flushed to the socket; awaiting
        it is how a writer respects backpressure. Raises `WebSocketClosedError` when closed or
        closing (Tornado 3.2/5.0); a failed write that nobody awaits is not logged.

        Called from a thread other than the IOLoop's (Tornado 6.6.1 does not allow it; apps of
        the Tornado 2-4 era push from worker threads), the call is handed to the loop in order
        and a ``concurrent.futures.Future`` is returned at once: it resolves when the message
        is flushed, or fails with the error the loop-side call met (`WebSocketClosedError`).
        It is typed as Tornado types this method (``Future[None]``, what code on the loop
        awaits); code in another thread calls ``.result()``, which both futures have.
        """
        connection = self.ws_connection
        if connection is None:
            raise WebSocketClosedError()
        if _thread_ident() != self._loop_thread:
            from_thread = self._from_thread(self.write_message, message, binary)
            return cast("asyncio.Future[None]", from_thread)
        # The connection sends a dict as JSON (escape.json_encode, as Tornado does) and
        # raises WebSocketClosedError itself when closing.
        written: asyncio.Future[None] = connection.write_message(message, binary)
        return written

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Pick one of the offered subprotocols, or None; called once, ``[]`` if none (5.1)."""
        return None

    @property
    def selected_subprotocol(self) -> str | None:
        """The subprotocol chosen by ``select_subprotocol`` (Tornado 5.1)."""
        assert self.ws_connection is not None
        return self.ws_connection.selected_subprotocol

    def get_compression_options(self) -> dict[str, Any] | None:
        """None disables permessage-deflate; a dict (even empty) enables it (RFC 7692).

        Keys: ``compression_level`` (default 6) and ``mem_level`` (default 8), as Tornado 4.5.
        """
        return None

    def open(self, *args: str, **kwargs: str) -> Awaitable[None] | None:
        """Invoked when the WebSocket opens, with the route's URL groups (5.1: may be async)."""
        return None

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Handle an incoming message: ``str`` for text, ``bytes`` for binary. Override it.

        As in Tornado, a handler that does not is an application error: a message arriving
        raises NotImplementedError, logged as an uncaught exception, and the socket drops.
        """
        raise NotImplementedError(f"{type(self).__name__}.on_message is not implemented")

    def ping(self, data: str | bytes = b"") -> concurrent.futures.Future[None] | None:
        """Send a ping frame (payload at most 125 bytes, RFC 6455 section 5.5).

        From a thread other than the IOLoop's, the ping is sent by the loop and a
        ``concurrent.futures.Future`` is returned, resolved once the frame is written.
        """
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if self.ws_connection is None or self.ws_connection.is_closing():
            raise WebSocketClosedError()
        if _thread_ident() != self._loop_thread:
            return self._from_thread(self.ping, payload)
        self.ws_connection.write_ping(payload)
        return None

    def on_pong(self, data: bytes) -> Awaitable[None] | None:
        """Invoked when a pong frame arrives (may be a coroutine: reading waits for it)."""
        return None

    def on_ping(self, data: bytes) -> Awaitable[None] | None:
        """Invoked when a ping frame arrives (the pong is sent for you)."""
        return None

    def on_close(self) -> None:
        """Invoked once when the WebSocket closes; ``close_code``/``close_reason`` are set."""

    def close(
        self, code: int | None = None, reason: str | None = None
    ) -> concurrent.futures.Future[None] | None:
        """Start the closing handshake; the socket is dropped after the peer answers (or 5 s).

        A second call does nothing (Tornado 4.0 added ``code`` and ``reason``). From a thread
        other than the IOLoop's, the loop starts the handshake and a
        ``concurrent.futures.Future`` is returned, resolved once the close frame is written.
        """
        if self.ws_connection and _thread_ident() != self._loop_thread:
            return self._from_thread(self.close, code, reason)
        if self.ws_connection:
            self.ws_connection.close(code, reason)
            self.ws_connection = None
        return None

    def _from_thread(
        self, method: Callable[..., Any], *args: Any
    ) -> concurrent.futures.Future[None]:
        """Run ``method(*args)`` on the loop's thread; a future of its completion for the caller.

        Calls from one thread run in the order they were made (``call_soon_threadsafe`` is
        FIFO). When ``method`` returns a future (``write_message``), ours follows it.
        """
        result: concurrent.futures.Future[None] = concurrent.futures.Future()
        loop = self._loop
        if loop is None:
            raise WebSocketClosedError()

        def follow(outcome: asyncio.Future[None]) -> None:
            if outcome.cancelled():
                result.set_exception(WebSocketClosedError())
            elif (error := outcome.exception()) is not None:
                result.set_exception(error)
            else:
                result.set_result(None)

        def call() -> None:
            if not result.set_running_or_notify_cancel():
                return
            try:
                outcome = method(*args)
            except Exception as error:
                result.set_exception(error)
                return
            if isinstance(outcome, asyncio.Future):
                outcome.add_done_callback(follow)
            else:
                result.set_result(None)

        try:
            loop.call_soon_threadsafe(call)
        except RuntimeError as error:  # the loop is closed: so is this connection
            raise WebSocketClosedError() from error
        return result

    def check_origin(self, origin: str) -> bool:
        """Allow a cross-origin upgrade? Called only for cross-origin requests (6.6).

        The default accepts origins in the ``trusted_origins`` setting.
        """
        return self.check_trusted_origin(origin)

    def set_nodelay(self, value: bool) -> None:
        """Disable (True) or enable Nagle's algorithm on this connection (Tornado 3.1)."""
        assert self.ws_connection is not None
        self.ws_connection.set_nodelay(value)

    # ---- pub/sub (tornado_ws_compat.pubsub; not in Tornado) ----

    #: Channels this handler subscribed to; a set only once it subscribes.
    _pubsub_channels: set[str] | None = None

    def subscribe(self, channel: str) -> asyncio.Future[bool]:
        """Receive every message published to ``channel`` (in any process sharing the
        ``pubsub_url``) as ``write_message(message)``, until ``unsubscribe`` or the close.

        Need not be awaited: the future resolves to True once the broker has the
        subscription, False while it is unreachable (the subscription is restored later).
        """
        if self.ws_connection is None:
            raise WebSocketClosedError()
        channels = self._pubsub_channels
        if channels is None:
            channels = self._pubsub_channels = set()
        channels.add(channel)
        return self.application.pubsub.subscribe(self, channel)

    def unsubscribe(self, channel: str) -> asyncio.Future[bool]:
        """Stop receiving ``channel``'s messages (every subscription ends with the socket)."""
        if self._pubsub_channels is not None:
            self._pubsub_channels.discard(channel)
        return self.application.pubsub.unsubscribe(self, channel)

    def publish(self, channel: str, message: str | bytes | dict[str, Any]) -> asyncio.Future[bool]:
        """``self.application.publish(channel, message)``: to every subscriber of
        ``channel``, this handler included if it subscribed."""
        return self.application.publish(channel, message)

    def on_connection_close(self) -> None:
        if self.ws_connection:
            self.ws_connection = None
        self.__dict__.pop("write_message", None)  # this class's again (see _accept)
        channels = self._pubsub_channels
        if channels:
            # Before on_close, so that what on_close publishes does not come back here.
            self._pubsub_channels = None
            hub = self.application.pubsub
            for channel in channels:
                hub.unsubscribe(self, channel)
        if not self._on_close_called:
            self._on_close_called = True
            self.on_close()

    def on_ws_connection_close(
        self, close_code: int | None = None, close_reason: str | None = None
    ) -> None:
        self.close_code = close_code
        self.close_reason = close_reason
        self.on_connection_close()

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        if self.ws_connection is None and not self._headers_written:
            super().send_error(status_code, **kwargs)
        elif self.ws_connection is not None:
            # An uncaught exception after the upgrade: nothing to answer, drop the socket.
            self.ws_connection.close()

    def async_callback(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Callable[..., Any]:
        """Wrap a callback so an uncaught exception is logged and closes this WebSocket.

        From Tornado 1.x-3.x (the legacy API): use it for callbacks of asynchronous calls made
        from a handler. A callback that returns an awaitable is run to completion under the
        same rule.
        """
        if args or kwargs:
            callback = functools.partial(callback, *args, **kwargs)

        def failed() -> None:
            app_log.error("Uncaught exception in %s", self.request.path, exc_info=sys.exc_info())
            self._abort_connection()

        def wrapper(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                result = callback(*call_args, **call_kwargs)
            except Exception:
                failed()
                return None
            if inspect.isawaitable(result):

                async def guarded() -> Any:
                    try:
                        return await result
                    except Exception:
                        failed()
                        return None

                return asyncio.ensure_future(guarded())
            return result

        return wrapper

    def _abort_connection(self) -> None:
        if self.ws_connection is not None:
            self.ws_connection.abort()


def websocket_connect(
    url: str | Any,
    callback: Callable[[Any], None] | None = None,
    connect_timeout: float | None = None,
    on_message_callback: Callable[[str | bytes | None], None] | None = None,
    compression_options: dict[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    subprotocols: list[str] | None = None,
    resolver: Any = None,
    io_loop: Any = None,
) -> asyncio.Future[WebSocketClientConnection]:
    """Open a client WebSocket; returns a future of a ``WebSocketClientConnection``.

    ``url`` is a ``ws://``/``wss://`` URL or an object with ``url`` and ``headers`` (as
    Tornado's ``HTTPRequest``). The connection offers ``read_message``, ``write_message``,
    ``ping``, ``close``, ``close_code``/``close_reason``, as Tornado's does. Tornado 4's
    ``io_loop`` (a keyword, or the second argument then) is accepted and ignored: the
    connection belongs to the current loop (Tornado 5.0 removed it).
    """
    if isinstance(callback, IOLoop):  # websocket_connect(url, io_loop): Tornado 4's order
        callback = None
    # The client lives in the engine; import it lazily so that this module stays above it.
    from tornado_ws_compat._engine.client import connect

    return connect(
        url,
        callback=callback,
        connect_timeout=connect_timeout,
        on_message_callback=on_message_callback,
        compression_options=compression_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_message_size=max_message_size,
        subprotocols=subprotocols,
    )
