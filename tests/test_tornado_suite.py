"""The behaviours checked by Tornado 6.6.1's ``tornado/test/websocket_test.py``, on this project.

Each test is named after the Tornado test it mirrors (``test_<tornado name>``); the handlers
are our own, written against ``tornado_ws_compat``'s public API, and the clients are aiohttp,
our ``websocket_connect`` and raw sockets. Where Tornado's test reached into its internals
(``ws.protocol._wire_bytes_in``, ``protocol._write_frame``), the same fact is observed on the
wire instead.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import zlib
from typing import Any

import aiohttp
import pytest
from helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Probe,
    aio_ws,
    build_frame,
    raw_connection,
    raw_server,
    raw_websocket,
    serve,
    shut_client,
    upgrade_headers,
    wait,
    ws_client,
)

from tornado_ws_compat import template, web
from tornado_ws_compat.httpclient import HTTPClientError, HTTPRequest
from tornado_ws_compat.websocket import (
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandler,
    websocket_connect,
)

# ---------------------------------------------------------------------------------------------
# Handlers (the counterparts of the ones in Tornado's test module)


class ProbeHandler(WebSocketHandler):
    """Exposes on_close (code, reason) through a probe, as Tornado's TestWebSocketHandler."""

    def initialize(
        self, probe: Probe | None = None, compression_options: dict[str, Any] | None = None
    ) -> None:
        self.probe = probe if probe is not None else Probe()
        self.compression_options = compression_options

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.compression_options

    def open(self, *args: str, **kwargs: str) -> None:
        self.probe.record("open", self)

    def on_close(self) -> None:
        self.probe.record("on_close", self.close_code, self.close_reason)


class EchoHandler(ProbeHandler):
    async def on_message(self, message: str | bytes) -> None:
        try:
            await self.write_message(message, binary=isinstance(message, bytes))
        except WebSocketClosedError:
            pass


class ErrorInOnMessageHandler(ProbeHandler):
    def on_message(self, message: str | bytes) -> None:
        1 / 0  # noqa: B018


class ErrorInAsyncOnMessageHandler(ProbeHandler):
    async def on_message(self, message: str | bytes) -> None:
        await asyncio.sleep(0)
        1 / 0  # noqa: B018


class CancelledInOnMessageHandler(ProbeHandler):
    def on_message(self, message: str | bytes) -> None:
        raise asyncio.CancelledError()


class CancelledInAsyncOnMessageHandler(ProbeHandler):
    async def on_message(self, message: str | bytes) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future


class HeaderHandler(ProbeHandler):
    def open(self) -> None:
        attempts = [
            lambda: self.write("This should not work"),
            lambda: self.redirect("http://localhost/elsewhere"),
            lambda: self.set_header("X-Test", ""),
            lambda: self.set_cookie("Chocolate", "Chip"),
            lambda: self.set_status(503),
            self.flush,
            self.finish,
        ]
        for attempt in attempts:
            try:
                attempt()
            except RuntimeError:
                continue
            raise AssertionError(f"{attempt} did not raise RuntimeError after the upgrade")
        self.write_message(self.request.headers.get("X-Test", ""))


class HeaderEchoHandler(ProbeHandler):
    def set_default_headers(self) -> None:
        self.set_header("X-Extra-Response-Header", "Extra-Response-Value")

    def prepare(self) -> None:
        for name, value in self.request.headers.get_all():
            if name.lower().startswith("x-test"):
                self.set_header(name, value)


class NonWebSocketHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("ok")


class RedirectHandler(web.RequestHandler):
    def get(self) -> None:
        self.redirect("/echo")


class CloseReasonHandler(ProbeHandler):
    def open(self) -> None:
        self.close(1001, "goodbye")


class AsyncPrepareHandler(ProbeHandler):
    async def prepare(self) -> None:
        await asyncio.sleep(0)

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


class PathArgsHandler(ProbeHandler):
    def open(self, arg: str) -> None:  # type: ignore[override]
        self.write_message(arg)


class CoroutineOnMessageHandler(ProbeHandler):
    """Simulated work in on_message: a second message must wait for the first to finish."""

    sleeping = 0

    async def on_message(self, message: str | bytes) -> None:
        if self.sleeping > 0:
            self.write_message("another coroutine is already sleeping")
        self.sleeping += 1
        await asyncio.sleep(0.01)  # work, not a wait for an event
        self.sleeping -= 1
        self.write_message(message)


