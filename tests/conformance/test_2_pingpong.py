"""Category 2: ping and pong (RFC 6455 sections 5.5, 5.5.2, 5.5.3)."""

from __future__ import annotations

import os

import pytest

from conformance.conftest import (
    OP_BINARY,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Frame,
    LiveServer,
    RawWebSocket,
    encode_frame,
    expect_close,
)

pytestmark = pytest.mark.asyncio


async def _expect_pong(ws: RawWebSocket, payload: bytes) -> Frame:
    """RFC 6455 5.5.3: "A Pong frame sent in response to a Ping frame must have identical
    Application data as found in the message body of the Ping frame being replied to."""
    frame = await ws.read_frame()
    assert frame.opcode == OP_PONG, f"expected a pong, got {frame}"
    assert frame.fin and frame.rsv == 0, f"malformed pong: {frame}"
    assert frame.payload == payload, f"pong payload {frame.payload!r}, ping had {payload!r}"
    return frame


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="2.1-empty"),
        pytest.param(b"Hello, world!", id="2.2-text"),
        pytest.param(bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]), id="2.3-binary"),
        pytest.param(b"\xfe" * 125, id="2.4-125-bytes"),
    ],
)
async def test_2_ping_payload_echoed(server: LiveServer, payload: bytes) -> None:
    ws = await server.open()
    await ws.send_frame(OP_PING, payload)
    await _expect_pong(ws, payload)
    await ws.close_cleanly()


async def test_2_5_every_payload_length_0_to_125(server: LiveServer) -> None:
    """RFC 6455 5.5: control payloads of 0..125 bytes are all legal; each pong echoes its ping."""
    ws = await server.open()
    for length in range(126):
        payload = os.urandom(length)
        await ws.send_frame(OP_PING, payload)
        await _expect_pong(ws, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize(
    "length",
    [
        pytest.param(126, id="2.6.1-126-bytes"),
        pytest.param(127, id="2.6.2-127-bytes"),
        pytest.param(1000, id="2.6.3-1000-bytes"),
    ],
)
async def test_2_6_ping_over_125_bytes_fails(server: LiveServer, length: int) -> None:
    """RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less";
    a violation is a protocol error (7.4.1: 1002)."""
    ws = await server.open()
    await ws.send_frame(OP_PING, b"\xfe" * length)
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_2_6_4_ping_over_125_bytes_header_only(server: LiveServer) -> None:
    """The oversized control frame is refused on its header, before any payload arrives."""
    ws = await server.open()
    await ws.send(encode_frame(OP_PING, b"", length=126)[:4])  # header, 16-bit length, no mask
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_2_6_5_ping_with_64_bit_length_header_only(server: LiveServer) -> None:
    """A ping announcing 65536 bytes with a 64-bit length: refused on the header."""
    ws = await server.open()
    await ws.send(encode_frame(OP_PING, b"", length=65536)[:10])
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_2_6_6_pong_over_125_bytes_fails(server: LiveServer) -> None:
    """The 125-byte limit holds for every control frame, unsolicited pongs included."""
    ws = await server.open()
    await ws.send_frame(OP_PONG, b"\xfe" * 126)
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_2_7_ping_written_byte_by_byte(server: LiveServer) -> None:
    """Autobahn 2.6: a 125-byte ping in 1-byte writes."""
    payload = bytes(range(125))
    ws = await server.open()
    await ws.send_frame(OP_PING, payload, chunk=1)
    await _expect_pong(ws, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="2.8.1-empty"),
        pytest.param(b"unsolicited pong payload", id="2.8.2-payload"),
        pytest.param(b"\xff" * 125, id="2.8.3-125-bytes"),
    ],
)
async def test_2_8_unsolicited_pong_ignored(server: LiveServer, payload: bytes) -> None:
    """RFC 6455 5.5.3: "A response to an unsolicited Pong frame is not expected." The
    connection stays open and the next message is echoed as if the pong had not come."""
    ws = await server.open()
    await ws.send_frame(OP_PONG, payload)
    await ws.send_text("after pong")
    await ws.expect_message(OP_TEXT, "after pong")
    await ws.close_cleanly()


async def test_2_9_unsolicited_pong_then_ping(server: LiveServer) -> None:
    """Autobahn 2.9: the pong answering a later ping carries the ping's payload, not the
    unsolicited pong's."""
    ws = await server.open()
    await ws.send_frame(OP_PONG, b"unsolicited")
    await ws.send_frame(OP_PING, b"solicited")
    await _expect_pong(ws, b"solicited")
    await ws.close_cleanly()


async def test_2_10_ten_pings_in_one_write(server: LiveServer) -> None:
    """RFC 6455 5.5.3: pongs come in order; a server that has not yet answered earlier pings
    MAY answer only the most recent one, so earlier pongs may be missing, never reordered."""
    payloads = [f"ping payload {i}".encode() for i in range(10)]
    ws = await server.open()
    await ws.send(b"".join(encode_frame(OP_PING, p) for p in payloads))
    expected = iter(payloads)
    while True:
        frame = await ws.read_frame()
        assert frame.opcode == OP_PONG, f"expected a pong, got {frame}"
        assert frame.payload in expected, f"pong {frame.payload!r} out of order or unknown"
        if frame.payload == payloads[-1]:
            break
    await ws.close_cleanly()


async def test_2_11_ten_pings_byte_by_byte(server: LiveServer) -> None:
    """Autobahn 2.11: the same, each ping written one byte per write; every pong arrives."""
    ws = await server.open()
    for i in range(10):
        payload = f"ping payload {i}".encode()
        await ws.send_frame(OP_PING, payload, chunk=1)
        await _expect_pong(ws, payload)
    await ws.close_cleanly()


async def test_2_12_ping_between_messages(server: LiveServer) -> None:
    """Pings interleaved with data messages are answered in order with the echoes."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"one")
        + encode_frame(OP_PING, b"p1")
        + encode_frame(OP_BINARY, b"two")
        + encode_frame(OP_PING, b"p2")
    )
    await ws.expect_message(OP_TEXT, "one")
    await _expect_pong(ws, b"p1")
    await ws.expect_message(OP_BINARY, b"two")
    await _expect_pong(ws, b"p2")
    await ws.close_cleanly()
