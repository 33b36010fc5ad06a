"""The opening handshake (RFC 6455 section 4.2), with Tornado 6.6.1's answers where the RFC
leaves the status code open.

Section 4.2.1 lists what a client's handshake must contain; section 4.2.2: if it does not, "the
server MUST stop processing the client's handshake and return an HTTP response with an
appropriate error code (such as 400 Bad Request)"; for a version it does not speak, "426
Upgrade Required" with the versions it does speak (sections 4.2.2 and 4.4).
"""

from __future__ import annotations

import base64
import os

import pytest

from conformance.conftest import (
    OP_TEXT,
    LiveServer,
    accept_value,
)

pytestmark = pytest.mark.asyncio


async def test_h_1_valid_handshake(server: LiveServer) -> None:
    """Section 4.2.2 item 5: 101, Upgrade: websocket, Connection: Upgrade, the accept value;
    no extension or subprotocol header without an offer."""
    ws = await server.connect("/echo")
    ws.check_accepted()
    assert ws.response is not None and ws.key is not None
    assert ws.response.header("Sec-WebSocket-Accept") == accept_value(ws.key)
    assert ws.response.header("Sec-WebSocket-Extensions") is None
    assert ws.response.header("Sec-WebSocket-Protocol") is None
    await ws.send_text("after handshake")
    await ws.expect_message(OP_TEXT, "after handshake")
    await ws.close_cleanly()


async def test_h_1_2_rfc_example_key(server: LiveServer) -> None:
    """Section 1.3's worked example: key dGhlIHNhbXBsZSBub25jZQ== gives
    s3pPLMBiTxaQ9kYGzzhZRbK+xOo=."""
    ws = await server.connect("/echo", headers={"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert ws.response is not None and ws.response.status == 101
    assert ws.response.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    await ws.close_cleanly()


async def test_h_2_missing_key(server: LiveServer) -> None:
    """Section 4.2.1 item 5: the key is required."""
    ws = await server.connect("/echo", headers={"Sec-WebSocket-Key": None})
    assert ws.response is not None
    assert ws.response.status == 400, ws.response
    await server.assert_serving()


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(base64.b64encode(os.urandom(15)).decode(), id="h.3.1-15-bytes"),
        pytest.param(base64.b64encode(os.urandom(17)).decode(), id="h.3.2-17-bytes"),
        pytest.param(base64.b64encode(os.urandom(32)).decode(), id="h.3.3-32-bytes"),
        pytest.param("not base64 at all!!!!!==", id="h.3.4-not-base64"),
        pytest.param("", id="h.3.5-empty"),
        pytest.param("dGhlIHNhbXBsZSBub25jZQ", id="h.3.6-missing-padding"),
    ],
)
async def test_h_3_bad_key(server: LiveServer, key: str) -> None:
    """Section 4.2.1 item 5: "a base64-encoded value that, when decoded, is 16 bytes in
    length"."""
    ws = await server.connect("/echo", headers={"Sec-WebSocket-Key": key})
    assert ws.response is not None
    assert ws.response.status == 400, ws.response
    await server.assert_serving()


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("8", id="h.4.1-version-8"),
        pytest.param("7", id="h.4.2-version-7"),
        pytest.param("12", id="h.4.3-version-12"),
        pytest.param("14", id="h.4.4-version-14"),
        pytest.param("13, 8", id="h.4.5-list"),
        pytest.param("", id="h.4.6-empty"),
        pytest.param(None, id="h.4.7-missing"),
    ],
)
async def test_h_4_unsupported_version(server: LiveServer, version: str | None) -> None:
    """Section 4.4: 426 with ``Sec-WebSocket-Version: 13``, the one version spoken. (A
    missing version gets the same answer, as in Tornado 6.6.1.)"""
    ws = await server.connect("/echo", headers={"Sec-WebSocket-Version": version})
    assert ws.response is not None
    assert ws.response.status == 426, ws.response
    advertised = ws.response.header("Sec-WebSocket-Version")
    assert advertised is not None
    assert [v.strip() for v in advertised.split(",")] == ["13"], advertised
    await server.assert_serving()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Connection": "keep-alive, Upgrade"}, id="h.5.1-keep-alive-upgrade"),
        pytest.param({"Connection": "Upgrade, keep-alive"}, id="h.5.2-upgrade-keep-alive"),
        pytest.param({"Connection": "upgrade"}, id="h.5.3-lower-case-connection"),
        pytest.param({"Upgrade": "WebSocket"}, id="h.5.4-mixed-case-upgrade"),
        pytest.param({"Upgrade": "WEBSOCKET", "Connection": "UPGRADE"}, id="h.5.5-upper-case"),
        pytest.param({"Connection": "keep-alive,Upgrade"}, id="h.5.6-no-space"),
    ],
)
async def test_h_5_header_variants_accepted(
    server: LiveServer, headers: dict[str, str | None]
) -> None:
    """Section 4.2.1 items 3 and 4: Upgrade is compared case-insensitively, and Connection
    only has to include the token "Upgrade" (as Firefox sends "keep-alive, Upgrade")."""
    ws = await server.connect("/echo", headers=headers)
    ws.check_accepted()
    await ws.send_text("variant")
    await ws.expect_message(OP_TEXT, "variant")
    await ws.close_cleanly()


