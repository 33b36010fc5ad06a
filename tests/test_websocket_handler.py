"""WebSocketHandler behaviour (issue 2), beyond what the Tornado suite port already checks.

Expectations are Tornado 6.6.1's observable behaviour (checked against the installed Tornado
where the documentation is silent). Clients: aiohttp for ordinary traffic, raw sockets when a
test needs to misbehave (never answer a close, drop the TCP connection, withhold pongs).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import socket
import time
from typing import Any

import aiohttp
import pytest
from helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Probe,
    aio_ws,
    build_frame,
    raw_connection,
    raw_websocket,
    serve,
    settle,
    upgrade_headers,
    wait,
)
from tornado import web as tornado_web

from tornado_ws_compat import web
from tornado_ws_compat.testing import running
from tornado_ws_compat.websocket import WebSocketClosedError, WebSocketHandler

SECRET = "a cookie secret shared with a real Tornado app"


class Recorder(WebSocketHandler):
    """Records every hook (and what it saw) on the probe passed in the route's kwargs."""

    def initialize(self, probe: Probe, **options: Any) -> None:
        self.probe = probe
        self.options = options
        probe.record("initialize", self, options)

    def prepare(self) -> None:
        self.probe.record("prepare")

    def check_origin(self, origin: str) -> bool:
        self.probe.record("check_origin", origin)
        return bool(self.options.get("allow_origin", False))

    def get_compression_options(self) -> dict[str, Any] | None:
        self.probe.record("get_compression_options")
        return self.options.get("compression")  # type: ignore[no-any-return]

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        self.probe.record("select_subprotocol", list(subprotocols))
        choice = self.options.get("subprotocol")
        return choice if choice in subprotocols else None

    def on_finish(self) -> None:
        self.probe.record("on_finish")

    def open(self, *args: str, **kwargs: str) -> None:
        self.probe.record("open", args, kwargs)

    def on_message(self, message: str | bytes) -> None:
        self.probe.record("on_message", message)
        if message == "close":
            self.close(4001, "asked to")
        elif isinstance(message, str) and message.startswith("echo "):
            self.write_message(message[5:])

    def on_ping(self, data: bytes) -> None:
        self.probe.record("on_ping", data)

    def on_pong(self, data: bytes) -> None:
        self.probe.record("on_pong", data)

    def on_close(self) -> None:
        self.probe.record("on_close", self.close_code, self.close_reason)


def recorder_routes(probe: Probe, **options: Any) -> list[Any]:
    kw = {"probe": probe, **options}
    return [
        (r"/ws", Recorder, kw),
        (r"/ws/([^/]*)/(.*)", Recorder, kw),
        (r"/kw/(?P<first>[^/]*)/(?P<second>.*)", Recorder, kw),
    ]


def hook_names(probe: Probe) -> list[str]:
    return [name for name in probe.names() if name != "initialize"]


# ---------------------------------------------------------------------------------------------
# Construction, routing, hook order


@pytest.mark.asyncio
async def test_constructor_passes_route_kwargs_to_initialize() -> None:
    probe = Probe()
    app_routes = recorder_routes(probe, colour="blue", size=3)
    async with serve(app_routes, custom_setting="yes") as server:
        async with aio_ws(server, "/ws") as ws:
            await ws.send_str("echo hi")
            assert await wait(ws.receive_str()) == "hi"
    handler, options = await probe.wait("initialize")
    assert options == {"colour": "blue", "size": 3}
    assert isinstance(handler.application, web.Application)
    assert handler.settings is handler.application.settings
    assert handler.settings["custom_setting"] == "yes"
    assert handler.request.path == "/ws"


@pytest.mark.asyncio
async def test_url_groups_are_percent_decoded_to_str() -> None:
    # Tornado decodes groups with url_unescape(plus=False): %2F becomes "/", "+" stays.
    probe = Probe()
    async with serve(recorder_routes(probe)) as server:
        async with aio_ws(server, "/ws/caf%C3%A9/a+b%20c%2F"):
            assert await probe.wait("open") == (("café", "a+b c/"), {})
        async with aio_ws(server, "/kw/q%2Fr/s"):
            pass
    assert probe.of("open")[1] == ((), {"first": "q/r", "second": "s"})
    for args, kwargs in (event for event in probe.of("open")):
        assert all(type(value) is str for value in (*args, *kwargs.values()))


@pytest.mark.asyncio
async def test_invalid_utf8_in_url_group_is_400() -> None:
    probe = Probe()
    async with serve(recorder_routes(probe)) as server, raw_connection(server) as conn:
        response = await conn.request("/ws/%FF/x", upgrade_headers())
        assert response.status == 400
    assert "open" not in probe.names()


@pytest.mark.asyncio
async def test_hook_order_matches_tornado() -> None:
    # Tornado 6.6.1 (checked): initialize, prepare, check_origin (cross-origin only),
    # get_compression_options, select_subprotocol, on_finish (at the 101), open, on_message,
    # on_close.
    probe = Probe()
    async with serve(recorder_routes(probe, allow_origin=True)) as server:
        async with aio_ws(server, "/ws", headers={"Origin": "http://elsewhere.example"}) as ws:
            await ws.send_str("close")
            message = await wait(ws.receive())
            assert message.type is aiohttp.WSMsgType.CLOSE
        await probe.wait("on_close")
    assert hook_names(probe) == [
        "prepare",
        "check_origin",
        "get_compression_options",
        "select_subprotocol",
        "on_finish",
        "open",
        "on_message",
        "on_close",
    ]


# ---------------------------------------------------------------------------------------------
# Handshake: prepare, rejections, origin, subprotocols, compression


