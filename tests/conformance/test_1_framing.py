"""Category 1: framing (RFC 6455 section 5.2), payload lengths and frames split on the wire."""

from __future__ import annotations

import os

import pytest

from conformance.conftest import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    LiveServer,
    close_payload,
    encode_frame,
    expect_close,
)

pytestmark = pytest.mark.asyncio

# RFC 6455 section 5.2: 7-bit lengths up to 125, 126 selects a 16-bit length, 127 a 64-bit one.
LENGTHS = [0, 125, 126, 127, 128, 65535, 65536, 1_000_000]


def _lengths(prefix: str) -> list[object]:
    return [pytest.param(n, id=f"{prefix}.{i}-len{n}") for i, n in enumerate(LENGTHS, 1)]


@pytest.mark.parametrize("length", _lengths("1.1"))
async def test_1_1_text_payload_length(server: LiveServer, length: int) -> None:
    """A text message of each length boundary is echoed intact, with a minimal header."""
    ws = await server.open()
    await ws.send_text(b"*" * length)
    await ws.expect_message(OP_TEXT, b"*" * length)
    await ws.close_cleanly()


@pytest.mark.parametrize("length", _lengths("1.2"))
async def test_1_2_binary_payload_length(server: LiveServer, length: int) -> None:
    """A binary message of each length boundary is echoed intact."""
    payload = os.urandom(length)
    ws = await server.open()
    await ws.send_binary(payload)
    await ws.expect_message(OP_BINARY, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize(
    ("opcode", "length"),
    [
        pytest.param(OP_TEXT, 0, id="1.3.1-text-len0"),
        pytest.param(OP_TEXT, 125, id="1.3.2-text-len125"),
        pytest.param(OP_TEXT, 126, id="1.3.3-text-len126"),
        pytest.param(OP_TEXT, 127, id="1.3.4-text-len127"),
        pytest.param(OP_BINARY, 128, id="1.3.5-binary-len128"),
        pytest.param(OP_BINARY, 65535, id="1.3.6-binary-len65535"),
        pytest.param(OP_BINARY, 65536, id="1.3.7-binary-len65536"),
    ],
)
async def test_1_3_frame_written_byte_by_byte(
    server: LiveServer, opcode: int, length: int
) -> None:
    """Header, extended length, mask and payload each arrive in separate TCP writes.

    The first 14 bytes (the longest header) go one byte per write, the rest in 97-byte writes.
    """
    payload = b"x" * length if opcode == OP_TEXT else os.urandom(length)
    frame = encode_frame(opcode, payload)
    ws = await server.open()
    await ws.send(frame[:14], chunk=1)
    await ws.send(frame[14:], chunk=97)
    await ws.expect_message(opcode, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize(
    ("opcode", "length"),
    [
        pytest.param(OP_TEXT, 65535, id="1.4.1-text-len65535"),
        pytest.param(OP_TEXT, 65536, id="1.4.2-text-len65536"),
        pytest.param(OP_BINARY, 65535, id="1.4.3-binary-len65535"),
        pytest.param(OP_BINARY, 65536, id="1.4.4-binary-len65536"),
    ],
)
async def test_1_4_frame_in_997_byte_chops(server: LiveServer, opcode: int, length: int) -> None:
    """Autobahn 1.1.7/1.1.8/1.2.7/1.2.8: a frame written in chops of 997 octets."""
    payload = b"*" * length if opcode == OP_TEXT else b"\xfe" * length
    ws = await server.open()
    await ws.send_frame(opcode, payload, chunk=997)
    await ws.expect_message(opcode, payload)
    await ws.close_cleanly()


async def test_1_5_1_many_frames_in_one_write(server: LiveServer) -> None:
    """100 messages in a single TCP write are each echoed, in order."""
    messages = [(OP_TEXT if i % 2 else OP_BINARY, f"message {i}".encode()) for i in range(100)]
    ws = await server.open()
    await ws.send(b"".join(encode_frame(op, data) for op, data in messages))
    for opcode, data in messages:
        await ws.expect_message(opcode, data)
    await ws.close_cleanly()


async def test_1_5_2_zero_mask_key(server: LiveServer) -> None:
    """RFC 6455 section 5.3: an all-zero masking key is a valid (if useless) key."""
    ws = await server.open()
    await ws.send_text(b"unmasked by a zero key", mask_key=b"\x00\x00\x00\x00")
    await ws.expect_message(OP_TEXT, b"unmasked by a zero key")
    await ws.close_cleanly()


@pytest.mark.parametrize(
    ("opcode", "payload"),
    [
        pytest.param(OP_TEXT, b"Hello", id="1.6.1-text"),
        pytest.param(OP_BINARY, b"\x00\x01\x02", id="1.6.2-binary"),
        pytest.param(OP_TEXT, b"", id="1.6.3-empty-text"),
        pytest.param(OP_PING, b"ping", id="1.6.4-ping"),
        pytest.param(OP_CLOSE, close_payload(1000), id="1.6.5-close"),
    ],
)
async def test_1_6_unmasked_client_frame_fails(
    server: LiveServer, opcode: int, payload: bytes
) -> None:
    """RFC 6455 section 5.1: "The server MUST close the connection upon receiving a frame that
    is not masked" and section 7.4.1: 1002 for a protocol error. Applies to every frame."""
    ws = await server.open()
    await ws.send_frame(opcode, payload, masked=False)
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_1_6_6_unmasked_frame_after_valid_ones(server: LiveServer) -> None:
    """Valid frames are answered; the first unmasked one fails the connection."""
    ws = await server.open()
    await ws.send_text("first")
    await ws.expect_message(OP_TEXT, "first")
    await ws.send_text("second", masked=False)
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_1_5_3_mixed_lengths_in_7_byte_chops(server: LiveServer) -> None:
    """Frames of every length encoding back to back, written 7 bytes at a time, so that
    headers, extended lengths and masks are cut at every offset."""
    lengths = [0, 1, 125, 126, 127, 65535, 65536, 3, 200]
    payloads = [os.urandom(n) for n in lengths]
    ws = await server.open()
    await ws.send(b"".join(encode_frame(OP_BINARY, p) for p in payloads), chunk=7)
    for payload in payloads:
        await ws.expect_message(OP_BINARY, payload)
    await ws.close_cleanly()


async def test_1_6_7_unmasked_frame_byte_by_byte_after_a_long_frame(server: LiveServer) -> None:
    """A 64-bit-length frame written with its header and last bytes one per write, then an
    unmasked frame: the unmasked frame is still found. (The bad frame goes in one write: bytes
    written after the server has closed would reset the connection and lose its close.)"""
    long_frame = encode_frame(OP_BINARY, bytes(70000))
    ws = await server.open()
    await ws.send(long_frame[:14], chunk=1)
    await ws.send(long_frame[14:-3], chunk=4096)
    await ws.send(long_frame[-3:], chunk=1)
    await ws.send(encode_frame(OP_TEXT, b"bad", masked=False))
    await ws.expect_message(OP_BINARY, bytes(70000))
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_1_7_1_64_bit_length_with_the_high_bit_set(server: LiveServer) -> None:
    """RFC 6455 5.2: in a 64-bit length "the most significant bit MUST be 0". Sent as a
    header alone; the connection fails with 1002 (protocol error) or 1009 (too big)."""
    header = encode_frame(OP_BINARY, b"", length=1 << 63)[:10]
    ws = await server.open()
    await ws.send(header)
    await expect_close(ws, frozenset({1002, 1009}))
    await server.assert_serving()
