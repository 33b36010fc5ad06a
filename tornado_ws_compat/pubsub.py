"""Publish/subscribe for WebSocket handlers, in one process or across processes and hosts.

One API whatever the broker: a handler calls ``self.subscribe(channel)``, anyone calls
``handler.publish(channel, message)`` or ``application.publish(channel, message)``, and the
message reaches every handler subscribed to ``channel`` as ``write_message(message)`` (``str``
as text, ``bytes`` as binary, ``dict`` as JSON text). The Application setting ``pubsub_url``
picks the broker:

- ``memory://`` (the default): this process only; delivery happens inside ``publish``.
- ``redis://[:password@]host:port/db`` (or ``rediss://``): Redis pub/sub, so every process
  and host that uses the same URL shares the channels. One Redis connection per process
  carries every subscription (not one per socket); a channel is subscribed on Redis only while
  this process has a local subscriber; each message is decoded once per process and handed
  to all its local subscribers. Needs the optional extra: ``pip install
  "tornado_ws_compat[redis]"`` (redis-py's ``redis.asyncio``).

Delivery is at most once, as Redis pub/sub is: while the broker is unreachable, publishes are
dropped and counted (``PubSubHub.lost_messages``), the outage is logged once on
``tornado.general`` when it starts and once when it ends; the connection is retried with
backoff (at most :data:`RECONNECT_MAX_DELAY` seconds apart) and subscriptions are restored.
``subscribe``, ``unsubscribe`` and ``publish`` never block and never raise because the broker
is down; each returns a future that need not be awaited: it resolves to ``True`` once the
operation took effect on the broker, ``False`` if the broker was unreachable (a subscription
still stands and is restored when the broker is back).
"""

from __future__ import annotations

import asyncio
import collections
import os
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tornado_ws_compat import escape
from tornado_ws_compat.errors import ConfigurationError, WebSocketClosedError
from tornado_ws_compat.log import app_log, gen_log

if TYPE_CHECKING:
    from tornado_ws_compat.websocket import WebSocketHandler

__all__ = [
    "DEFAULT_PUBSUB_URL",
    "MAX_PENDING_PUBLISHES",
    "RECONNECT_MAX_DELAY",
    "MemoryBroker",
    "PubSubHub",
    "RedisBroker",
    "encode_message",
]

DEFAULT_PUBSUB_URL = "memory://"
#: Publishes waiting for the Redis connection; past this, new ones are dropped and counted.
MAX_PENDING_PUBLISHES = 10_000
#: Seconds between reconnection attempts grow from 0.1 to this.
RECONNECT_MAX_DELAY = 2.0
_RECONNECT_MIN_DELAY = 0.1
#: Publishes sent to Redis in one pipeline (one system call, one round trip).
_PUBLISH_BATCH = 512
# Every process keeps this channel subscribed so that its connection is always in subscribe
# mode (redis-py's reader stops when nothing is subscribed) and an outage is seen at once.
_KEEPALIVE_CHANNEL = "tornado_ws_compat:pubsub:keepalive"
# On the wire a message is one type byte then the payload: text (UTF-8) or binary.
_TEXT = b"t"
_BINARY = b"b"

#: ``deliver(channel, payload, binary)``: what a broker calls for each message it receives.
Deliver = Callable[[str, bytes, bool], None]


def encode_message(message: str | bytes | dict[str, Any]) -> tuple[bytes, bool]:
    """``(payload, binary)`` as ``write_message`` sends it: dicts become JSON text."""
    if isinstance(message, dict):
        message = escape.json_encode(message)
    if isinstance(message, str):
        return message.encode("utf-8"), False
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message), True
    raise TypeError(f"a published message must be str, bytes or dict, not {type(message)!r}")


def _loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        from tornado_ws_compat.ioloop import IOLoop

        return IOLoop.current().asyncio_loop


