"""Category 7: the closing handshake (RFC 6455 sections 5.5.1, 7.1, 7.4).

Section 5.5.1: "If an endpoint receives a Close frame and did not previously send a Close
frame, the endpoint MUST send a Close frame in response. (When sending a Close frame in
response, the endpoint typically echos the status code it received.)" and "After sending a
Close frame, the endpoint MUST NOT send any more data frames". Section 7.1.1: the server closes
the TCP connection first. Section 7.4: which codes may be sent; an invalid one is a protocol
error (1002), an invalid UTF-8 reason is inconsistent data (1007, sections 5.5.1 and 8.1).
"""

from __future__ import annotations

import pytest

from conformance.conftest import (
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    LiveServer,
    check_close_frame,
    close_payload,
    encode_frame,
    expect_close,
    serve,
)

pytestmark = pytest.mark.asyncio

# ---- 7.1: the closing handshake and what comes after it ----


async def test_7_1_1_message_then_close(server: LiveServer) -> None:
    """The message before the close is echoed, the close is echoed, then TCP closes."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"Hello World!") + encode_frame(OP_CLOSE, close_payload(1000))
    )
    await ws.expect_message(OP_TEXT, "Hello World!")
    await expect_close(ws, 1000)
    await server.assert_serving()


async def test_7_1_2_second_close_ignored(server: LiveServer) -> None:
    """Two close frames: exactly one close answers them."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_CLOSE, close_payload(1000)) + encode_frame(OP_CLOSE, close_payload(1001))
    )
    await expect_close(ws, 1000)
    await server.assert_serving()


async def test_7_1_3_ping_after_close_ignored(server: LiveServer) -> None:
    """A ping after the close frame gets no pong."""
    ws = await server.open()
    await ws.send(encode_frame(OP_CLOSE, close_payload(1000)) + encode_frame(OP_PING, b"late"))
    await expect_close(ws, 1000)
    await server.assert_serving()


async def test_7_1_4_data_after_close_ignored(server: LiveServer) -> None:
    """A text message after the close frame is not delivered (so not echoed)."""
    ws = await server.open()
    await ws.send(encode_frame(OP_CLOSE, close_payload(1000)) + encode_frame(OP_TEXT, b"late"))
    await expect_close(ws, 1000)
    await server.assert_serving()


async def test_7_1_5_close_inside_fragmented_message(server: LiveServer) -> None:
    """Start a message, close, then the continuation: the message is never delivered."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"fragment1", fin=False)
        + encode_frame(OP_CLOSE, close_payload(1000))
        + encode_frame(OP_CONTINUATION, b"fragment2")
    )
    await expect_close(ws, 1000)
    await server.assert_serving()


async def test_7_1_6_large_message_then_close_then_ping(server: LiveServer) -> None:
    """Autobahn 7.1.6: a 256 KiB message, a close and a ping in one write: the message is
    echoed, then the close; the ping is not answered."""
    payload = b"BAsd7&jh23" * 26214 + b"BA"
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, payload)
        + encode_frame(OP_CLOSE, close_payload(1000))
        + encode_frame(OP_PING, b"late")
    )
    await ws.expect_message(OP_TEXT, payload)
    await expect_close(ws, 1000)
    await server.assert_serving()


async def test_7_1_7_close_written_byte_by_byte(server: LiveServer) -> None:
    ws = await server.open()
    await ws.send(encode_frame(OP_CLOSE, close_payload(1000, b"bye")), chunk=1)
    await expect_close(ws, 1000)


# ---- 7.2: the server starts the closing handshake ----


async def test_7_2_1_server_initiated_close(server: LiveServer) -> None:
    """The server sends its close, sends no data after it, and closes TCP once the client's
    close arrives (sections 5.5.1 and 7.1.1)."""
    ws = await server.open("/close")
    await ws.send_text("4000 bye")
    frame = await ws.read_frame()
    assert frame.opcode == OP_CLOSE, f"expected the server's close, got {frame}"
    check_close_frame(frame)
    assert frame.close_code == 4000 and frame.close_reason == b"bye", frame
    await ws.send_text("too late")  # the server has closed: nothing may come back
    await ws.send_close(4000)
    await ws.expect_eof()
    await server.assert_serving()


async def test_7_2_2_server_initiated_close_unanswered() -> None:
    """A client that never answers the server's close is dropped after the close timeout."""
    async with serve(websocket_close_timeout=0.2) as live:
        ws = await live.open("/close")
        await ws.send_text("1000 going")
        frame = await ws.read_frame()
        assert frame.opcode == OP_CLOSE and frame.close_code == 1000, frame
        await ws.expect_eof()
        await live.assert_serving()