class RenderMessageHandler(ProbeHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(self.render_string("message.html", message=message))


class RenderPageHandler(ProbeHandler):
    def on_message(self, message: str | bytes) -> None:
        self.render("message.html", message=message)


class SubprotocolHandler(ProbeHandler):
    called = False

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        if self.called:
            raise Exception("select_subprotocol called twice")
        self.called = True
        self.probe.record("select_subprotocol", list(subprotocols))
        return "goodproto" if "goodproto" in subprotocols else None

    def open(self) -> None:
        if not self.called:
            raise Exception("select_subprotocol not called")
        self.write_message(f"subprotocol={self.selected_subprotocol}")


class OpenCoroutineHandler(ProbeHandler):
    """open() waits for the test to say a message was sent; on_message must wait for open."""

    def initialize(self, message_sent: asyncio.Event, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.message_sent = message_sent
        self.open_finished = False

    async def open(self) -> None:
        await self.message_sent.wait()
        await asyncio.sleep(0.01)  # work done after the message has arrived
        self.open_finished = True

    def on_message(self, message: str | bytes) -> None:
        if not self.open_finished:
            raise Exception("on_message called before open finished")
        self.write_message("ok")


class ErrorInOpenHandler(ProbeHandler):
    def open(self) -> None:
        raise Exception("boom")


class ErrorInAsyncOpenHandler(ProbeHandler):
    async def open(self) -> None:
        await asyncio.sleep(0)
        raise Exception("boom")


class NoDelayHandler(ProbeHandler):
    def open(self) -> None:
        self.set_nodelay(True)
        self.write_message("hello")


class NativeCoroutineOnMessageHandler(ProbeHandler):
    sleeping = 0

    async def on_message(self, message: str | bytes) -> None:
        if self.sleeping > 0:
            self.write_message("another coroutine is already sleeping")
        self.sleeping += 1
        await asyncio.sleep(0.01)  # work, not a wait for an event
        self.sleeping -= 1
        self.write_message(message)


class PermissiveOriginHandler(EchoHandler):
    def check_origin(self, origin: str) -> bool:
        return True


class TokenOriginHandler(EchoHandler):
    def prepare(self) -> None:
        self.token_authenticated = self.get_argument("token", None) == "secret"

    def check_origin(self, origin: str) -> bool:
        return self.token_authenticated


class TrustedOriginOverrideHandler(EchoHandler):
    def check_trusted_origin(self, origin: str) -> bool:
        return origin.endswith(".example.com") and "evil" not in origin


class LimitedHandler(ProbeHandler):
    @property
    def max_message_size(self) -> int:
        return 1024

    def on_message(self, message: str | bytes) -> None:
        self.write_message(str(len(message)))


class PongHandler(ProbeHandler):
    def on_pong(self, data: bytes) -> None:
        self.write_message("got pong")


class PingHandler(ProbeHandler):
    def on_ping(self, data: bytes) -> None:
        self.write_message("got ping")


class ManualPingHandler(ProbeHandler):
    def on_ping(self, data: bytes) -> None:
        self.write_message(data, binary=isinstance(data, bytes))


class FloodHandler(ProbeHandler):
    def initialize(self, expected: int = 0, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.expected = expected
        self.received = 0

    def on_message(self, message: str | bytes) -> None:
        self.received += 1
        if self.received == self.expected:
            self.probe.record("all received")
        if message == "flood":
            # 16 MiB the client does not read yet: our socket buffer stays non-empty.
            self.write_message(b"x" * (16 * 1024 * 1024), binary=True)
            self.probe.record("flooded")

    def on_ping(self, data: bytes) -> None:
        self.probe.record("on_ping", data)


def suite_app(probe: Probe) -> list[Any]:
    kw = {"probe": probe}
    return [
        ("/echo", EchoHandler, kw),
        ("/non_ws", NonWebSocketHandler),
        ("/redirect", RedirectHandler),
        ("/header", HeaderHandler, kw),
        ("/header_echo", HeaderEchoHandler, kw),
        ("/close_reason", CloseReasonHandler, kw),
        ("/error_in_on_message", ErrorInOnMessageHandler, kw),
        ("/error_in_async_on_message", ErrorInAsyncOnMessageHandler, kw),
        ("/cancelled_in_on_message", CancelledInOnMessageHandler, kw),
        ("/cancelled_in_async_on_message", CancelledInAsyncOnMessageHandler, kw),
        ("/async_prepare", AsyncPrepareHandler, kw),
        ("/path_args/(.*)", PathArgsHandler, kw),
        ("/coroutine", CoroutineOnMessageHandler, kw),
        ("/render", RenderMessageHandler, kw),
        ("/render_page", RenderPageHandler, kw),
        ("/subprotocol", SubprotocolHandler, kw),
        ("/error_in_open", ErrorInOpenHandler, kw),
        ("/error_in_async_open", ErrorInAsyncOpenHandler, kw),
        ("/nodelay", NoDelayHandler, kw),
    ]


def uncaught(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "tornado.application" and r.getMessage().startswith("Uncaught exception")
    ]


# ---------------------------------------------------------------------------------------------
# WebSocketTest


@pytest.mark.asyncio
async def test_http_request() -> None:
    # A plain HTTP GET to a WebSocket handler.
    async with serve(suite_app(Probe())) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url("/echo")) as response:
            assert response.status == 400
            assert await response.text() == 'Can "Upgrade" only to "WebSocket".'


@pytest.mark.asyncio
async def test_missing_websocket_key() -> None:
    headers = {"Connection": "Upgrade", "Upgrade": "WebSocket", "Sec-WebSocket-Version": "13"}
    async with serve(suite_app(Probe())) as server, raw_connection(server) as conn:
        response = await conn.request("/echo", headers)
        assert response.status == 400
        assert response.text == "Missing/Invalid WebSocket headers"


@pytest.mark.asyncio
async def test_bad_websocket_version() -> None:
    headers = {"Connection": "Upgrade", "Upgrade": "WebSocket", "Sec-WebSocket-Version": "12"}
    async with serve(suite_app(Probe())) as server, raw_connection(server) as conn:
        response = await conn.request("/echo", headers)
        assert response.status == 426
        assert response.headers["Sec-WebSocket-Version"] == "13"


@pytest.mark.asyncio
async def test_websocket_gen() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/echo", scheme="ws")) as ws:
            await wait(ws.write_message("hello"))
            assert await wait(ws.read_message()) == "hello"


@pytest.mark.asyncio
async def test_websocket_callbacks() -> None:
    probe = Probe()
    loop = asyncio.get_running_loop()
    async with serve(suite_app(probe)) as server:
        connected: asyncio.Future[Any] = loop.create_future()
        websocket_connect(server.url("/echo", scheme="ws"), callback=connected.set_result)
        ws = (await wait(connected)).result()
        try:
            ws.write_message("hello")
            read: asyncio.Future[Any] = loop.create_future()
            ws.read_message(read.set_result)
            assert (await wait(read)).result() == "hello"
            ws.close()
            await probe.wait("on_close")
        finally:
            await shut_client(ws)


@pytest.mark.asyncio
async def test_binary_message() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/echo", scheme="ws")) as ws:
            ws.write_message(b"hello \xe9", binary=True)
            assert await wait(ws.read_message()) == b"hello \xe9"


@pytest.mark.asyncio
async def test_unicode_message() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/echo", scheme="ws")) as ws:
            ws.write_message("hello \u00e9")
            assert await wait(ws.read_message()) == "hello \u00e9"


@pytest.mark.asyncio
async def test_error_in_closed_client_write_message() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/echo", scheme="ws")) as ws:
            ws.close()
            with pytest.raises(WebSocketClosedError):
                ws.write_message("hello \u00e9")


MESSAGE_TEMPLATE = {"message.html": "<b>{{ message }}</b>"}


@pytest.mark.asyncio
async def test_render_message() -> None:
    # Mirrors test_render_message: render_string in on_message, sent over the socket.
    probe = Probe()
    loader = template.DictLoader(MESSAGE_TEMPLATE)
    async with (
        serve(suite_app(probe), template_loader=loader) as server,
        aio_ws(server, "/render") as ws,
    ):
        await ws.send_str("hello <you>")
        message = await wait(ws.receive())
        assert message.data == "<b>hello &lt;you&gt;</b>"


@pytest.mark.asyncio
async def test_render_message_render(caplog: pytest.LogCaptureFixture) -> None:
    # render() on an open WebSocket: the 101 finished the response, so Tornado 6.6.1 raises
    # RuntimeError("Cannot render() after finish()") (logged, connection dropped).
    probe = Probe()
    loader = template.DictLoader(MESSAGE_TEMPLATE)
    async with (
        serve(suite_app(probe), template_loader=loader) as server,
        aio_ws(server, "/render_page") as ws,
    ):
        await ws.send_str("hello")
        message = await wait(ws.receive())
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await probe.wait("on_close")
    [record] = uncaught(caplog)
    assert record.exc_info is not None
    error = record.exc_info[1]
    assert isinstance(error, RuntimeError)
    assert str(error) == "Cannot render() after finish()"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/error_in_on_message",
        "/error_in_async_on_message",
        "/cancelled_in_on_message",
        "/cancelled_in_async_on_message",
    ],
)
async def test_error_in_on_message(path: str, caplog: pytest.LogCaptureFixture) -> None:
    # Mirrors test_error_in_on_message, test_error_in_async_on_message,
    # test_cancelled_in_on_message and test_cancelled_in_async_on_message.
    probe = Probe()
    async with serve(suite_app(probe)) as server:
        async with ws_client(server.url(path, scheme="ws")) as ws:
            ws.write_message("hello")
            assert await wait(ws.read_message()) is None
            # on_close is still called.
            await probe.wait("on_close")
    assert len(uncaught(caplog)) == 1
    assert uncaught(caplog)[0].getMessage().startswith(f"Uncaught exception GET {path} (")