class PrepareRejects(Recorder):
    async def prepare(self) -> None:  # type: ignore[override]
        self.probe.record("prepare")
        await asyncio.sleep(0)
        mode = self.get_query_argument("mode")
        if mode == "http_error":
            raise web.HTTPError(401, reason="Nope")
        if mode == "finish":
            self.set_status(429)
            self.finish("slow down")
        if mode == "argument":
            self.get_argument("required")
        if mode == "crash":
            raise RuntimeError("prepare crashed")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("mode", "status", "reason", "body"),
    [
        ("http_error", 401, "Nope", "<html><title>401: Nope</title><body>401: Nope</body></html>"),
        ("finish", 429, "Too Many Requests", "slow down"),
        (
            "argument",
            400,
            "Bad Request",
            "<html><title>400: Bad Request</title><body>400: Bad Request</body></html>",
        ),
        (
            "crash",
            500,
            "Internal Server Error",
            "<html><title>500: Internal Server Error</title>"
            "<body>500: Internal Server Error</body></html>",
        ),
    ],
)
async def test_prepare_can_reject_the_handshake(
    mode: str, status: int, reason: str, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A coroutine prepare() runs first and its answer goes out instead of the 101; no hook
    # after it runs (no open, no on_close).
    probe = Probe()
    routes = [(r"/ws", PrepareRejects, {"probe": probe})]
    async with serve(routes) as server, raw_connection(server) as conn:
        response = await conn.request(f"/ws?mode={mode}", upgrade_headers())
        assert (response.status, response.reason, response.text) == (status, reason, body)
        assert "Sec-WebSocket-Accept" not in response.headers
    assert hook_names(probe) == ["prepare", "on_finish"]
    crashes = [r for r in caplog.records if r.name == "tornado.application"]
    assert len(crashes) == (1 if mode == "crash" else 0)


@pytest.mark.asyncio
async def test_rejections_run_no_websocket_hooks() -> None:
    # Tornado's answers before the upgrade: the hooks after prepare() never run.
    probe = Probe()
    cases = [
        ({"Upgrade": "h2c", "Connection": "Upgrade"}, 400),
        ({"Upgrade": "websocket", "Connection": "keep-alive"}, 400),
        ({**upgrade_headers(), "Sec-WebSocket-Key": ""}, 400),
        ({**upgrade_headers(), "Sec-WebSocket-Version": "8"}, 426),
        ({**upgrade_headers(), "Origin": "http://evil.example"}, 403),
    ]
    async with serve(recorder_routes(probe)) as server:
        for headers, status in cases:
            async with raw_connection(server) as conn:
                assert (await conn.request("/ws", headers)).status == status
        async with raw_connection(server) as conn:
            assert (await conn.request("/ws", upgrade_headers(), method="POST")).status == 405
    # (get_compression_options may run: Tornado calls it once the version is known to be 13,
    # before it checks the key.)
    names = set(hook_names(probe))
    assert names <= {"prepare", "check_origin", "get_compression_options", "on_finish"}
    # prepare() runs for the POST too (Tornado: the 405 comes from the unimplemented post()).
    assert probe.count("prepare") == 6


@pytest.mark.asyncio
async def test_check_origin_only_for_cross_origin_requests() -> None:
    probe = Probe()
    async with serve(recorder_routes(probe, allow_origin=True)) as server:
        same = f"http://127.0.0.1:{server.port}"
        for headers in (
            {},
            {"Origin": same},
            {"Origin": "http://other.example", "Sec-Fetch-Site": "same-origin"},
            {"Origin": "http://other.example", "Sec-Fetch-Site": "none"},
        ):
            async with aio_ws(server, "/ws", headers=headers):
                pass
        assert probe.count("check_origin") == 0
        async with aio_ws(server, "/ws", headers={"Origin": "http://other.example"}):
            pass
        assert probe.of("check_origin") == [("http://other.example",)]


@pytest.mark.asyncio
async def test_check_origin_false_is_403_with_tornado_body() -> None:
    probe = Probe()
    async with serve(recorder_routes(probe, allow_origin=False)) as server:
        async with raw_connection(server) as conn:
            response = await conn.request(
                "/ws",
                upgrade_headers(Origin="http://evil.example", **{"Sec-Fetch-Site": "cross-site"}),
            )
            assert response.status == 403
            assert response.text == "Cross origin websockets not allowed"
    assert probe.of("check_origin") == [("http://evil.example",)]
    assert "open" not in probe.names()


@pytest.mark.asyncio
async def test_trusted_origins_setting_is_the_default_check() -> None:
    class Plain(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message)

    async with serve([("/ws", Plain)], trusted_origins=["https://app.example"]) as server:
        async with aio_ws(server, "/ws", headers={"Origin": "https://app.example"}) as ws:
            await ws.send_str("ok")
            assert await wait(ws.receive_str()) == "ok"
        async with raw_connection(server) as conn:
            response = await conn.request("/ws", upgrade_headers(Origin="https://app2.example"))
            assert response.status == 403


@pytest.mark.asyncio
async def test_select_subprotocol_called_once() -> None:
    probe = Probe()
    async with serve(recorder_routes(probe, subprotocol="chat")) as server:
        async with aio_ws(server, "/ws") as ws:
            assert ws.protocol is None
        async with aio_ws(server, "/ws", protocols=("v1", "chat")) as ws:
            assert ws.protocol == "chat"
        async with raw_connection(server) as conn:
            response = await conn.request(
                "/ws", {**upgrade_headers(), "Sec-WebSocket-Protocol": "x ,  chat,y"}
            )
            assert response.status == 101
            assert response.headers["Sec-WebSocket-Protocol"] == "chat"
        async with raw_connection(server) as conn:
            response = await conn.request(
                "/ws", {**upgrade_headers(), "Sec-WebSocket-Protocol": "other"}
            )
            assert response.status == 101
            assert "Sec-WebSocket-Protocol" not in response.headers
    assert probe.of("select_subprotocol") == [
        ([],),
        (["v1", "chat"],),
        (["x", "chat", "y"],),
        (["other"],),
    ]


class SelectedSubprotocol(WebSocketHandler):
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[-1] if subprotocols else None

    def open(self) -> None:
        self.write_message(repr(self.selected_subprotocol))


@pytest.mark.asyncio
async def test_selected_subprotocol_property() -> None:
    async with serve([("/ws", SelectedSubprotocol)]) as server:
        async with aio_ws(server, "/ws", protocols=("a", "b")) as ws:
            assert await wait(ws.receive_str()) == "'b'"
        async with aio_ws(server, "/ws") as ws:
            assert await wait(ws.receive_str()) == "None"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("compression", "expected"),
    [
        (None, None),
        ({}, "permessage-deflate"),
        ({"compression_level": 9, "mem_level": 9}, "permessage-deflate"),
    ],
)
async def test_get_compression_options(compression: dict[str, Any] | None, expected: Any) -> None:
    # None disables permessage-deflate even when the client offers it; a dict enables it.
    probe = Probe()
    async with serve(recorder_routes(probe, compression=compression)) as server:
        async with raw_connection(server) as conn:
            response = await conn.request(
                "/ws", {**upgrade_headers(), "Sec-WebSocket-Extensions": "permessage-deflate"}
            )
            assert response.status == 101
            assert response.headers.get("Sec-WebSocket-Extensions") == expected
        async with aio_ws(server, "/ws", compress=15) as ws:
            assert bool(ws.compress) == (compression is not None)
            text = "compressible " * 200
            await ws.send_str("echo " + text)
            assert await wait(ws.receive_str()) == text
    assert probe.count("get_compression_options") == 2