@pytest.mark.parametrize(
    ("path", "offer"),
    [
        pytest.param("/echo", "x-webkit-deflate-frame", id="h.6.1-unknown-extension"),
        pytest.param("/echo", "foo; bar=1, baz", id="h.6.2-unknown-extensions"),
        pytest.param("/deflate", "x-webkit-deflate-frame", id="h.6.3-unknown-on-deflate"),
        pytest.param("/echo", "permessage-deflate", id="h.6.4-deflate-not-enabled"),
    ],
)
async def test_h_6_unknown_extensions_ignored(server: LiveServer, path: str, offer: str) -> None:
    """Section 9.1: the server answers only extensions it supports; the rest are ignored and
    the connection works without them."""
    ws = await server.connect(path, extensions=offer)
    ws.check_accepted()
    assert ws.response is not None
    assert ws.response.header("Sec-WebSocket-Extensions") is None, ws.response.headers
    await ws.send_text("no extensions")
    await ws.expect_message(OP_TEXT, "no extensions")
    await ws.close_cleanly()


async def test_h_6_5_unknown_extension_before_deflate(server: LiveServer) -> None:
    """An unknown extension listed first does not stop permessage-deflate being accepted."""
    ws = await server.connect("/deflate", extensions="x-foo; a=1, permessage-deflate")
    ws.check_accepted()
    assert ws.response is not None
    assert ws.response.header("Sec-WebSocket-Extensions") == "permessage-deflate"
    await ws.close_cleanly()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Upgrade": None}, id="h.7.1-no-upgrade"),
        pytest.param({"Upgrade": "h2c"}, id="h.7.2-wrong-upgrade"),
        pytest.param({"Connection": None}, id="h.7.3-no-connection"),
        pytest.param({"Connection": "keep-alive"}, id="h.7.4-connection-without-upgrade"),
        pytest.param({"Connection": "upgrader"}, id="h.7.5-connection-token-prefix"),
    ],
)
async def test_h_7_not_an_upgrade(server: LiveServer, headers: dict[str, str | None]) -> None:
    """Section 4.2.1 items 3 and 4 (Tornado 6.6.1: 400 for either)."""
    ws = await server.connect("/echo", headers=headers)
    assert ws.response is not None
    assert ws.response.status == 400, ws.response
    await server.assert_serving()


async def test_h_8_missing_host(server: LiveServer) -> None:
    """Section 4.2.1 item 2: a Host header field is required."""
    ws = await server.connect("/echo", headers={"Host": None})
    assert ws.response is not None
    assert ws.response.status == 400, ws.response
    await server.assert_serving()


async def test_h_9_not_get(server: LiveServer) -> None:
    """Section 4.2.1 item 1: the handshake is a GET (Tornado 6.6.1: 405 otherwise)."""
    ws = await server.connect("/echo", method="POST", headers={"Content-Length": "0"})
    assert ws.response is not None
    assert ws.response.status == 405, ws.response
    await server.assert_serving()


async def test_h_10_subprotocol_not_selected(server: LiveServer) -> None:
    """Section 4.2.2 item 5.5 (/subprotocol/ null): no Sec-WebSocket-Protocol in the answer
    when the server selects none of the offered ones."""
    ws = await server.connect("/echo", headers={"Sec-WebSocket-Protocol": "chat, superchat"})
    ws.check_accepted()
    assert ws.response is not None
    assert ws.response.header("Sec-WebSocket-Protocol") is None
    await ws.close_cleanly()