@pytest.mark.asyncio
async def test_websocket_http_fail() -> None:
    async with serve(suite_app(Probe())) as server:
        with pytest.raises(HTTPClientError) as info:
            await wait(websocket_connect(server.url("/notfound", scheme="ws")))
        assert info.value.code == 404


@pytest.mark.asyncio
async def test_websocket_http_success() -> None:
    # A 200 answer to a WebSocket handshake: Tornado raises WebSocketError.
    async with serve(suite_app(Probe())) as server:
        with pytest.raises(WebSocketError):
            await wait(websocket_connect(server.url("/non_ws", scheme="ws")))


@pytest.mark.asyncio
async def test_websocket_http_redirect() -> None:
    async with serve(suite_app(Probe())) as server:
        with pytest.raises(HTTPClientError) as info:
            await wait(websocket_connect(server.url("/redirect", scheme="ws")))
        assert info.value.code == 302


@pytest.mark.asyncio
async def test_websocket_network_fail() -> None:
    # Tornado raises the connection's OSError (ConnectionRefusedError).
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(OSError):
        await wait(websocket_connect(f"ws://127.0.0.1:{port}/", connect_timeout=3600))


@pytest.mark.asyncio
async def test_websocket_close_buffered_data(caplog: pytest.LogCaptureFixture) -> None:
    # Two messages, then the TCP connection is torn down under them: no error, one on_close.
    probe = Probe()
    async with serve(suite_app(probe)) as server:
        async with raw_websocket(server, "/echo") as conn:
            await conn.send(build_frame(OP_TEXT, b"hello") + build_frame(OP_TEXT, b"world"))
            conn.abort()
        await probe.wait("on_close")
        # The server still serves.
        async with aio_ws(server, "/echo") as ws:
            await ws.send_str("again")
            assert (await wait(ws.receive_str())) == "again"
    assert probe.count("on_close") == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.asyncio