# ---------------------------------------------------------------------------------------------
# The request during the handshake


class RequestInspector(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def snapshot(self) -> dict[str, Any]:
        request = self.request
        return {
            "method": request.method,
            "uri": request.uri,
            "path": request.path,
            "query": request.query,
            "arguments": dict(request.arguments),
            "query_arguments": dict(request.query_arguments),
            "header": request.headers.get("X-Custom"),
            "header_list": request.headers.get_list("X-Multi"),
            "cookie": request.cookies["theme"].value if "theme" in request.cookies else None,
            "handler_cookies": sorted(self.cookies.keys()),
            "host": request.host,
            "host_name": request.host_name,
            "remote_ip": request.remote_ip,
            "protocol": request.protocol,
            "version": request.version,
            "full_url": request.full_url(),
            "x": self.get_argument("x"),
            "x_all": self.get_arguments("x"),
            "x_query": self.get_query_argument("x"),
            "x_query_all": self.get_query_arguments("x"),
            "stripped": self.get_argument("pad"),
            "unstripped": self.get_argument("pad", strip=False),
            "missing": self.get_argument("missing", "fallback"),
            "missing_query": self.get_query_argument("missing", None),
            "missing_list": self.get_arguments("missing"),
            "unicode": self.get_argument("u"),
            "empty": self.get_argument("empty"),
            "get_cookie": self.get_cookie("theme"),
            "get_cookie_default": self.get_cookie("nope", "dflt"),
        }

    def prepare(self) -> None:
        self.probe.record("prepare", self.snapshot())

    def open(self) -> None:
        self.probe.record("open", self.snapshot())

    def on_message(self, message: str | bytes) -> None:
        pass


@pytest.mark.asyncio
async def test_request_attributes_during_handshake() -> None:
    probe = Probe()
    routes = [(r"/inspect/.*", RequestInspector, {"probe": probe})]
    uri = "/inspect/p%20q?x=1&x=2&pad=%20sp%20&u=caf%C3%A9&empty="
    headers = {
        **upgrade_headers(),
        "X-Custom": "custom value",
        "Cookie": "theme=dark; session=abc",
    }
    async with serve(routes) as server, raw_connection(server) as conn:
        pairs = [*headers.items(), ("X-Multi", "one"), ("X-Multi", "two")]
        response = await conn.request(uri, pairs)
        assert response.status == 101
        host = f"127.0.0.1:{server.port}"
        (in_prepare,) = await probe.wait("prepare")
        (in_open,) = await probe.wait("open")
    expected = {
        "method": "GET",
        "uri": uri,
        "path": "/inspect/p%20q",
        "query": "x=1&x=2&pad=%20sp%20&u=caf%C3%A9&empty=",
        "arguments": {
            "x": [b"1", b"2"],
            "pad": [b" sp "],
            "u": ["café".encode()],
            "empty": [b""],
        },
        "header": "custom value",
        "header_list": ["one", "two"],
        "cookie": "dark",
        "handler_cookies": ["session", "theme"],
        "host": host,
        "host_name": "127.0.0.1",
        "remote_ip": "127.0.0.1",
        "protocol": "http",
        "version": "HTTP/1.1",
        "full_url": f"http://{host}{uri}",
        "x": "2",
        "x_all": ["1", "2"],
        "x_query": "2",
        "x_query_all": ["1", "2"],
        "stripped": "sp",
        "unstripped": " sp ",
        "missing": "fallback",
        "missing_query": None,
        "missing_list": [],
        "unicode": "café",
        "empty": "",
        "get_cookie": "dark",
        "get_cookie_default": "dflt",
    }
    expected["query_arguments"] = expected["arguments"]
    assert in_prepare == expected
    assert in_open == expected


class RemoteInfo(WebSocketHandler):
    def open(self) -> None:
        self.write_message({"ip": self.request.remote_ip, "protocol": self.request.protocol})

    def on_message(self, message: str | bytes) -> None:
        pass


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("headers", "xheaders", "expected"),
    [
        ({"X-Real-Ip": "10.0.0.1", "X-Scheme": "https"}, False, ("127.0.0.1", "http")),
        ({"X-Real-Ip": "10.0.0.1", "X-Scheme": "https"}, True, ("10.0.0.1", "https")),
        ({"X-Forwarded-For": "1.2.3.4, 5.6.7.8"}, True, ("5.6.7.8", "http")),
        (
            {"X-Forwarded-For": "1.2.3.4", "X-Real-Ip": "9.9.9.9", "X-Forwarded-Proto": "https"},
            True,
            ("9.9.9.9", "https"),
        ),
        ({"X-Forwarded-Proto": "http, https"}, True, ("127.0.0.1", "https")),
        ({"X-Real-Ip": "not an ip", "X-Scheme": "gopher"}, True, ("127.0.0.1", "http")),
        ({"X-Forwarded-For": "2001:db8::1"}, True, ("2001:db8::1", "http")),
    ],
)
async def test_xheaders(
    headers: dict[str, str], xheaders: bool, expected: tuple[str, str]
) -> None:
    app = web.Application([("/ws", RemoteInfo)])
    async with running(app, xheaders=xheaders) as server:
        async with aio_ws(server, "/ws", headers=headers) as ws:
            info = await wait(ws.receive_json())
            assert (info["ip"], info["protocol"]) == expected


