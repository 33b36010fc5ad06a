"""``websocket_connect`` on aiohttp's client, with Tornado's ``WebSocketClientConnection`` API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from tornado_ws_compat.errors import WebSocketClosedError
from tornado_ws_compat.httpclient import HTTPClientError, HTTPRequest
from tornado_ws_compat.lifecycle import DEFAULT_MAX_MESSAGE_SIZE
from tornado_ws_compat.log import app_log

__all__ = ["WebSocketClientConnection", "connect"]

MessageCallback = Callable[[str | bytes | None], Any]


class WebSocketClientConnection:
    """A client WebSocket (``tornado.websocket.WebSocketClientConnection``).

    Messages are read with ``read_message`` (``None`` once closed) or passed to
    ``on_message_callback``. Like Tornado, at most one unread message is buffered: the
    connection stops reading from the socket until it is consumed.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        on_message_callback: MessageCallback | None,
    ) -> None:
        self._session = session
        self._ws = ws
        self._on_message_callback = on_message_callback
        self._queue: asyncio.Queue[str | bytes | None] = asyncio.Queue(1)
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._closing = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._reader = asyncio.ensure_future(self._read_loop())

    @property
    def selected_subprotocol(self) -> str | None:
        return self._ws.protocol

    async def _read_loop(self) -> None:
        ws = self._ws
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    await self._deliver(msg.data)
                    continue
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    self.close_code = msg.data or None
                    self.close_reason = msg.extra if msg.data else None
                break
        except (asyncio.CancelledError, aiohttp.ClientError, ConnectionError):
            pass
        finally:
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
            from tornado_ws_compat.escape import json_encode

            message = json_encode(message)
        if binary or isinstance(message, bytes):
            data = message.encode("utf-8") if isinstance(message, str) else message
            coro = (
                self._ws.send_bytes(data)
                if binary
                else self._ws.send_frame(data, aiohttp.WSMsgType.TEXT)
            )
        else:
            coro = self._ws.send_str(message)
        return asyncio.ensure_future(self._guard(coro))

    @staticmethod
    async def _guard(coro: Any) -> None:
        try:
            await coro
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise WebSocketClosedError() from exc

    def ping(self, data: str | bytes = b"") -> None:
        if self._closing or self._ws.closed:
            raise WebSocketClosedError()
        payload = data.encode("utf-8") if isinstance(data, str) else data
        self._keep(asyncio.ensure_future(self._guard(self._ws.ping(payload))))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; ``read_message`` returns ``None`` once it is done."""
        if self._closing:
            return
        self._closing = True
        if code is None and reason is not None:
            code = 1000
        message = (reason or "").encode("utf-8")
        self._keep(asyncio.ensure_future(self._ws.close(code=code or 1000, message=message)))

    def _keep(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _open(
    url: str | HTTPRequest,
    on_message_callback: MessageCallback | None,
    connect_timeout: float | None,
    compression_options: dict[str, Any] | None,
    ping_interval: float | None,
    max_message_size: int,
    subprotocols: list[str] | None,
) -> WebSocketClientConnection:
    request = url if isinstance(url, HTTPRequest) else HTTPRequest(url)
    target = request.url
    if target.startswith("ws://"):
        target = "http://" + target[5:]
    elif target.startswith("wss://"):
        target = "https://" + target[6:]
    session = aiohttp.ClientSession()
    try:
        ws = await asyncio.wait_for(
            session.ws_connect(
                target,
                headers=dict(request.headers.get_all()),
                protocols=tuple(subprotocols or ()),
                compress=15 if compression_options is not None else 0,
                max_msg_size=max_message_size,
                heartbeat=ping_interval or None,
                autoping=True,
                ssl=True if request.validate_cert else False,
            ),
            timeout=connect_timeout or request.connect_timeout,
        )
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        raise HTTPClientError(exc.status, exc.message) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await session.close()
        raise HTTPClientError(599, str(exc) or type(exc).__name__) from exc
    except BaseException:
        await session.close()
        raise
    return WebSocketClientConnection(session, ws, on_message_callback)


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
            max_message_size,
            subprotocols,
        )
    )
    if callback is not None:
        future.add_done_callback(callback)
    return future