async def test_websocket_headers() -> None:
    # Arbitrary headers pass through websocket_connect; HTTP output methods raise after open.
    async with serve(suite_app(Probe())) as server:
        request = HTTPRequest(server.url("/header", scheme="ws"), headers={"X-Test": "hello"})
        async with ws_client(request) as ws:
            assert await wait(ws.read_message()) == "hello"


@pytest.mark.asyncio
async def test_websocket_header_echo() -> None:
    # Headers set in prepare() and set_default_headers() go out with the 101.
    async with serve(suite_app(Probe())) as server, raw_connection(server) as conn:
        response = await conn.request("/header_echo", upgrade_headers(**{"X-Test-Hello": "hello"}))
        assert response.status == 101
        assert response.headers.get("X-Test-Hello") == "hello"
        assert response.headers.get("X-Extra-Response-Header") == "Extra-Response-Value"


@pytest.mark.asyncio
async def test_server_close_reason() -> None:
    probe = Probe()
    async with serve(suite_app(probe)) as server:
        async with ws_client(server.url("/close_reason", scheme="ws")) as ws:
            assert await wait(ws.read_message()) is None
            assert ws.close_code == 1001
            assert ws.close_reason == "goodbye"
            # on_close runs whichever side closed; the client echoed the code.
            code, _reason = await probe.wait("on_close")
            assert code == 1001


@pytest.mark.asyncio
async def test_client_close_reason() -> None:
    probe = Probe()
    async with serve(suite_app(probe)) as server:
        async with ws_client(server.url("/echo", scheme="ws")) as ws:
            ws.close(1001, "goodbye")
            assert await probe.wait("on_close") == (1001, "goodbye")


@pytest.mark.asyncio
async def test_write_after_close() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/close_reason", scheme="ws")) as ws:
            assert await wait(ws.read_message()) is None
            with pytest.raises(WebSocketClosedError):
                ws.write_message("hello")


@pytest.mark.asyncio
async def test_async_prepare() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/async_prepare", scheme="ws")) as ws:
            ws.write_message("hello")
            assert await wait(ws.read_message()) == "hello"


@pytest.mark.asyncio
async def test_path_args() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/path_args/hello", scheme="ws")) as ws:
            assert await wait(ws.read_message()) == "hello"


@pytest.mark.asyncio
async def test_coroutine() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/coroutine", scheme="ws")) as ws:
            # Both messages go out at once; the coroutine must handle one at a time.
            await wait(ws.write_message("hello1"))
            await wait(ws.write_message("hello2"))
            assert await wait(ws.read_message()) == "hello1"
            assert await wait(ws.read_message()) == "hello2"


async def _origin_echo(server: Any, path: str, headers: dict[str, str]) -> None:
    async with aio_ws(server, path, headers=headers) as ws:
        await ws.send_str("hello")
        assert await wait(ws.receive_str()) == "hello"