def _done(value: bool) -> asyncio.Future[bool]:
    future: asyncio.Future[bool] = _loop().create_future()
    future.set_result(value)
    return future


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class MemoryBroker:
    """``memory://``: channels of this process only; ``publish`` delivers at once."""

    url = DEFAULT_PUBSUB_URL

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def subscribe(self, channel: str) -> asyncio.Future[bool]:
        return _done(True)

    def unsubscribe(self, channel: str) -> asyncio.Future[bool]:
        return _done(True)

    def publish(self, channel: str, payload: bytes, binary: bool) -> asyncio.Future[bool]:
        self._deliver(channel, payload, binary)
        return _done(True)

    async def wait_connected(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisBroker:
    """``redis://``: Redis pub/sub through redis-py's asyncio client.

    Two connections per process: one in subscribe mode read by one task, one that sends
    publishes (pipelined, in publish order) from one task.
    """

    def __init__(self, url: str, deliver: Deliver) -> None:
        try:
            import redis.asyncio
        except ImportError as exc:
            raise ConfigurationError(
                f"pubsub_url {_redact(url)!r} needs the Redis client: "
                'pip install "tornado_ws_compat[redis]"'
            ) from exc
        self._redis = redis.asyncio
        self.url = url
        self._deliver = deliver
        #: Channels with a local subscriber: what Redis must have subscribed.
        self._channels: set[str] = set()
        # Futures waiting for Redis to confirm a SUBSCRIBE / an UNSUBSCRIBE, by channel.
        self._confirmations: dict[str, list[asyncio.Future[bool]]] = {}
        self._unsubscriptions: dict[str, list[asyncio.Future[bool]]] = {}
        self._connected: asyncio.Event | None = None
        self._pubsub: Any = None  # redis.asyncio.client.PubSub while connected
        self._publisher: Any = None
        self._pending: collections.deque[tuple[str, bytes, asyncio.Future[bool]]] = (
            collections.deque()
        )
        self._publish_wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._control: asyncio.Lock | None = None
        #: "connecting" until the first connection, then "up" or "down".
        self.state = "connecting"
        self._outage_started = 0.0
        self.lost_messages = 0
        self._lost_in_outage = 0
        self._closed = False

    # ---- the broker interface ----

    def subscribe(self, channel: str) -> asyncio.Future[bool]:
        self._start()
        self._channels.add(channel)
        if self.state == "down":
            return _done(False)  # restored when the connection is back
        if self._pubsub is None:
            # Connecting: the reader subscribes to every wanted channel once connected.
            future = _loop().create_future()
            self._confirmations.setdefault(channel, []).append(future)
            return future
        return self._command("subscribe", channel)

    def unsubscribe(self, channel: str) -> asyncio.Future[bool]:
        self._channels.discard(channel)
        for waiter in self._confirmations.pop(channel, ()):
            _resolve(waiter, False)
        if self._pubsub is None:
            return _done(self.state != "down")
        return self._command("unsubscribe", channel)

    def publish(self, channel: str, payload: bytes, binary: bool) -> asyncio.Future[bool]:
        self._start()
        if self.state == "down" or len(self._pending) >= MAX_PENDING_PUBLISHES:
            self._lose(1)
            return _done(False)
        future: asyncio.Future[bool] = _loop().create_future()
        self._pending.append((channel, (_BINARY if binary else _TEXT) + payload, future))
        assert self._publish_wakeup is not None
        self._publish_wakeup.set()
        return future

    async def wait_connected(self) -> None:
        """Return once subscriptions are live on Redis (after a start or an outage)."""
        self._start()
        assert self._connected is not None
        await self._connected.wait()

    async def close(self) -> None:
        self._closed = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        while self._pending:
            _resolve(self._pending.popleft()[2], False)
        self._fail_confirmations()
        if self._publisher is not None:
            publisher, self._publisher = self._publisher, None
            await publisher.aclose()

    # ---- connection management ----

    def _start(self) -> None:
        if self._tasks or self._closed:
            return
        loop = _loop()
        self._publish_wakeup = asyncio.Event()
        self._control = asyncio.Lock()
        self._connected = asyncio.Event()
        self._tasks = [
            loop.create_task(self._read_forever()),
            loop.create_task(self._publish_forever()),
        ]

    def _client(self) -> Any:
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside redis-py: a failure surfaces at once and this class decides
        # (drop, count, reconnect with backoff), so an outage is seen and logged once.
        return self._redis.from_url(
            self.url, retry=Retry(NoBackoff(), 0), single_connection_client=True
        )

    async def _read_forever(self) -> None:
        delay = _RECONNECT_MIN_DELAY
        while not self._closed:
            client = self._client()
            pubsub = client.pubsub()
            try:
                async with self._control_lock():
                    # Set first: a subscribe() from now on queues its own command behind
                    # this lock, so no channel falls between the snapshot and the reader.
                    self._pubsub = pubsub
                    await pubsub.subscribe(_KEEPALIVE_CHANNEL, *self._channels)
                delay = _RECONNECT_MIN_DELAY
                async for message in pubsub.listen():
                    self._on_redis_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, reset, timeout, protocol error
                self._went_down(exc)
            finally:
                self._pubsub = None
                await _close_quietly(pubsub, client)
            if self._closed:
                return
            await asyncio.sleep(delay)  # reconnection backoff
            delay = min(delay * 2, RECONNECT_MAX_DELAY)

    def _control_lock(self) -> asyncio.Lock:
        assert self._control is not None
        return self._control

    def _on_redis_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = _text(message["channel"])
        if kind == "message":
            data = message["data"]
            if isinstance(data, bytes) and data[:1] in (_TEXT, _BINARY):
                self._deliver(channel, data[1:], data[:1] == _BINARY)
            else:
                gen_log.warning("Ignoring a foreign message on pub/sub channel %r", channel)
        elif kind == "subscribe":
            if channel == _KEEPALIVE_CHANNEL:
                self._came_up()
            for waiter in self._confirmations.pop(channel, ()):
                _resolve(waiter, True)
        elif kind == "unsubscribe":
            for waiter in self._unsubscriptions.pop(channel, ()):
                _resolve(waiter, True)

    def _command(self, name: str, channel: str) -> asyncio.Future[bool]:
        """Send SUBSCRIBE/UNSUBSCRIBE on the subscription connection, one at a time.

        The reader resolves the future when Redis confirms (its "subscribe"/"unsubscribe"
        reply); it resolves False if the command cannot be sent.
        """
        future: asyncio.Future[bool] = _loop().create_future()
        pubsub = self._pubsub
        waiting = self._confirmations if name == "subscribe" else self._unsubscriptions

        async def send() -> None:
            try:
                async with self._control_lock():
                    if pubsub is not self._pubsub:
                        # Reconnected meanwhile: the new connection subscribed to the
                        # channels wanted at that time.
                        _resolve(future, self.state == "up")
                        return
                    waiting.setdefault(channel, []).append(future)
                    await getattr(pubsub, name)(channel)
            except Exception:
                _resolve(future, False)  # the reader sees the outage and reconnects

        task = _loop().create_task(send())
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)
        return future

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        try:
            self._tasks.remove(task)
        except ValueError:
            pass

    async def _publish_forever(self) -> None:
        wakeup = self._publish_wakeup
        assert wakeup is not None
        pending = self._pending
        while not self._closed:
            await wakeup.wait()
            wakeup.clear()
            while pending and self.state != "down":
                if self._publisher is None:
                    self._publisher = self._client()
                batch = [pending.popleft() for _ in range(min(len(pending), _PUBLISH_BATCH))]
                try:
                    pipe = self._publisher.pipeline(transaction=False)
                    for channel, payload, _future in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
                except asyncio.CancelledError:
                    for _channel, _payload, future in batch:
                        _resolve(future, False)
                    raise
                except Exception as exc:
                    self._lose(len(batch))
                    for _channel, _payload, future in batch:
                        _resolve(future, False)
                    publisher, self._publisher = self._publisher, None
                    await _close_quietly(publisher)
                    self._went_down(exc)
                else:
                    for _channel, _payload, future in batch:
                        _resolve(future, True)
            if self.state == "down":
                # At most once: what waited for a connection that is gone is dropped.
                self._lose(len(pending))
                while pending:
                    _resolve(pending.popleft()[2], False)

    def _lose(self, count: int) -> None:
        self.lost_messages += count
        self._lost_in_outage += count

    def _went_down(self, exc: BaseException) -> None:
        if self.state == "down" or self._closed:
            return
        self.state = "down"
        self._outage_started = _loop().time()
        self._lost_in_outage = 0
        gen_log.warning(
            "Pub/sub broker %s unreachable (%s: %s); messages published meanwhile are "
            "dropped; reconnecting",
            _redact(self.url),
            type(exc).__name__,
            exc,
        )
        if self._connected is not None:
            self._connected.clear()
        self._fail_confirmations()
        if self._publish_wakeup is not None:
            self._publish_wakeup.set()  # the publisher drops what is queued

    def _fail_confirmations(self) -> None:
        for waiters in (*self._confirmations.values(), *self._unsubscriptions.values()):
            for waiter in waiters:
                _resolve(waiter, False)
        self._confirmations.clear()
        self._unsubscriptions.clear()

    def _came_up(self) -> None:
        previous, self.state = self.state, "up"
        assert self._connected is not None
        self._connected.set()
        if previous == "down":
            gen_log.warning(
                "Pub/sub broker %s reachable again after %.1f s; %d published messages "
                "were dropped; subscriptions restored",
                _redact(self.url),
                _loop().time() - self._outage_started,
                self._lost_in_outage,
            )
        if self._pending and self._publish_wakeup is not None:
            self._publish_wakeup.set()


