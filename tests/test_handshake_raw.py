"""Malformed and edge-case WebSocket handshakes over raw sockets.

Each case checks the status, the body and the headers that matter (Tornado 6.6.1's answers),
then that the server keeps serving: a well-formed upgrade on a new connection still echoes.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from helpers import (
    OP_CLOSE,
    OP_TEXT,
    WS_ACCEPT,
    accept_value,
    build_frame,
    raw_connection,
    raw_websocket,
    serve,
    upgrade_headers,
    wait,
)

from tornado_ws_compat.websocket import WebSocketHandler


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


ROUTES: list[Any] = [("/ws", Echo)]

BAD_UPGRADE = 'Can "Upgrade" only to "WebSocket".'
BAD_CONNECTION = '"Connection" must be "Upgrade".'
BAD_HEADERS = "Missing/Invalid WebSocket headers"


async def still_serving(server: Any) -> None:
    async with raw_websocket(server, "/ws") as conn:
        await conn.send_text("alive?")
        frame = await conn.read_frame()
        assert (frame.opcode, frame.payload) == (OP_TEXT, b"alive?")
        await conn.send_close(1000)
        assert (await conn.read_frame()).opcode == OP_CLOSE


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


CASES: list[tuple[str, dict[str, str], int, str]] = [
    ("no upgrade headers", {}, 400, BAD_UPGRADE),
    ("upgrade to h2c", {**upgrade_headers(), "Upgrade": "h2c"}, 400, BAD_UPGRADE),
    ("empty upgrade", {**upgrade_headers(), "Upgrade": ""}, 400, BAD_UPGRADE),
    ("no connection", without(upgrade_headers(), "Connection"), 400, BAD_CONNECTION),
    (
        "connection keep-alive",
        {**upgrade_headers(), "Connection": "keep-alive"},
        400,
        BAD_CONNECTION,
    ),
    (
        "connection upgraded (not a token match)",
        {**upgrade_headers(), "Connection": "upgraded"},
        400,
        BAD_CONNECTION,
    ),
    ("no version", without(upgrade_headers(), "Sec-WebSocket-Version"), 426, ""),
    ("version 8", {**upgrade_headers(), "Sec-WebSocket-Version": "8"}, 426, ""),
    ("version 14", {**upgrade_headers(), "Sec-WebSocket-Version": "14"}, 426, ""),
    ("no key", without(upgrade_headers(), "Sec-WebSocket-Key"), 400, BAD_HEADERS),
    ("empty key", {**upgrade_headers(), "Sec-WebSocket-Key": ""}, 400, BAD_HEADERS),
    (
        "cross origin",
        {**upgrade_headers(), "Origin": "http://evil.example"},
        403,
        "Cross origin websockets not allowed",
    ),
    (
        "cross-site fetch",
        {**upgrade_headers(), "Sec-Fetch-Site": "cross-site"},
        403,
        "Cross origin websockets not allowed",
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [pytest.param(h, s, b, id=name) for name, h, s, b in CASES],
)
async def test_rejected_handshake(headers: dict[str, str], status: int, body: str) -> None:
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/ws", headers)
            assert (response.status, response.text) == (status, body)
            assert "Sec-WebSocket-Accept" not in response.headers
            if status == 426:
                assert response.headers["Sec-WebSocket-Version"] == "13"
            # A rejection is an ordinary response: the connection stays usable (keep-alive).
            again = await conn.request("/ws", headers)
            assert again.status == status
        await still_serving(server)


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "HEAD"])
async def test_non_get_upgrade_is_405(method: str) -> None:
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/ws", upgrade_headers(), method=method)
            assert response.status == 405
            if method != "HEAD":
                assert response.text == (
                    "<html><title>405: Method Not Allowed</title>"
                    "<body>405: Method Not Allowed</body></html>"
                )
        await still_serving(server)


@pytest.mark.asyncio
async def test_unknown_path_with_upgrade_headers_is_404() -> None:
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/nope", upgrade_headers())
            assert response.status == 404
            assert response.text == (
                "<html><title>404: Not Found</title><body>404: Not Found</body></html>"
            )
        await still_serving(server)


@pytest.mark.asyncio
async def test_valid_handshake_response() -> None:
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/ws", upgrade_headers())
            assert response.raw_head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
            assert response.headers["Upgrade"].lower() == "websocket"
            assert response.headers["Connection"].lower() == "upgrade"
            assert response.headers["Sec-WebSocket-Accept"] == WS_ACCEPT
            # Tornado clears Content-Type on the 101; a 101 carries no body.
            for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                assert name not in response.headers, name
            assert "Sec-WebSocket-Protocol" not in response.headers
            assert "Sec-WebSocket-Extensions" not in response.headers
            await conn.send_text("first frame")
            assert (await conn.read_frame()).payload == b"first frame"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"Upgrade": "WebSocket"}, id="mixed-case upgrade"),
        pytest.param({"Upgrade": "WEBSOCKET"}, id="upper-case upgrade"),
        pytest.param({"Connection": "keep-alive, Upgrade"}, id="connection token list"),
        pytest.param({"Connection": "UPGRADE"}, id="upper-case connection"),
        pytest.param({"Sec-WebSocket-Key": "  dGhlIHNhbXBsZSBub25jZQ==  "}, id="padded key"),
    ],
)
async def test_lenient_but_valid_handshakes(overrides: dict[str, str]) -> None:
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/ws", {**upgrade_headers(), **overrides})
            assert response.status == 101
            assert response.headers["Sec-WebSocket-Accept"] == WS_ACCEPT
            await conn.send_text("ok")
            assert (await conn.read_frame()).payload == b"ok"


@pytest.mark.asyncio
async def test_other_key_gets_its_own_accept_value() -> None:
    key = "x3JJHMbDL1EzLkh9GBhXDw=="
    async with serve(ROUTES) as server, raw_connection(server) as conn:
        response = await conn.request("/ws", {**upgrade_headers(), "Sec-WebSocket-Key": key})
        assert response.headers["Sec-WebSocket-Accept"] == accept_value(key)
        assert accept_value(key) == "HSmrc0sMlYUkAGmm5OPpG2HaGWk="  # RFC 6455 section 1.3


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ=", "dGhpcyBpcyBzZXZlbnRlZW4gYg=="])
async def test_malformed_key_is_400(key: str) -> None:
    # RFC 6455 section 4.2.1 item 5: the key must decode to 16 bytes. (Tornado 6.6.1 only
    # checks that the header is present; this project deliberately refuses bad keys with
    # Tornado's "Missing/Invalid WebSocket headers" answer.)
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/ws", {**upgrade_headers(), "Sec-WebSocket-Key": key})
            assert (response.status, response.text) == (400, BAD_HEADERS)
        await still_serving(server)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"THIS IS NOT HTTP\r\n\r\n", id="text"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, id="tls"),
        pytest.param(b"GET /ws HTTP/9.9\r\nHost: x\r\n\r\n", id="bad version"),
        pytest.param(b"GET /ws HTTP/1.1\r\nHost x\r\n\r\n", id="header without colon"),
    ],
)
async def test_garbage_request(garbage: bytes) -> None:
    # Not HTTP at all: answered 400 and the connection closed (or just closed).
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            await conn.send(garbage)
            data = await conn.read_eof()
            assert not data or re.match(rb"HTTP/1\.[01] 400 ", data), data[:200]
        await still_serving(server)


@pytest.mark.asyncio
async def test_oversized_header_is_refused() -> None:
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            headers = {**upgrade_headers(), "X-Big": "a" * 70_000}
            try:
                response = await conn.request("/ws", headers)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass  # dropping the connection is also a refusal
            else:
                assert 400 <= response.status < 500
                assert response.status != 101
        await still_serving(server)


@pytest.mark.asyncio
async def test_client_disconnects_mid_handshake() -> None:
    async with serve(ROUTES) as server:
        async with raw_connection(server) as conn:
            await conn.send(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs")
            conn.abort()
        async with raw_connection(server) as conn:
            await conn.send(b"GET /ws HTTP/1.1\r\n")
        await still_serving(server)


@pytest.mark.asyncio
async def test_frames_pipelined_with_the_handshake() -> None:
    # A client may send its first frames right behind the request, before reading the 101.
    async with serve(ROUTES) as server, raw_connection(server) as conn:
        request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in upgrade_headers().items()
        )
        await conn.send(
            request.encode()
            + b"\r\n"
            + build_frame(OP_TEXT, b"early one")
            + build_frame(OP_TEXT, b"early two")
        )
        response = await conn.read_response()
        assert response.status == 101
        assert (await conn.read_frame()).payload == b"early one"
        assert (await conn.read_frame()).payload == b"early two"


@pytest.mark.asyncio
async def test_many_bad_handshakes_then_good_ones() -> None:
    async with serve(ROUTES) as server:

        async def bad(index: int) -> int:
            async with raw_connection(server) as conn:
                _name, headers, _status, _body = CASES[index % len(CASES)]
                return (await conn.request("/ws", headers)).status

        statuses = await wait(asyncio.gather(*(bad(i) for i in range(40))))
        assert statuses == [CASES[i % len(CASES)][2] for i in range(40)]
        await wait(asyncio.gather(*(still_serving(server) for _ in range(10))))