# ---------------------------------------------------------------------------------------------
# Cookies signed by a real Tornado app, current_user, @authenticated


class SignedCookieReader(WebSocketHandler):
    def get_current_user(self) -> Any:
        value = self.get_signed_cookie("user")
        return value.decode() if value else None

    def open(self) -> None:
        self.write_message(
            {
                "signed": _text(self.get_signed_cookie("user")),
                "secure": _text(self.get_secure_cookie("user")),
                "min_v2": _text(self.get_signed_cookie("user", min_version=2)),
                "other_name": _text(self.get_signed_cookie("other")),
                "current_user": self.current_user,
            }
        )

    def on_message(self, message: str | bytes) -> None:
        pass


def _text(value: bytes | None) -> str | None:
    return value.decode() if value is not None else None


@pytest.mark.asyncio
@pytest.mark.parametrize("version", [1, 2])
async def test_get_signed_cookie_reads_tornado_signed_values(version: int) -> None:
    signed = tornado_web.create_signed_value(SECRET, "user", "alice", version=version).decode()
    # The same value under another cookie name must not verify (the name is signed).
    cookie = f"user={signed}; other={signed}"
    async with serve([("/ws", SignedCookieReader)], cookie_secret=SECRET) as server:
        async with aio_ws(server, "/ws", headers={"Cookie": cookie}) as ws:
            info = await wait(ws.receive_json())
    assert info == {
        "signed": "alice",
        "secure": "alice",
        "min_v2": "alice" if version == 2 else None,
        "other_name": None,
        "current_user": "alice",
    }


@pytest.mark.asyncio
async def test_get_signed_cookie_rejects_forgery_and_other_secret() -> None:
    good = tornado_web.create_signed_value(SECRET, "user", "alice").decode()
    forged = good.replace("YWxpY2U", "bWFsbG9y")  # base64 of "alice" -> "mallor"
    assert forged != good
    other = tornado_web.create_signed_value("another secret", "user", "alice").decode()
    async with serve([("/ws", SignedCookieReader)], cookie_secret=SECRET) as server:
        for value in (forged, other, "garbage"):
            async with aio_ws(server, "/ws", headers={"Cookie": f"user={value}"}) as ws:
                info = await wait(ws.receive_json())
                assert info["signed"] is None
                assert info["current_user"] is None


class CurrentUserHandler(WebSocketHandler):
    def get_current_user(self) -> Any:
        return self.get_cookie("name")

    def open(self) -> None:
        self.write_message(repr(self.current_user))

    def on_message(self, message: str | bytes) -> None:
        pass


class SetCurrentUserInPrepare(CurrentUserHandler):
    def prepare(self) -> None:
        self.current_user = "from prepare"


@pytest.mark.asyncio
async def test_current_user() -> None:
    routes = [("/ws", CurrentUserHandler), ("/set", SetCurrentUserInPrepare)]
    async with serve(routes) as server:
        async with aio_ws(server, "/ws", headers={"Cookie": "name=bob"}) as ws:
            assert await wait(ws.receive_str()) == "'bob'"
        async with aio_ws(server, "/ws") as ws:
            assert await wait(ws.receive_str()) == "None"
        async with aio_ws(server, "/set") as ws:
            assert await wait(ws.receive_str()) == "'from prepare'"


class AuthenticatedSocket(WebSocketHandler):
    def get_current_user(self) -> Any:
        return self.get_signed_cookie("user")

    @web.authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await super().get(*args, **kwargs)

    def open(self) -> None:
        self.write_message(b"welcome " + self.current_user, binary=True)

    def on_message(self, message: str | bytes) -> None:
        pass


