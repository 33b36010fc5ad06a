"""Pub/sub (issue 12): one API over memory:// and redis://, delivery, order, rooms, closes."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from helpers import TIMEOUT, wait

from tornado_ws_compat import web
from tornado_ws_compat.errors import ConfigurationError
from tornado_ws_compat.pubsub import PubSubHub
from tornado_ws_compat.server import HTTPServer
from tornado_ws_compat.testing import running
from tornado_ws_compat.websocket import WebSocketHandler

from .conftest import need_redis_server
from .redis_server import RedisServer, free_port


class RoomSocket(WebSocketHandler):
    """Joins the room of its URL; what it receives it publishes to that room."""

    def initialize(self, closed: asyncio.Queue[str] | None = None) -> None:
        self.closed = closed

    def open(self, room: str) -> Any:
        self.room = room
        return self.subscribe(room)  # awaited by open: subscribed before the first message

    async def on_message(self, message: str | bytes) -> None:
        if message == "leave":
            # Resolves once the broker confirmed (Redis's UNSUBSCRIBE reply).
            confirmed = await self.unsubscribe(self.room)
            self.write_message(f"left {confirmed}")
        elif isinstance(message, str) and message.startswith("json:"):
            self.publish(self.room, {"text": message[5:]})
        else:
            self.publish(self.room, message)

    def on_close(self) -> None:
        if self.closed is not None:
            self.closed.put_nowait(self.room)


class Publish(web.RequestHandler):
    def post(self, room: str) -> None:
        self.application.publish(room, self.request.body.decode())
        self.write("ok")


def make_app(url: str = "memory://", closed: asyncio.Queue[str] | None = None) -> web.Application:
    return web.Application(
        [(r"/room/(\w+)", RoomSocket, {"closed": closed}), (r"/publish/(\w+)", Publish)],
        pubsub_url=url,
    )


@asynccontextmanager
async def chat(url: str) -> AsyncIterator[tuple[HTTPServer, aiohttp.ClientSession]]:
    app = make_app(url)
    try:
        async with running(app) as server, aiohttp.ClientSession() as session:
            yield server, session
    finally:
        await app.pubsub.close()


async def join(session: aiohttp.ClientSession, server: HTTPServer, room: str) -> Any:
    ws = await session.ws_connect(server.url(f"/room/{room}"))
    return ws


@pytest.fixture(params=["memory", "redis"])
def broker_url(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        yield "memory://"
        return
    need_redis_server()
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_every_subscriber_gets_every_message_in_order(broker_url: str) -> None:
    async with chat(broker_url) as (server, session):
        clients = [await join(session, server, "lobby") for _ in range(3)]
        # open() returned the subscription's future: awaited before any message is read.
        # Three publishers interleaved: each one's messages arrive in its publish order.
        for i in range(60):
            await clients[i % 3].send_str(f"{i % 3}:{i}")
        for ws in clients:
            got = [(await wait(ws.receive())).data for _ in range(60)]
            assert sorted(got) == sorted(f"{i % 3}:{i}" for i in range(60))
            for publisher in "012":
                mine = [int(m[2:]) for m in got if m[0] == publisher]
                assert mine == sorted(mine)
        for ws in clients:
            await ws.close()


@pytest.mark.asyncio
async def test_types_text_binary_json(broker_url: str) -> None:
    async with chat(broker_url) as (server, session):
        ws = await join(session, server, "types")
        await ws.send_str("héllo")
        text = await wait(ws.receive())
        assert (text.type, text.data) == (aiohttp.WSMsgType.TEXT, "héllo")
        await ws.send_bytes(b"\x00\xff")
        binary = await wait(ws.receive())
        assert (binary.type, binary.data) == (aiohttp.WSMsgType.BINARY, b"\x00\xff")
        await ws.send_str("json:x")
        encoded = await wait(ws.receive())
        assert encoded.type == aiohttp.WSMsgType.TEXT
        assert json.loads(encoded.data) == {"text": "x"}
        await ws.close()


@pytest.mark.asyncio
async def test_rooms_are_isolated_and_app_publish_reaches_them(broker_url: str) -> None:
    async with chat(broker_url) as (server, session):
        red = await join(session, server, "red")
        blue = await join(session, server, "blue")
        # The 101 comes before open() has joined the room: a round trip through the room
        # shows it has, before anything is published from outside the socket.
        await red.send_str("joined")
        assert (await wait(red.receive())).data == "joined"
        async with session.post(server.url("/publish/red"), data="to red") as response:
            assert response.status == 200
        await red.send_str("from red")
        await blue.send_str("from blue")
        assert [(await wait(red.receive())).data for _ in range(2)] == ["to red", "from red"]
        assert (await wait(blue.receive())).data == "from blue"
        await red.close()
        await blue.close()


@pytest.mark.asyncio
async def test_unsubscribe_and_close_drop_subscriptions(broker_url: str) -> None:
    closed: asyncio.Queue[str] = asyncio.Queue()
    app = make_app(broker_url, closed)
    try:
        async with running(app) as server, aiohttp.ClientSession() as session:
            stays = await join(session, server, "room")
            leaves = await join(session, server, "room")
            goes = await join(session, server, "room")
            assert app.pubsub.subscribers("room") == 3
            await leaves.send_str("leave")
            assert (await wait(leaves.receive())).data == "left True"
            assert app.pubsub.subscribers("room") == 2
            await goes.close()
            assert await wait(closed.get()) == "room"  # on_close ran: subscriptions gone
            assert app.pubsub.subscribers("room") == 1
            await stays.send_str("after")
            assert (await wait(stays.receive())).data == "after"
            # The one that left gets nothing more: the next thing it sees is our probe.
            await leaves.send_str("leave")
            assert (await wait(leaves.receive())).data == "left True"
            await stays.close()
            await leaves.close()
            for _ in range(2):
                await wait(closed.get())
            assert app.pubsub.subscribers("room") == 0
    finally:
        await app.pubsub.close()


@pytest.mark.asyncio
async def test_redis_has_one_subscription_per_process_and_drops_it(
    redis_server: RedisServer,
) -> None:
    closed: asyncio.Queue[str] = asyncio.Queue()
    app = make_app(redis_server.url, closed)
    try:
        async with running(app) as server, aiohttp.ClientSession() as session:
            clients = [await join(session, server, "shared") for _ in range(5)]
            await clients[0].send_str("ping")
            for ws in clients:
                assert (await wait(ws.receive())).data == "ping"
            # Five local subscribers, one Redis subscriber (this process).
            assert redis_server.cli("PUBSUB", "NUMSUB", "shared").split() == ["shared", "1"]
            for ws in clients[1:]:
                await ws.close()
                await wait(closed.get())
            assert redis_server.cli("PUBSUB", "NUMSUB", "shared").split() == ["shared", "1"]
            # The last local subscriber leaves: confirmed by Redis before "left" is sent.
            await clients[0].send_str("leave")
            assert (await wait(clients[0].receive())).data == "left True"
            assert redis_server.cli("PUBSUB", "NUMSUB", "shared").split() == ["shared", "0"]
            await clients[0].close()
            await wait(closed.get())
            # Closing the last local subscriber unsubscribes on Redis too.
            again = [await join(session, server, "shared") for _ in range(2)]
            assert redis_server.cli("PUBSUB", "NUMSUB", "shared").split() == ["shared", "1"]
            for ws in again:
                await ws.close()
                await wait(closed.get())
            # Commands on the one subscription connection are answered in order: once a
            # later UNSUBSCRIBE is confirmed, the one sent at the close has been applied.
            probe = await join(session, server, "probe")
            await probe.send_str("leave")
            assert (await wait(probe.receive())).data == "left True"
            assert redis_server.cli("PUBSUB", "NUMSUB", "shared").split() == ["shared", "0"]
            await probe.close()
    finally:
        await app.pubsub.close()


@pytest.mark.asyncio
async def test_redis_outage_is_survived_logged_once_and_delivery_resumes(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tornado.general")
    app = make_app(redis_server.url)
    try:
        async with running(app) as server, aiohttp.ClientSession() as session:
            ws = await join(session, server, "news")
            await ws.send_str("before")
            assert (await wait(ws.receive())).data == "before"
            redis_server.stop()
            # Publishing during the outage: never raises, resolves False, is counted.
            outcomes = await wait(
                asyncio.gather(*(app.publish("news", f"lost{i}") for i in range(20)))
            )
            assert outcomes.count(False) >= 19  # the first may still be in flight
            # HTTP and WebSockets keep being served.
            async with session.post(server.url("/publish/news"), data="x") as response:
                assert response.status == 200
            redis_server.start()

            # Delivery resumes within 5 s of Redis coming back.
            async def resumed() -> None:
                await app.pubsub.wait_connected()
                await ws.send_str("after")
                while (await ws.receive()).data != "after":
                    pass  # "x" may have made it if Redis was back before it was sent

            await asyncio.wait_for(resumed(), 5.0)
            await ws.close()
    finally:
        await app.pubsub.close()
    assert app.pubsub.lost_messages >= 19
    outage = [r for r in caplog.records if "unreachable" in r.getMessage()]
    back = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(outage) == 1, [r.getMessage() for r in caplog.records]
    assert len(back) == 1
    assert "subscriptions restored" in back[0].getMessage()


@pytest.mark.asyncio
async def test_publish_never_raises_when_redis_was_never_up() -> None:
    hub = PubSubHub(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert await wait(hub.publish("c", "x")) is False
        assert await wait(hub.publish("c", "y")) is False
    finally:
        await hub.close()
    assert hub.lost_messages == 2


def test_bad_urls_fail_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="memory://, redis:// or rediss://"):
        web.Application([], pubsub_url="amqp://localhost")
    # Without the optional extra, a redis:// URL names the extra to install.
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r'pip install "tornado_ws_compat\[redis\]"'):
        web.Application([], pubsub_url="redis://127.0.0.1:6379/0")


@pytest.mark.asyncio
async def test_slow_subscriber_does_not_hold_back_others(broker_url: str) -> None:
    """A subscriber that stops reading is bounded by the write buffer; the others still
    get every message at once."""
    async with chat(broker_url) as (server, session):
        # A raw socket that never reads after its handshake.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /room/big HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await writer.drain()
        head = await wait(reader.readuntil(b"\r\n\r\n"))
        assert head.startswith(b"HTTP/1.1 101")
        fast = await join(session, server, "big")
        payload = "x" * 65536
        for _ in range(64):  # 4 MiB to the slow one, which reads none of it
            await fast.send_str(payload)
            message = await wait(fast.receive(), TIMEOUT)
            assert message.data == payload
        await fast.close()
        writer.close()


@pytest.mark.asyncio
async def test_redis_with_a_password_and_the_password_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    need_redis_server()
    secured = RedisServer(password="s3cret-pw")
    secured.start()
    app = make_app(secured.url)
    try:
        async with running(app) as server, aiohttp.ClientSession() as session:
            ws = await join(session, server, "private")
            await ws.send_str("hello")
            assert (await wait(ws.receive())).data == "hello"
            assert secured.cli("PUBSUB", "NUMSUB", "private").split() == ["private", "1"]
            secured.stop()  # an outage: logged with the URL, never with the password
            # The publish fails on the dead connection (False) and the outage is logged.
            assert await wait(app.publish("private", "lost")) is False
            await ws.close()
    finally:
        await app.pubsub.close()
        secured.stop()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unreachable" in logged
    assert "s3cret-pw" not in logged
    assert ":***@127.0.0.1" in logged
