"""``websocket_connect`` on aiohttp's client, with Tornado's ``WebSocketClientConnection`` API."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from io import BytesIO
from typing import Any

import aiohttp

from tornado_ws_compat._engine.pinger import Pinger
from tornado_ws_compat.errors import WebSocketClosedError, WebSocketError
from tornado_ws_compat.escape import json_encode
from tornado_ws_compat.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado_ws_compat.httputil import headers_from_raw
from tornado_ws_compat.lifecycle import DEFAULT_MAX_MESSAGE_SIZE
from tornado_ws_compat.log import app_log

__all__ = ["WebSocketClientConnection", "connect"]

MessageCallback = Callable[[str | bytes | None], Any]


class _Refused(Exception):
    """The server answered the upgrade with something other than 101: that answer, read."""

    def __init__(self, response: HTTPResponse) -> None:
        super().__init__(response.code)
        self.response = response


async def _read_refusal(request: HTTPRequest, session: Any, context: Any, params: Any) -> None:
    # Tornado 6.6.1 reads a refused handshake's whole answer and raises HTTPClientError with
    # the server's reason phrase and that response (aiohttp would drop the body unread). A
    # redirect is such an answer too: Tornado's client does not follow one during the
    # handshake, and the error's response carries its Location (an @authenticated socket's
    # login page).
    answer = params.response
    if answer.status == 101:
        return
    body = await answer.read()
    raise _Refused(
        HTTPResponse(
            request,
            answer.status,
            headers=headers_from_raw(answer.raw_headers),
            buffer=BytesIO(body),
            effective_url=str(params.url),
            reason=answer.reason,
        )
    )


class WebSocketClientConnection:
    """A client WebSocket (``tornado.websocket.WebSocketClientConnection``).

    Messages are read with ``read_message`` (``None`` once closed) or passed to
    ``on_message_callback``. Like Tornado, at most one unread message is buffered: the
    connection stops reading from the socket until it is consumed. The peer's close code is
    echoed (RFC 6455 section 5.5.1); pings follow ``ping_interval``/``ping_timeout`` as
    Tornado 6.5's client does.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        on_message_callback: MessageCallback | None,
        ping_interval: float | None,
        ping_timeout: float | None,
    ) -> None:
        self._session = session
        self._ws = ws
        self._on_message_callback = on_message_callback
        self._queue: asyncio.Queue[str | bytes | None] = asyncio.Queue(1)
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._closing = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._close_task: asyncio.Future[Any] | None = None
        self._pinger = Pinger(
            ping_interval or 0.0,
            ping_timeout,
            self._send_ping,
            lambda: self.close(reason="ping timed out"),
        )
        self._reader = asyncio.ensure_future(self._read_loop())

    @property
    def selected_subprotocol(self) -> str | None:
        return self._ws.protocol

    async def _read_loop(self) -> None:
        ws = self._ws
        try:
            while True:
                msg = await ws.receive()
                kind = msg.type
                if kind in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    await self._deliver(msg.data)
                elif kind is aiohttp.WSMsgType.PING:
                    await ws.pong(msg.data)
                elif kind is aiohttp.WSMsgType.PONG:
                    self._pinger.pong_received()
                elif kind is aiohttp.WSMsgType.CLOSE:
                    self.close_code = msg.data or None
                    self.close_reason = (msg.extra or None) if msg.data else None
                    if not self._closing:
                        self._closing = True
                        # Echo the server's code (RFC 6455 section 5.5.1).
                        await ws.close(code=msg.data or 1000)
                    break
                else:
                    break
        except (aiohttp.ClientError, ConnectionError):
            pass
        finally:
            self._pinger.cancel()
            if self._close_task is not None:
                await asyncio.wait([self._close_task])
                if self.close_code is None:
                    self.close_code = ws.close_code
            if not ws.closed:
                await ws.close()
            await self._session.close()
            await self._deliver(None)

    async def _deliver(self, message: str | bytes | None) -> None:
        if self._on_message_callback is not None:
            try:
                result = self._on_message_callback(message)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                app_log.error("Uncaught exception in on_message_callback", exc_info=True)
        else:
            await self._queue.put(message)

    def read_message(
        self, callback: Callable[[asyncio.Future[str | bytes | None]], None] | None = None
    ) -> asyncio.Future[str | bytes | None]:
        """The next message, or ``None`` when the connection is closed."""
        if self._on_message_callback is not None:
            raise RuntimeError("read_message not allowed with on_message_callback")
        future = asyncio.ensure_future(self._queue.get())
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message; raises `WebSocketClosedError` if the connection is closed."""
        if self._closing or self._ws.closed:
            raise WebSocketClosedError()
        if isinstance(message, dict):
            message = json_encode(message)
        data = message.encode("utf-8") if isinstance(message, str) else message
        opcode = aiohttp.WSMsgType.BINARY if binary else aiohttp.WSMsgType.TEXT
        task: asyncio.Future[None] = asyncio.ensure_future(
            self._guard(self._ws.send_frame(data, opcode))
        )
        self._keep(task)
        return task

    @staticmethod
    async def _guard(coro: Any) -> None:
        try:
            await coro
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise WebSocketClosedError() from exc

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping; ``data`` may be at most 125 bytes (RFC 6455 section 5.5)."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if len(payload) > 125:
            raise ValueError("control frame payloads may not exceed 125 bytes")
        if self._closing or self._ws.closed:
            raise WebSocketClosedError()
        self._keep(asyncio.ensure_future(self._guard(self._ws.ping(payload))))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; ``read_message`` returns ``None`` once it is done."""
        if self._closing:
            return
        self._closing = True
        self._pinger.cancel()
        if code is None and reason is not None:
            code = 1000
        if code is None:
            _send_empty_close_frame(self._ws)
        message = (reason or "").encode("utf-8")
        self._close_task = self._keep(
            asyncio.ensure_future(self._ws.close(code=code or 1000, message=message))
        )

    def _keep(self, task: asyncio.Future[Any]) -> asyncio.Future[Any]:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A failed write that nobody awaits must not log "exception was never retrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    def _send_ping(self) -> bool:
        if self._closing or self._ws.closed:
            return False
        self._keep(asyncio.ensure_future(self._guard(self._ws.ping(b""))))
        return True