# ---- 7.3: close frame payloads ----


async def test_7_3_1_empty_close(server: LiveServer) -> None:
    """A close without status code (section 5.5.1: the body is optional) is answered with a
    close that has no code, or 1000, and TCP closes."""
    ws = await server.open()
    await ws.send_frame(OP_CLOSE, b"")
    frame = await ws.read_frame()
    assert frame.opcode == OP_CLOSE, f"expected a close frame, got {frame}"
    check_close_frame(frame)
    assert frame.close_code in (None, 1000), frame
    await ws.expect_eof()
    await server.assert_serving()


async def test_7_3_2_one_byte_close_payload(server: LiveServer) -> None:
    """Section 5.5.1: if there is a body, its first two bytes are the status code; one byte
    cannot be a close payload."""
    ws = await server.open()
    await ws.send_frame(OP_CLOSE, b"\x03")
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param(b"", id="7.3.3-code-only"),
        pytest.param(b"Hello World!", id="7.3.4-code-and-reason"),
        pytest.param(b"*" * 123, id="7.3.5-123-byte-reason"),
        pytest.param("κόσμε ✓ 😀".encode(), id="7.3.6-multibyte-utf8-reason"),
    ],
)
async def test_7_3_close_with_reason(server: LiveServer, reason: bytes) -> None:
    ws = await server.open()
    await ws.send_frame(OP_CLOSE, close_payload(1000, reason))
    await expect_close(ws, 1000)
    await server.assert_serving()


async def test_7_3_7_close_payload_over_125_bytes(server: LiveServer) -> None:
    """A 124-byte reason makes a 126-byte control payload (section 5.5)."""
    ws = await server.open()
    await ws.send_frame(OP_CLOSE, close_payload(1000, b"*" * 124))
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param(
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            id="7.5.1-surrogate-in-reason",
        ),
        pytest.param(b"bad \xff byte", id="7.5.2-ff-in-reason"),
        pytest.param(b"truncated \xe2\x82", id="7.5.3-truncated-reason"),
        pytest.param(b"\xc0\xaf", id="7.5.4-overlong-reason"),
    ],
)
async def test_7_5_invalid_utf8_reason(server: LiveServer, reason: bytes) -> None:
    """Section 5.5.1: the reason is UTF-8; section 8.1: invalid UTF-8 fails with 1007."""
    ws = await server.open()
    await ws.send_frame(OP_CLOSE, close_payload(1000, reason))
    await expect_close(ws, 1007)
    await server.assert_serving()


# ---- 7.7 / 7.9: status codes ----

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 10000, 65535]


@pytest.mark.parametrize(
    "code", [pytest.param(c, id=f"7.7.{i}-code{c}") for i, c in enumerate(VALID_CODES, 1)]
)
async def test_7_7_valid_close_code_echoed(server: LiveServer, code: int) -> None:
    """Codes defined in section 7.4.1 that may be sent, and 3000-4999 (section 7.4.2)."""
    ws = await server.open()
    await ws.send_frame(OP_CLOSE, close_payload(code, b"reason"))
    await expect_close(ws, code)
    await server.assert_serving()


@pytest.mark.parametrize(
    "code", [pytest.param(c, id=f"7.9.{i}-code{c}") for i, c in enumerate(INVALID_CODES, 1)]
)
async def test_7_9_invalid_close_code_fails(server: LiveServer, code: int) -> None:
    """Section 7.4.2: 0-999 are not used; 1004 is reserved; 1005, 1006 and 1015 "MUST NOT be
    set as a status code in a Close control frame by an endpoint"; 1016-2999 are reserved
    for future revisions and extensions; nothing above 4999 is defined. Protocol error."""
    ws = await server.open()
    await ws.send_frame(OP_CLOSE, close_payload(code))
    await expect_close(ws, 1002)
    await server.assert_serving()
