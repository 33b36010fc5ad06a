"""``tornado_ws_compat.websocket.websocket_connect``: Tornado's client API, against our server.

Where the client's wire behaviour matters (what it offers, what it answers), a hand-driven
raw server (``helpers.raw_server``) stands in for ours.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import (
    OP_CLOSE,
    OP_TEXT,
    Probe,
    close_payload,
    raw_server,
    serve,
    shut_client,
    wait,
    ws_client,
)

from tornado_ws_compat.httpclient import HTTPClientError, HTTPRequest
from tornado_ws_compat.websocket import (
    WebSocketClosedError,
    WebSocketHandler,
    websocket_connect,
)


class Server(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "chat" if "chat" in subprotocols else None

    def open(self) -> None:
        self.probe.record("open", self.request.headers.get("X-Client", None))
        if self.get_argument("greet", None):
            self.write_message("greetings")

    def on_message(self, message: str | bytes) -> None:
        self.probe.record("on_message", message)
        if message == "close me":
            self.close(4100, "server says bye")
        elif message == "big":
            self.write_message("b" * 2048)
        elif message == "three":
            for part in ("1", "2", "3"):
                self.write_message(part)
        else:
            self.write_message(message, binary=isinstance(message, bytes))

    def on_ping(self, data: bytes) -> None:
        self.probe.record("on_ping", data)

    def on_close(self) -> None:
        self.probe.record("on_close", self.close_code, self.close_reason)


def routes(probe: Probe) -> list[Any]:
    return [("/ws", Server, {"probe": probe})]


@pytest.mark.asyncio
async def test_write_and_read_messages() -> None:
    async with serve(routes(Probe())) as server:
        async with ws_client(server.url("/ws", scheme="ws")) as ws:
            future = ws.write_message("text é")
            assert await wait(future) is None  # awaitable, resolves when sent
            assert await wait(ws.read_message()) == "text é"
            ws.write_message(b"\x00\x01", binary=True)
            assert await wait(ws.read_message()) == b"\x00\x01"
            ws.write_message({"a": "</b>"})
            assert await wait(ws.read_message()) == '{"a": "<\\/b>"}'
            ws.write_message("three")
            assert [await wait(ws.read_message()) for _ in range(3)] == ["1", "2", "3"]


@pytest.mark.asyncio
async def test_read_message_callback_and_connect_callback() -> None:
    loop = asyncio.get_running_loop()
    async with serve(routes(Probe())) as server:
        connected: asyncio.Future[Any] = loop.create_future()
        returned = websocket_connect(
            server.url("/ws?greet=1", scheme="ws"), callback=connected.set_result
        )
        done = await wait(connected)
        assert done is returned
        ws = done.result()
        try:
            read: asyncio.Future[Any] = loop.create_future()
            ws.read_message(read.set_result)
            assert (await wait(read)).result() == "greetings"
        finally:
            await shut_client(ws)


@pytest.mark.asyncio
async def test_read_message_none_after_server_close() -> None:
    probe = Probe()
    async with serve(routes(probe)) as server:
        async with ws_client(server.url("/ws", scheme="ws")) as ws:
            ws.write_message("close me")
            assert await wait(ws.read_message()) is None
            assert (ws.close_code, ws.close_reason) == (4100, "server says bye")
            with pytest.raises(WebSocketClosedError):
                ws.write_message("after")
            with pytest.raises(WebSocketClosedError):
                ws.ping(b"after")
        code, _reason = await probe.wait("on_close")
        assert code == 4100  # the client echoed the server's code (RFC 6455 5.5.1)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("args", "server_sees"),
    [
        ((), (None, None)),
        ((1000,), (1000, None)),
        ((4200, "client says bye"), (4200, "client says bye")),
        ((None, "reason only"), (1000, "reason only")),
    ],
)
async def test_close_with_code_and_reason(args: tuple[Any, ...], server_sees: Any) -> None:
    probe = Probe()
    async with serve(routes(probe)) as server:
        async with ws_client(server.url("/ws", scheme="ws")) as ws:
            await probe.wait("open")
            ws.close(*args)
            ws.close(4999, "second call is a no-op")
            assert await wait(ws.read_message()) is None
        assert await probe.wait("on_close") == server_sees


@pytest.mark.asyncio
async def test_close_frame_on_the_wire() -> None:
    # What the client sends for close(code, reason), and that it waits for the answer.
    async with raw_server() as server:
        connecting = asyncio.ensure_future(websocket_connect(server.url("/")))
        peer = await server.accept()
        ws = await wait(connecting)
        try:
            ws.close(4300, "wire")
            frame = await peer.read_frame()
            assert (frame.opcode, frame.payload) == (OP_CLOSE, close_payload(4300, "wire"))
            await peer.send_frame(OP_CLOSE, close_payload(4300))
            assert await wait(ws.read_message()) is None
            assert ws.close_code == 4300
        finally:
            await peer.aclose()
            await shut_client(ws)


@pytest.mark.asyncio
async def test_ping() -> None:
    probe = Probe()
    async with serve(routes(probe)) as server:
        async with ws_client(server.url("/ws", scheme="ws")) as ws:
            ws.ping(b"data")
            assert await probe.wait("on_ping") == (b"data",)
            ws.ping("text")
            await probe.wait_count("on_ping", 2)
            assert probe.of("on_ping")[1] == (b"text",)
            with pytest.raises(ValueError):
                ws.ping(b"x" * 126)


@pytest.mark.asyncio
async def test_on_message_callback() -> None:
    received: list[str | bytes | None] = []
    ended = asyncio.Event()

    def on_message(message: str | bytes | None) -> None:
        received.append(message)
        if message is None:
            ended.set()

    async with serve(routes(Probe())) as server:
        ws = await wait(
            websocket_connect(server.url("/ws", scheme="ws"), on_message_callback=on_message)
        )
        try:
            ws.write_message("three")
            ws.write_message("close me")
            await wait(ended.wait())
        finally:
            await shut_client(ws)
    assert received == ["1", "2", "3", None]


@pytest.mark.asyncio
async def test_subprotocols() -> None:
    async with serve(routes(Probe())) as server:
        url = server.url("/ws", scheme="ws")
        async with ws_client(url, subprotocols=["v2", "chat"]) as ws:
            assert ws.selected_subprotocol == "chat"
        async with ws_client(url, subprotocols=["v2"]) as ws:
            assert ws.selected_subprotocol is None
        async with ws_client(url) as ws:
            assert ws.selected_subprotocol is None


@pytest.mark.asyncio
async def test_request_headers() -> None:
    probe = Probe()
    async with serve(routes(probe)) as server:
        request = HTTPRequest(server.url("/ws", scheme="ws"), headers={"X-Client": "legacy"})
        async with ws_client(request):
            assert await probe.wait("open") == ("legacy",)


@pytest.mark.asyncio
async def test_rejected_handshakes_raise_http_client_error() -> None:
    async with serve(routes(Probe())) as server:
        with pytest.raises(HTTPClientError) as info:
            await wait(websocket_connect(server.url("/missing", scheme="ws")))
        assert info.value.code == 404
        request = HTTPRequest(
            server.url("/ws", scheme="ws"), headers={"Origin": "http://evil.example"}
        )
        with pytest.raises(HTTPClientError) as info:
            await wait(websocket_connect(request))
        assert info.value.code == 403


@pytest.mark.asyncio
async def test_connect_timeout() -> None:
    # A server that accepts the TCP connection but never answers: HTTPClientError 599
    # (Tornado's HTTPTimeoutError is an HTTPClientError with code 599).
    accepted = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        accepted.set()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        with pytest.raises(HTTPClientError) as info:
            await wait(websocket_connect(f"ws://127.0.0.1:{port}/", connect_timeout=0.2))
        assert info.value.code == 599
        assert accepted.is_set()
    finally:
        for writer in writers:
            writer.close()
        listener.close()
        await listener.wait_closed()


@pytest.mark.asyncio
async def test_compression_options_offer_permessage_deflate() -> None:
    async with raw_server() as server:
        for options, offered in ((None, False), ({}, True)):
            connecting = asyncio.ensure_future(
                websocket_connect(server.url("/"), compression_options=options)
            )
            peer = await server.accept()
            ws = await wait(connecting)
            try:
                header = peer.headers.get("Sec-WebSocket-Extensions", "")
                assert ("permessage-deflate" in header) == offered
                await peer.send_frame(OP_TEXT, b"plain")
                assert await wait(ws.read_message()) == "plain"
            finally:
                await peer.aclose()
                await shut_client(ws)


@pytest.mark.asyncio
async def test_compressed_round_trip_with_our_server() -> None:
    class Compressing(Server):
        def get_compression_options(self) -> dict[str, Any]:
            return {}

    async with serve([("/ws", Compressing, {"probe": Probe()})]) as server:
        url = server.url("/ws", scheme="ws")
        async with ws_client(url, compression_options={}) as ws:
            text = "repeat " * 500
            for _ in range(3):
                ws.write_message(text)
                assert await wait(ws.read_message()) == text


@pytest.mark.asyncio
async def test_max_message_size() -> None:
    # A message over the client's limit closes the connection with 1009.
    probe = Probe()
    async with serve(routes(probe)) as server:
        url = server.url("/ws", scheme="ws")
        async with ws_client(url, max_message_size=1024) as ws:
            ws.write_message("big")
            assert await wait(ws.read_message()) is None
        code, _reason = await probe.wait("on_close")
        assert code == 1009


class Refusing(WebSocketHandler):
    """Answers the upgrade with its own status, reason phrase, header and body."""

    def get(self, *args: Any, **kwargs: Any) -> None:
        self.set_status(401, "Go Away")
        self.set_header("X-Why", "no token")
        self.finish("log in first")


class PlainPage(WebSocketHandler):
    def get(self, *args: Any, **kwargs: Any) -> None:
        self.finish("not a socket")


class Moved(WebSocketHandler):
    """Redirects the upgrade, as an ``@authenticated`` socket does a stranger to login_url."""

    def get(self, *args: Any, **kwargs: Any) -> None:
        self.set_header("X-Why", "log in")
        self.redirect("/login?next=%2Fmoved")


@pytest.mark.asyncio
async def test_refused_handshake_error_matches_tornado() -> None:
    """A refused handshake raises what Tornado 6.6.1's client raises: HTTPClientError with the
    server's reason phrase as its message and the answer (code, reason, headers, body) as its
    ``response``; a 200 that is no upgrade is a WebSocketError."""
    import tornado.httpclient
    import tornado.websocket

    def seen(error: BaseException) -> Any:
        response = getattr(error, "response", None)
        if response is None:
            return [type(error).__name__, str(error)]
        return [
            type(error).__name__,
            str(error),
            getattr(error, "code", None),
            response.code,
            response.reason,
            response.body,
            response.headers.get("X-Why"),
            response.headers.get("Content-Type"),
            response.headers.get("Location"),
        ]

    async def attempt(connect: Any, url: str) -> Any:
        try:
            await wait(connect(url))
        except Exception as error:
            return seen(error)
        raise AssertionError(f"{url} was accepted")

    rules = [
        ("/refuse", Refusing),
        ("/plain", PlainPage),
        ("/moved", Moved),
        ("/ws", Server, {"probe": Probe()}),
    ]
    async with serve(rules) as server:
        # A redirect is refused too (not followed), its Location in the error's response.
        for path in ("/refuse", "/missing", "/plain", "/moved"):
            url = server.url(path, scheme="ws")
            theirs = await attempt(tornado.websocket.websocket_connect, url)
            ours = await attempt(websocket_connect, url)
            assert ours == theirs, path
        origin = {"Origin": "http://evil.example"}
        url = server.url("/ws", scheme="ws")
        theirs = await attempt(
            tornado.websocket.websocket_connect,
            tornado.httpclient.HTTPRequest(url, headers=origin),
        )
        assert await attempt(websocket_connect, HTTPRequest(url, headers=origin)) == theirs