def _send_empty_close_frame(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Make this connection's next close frame carry no status code, as Tornado's client
    sends for ``close()`` without arguments (RFC 6455 section 5.5.1 allows an empty body).

    aiohttp always packs a code, so the writer's ``close`` is replaced on this one object.
    """
    writer = ws._writer

    async def close_without_code(code: int = 1000, message: bytes | str = b"") -> None:
        try:
            await writer.send_frame(b"", aiohttp.WSMsgType.CLOSE)
        finally:
            writer._closing = True

    writer.close = close_without_code  # type: ignore[method-assign]


async def _open(
    url: str | HTTPRequest,
    on_message_callback: MessageCallback | None,
    connect_timeout: float | None,
    compression_options: dict[str, Any] | None,
    ping_interval: float | None,
    ping_timeout: float | None,
    max_message_size: int,
    subprotocols: list[str] | None,
) -> WebSocketClientConnection:
    request = url if isinstance(url, HTTPRequest) else HTTPRequest(url)
    target = request.url
    if target.startswith("ws://"):
        target = "http://" + target[5:]
    elif target.startswith("wss://"):
        target = "https://" + target[6:]
    tracing = aiohttp.TraceConfig()
    refuse = functools.partial(_read_refusal, request)
    tracing.on_request_redirect.append(refuse)
    tracing.on_request_end.append(refuse)
    session = aiohttp.ClientSession(trace_configs=[tracing])
    try:
        ws = await asyncio.wait_for(
            session.ws_connect(
                target,
                headers=dict(request.headers.get_all()),
                protocols=tuple(subprotocols or ()),
                compress=15 if compression_options is not None else 0,
                max_msg_size=max_message_size,
                autoping=False,
                autoclose=False,
                ssl=request.validate_cert is not False,
            ),
            timeout=connect_timeout or request.connect_timeout,
        )
    except _Refused as exc:
        await session.close()
        refusal = exc.response
        if 200 <= refusal.code < 300:
            # Tornado: a successful HTTP answer that is not an upgrade.
            raise WebSocketError("Non-websocket response") from None
        raise HTTPClientError(refusal.code, refusal.reason, refusal) from None
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        if 200 <= exc.status < 300:
            # Tornado: a successful HTTP answer that is not an upgrade.
            raise WebSocketError("Non-websocket response") from exc
        raise HTTPClientError(exc.status, exc.message) from exc
    except aiohttp.ClientConnectorError as exc:
        await session.close()
        raise exc.os_error from None  # Tornado raises the socket's own error
    except (aiohttp.ClientError, TimeoutError) as exc:
        await session.close()
        raise HTTPClientError(599, str(exc) or type(exc).__name__) from exc
    except BaseException:
        await session.close()
        raise
    return WebSocketClientConnection(session, ws, on_message_callback, ping_interval, ping_timeout)


def connect(
    url: str | HTTPRequest,
    callback: Callable[[Any], None] | None = None,
    connect_timeout: float | None = None,
    on_message_callback: MessageCallback | None = None,
    compression_options: dict[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    subprotocols: list[str] | None = None,
) -> asyncio.Future[WebSocketClientConnection]:
    future = asyncio.ensure_future(
        _open(
            url,
            on_message_callback,
            connect_timeout,
            compression_options,
            ping_interval,
            ping_timeout,
            max_message_size,
            subprotocols,
        )
    )
    if callback is not None:
        future.add_done_callback(callback)
    return future