@pytest.mark.asyncio
async def test_authenticated_redirects_to_login_url() -> None:
    settings = {"cookie_secret": SECRET, "login_url": "/login"}
    async with serve([("/ws", AuthenticatedSocket)], **settings) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/ws?room=1", upgrade_headers())
            assert response.status == 302
            assert response.headers["Location"] == "/login?next=%2Fws%3Froom%3D1"
        signed = tornado_web.create_signed_value(SECRET, "user", "carol").decode()
        async with aio_ws(server, "/ws", headers={"Cookie": f"user={signed}"}) as ws:
            assert await wait(ws.receive_bytes()) == b"welcome carol"


@pytest.mark.asyncio
async def test_authenticated_absolute_login_url_uses_full_url() -> None:
    settings = {"cookie_secret": SECRET, "login_url": "https://sso.example/login"}
    async with serve([("/ws", AuthenticatedSocket)], **settings) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/ws", upgrade_headers())
            assert response.status == 302
            host = f"127.0.0.1%3A{server.port}"
            assert response.headers["Location"] == (
                f"https://sso.example/login?next=http%3A%2F%2F{host}%2Fws"
            )


# ---------------------------------------------------------------------------------------------
# After the upgrade


class HttpAfterUpgrade(WebSocketHandler):
    CALLS = {
        "write": lambda h: h.write("x"),
        "redirect": lambda h: h.redirect("/elsewhere"),
        "set_header": lambda h: h.set_header("X-A", "b"),
        "set_cookie": lambda h: h.set_cookie("a", "b"),
        "set_status": lambda h: h.set_status(503),
        "flush": lambda h: h.flush(),
        "finish": lambda h: h.finish(),
    }

    def on_message(self, message: str | bytes) -> None:
        assert isinstance(message, str)
        try:
            self.CALLS[message](self)
        except RuntimeError as exc:
            self.write_message(f"RuntimeError: {exc}")
        else:
            self.write_message("no error")


@pytest.mark.asyncio
async def test_http_output_methods_raise_after_upgrade() -> None:
    async with serve([("/ws", HttpAfterUpgrade)]) as server, aio_ws(server, "/ws") as ws:
        for name in HttpAfterUpgrade.CALLS:
            await ws.send_str(name)
            reply = await wait(ws.receive_str())
            assert reply == "RuntimeError: Method not supported for Web Sockets", name


# ---------------------------------------------------------------------------------------------
# Messages: types, write_message