async def _close_quietly(*resources: Any) -> None:
    for resource in resources:
        if resource is None:
            continue
        try:
            await resource.aclose()
        except Exception:  # already broken: nothing more to release
            gen_log.debug("Error closing a pub/sub connection", exc_info=True)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _redact(url: str) -> str:
    """The URL without its password, for log lines and errors."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}:***@{netloc}"
    else:
        netloc = f":***@{netloc}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def make_broker(url: str, deliver: Deliver) -> MemoryBroker | RedisBroker:
    """The broker for ``url``: ``memory://``, ``redis://`` or ``rediss://``."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "memory":
        return MemoryBroker(deliver)
    if scheme in ("redis", "rediss"):
        return RedisBroker(url, deliver)
    raise ConfigurationError(
        f"pubsub_url {_redact(url)!r}: the scheme must be memory://, redis:// or rediss://"
    )


class PubSubHub:
    """One per Application and process: local subscribers by channel, over one broker."""

    def __init__(self, url: str = DEFAULT_PUBSUB_URL) -> None:
        self.url = url
        self.pid = os.getpid()
        # Insertion-ordered dicts used as sets: delivery follows subscription order.
        self._subscribers: dict[str, dict[WebSocketHandler, None]] = {}
        self._broker_subscriptions: dict[str, asyncio.Future[bool]] = {}
        self.broker = make_broker(url, self._deliver)

    @property
    def lost_messages(self) -> int:
        """Messages published while the broker was unreachable (dropped, at most once)."""
        return getattr(self.broker, "lost_messages", 0)

    def subscribers(self, channel: str) -> int:
        """How many handlers of this process are subscribed to ``channel``."""
        return len(self._subscribers.get(channel, ()))

    def subscribe(self, handler: WebSocketHandler, channel: str) -> asyncio.Future[bool]:
        local = self._subscribers.get(channel)
        if local is None:
            local = self._subscribers[channel] = {}
            self._broker_subscriptions[channel] = self.broker.subscribe(channel)
        else:
            known = self._broker_subscriptions[channel]
            if known.done() and not known.result():
                # It failed during an outage: ask again (a repeated SUBSCRIBE is harmless).
                self._broker_subscriptions[channel] = self.broker.subscribe(channel)
        local[handler] = None
        # Every local subscriber waits for the one broker subscription of the channel: a
        # second socket must not publish before the broker has the first one's SUBSCRIBE.
        return self._broker_subscriptions[channel]

    def unsubscribe(self, handler: WebSocketHandler, channel: str) -> asyncio.Future[bool]:
        local = self._subscribers.get(channel)
        if local is None or handler not in local:
            return _done(True)
        del local[handler]
        if local:
            return _done(True)
        del self._subscribers[channel]
        del self._broker_subscriptions[channel]
        return self.broker.unsubscribe(channel)

    def publish(self, channel: str, message: str | bytes | dict[str, Any]) -> asyncio.Future[bool]:
        payload, binary = encode_message(message)
        return self.broker.publish(channel, payload, binary)

    async def wait_connected(self) -> None:
        """Return once the broker is reachable (at once for ``memory://``)."""
        await self.broker.wait_connected()

    async def close(self) -> None:
        self._subscribers.clear()
        self._broker_subscriptions.clear()
        await self.broker.close()

    def _deliver(self, channel: str, payload: bytes, binary: bool) -> None:
        local = self._subscribers.get(channel)
        if not local:
            return
        # One payload for every local subscriber: a text payload is UTF-8 already, so
        # write_message sends it without encoding it again (binary=False keeps the text
        # opcode, as Tornado's write_message does for bytes).
        for handler in list(local):
            try:
                handler.write_message(payload, binary=binary)
            except WebSocketClosedError:
                pass  # closing: its subscriptions go when on_close runs
            except Exception:
                app_log.error("Error delivering a pub/sub message to %r", handler, exc_info=True)