async def _origin_rejected(server: Any, path: str, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await wait(session.ws_connect(server.url(path), headers=headers))
        assert info.value.status == 403


@pytest.mark.asyncio
async def test_check_origin_valid_no_path() -> None:
    async with serve(suite_app(Probe())) as server:
        await _origin_echo(server, "/echo", {"Origin": server.url("").rstrip("/")})


@pytest.mark.asyncio
async def test_check_origin_valid_with_path() -> None:
    async with serve(suite_app(Probe())) as server:
        await _origin_echo(server, "/echo", {"Origin": server.url("/something")})


@pytest.mark.asyncio
async def test_check_origin_invalid_partial_url() -> None:
    async with serve(suite_app(Probe())) as server:
        await _origin_rejected(server, "/echo", {"Origin": f"127.0.0.1:{server.port}"})


@pytest.mark.asyncio
async def test_check_origin_invalid() -> None:
    async with serve(suite_app(Probe())) as server:
        await _origin_rejected(server, "/echo", {"Origin": "http://somewhereelse.com"})


@pytest.mark.asyncio
async def test_check_origin_invalid_subdomains() -> None:
    # Host "localhost:port" (sent by hand: no name resolution involved); a subdomain origin.
    async with serve(suite_app(Probe())) as server, raw_connection(server) as conn:
        response = await conn.request(
            "/echo",
            upgrade_headers(Origin="http://subtenant.localhost"),
            host=f"localhost:{server.port}",
        )
        assert response.status == 403


@pytest.mark.asyncio
async def test_subprotocols() -> None:
    probe = Probe()
    async with serve(suite_app(probe)) as server:
        url = server.url("/subprotocol", scheme="ws")
        async with ws_client(url, subprotocols=["badproto", "goodproto"]) as ws:
            assert ws.selected_subprotocol == "goodproto"
            assert await wait(ws.read_message()) == "subprotocol=goodproto"
    assert probe.of("select_subprotocol") == [(["badproto", "goodproto"],)]


@pytest.mark.asyncio
async def test_subprotocols_not_offered() -> None:
    probe = Probe()
    async with serve(suite_app(probe)) as server:
        async with ws_client(server.url("/subprotocol", scheme="ws")) as ws:
            assert ws.selected_subprotocol is None
            assert await wait(ws.read_message()) == "subprotocol=None"
    assert probe.of("select_subprotocol") == [([],)]


@pytest.mark.asyncio
async def test_open_coroutine() -> None:
    message_sent = asyncio.Event()
    routes = [("/open_coroutine", OpenCoroutineHandler, {"message_sent": message_sent})]
    async with serve(routes) as server:
        async with ws_client(server.url("/open_coroutine", scheme="ws")) as ws:
            await wait(ws.write_message("hello"))
            message_sent.set()
            assert await wait(ws.read_message()) == "ok"


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/error_in_open", "/error_in_async_open"])
async def test_error_in_open(path: str, caplog: pytest.LogCaptureFixture) -> None:
    # Mirrors test_error_in_open and test_error_in_async_open.
    probe = Probe()
    async with serve(suite_app(probe)) as server:
        async with ws_client(server.url(path, scheme="ws")) as ws:
            assert await wait(ws.read_message()) is None
    assert len(uncaught(caplog)) == 1
    # Tornado 6.6.1: open() never completed, so on_close is not called.
    assert probe.count("on_close") == 0


@pytest.mark.asyncio
async def test_nodelay() -> None:
    async with serve(suite_app(Probe())) as server:
        async with ws_client(server.url("/nodelay", scheme="ws")) as ws:
            assert await wait(ws.read_message()) == "hello"


# ---------------------------------------------------------------------------------------------
# WebSocketNativeCoroutineTest


@pytest.mark.asyncio
async def test_native_coroutine() -> None:
    async with serve([("/native", NativeCoroutineOnMessageHandler)]) as server:
        async with ws_client(server.url("/native", scheme="ws")) as ws:
            await wait(ws.write_message("hello1"))
            await wait(ws.write_message("hello2"))
            assert await wait(ws.read_message()) == "hello1"
            assert await wait(ws.read_message()) == "hello2"


# ---------------------------------------------------------------------------------------------
# WebSocketOriginTest: origin checks are always on for WebSockets (Tornado 6.6).


def origin_app() -> list[Any]:
    return [
        ("/echo", EchoHandler),
        ("/permissive", PermissiveOriginHandler),
        ("/token", TokenOriginHandler),
        ("/trusted_override", TrustedOriginOverrideHandler),
    ]


ORIGIN_SETTINGS: dict[str, Any] = {
    "trusted_origins": ["http://trusted.example.com"],
    # xsrf_cookies must not interfere with WebSockets (GETs that carry no XSRF token).
    "xsrf_cookies": True,
}


@pytest.mark.asyncio
async def test_same_origin_with_xsrf_cookies() -> None:
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        await _origin_echo(server, "/echo", {"Origin": f"http://127.0.0.1:{server.port}"})


@pytest.mark.asyncio
async def test_no_origin() -> None:
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        await _origin_echo(server, "/echo", {})


@pytest.mark.asyncio
async def test_trusted_origin() -> None:
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        await _origin_echo(server, "/echo", {"Origin": "http://trusted.example.com"})


@pytest.mark.asyncio
async def test_trusted_origin_cross_site() -> None:
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        headers = {"Origin": "http://trusted.example.com", "Sec-Fetch-Site": "cross-site"}
        await _origin_echo(server, "/echo", headers)


@pytest.mark.asyncio
async def test_sec_fetch_site_same_origin() -> None:
    # Sec-Fetch-Site wins over the Origin/Host comparison (a proxy may rewrite Host).
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        headers = {"Origin": "http://proxied.example.com", "Sec-Fetch-Site": "same-origin"}
        await _origin_echo(server, "/echo", headers)


@pytest.mark.asyncio
async def test_sec_fetch_site_cross_site() -> None:
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        headers = {"Origin": "http://evil.example.com", "Sec-Fetch-Site": "cross-site"}
        await _origin_rejected(server, "/echo", headers)


@pytest.mark.asyncio
async def test_sec_fetch_site_same_site() -> None:
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        headers = {"Origin": "http://sub.example.com", "Sec-Fetch-Site": "same-site"}
        await _origin_rejected(server, "/echo", headers)


@pytest.mark.asyncio
async def test_check_origin_override() -> None:
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        headers = {"Origin": "http://evil.example.com", "Sec-Fetch-Site": "cross-site"}
        await _origin_echo(server, "/permissive", headers)


@pytest.mark.asyncio
async def test_mixed_case_upgrade_header() -> None:
    # A mixed-case Upgrade value must not bypass the origin check.
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server, raw_connection(server) as conn:
        headers = {
            "Upgrade": "WebSocket",
            "Connection": "Upgrade",
            "Origin": "http://evil.example.com",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        response = await conn.request("/echo", headers)
        assert response.status == 403
        assert response.text == "Cross origin websockets not allowed"


@pytest.mark.asyncio
async def test_check_origin_after_prepare() -> None:
    # check_origin may rely on prepare() (authentication by token here).
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        evil = "http://evil.example.com"
        cross = {"Origin": evil, "Sec-Fetch-Site": "cross-site"}
        await _origin_echo(server, "/token?token=secret", cross)
        await _origin_echo(server, "/token?token=secret", {"Origin": evil})
        await _origin_rejected(server, "/token", cross)


@pytest.mark.asyncio
async def test_check_trusted_origin_override() -> None:
    # The default check_origin calls check_trusted_origin.
    async with serve(origin_app(), **ORIGIN_SETTINGS) as server:
        same_site = {"Origin": "http://sub.example.com", "Sec-Fetch-Site": "same-site"}
        await _origin_echo(server, "/trusted_override", same_site)
        cross = {"Origin": "http://evil.example.com", "Sec-Fetch-Site": "cross-site"}
        await _origin_rejected(server, "/trusted_override", cross)


# ---------------------------------------------------------------------------------------------
# CompressionTestMixin and its four cases, observed on the wire (raw socket) and end to end.

MESSAGE = "Hello world. Testing 123 123"
DEFLATE_TAIL = b"\x00\x00\xff\xff"


def compress_message(compressor: Any, data: bytes) -> bytes:
    out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(DEFLATE_TAIL)
    return out[:-4]


def compression_app(server_options: dict[str, Any] | None) -> list[Any]:
    kw = {"compression_options": server_options}
    return [("/echo", EchoHandler, kw), ("/limited", LimitedHandler, kw)]


async def _message_sizes(
    server_options: dict[str, Any] | None, offer: str | None
) -> tuple[str | None, list[int], list[int]]:
    """Echo MESSAGE three times over a raw socket; the negotiated extension and frame sizes."""
    extra = {"Sec-WebSocket-Extensions": offer} if offer else {}
    wire_out: list[int] = []
    wire_in: list[int] = []
    async with serve(compression_app(server_options)) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/echo", {**upgrade_headers(), **extra})
            assert response.status == 101
            agreed = response.headers.get("Sec-WebSocket-Extensions")
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            decompressor = zlib.decompressobj(-15)
            for _ in range(3):
                data = MESSAGE.encode()
                if agreed:
                    frame = build_frame(OP_TEXT, compress_message(compressor, data), rsv=4)
                else:
                    frame = build_frame(OP_TEXT, data)
                wire_out.append(len(frame))
                await conn.send(frame)
                reply = await conn.read_frame()
                wire_in.append(2 + len(reply.payload))
                assert reply.opcode == OP_TEXT
                if agreed:
                    assert reply.rsv == 4, "a compressed message has RSV1 set"
                    text = decompressor.decompress(reply.payload + DEFLATE_TAIL)
                else:
                    assert reply.rsv == 0
                    text = reply.payload
                assert text.decode() == MESSAGE
            await conn.send_close(1000)
            assert (await conn.read_frame()).opcode == OP_CLOSE
    return agreed, wire_out, wire_in


def verify_uncompressed(wire_out: list[int], wire_in: list[int]) -> None:
    # Bytes out include the 4-byte mask key per message.
    assert sum(wire_out) == 3 * (len(MESSAGE) + 6)
    assert sum(wire_in) == 3 * (len(MESSAGE) + 2)


@pytest.mark.asyncio
async def test_message_sizes_no_compression() -> None:
    # NoCompressionTest.test_message_sizes
    agreed, wire_out, wire_in = await _message_sizes(None, None)
    assert agreed is None
    verify_uncompressed(wire_out, wire_in)


@pytest.mark.asyncio
async def test_message_sizes_server_only_compression() -> None:
    # ServerOnlyCompressionTest.test_message_sizes: the client did not offer it.
    agreed, wire_out, wire_in = await _message_sizes({}, None)
    assert agreed is None
    verify_uncompressed(wire_out, wire_in)


@pytest.mark.asyncio
async def test_message_sizes_client_only_compression() -> None:
    # ClientOnlyCompressionTest.test_message_sizes: the server does not enable it.
    offer = "permessage-deflate; client_max_window_bits"
    agreed, wire_out, wire_in = await _message_sizes(None, offer)
    assert agreed is None
    verify_uncompressed(wire_out, wire_in)


@pytest.mark.asyncio
async def test_message_sizes_default_compression() -> None:
    # DefaultCompressionTest.test_message_sizes, with context takeover (the default):
    # the repeated message compresses to far less the second and third time.
    agreed, wire_out, wire_in = await _message_sizes({}, "permessage-deflate")
    assert agreed == "permessage-deflate"
    assert sum(wire_out) < 3 * (len(MESSAGE) + 6)
    assert sum(wire_in) < 3 * (len(MESSAGE) + 2)
    assert wire_in[1] < wire_in[0] and wire_in[2] < wire_in[0]


@pytest.mark.asyncio
async def test_message_sizes_default_compression_no_context_takeover() -> None:
    # server_no_context_takeover: each message is compressed on its own, so every
    # frame of the same message has the same size.
    offer = "permessage-deflate; server_no_context_takeover"
    agreed, _wire_out, wire_in = await _message_sizes({}, offer)
    assert agreed is not None and "server_no_context_takeover" in agreed
    assert wire_in[0] == wire_in[1] == wire_in[2]


@pytest.mark.asyncio
@pytest.mark.parametrize("server_options", [None, {}])
@pytest.mark.parametrize("client_compress", [0, 15])
async def test_message_sizes_end_to_end(
    server_options: dict[str, Any] | None, client_compress: int
) -> None:
    # The four compression cases with aiohttp's client: messages arrive intact, and the
    # extension is in use only when both sides asked for it.
    async with serve(compression_app(server_options)) as server:
        async with aio_ws(server, "/echo", compress=client_compress) as ws:
            assert bool(ws.compress) == (server_options is not None and client_compress > 0)
            for _ in range(3):
                await ws.send_str(MESSAGE)
                assert await wait(ws.receive_str()) == MESSAGE


@pytest.mark.asyncio
@pytest.mark.parametrize("server_options", [None, {}])
@pytest.mark.parametrize("client_compress", [0, 15])
async def test_size_limit(server_options: dict[str, Any] | None, client_compress: int) -> None:
    # Small messages pass; one too big after decompression (though small on the wire) closes.
    async with serve(compression_app(server_options)) as server:
        async with aio_ws(server, "/limited", compress=client_compress) as ws:
            await ws.send_str("a" * 128)
            assert await wait(ws.receive_str()) == "128"
            await ws.send_str("a" * 2048)
            message = await wait(ws.receive())
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1009


@pytest.mark.asyncio
async def test_compression_bomb() -> None:
    # CompressedMessageMemoryTest: a small compressed message that inflates far past the
    # limit is refused with 1009 (without inflating it all).
    limit = 1024 * 1024
    routes = [("/", EchoHandler, {"compression_options": {}})]
    async with serve(routes, websocket_max_message_size=limit) as server:
        async with raw_websocket(
            server, "/", {"Sec-WebSocket-Extensions": "permessage-deflate"}
        ) as c:
            assert c.response is not None
            assert c.response.headers["Sec-WebSocket-Extensions"] == "permessage-deflate"
            bomb = compress_message(zlib.compressobj(9, zlib.DEFLATED, -15), bytes(16 * limit))
            assert len(bomb) < limit
            await c.send(build_frame(OP_BINARY, bomb, rsv=4))
            frames = await c.frames_until_eof()
            assert [f.opcode for f in frames] == [OP_CLOSE]
            assert frames[0].close_code == 1009


# ---------------------------------------------------------------------------------------------
# Pings


@pytest.mark.asyncio
async def test_server_ping() -> None:
    # ServerPeriodicPingTest: the server pings on its own; on_pong sees each answer.
    settings = {"websocket_ping_interval": 0.01, "websocket_ping_timeout": 0}
    async with serve([("/", PongHandler)], **settings) as server:
        async with aio_ws(server, "/") as ws:
            for _ in range(3):
                assert await wait(ws.receive_str()) == "got pong"


@pytest.mark.asyncio
async def test_client_ping() -> None:
    # ClientPeriodicPingTest: our client pings on its own; on_ping sees each ping.
    async with serve([("/", PingHandler)]) as server:
        url = server.url("/", scheme="ws")
        async with ws_client(url, ping_interval=0.01, ping_timeout=0) as ws:
            for _ in range(3):
                assert await wait(ws.read_message()) == "got ping"


@pytest.mark.asyncio
async def test_client_ping_timeout() -> None:
    # ServerPingTimeoutTest.test_client_ping_timeout: our client pings; while pongs come
    # back the connection stays open; when they stop, the client closes with
    # 1000 "ping timed out" (Tornado 6.5+), a close frame on the wire.
    interval = 0.1
    async with raw_server() as server:
        connecting = asyncio.ensure_future(
            websocket_connect(server.url("/"), ping_interval=interval, ping_timeout=interval / 2)
        )
        peer = await server.accept()
        ws = await wait(connecting)
        try:
            for _ in range(3):
                frame = await peer.read_frame()
                assert frame.opcode == OP_PING
                await peer.send_frame(OP_PONG, frame.payload)
            # Stop answering: the next frames are one more ping, then the close.
            frame = await peer.read_frame()
            while frame.opcode == OP_PING:
                frame = await peer.read_frame()
            assert frame.opcode == OP_CLOSE
            assert (frame.close_code, frame.close_reason) == (1000, "ping timed out")
            await peer.send_frame(OP_CLOSE, frame.payload[:2])
            assert await wait(ws.read_message()) is None
        finally:
            await peer.aclose()
            await shut_client(ws)


@pytest.mark.asyncio
async def test_manual_ping() -> None:
    # ManualPingTest: ping payloads reach on_ping as bytes; >125 bytes is a ValueError.
    async with serve([("/", ManualPingHandler)]) as server:
        async with ws_client(server.url("/", scheme="ws")) as ws:
            with pytest.raises(ValueError):
                ws.ping("a" * 126)
            ws.ping("hello")
            assert await wait(ws.read_message()) == b"hello"
            ws.ping(b"binary hello")
            assert await wait(ws.read_message()) == b"binary hello"


@pytest.mark.asyncio
async def test_many_small_messages_yield() -> None:
    # FloodTest.test_many_small_messages_yield: 5000 frames that arrive at once must not
    # block the loop until all are handled; other callbacks get to run in between.
    count = 5000
    probe = Probe()
    frames = b"\x82\x81\x00\x00\x00\x00x" * count  # masked binary b"x", all-zero mask
    async with serve([("/", FloodHandler, {"probe": probe, "expected": count})]) as server:
        async with raw_connection(server) as conn:
            head = (
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n\r\n"
            )
            await conn.send(head.encode() + frames)
            handler = (await probe.wait("open"))[0]
            ticks = 0
            loop = asyncio.get_running_loop()

            def tick() -> None:
                nonlocal ticks
                if handler.received < count:
                    ticks += 1
                    loop.call_soon(tick)

            tick()
            await probe.wait("all received")
            assert ticks > 10


@pytest.mark.asyncio
async def test_pong_most_recent_ping() -> None:
    # FloodTest.test_pong_most_recent_ping: while our writes are not flushed (the client
    # is not reading), pings are not all answered: only the most recent one is sure to be.
    # Once nothing is outstanding, a ping is answered at once.
    probe = Probe()
    async with serve([("/", FloodHandler, {"probe": probe})]) as server:
        async with raw_websocket(server, "/") as conn:
            await conn.send_text("flood")
            await probe.wait("flooded")
            for data in (b"1", b"2", b"3"):
                await conn.send_frame(OP_PING, data)
            await probe.wait_count("on_ping", 3)
            assert [event[1] for event in probe.events if event[0] == "on_ping"] == [
                b"1",
                b"2",
                b"3",
            ]
            big = await conn.read_frame()
            assert big.opcode == OP_BINARY and len(big.payload) == 16 * 1024 * 1024
            pongs = []
            while not pongs or pongs[-1] != b"3":
                frame = await conn.read_frame()
                assert frame.opcode == OP_PONG
                pongs.append(frame.payload)
            assert b"2" not in pongs
            await conn.send_frame(OP_PING, b"4")
            frame = await conn.read_frame()
            assert (frame.opcode, frame.payload) == (OP_PONG, b"4")


# ---------------------------------------------------------------------------------------------
# MaxMessageSizeTest


@pytest.mark.asyncio
async def test_large_message() -> None:
    async with serve([("/", EchoHandler)], websocket_max_message_size=1024) as server:
        async with ws_client(server.url("/", scheme="ws")) as ws:
            message = "a" * 1024
            ws.write_message(message)
            assert await wait(ws.read_message()) == message
            ws.write_message(message + "b")
            assert await wait(ws.read_message()) is None
            assert ws.close_code == 1009
            assert ws.close_reason == "message too big"


# ---------------------------------------------------------------------------------------------
# Behaviours the legacy API and Tornado's handler docs promise beyond its test module.


class PingPongHandler(ProbeHandler):
    def open(self) -> None:
        self.ping(b"server data")

    def on_pong(self, data: bytes) -> None:
        self.probe.record("on_pong", data)

    def on_ping(self, data: bytes) -> None:
        self.probe.record("on_ping", data)


@pytest.mark.asyncio
async def test_ping_pong_with_data() -> None:
    # handler.ping(data): the client's pong carries the data back to on_pong; a client ping
    # with data is answered with a pong carrying the same data and reaches on_ping.
    probe = Probe()
    async with serve([("/", PingPongHandler, {"probe": probe})]) as server:
        async with raw_websocket(server, "/") as conn:
            ping = await conn.read_frame()
            assert (ping.opcode, ping.payload) == (OP_PING, b"server data")
            await conn.send_frame(OP_PONG, ping.payload)
            assert await probe.wait("on_pong") == (b"server data",)
            await conn.send_frame(OP_PING, b"client data")
            pong = await conn.read_frame()
            assert (pong.opcode, pong.payload) == (OP_PONG, b"client data")
            assert await probe.wait("on_ping") == (b"client data",)


@pytest.mark.asyncio
async def test_unsolicited_pong() -> None:
    # RFC 6455 section 5.5.3: an unsolicited pong is allowed (a heartbeat); on_pong sees it.
    probe = Probe()
    async with serve([("/", PingPongHandler, {"probe": probe})]) as server:
        async with raw_websocket(server, "/") as conn:
            assert (await conn.read_frame()).opcode == OP_PING
            await conn.send_frame(OP_PONG, b"unsolicited")
            assert await probe.wait("on_pong") == (b"unsolicited",)
            await conn.send_close(1000)
            assert (await conn.read_frame()).close_code == 1000


class AwaitWriteHandler(ProbeHandler):
    async def on_message(self, message: str | bytes) -> None:
        result = self.write_message(f"echo {message}")
        self.probe.record("awaitable", hasattr(result, "__await__"))
        self.probe.record("resolved", await result)


@pytest.mark.asyncio
async def test_write_message_returns_awaitable() -> None:
    # Tornado 4.3+: write_message returns a Future for flow control; it resolves to None.
    probe = Probe()
    async with serve([("/", AwaitWriteHandler, {"probe": probe})]) as server:
        async with aio_ws(server, "/") as ws:
            await ws.send_str("one")
            assert await wait(ws.receive_str()) == "echo one"
            assert await probe.wait("awaitable") == (True,)
            assert await probe.wait("resolved") == (None,)


class AsyncCallbackHandler(ProbeHandler):
    def open(self) -> None:
        loop = asyncio.get_running_loop()
        ok = self.async_callback(self.fine, "a", key="b")
        loop.call_soon(ok, "c")
        loop.call_soon(self.async_callback(self.coroutine_fine))

    def fine(self, *args: str, **kwargs: str) -> str:
        self.probe.record("fine", args, kwargs)
        return "returned"

    async def coroutine_fine(self) -> None:
        await asyncio.sleep(0)
        self.probe.record("coroutine fine")

    def on_message(self, message: str | bytes) -> None:
        loop = asyncio.get_running_loop()
        if message == "sync":
            loop.call_soon(self.async_callback(self.fails, 1))
        else:
            loop.call_soon(self.async_callback(self.coroutine_fails))

    def fails(self, value: int) -> None:
        raise ValueError(f"callback failed with {value}")

    async def coroutine_fails(self) -> None:
        await asyncio.sleep(0)
        raise ValueError("coroutine callback failed")


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["sync", "coroutine"])
async def test_async_callback(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    # Legacy Tornado 1.x-3.x API: async_callback(callback, *args, **kwargs) runs the callback
    # with the bound and call arguments; an uncaught exception is logged on
    # tornado.application and closes this WebSocket (on_close runs once).
    probe = Probe()
    async with serve([("/", AsyncCallbackHandler, {"probe": probe})]) as server:
        async with aio_ws(server, "/") as ws:
            assert await probe.wait("fine") == (("a", "c"), {"key": "b"})
            await probe.wait("coroutine fine")
            assert not uncaught_or_errors(caplog)
            await ws.send_str(kind)
            message = await wait(ws.receive())
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await probe.wait("on_close")
    errors = uncaught_or_errors(caplog)
    assert len(errors) == 1
    assert errors[0].name == "tornado.application"
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], ValueError)
    assert probe.count("on_close") == 1


def uncaught_or_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]