class Writer(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def open(self) -> None:
        self.probe.record("open", self)

    async def on_message(self, message: str | bytes) -> None:
        self.probe.record("on_message", type(message).__name__, message)
        if message == "dict":
            self.write_message({"html": "</script>", "n": [1, 2], "u": "é"})
        elif message == "binary str":
            self.write_message("é", binary=True)
        elif message == "await":
            future = self.write_message("x" * 100_000)
            self.probe.record("pending", future.done())
            await future
            self.probe.record("flushed")
        elif message == "close then write":
            self.close()
            try:
                self.write_message("too late")
            except WebSocketClosedError:
                self.probe.record("closing raises")
            try:
                self.ping(b"too late")
            except WebSocketClosedError:
                self.probe.record("ping raises")

    def on_close(self) -> None:
        self.probe.record("on_close", self.close_code, self.close_reason)
        try:
            self.write_message("after close")
        except WebSocketClosedError:
            self.probe.record("closed raises")


@pytest.mark.asyncio
async def test_text_is_str_binary_is_bytes_fragments_joined() -> None:
    probe = Probe()
    async with serve([("/ws", Writer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_frame(OP_TEXT, "é".encode())
            await conn.send_frame(OP_BINARY, b"\x00\xff")
            await conn.send_frame(OP_TEXT, b"frag", fin=False)
            await conn.send_frame(OP_PING, b"between")
            await conn.send_frame(OP_CONT, b"ment", fin=False)
            await conn.send_frame(OP_CONT, b"ed")
            assert (await conn.read_frame()).opcode == OP_PONG
            await conn.send_close(1000)
            assert (await conn.read_frame()).opcode == OP_CLOSE
            await probe.wait("on_close")
    assert probe.of("on_message") == [("str", "é"), ("bytes", b"\x00\xff"), ("str", "fragmented")]


@pytest.mark.asyncio
async def test_write_message_dict_is_tornado_json() -> None:
    probe = Probe()
    async with serve([("/ws", Writer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("dict")
            frame = await conn.read_frame()
            assert frame.opcode == OP_TEXT
            # tornado.escape.json_encode: json.dumps, then "</" escaped as "<\/".
            assert frame.payload == b'{"html": "<\\/script>", "n": [1, 2], "u": "\\u00e9"}'
            await conn.send_text("binary str")
            frame = await conn.read_frame()
            assert (frame.opcode, frame.payload) == (OP_BINARY, "é".encode())


@pytest.mark.asyncio
async def test_write_message_future_resolves_after_flush() -> None:
    probe = Probe()
    async with serve([("/ws", Writer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("await")
            frame = await conn.read_frame()
            assert len(frame.payload) == 100_000
            await probe.wait("flushed")
            assert probe.names().index("pending") < probe.names().index("flushed")


@pytest.mark.asyncio
async def test_write_message_raises_when_closing_and_closed() -> None:
    probe = Probe()
    async with serve([("/ws", Writer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("close then write")
            frame = await conn.read_frame()
            assert frame.opcode == OP_CLOSE
            await conn.send_close(1000)
            await probe.wait("on_close")
    assert await probe.wait("closing raises") == ()
    assert await probe.wait("ping raises") == ()
    assert await probe.wait("closed raises") == ()


class Flooder(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def on_message(self, message: str | bytes) -> None:
        # Not awaited: the write fails when the peer goes away before reading it.
        self.pending: Any = self.write_message(b"z" * (8 * 1024 * 1024), binary=True)
        self.probe.record("written", self.pending.done())

    def on_close(self) -> None:
        # repr() shows the outcome without retrieving the exception; then drop the future.
        self.probe.record("on_close", repr(self.pending))
        self.pending = None


@pytest.mark.asyncio
async def test_unawaited_failed_write_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    probe = Probe()
    caplog.set_level(logging.DEBUG, logger="asyncio")
    async with serve([("/ws", Flooder, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("go")
            assert await probe.wait("written") == (False,)
            conn.abort()
        (outcome,) = await probe.wait("on_close")
        assert "WebSocketClosedError" in outcome, outcome
        await settle()
        gc.collect()
        await settle()
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "never retrieved" in m], messages
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], messages


# ---------------------------------------------------------------------------------------------
# Closing


class Closer(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def open(self) -> None:
        self.probe.record("open", self)

    def on_message(self, message: str | bytes) -> None:
        if message == "close twice":
            self.close(4002, "first")
            self.close(4003, "second")
        elif message == "close":
            self.close()
        elif message == "close reason only":
            self.close(reason="just a reason")
        elif message == "boom":
            raise ValueError("boom in on_message")

    def on_close(self) -> None:
        self.probe.record("on_close", self.close_code, self.close_reason)


@pytest.mark.asyncio
async def test_close_twice_is_a_no_op() -> None:
    probe = Probe()
    async with serve([("/ws", Closer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("close twice")
            frame = await conn.read_frame()
            assert (frame.opcode, frame.close_code, frame.close_reason) == (
                OP_CLOSE,
                4002,
                "first",
            )
            await conn.send_close(4002)
            assert await conn.frames_until_eof() == []
            code, _reason = await probe.wait("on_close")
            assert code == 4002


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("message", "payload"),
    [("close", b""), ("close reason only", b"\x03\xe8just a reason")],
)
async def test_close_frame_payload(message: str, payload: bytes) -> None:
    # close() without arguments sends an empty close frame; a reason alone implies 1000.
    probe = Probe()
    async with serve([("/ws", Closer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text(message)
            frame = await conn.read_frame()
            assert (frame.opcode, frame.payload) == (OP_CLOSE, payload)
            await conn.send_frame(OP_CLOSE, payload[:2])
            assert await conn.frames_until_eof() == []
    code, _reason = await probe.wait("on_close")
    assert code == (1000 if payload else None)


@pytest.mark.asyncio
async def test_close_waits_for_peer_then_times_out() -> None:
    # A client that never answers our close frame is dropped after the close timeout
    # (Tornado: 5 s; websocket_close_timeout here), not before.
    probe = Probe()
    routes = [("/ws", Closer, {"probe": probe})]
    async with serve(routes, websocket_close_timeout=0.2) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("close")
            assert (await conn.read_frame()).opcode == OP_CLOSE
            started = time.monotonic()
            assert await conn.frames_until_eof() == []
            elapsed = time.monotonic() - started
            assert elapsed >= 0.15, elapsed
            assert await probe.wait("on_close") == (None, None)


@pytest.mark.asyncio
async def test_client_close_code_is_echoed_and_recorded() -> None:
    probe = Probe()
    async with serve([("/ws", Closer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_close(4000, "bye now")
            frames = await conn.frames_until_eof()
            # RFC 6455 5.5.1: the answer echoes the code (Tornado sends it without the reason).
            assert [(f.opcode, f.payload) for f in frames] == [(OP_CLOSE, b"\x0f\xa0")]
    assert await probe.wait("on_close") == (4000, "bye now")


@pytest.mark.asyncio
async def test_client_close_code_only_leaves_reason_none() -> None:
    # Tornado sets close_reason only when the close payload has more than the code.
    probe = Probe()
    async with serve([("/ws", Closer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_close(1001)
            assert [f.payload for f in await conn.frames_until_eof()] == [b"\x03\xe9"]
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_close(None)
            assert [f.payload for f in await conn.frames_until_eof()] == [b""]
    assert probe.of("on_close") == [(1001, None), (None, None)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "how", ["client abort", "client close", "server close", "on_message error", "shutdown"]
)
async def test_on_close_exactly_once(how: str, caplog: pytest.LogCaptureFixture) -> None:
    probe = Probe()
    app = web.Application([("/ws", Closer, {"probe": probe})])
    async with running(app, shutdown_timeout=2.0) as server:
        async with raw_websocket(server, "/ws") as conn:
            await probe.wait("open")
            if how == "client abort":
                conn.abort()
            elif how == "client close":
                await conn.send_close(1000)
                await conn.frames_until_eof()
            elif how == "server close":
                await conn.send_text("close")
                assert (await conn.read_frame()).opcode == OP_CLOSE
                await conn.send_close(None)
                await conn.frames_until_eof()
            elif how == "on_message error":
                await conn.send_text("boom")
                assert await conn.frames_until_eof() == []
            else:
                shutdown = asyncio.ensure_future(server.shutdown(2.0))
                frame = await conn.read_frame()
                assert (frame.close_code, frame.close_reason) == (1001, "going away")
                await conn.send_close(1001)
                await conn.frames_until_eof()
                await wait(shutdown)
            await probe.wait("on_close")
            await settle()
    assert probe.count("on_close") == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == (1 if how == "on_message error" else 0)


class FailingOnClose(Closer):
    def on_close(self) -> None:
        super().on_close()
        raise RuntimeError("on_close failed")


@pytest.mark.asyncio
async def test_exception_in_on_close_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    probe = Probe()
    # Tornado: the exception leaves the handler's get() and is logged as uncaught.
    routes = [("/ws", FailingOnClose, {"probe": probe}), ("/ok", Closer, {"probe": probe})]
    async with serve(routes) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_close(1000)
            await conn.frames_until_eof()
        await probe.wait("on_close")
        async with aio_ws(server, "/ok"):
            pass  # still serving
    assert probe.count("on_close") == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "tornado.application"


# ---------------------------------------------------------------------------------------------
# Pings


class Pinger(Closer):
    def on_message(self, message: str | bytes) -> None:
        if message == "ping":
            self.ping(b"payload")
        elif message == "ping str":
            self.ping("é")
        elif message == "ping too big":
            try:
                self.ping(b"x" * 126)
            except ValueError:
                self.write_message("ValueError")
        else:
            super().on_message(message)

    def on_pong(self, data: bytes) -> None:
        self.probe.record("on_pong", data)

    def on_ping(self, data: bytes) -> None:
        self.probe.record("on_ping", data)


@pytest.mark.asyncio
async def test_ping_on_pong_on_ping() -> None:
    probe = Probe()
    async with serve([("/ws", Pinger, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text("ping")
            frame = await conn.read_frame()
            assert (frame.opcode, frame.payload) == (OP_PING, b"payload")
            await conn.send_frame(OP_PONG, frame.payload)
            assert await probe.wait("on_pong") == (b"payload",)
            await conn.send_text("ping str")
            frame = await conn.read_frame()
            assert (frame.opcode, frame.payload) == (OP_PING, "é".encode())
            await conn.send_text("ping too big")
            assert (await conn.read_frame()).payload == b"ValueError"
            await conn.send_frame(OP_PING, b"from client")
            frame = await conn.read_frame()
            assert (frame.opcode, frame.payload) == (OP_PONG, b"from client")
            assert await probe.wait("on_ping") == (b"from client",)
    # Tornado's on_ping/on_pong always see bytes (not bytearray or memoryview).
    assert [type(data) for (data,) in probe.of("on_pong") + probe.of("on_ping")] == [bytes, bytes]


@pytest.mark.asyncio
async def test_ping_interval_keeps_answering_client_open() -> None:
    probe = Probe()
    settings = {"websocket_ping_interval": 0.05, "websocket_ping_timeout": 0.05}
    async with serve([("/ws", Pinger, {"probe": probe})], **settings) as server:
        async with raw_websocket(server, "/ws") as conn:
            for _ in range(4):
                frame = await conn.read_frame()
                assert frame.opcode == OP_PING
                await conn.send_frame(OP_PONG, frame.payload)
            await probe.wait_count("on_pong", 4)
            assert probe.count("on_close") == 0


@pytest.mark.asyncio
async def test_ping_timeout_closes_with_1000_ping_timed_out() -> None:
    probe = Probe()
    settings = {"websocket_ping_interval": 0.1, "websocket_ping_timeout": 0.1}
    async with serve([("/ws", Pinger, {"probe": probe})], **settings) as server:
        async with raw_websocket(server, "/ws") as conn:
            started = time.monotonic()
            frame = await conn.read_frame()
            assert frame.opcode == OP_PING  # not answered
            frame = await conn.read_frame()
            elapsed = time.monotonic() - started
            assert (frame.opcode, frame.close_code, frame.close_reason) == (
                OP_CLOSE,
                1000,
                "ping timed out",
            )
            assert elapsed >= 0.15, elapsed
            await conn.send_close(1000)
            assert await conn.frames_until_eof() == []
    code, _reason = await probe.wait("on_close")
    assert code == 1000


@pytest.mark.asyncio
async def test_no_pings_without_interval() -> None:
    probe = Probe()
    async with serve([("/ws", Pinger, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_frame(OP_PING, b"probe")
            # The first frame from the server is our pong: it sent no ping of its own.
            frame = await conn.read_frame()
            assert (frame.opcode, frame.payload) == (OP_PONG, b"probe")


# ---------------------------------------------------------------------------------------------
# Message size limit, nodelay


@pytest.mark.asyncio
async def test_max_message_size_exact_and_over() -> None:
    probe = Probe()
    routes = [("/ws", Writer, {"probe": probe})]
    async with serve(routes, websocket_max_message_size=100) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_frame(OP_BINARY, b"a" * 100)
            await probe.wait("on_message")
            await conn.send_frame(OP_BINARY, b"a" * 101)
            frames = await conn.frames_until_eof()
            assert [(f.close_code, f.close_reason) for f in frames] == [(1009, "message too big")]
        async with raw_websocket(server, "/ws") as conn:
            # Over the limit across continuation frames.
            await conn.send_frame(OP_TEXT, b"a" * 60, fin=False)
            await conn.send_frame(OP_CONT, b"a" * 60)
            frames = await conn.frames_until_eof()
            assert [f.close_code for f in frames] == [1009]
    assert [len(event[1]) for event in probe.of("on_message")] == [100]


@pytest.mark.asyncio
async def test_max_message_size_default_is_10_mib() -> None:
    async with serve([("/ws", Writer, {"probe": Probe()})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            # As Tornado, the length in the frame header is enough to refuse the message:
            # send the header and the start of the payload only.
            frame = build_frame(OP_BINARY, b"a" * (10 * 1024 * 1024 + 1), mask=b"\0\0\0\0")
            await conn.send(frame[: 64 * 1024])
            frames = await conn.frames_until_eof()
            assert [f.close_code for f in frames] == [1009]


class NoDelay(WebSocketHandler):
    def open(self) -> None:
        self.set_nodelay(False)
        self.set_nodelay(True)
        self.write_message("nodelay set")

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


@pytest.mark.asyncio
async def test_set_nodelay() -> None:
    async with serve([("/ws", NoDelay)]) as server, aio_ws(server, "/ws") as ws:
        assert await wait(ws.receive_str()) == "nodelay set"
        await ws.send_str("still works")
        assert await wait(ws.receive_str()) == "still works"


def _nodelay(handler: web.RequestHandler) -> int:
    transport = handler.request.connection.transport  # type: ignore[union-attr]
    sock = transport.get_extra_info("socket")
    return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


class ReportNoDelay(WebSocketHandler):
    def open(self) -> None:
        self.write_message(f"nodelay={_nodelay(self)}")


class PageNoDelay(web.RequestHandler):
    def get(self) -> None:
        self.write(f"nodelay={_nodelay(self)}")


@pytest.mark.asyncio
async def test_nagle_is_off_on_accepted_connections() -> None:
    # The loop's TCP transport (asyncio's and uvloop's) turns Nagle off on every connection;
    # the engine does not set the option a second time (three system calls per connection).
    routes = [("/ws", ReportNoDelay), ("/page", PageNoDelay)]
    async with serve(routes) as server, aio_ws(server, "/ws") as ws:
        assert await wait(ws.receive_str()) == "nodelay=1"
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url("/page")) as response:
                assert await response.text() == "nodelay=1"


# ---------------------------------------------------------------------------------------------
# Errors and logging


class Crashy(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def open(self) -> None:
        if self.get_argument("fail", None) == "open":
            raise KeyError("open failed")

    async def on_message(self, message: str | bytes) -> None:
        if message == "fail":
            raise LookupError("on_message failed")
        self.write_message(message)

    def on_close(self) -> None:
        self.probe.record("on_close")


@pytest.mark.asyncio
async def test_exceptions_logged_and_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probe = Probe()
    async with serve([("/ws", Crashy, {"probe": probe})]) as server:
        async with aio_ws(server, "/ws") as bystander:
            async with aio_ws(server, "/ws") as victim:
                await victim.send_str("fail")
                message = await wait(victim.receive())
                assert message.type is aiohttp.WSMsgType.CLOSED
                assert victim.close_code == 1006  # aborted, no close frame (as Tornado)
            async with aio_ws(server, "/ws?fail=open") as victim:
                message = await wait(victim.receive())
                assert message.type is aiohttp.WSMsgType.CLOSED
            await bystander.send_str("still here")
            assert await wait(bystander.receive_str()) == "still here"
        async with aio_ws(server, "/ws") as newcomer:
            await newcomer.send_str("new")
            assert await wait(newcomer.receive_str()) == "new"
    records = [r for r in caplog.records if r.name == "tornado.application"]
    assert [r.getMessage().splitlines()[0] for r in records] == [
        "Uncaught exception GET /ws (127.0.0.1)",
        "Uncaught exception GET /ws?fail=open (127.0.0.1)",
    ]
    assert [type(r.exc_info[1]) for r in records if r.exc_info] == [LookupError, KeyError]
    assert all(r.levelno == logging.ERROR for r in records)


@pytest.mark.asyncio
async def test_access_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")
    probe = Probe()
    async with serve(recorder_routes(probe)) as server:
        async with aio_ws(server, "/ws?room=1"):
            await probe.wait("open")
        async with raw_connection(server) as conn:
            await conn.request("/ws", {"Upgrade": "websocket", "Connection": "Upgrade"})
    records = [r for r in caplog.records if r.name == "tornado.access"]
    assert len(records) == 2
    upgrade, rejected = records
    assert re.fullmatch(r"101 GET /ws\?room=1 \(127\.0\.0\.1\) \d+\.\d\dms", upgrade.getMessage())
    assert upgrade.levelno == logging.INFO
    # No Sec-WebSocket-Version: 426 (the version check comes before the key check).
    assert re.fullmatch(r"426 GET /ws \(127\.0\.0\.1\) \d+\.\d\dms", rejected.getMessage())
    assert rejected.levelno == logging.WARNING


class _SlowOpen(WebSocketHandler):
    """``open`` waits, then writes: the client has gone meanwhile, so the write raises."""

    def initialize(self, seen: dict[str, Any]) -> None:
        self.seen = seen

    async def open(self) -> None:
        self.seen["connection"] = self.ws_connection
        self.seen["opening"].set()
        await self.seen["release"].wait()
        self.write_message("too late")

    def on_close(self) -> None:
        self.seen["on_close"] = True


@pytest.mark.asyncio
async def test_a_connection_dropped_during_open_that_then_fails_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server drops the socket while ``open`` awaits (``AsyncHTTPTestCase``'s teardown
    does, ``abort_websockets``); ``open`` then fails writing. As on Tornado 6.6.1 the error is
    logged and on_close does not run, and the connection is over: its ``closed`` future
    resolves (it never did, so the teardown waited its whole timeout and failed)."""
    seen: dict[str, Any] = {"opening": asyncio.Event(), "release": asyncio.Event()}
    async with serve([("/ws", _SlowOpen, {"seen": seen})]) as server:
        async with raw_websocket(server, "/ws"):
            await wait(seen["opening"].wait())
            seen["connection"].abort()
            await settle()  # the socket's end is seen while open() still waits
            seen["release"].set()
            await wait(asyncio.shield(seen["connection"].closed))
    assert "on_close" not in seen
    assert any("Uncaught exception" in r.getMessage() for r in caplog.records)
