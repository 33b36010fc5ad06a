"""Category 9: large messages and the message size limit.

Messages up to 16 MiB in one frame and in many fragments are echoed intact (the live server's
``websocket_max_message_size`` is 17 MiB). Beyond the limit the server fails the connection
with 1009 (RFC 6455 section 7.4.1: "a message that is too big for it to process"); a frame
header that announces too much is refused on the header, before any payload is sent; a
compressed message is measured after decompression, without inflating past the limit.
"""

from __future__ import annotations

import functools
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from conformance.conftest import (
    DEFLATE_TAIL,
    MAX_MESSAGE_SIZE,
    OP_BINARY,
    OP_CONTINUATION,
    OP_TEXT,
    RSV1,
    Deflater,
    Inflater,
    LiveServer,
    encode_frame,
    expect_close,
    serve,
)

pytestmark = pytest.mark.asyncio

KIB = 1024
MIB = 1024 * KIB
#: ``websocket_max_message_size`` of the small-limit server.
SMALL_LIMIT = 64 * KIB


@pytest_asyncio.fixture
async def small_server() -> AsyncIterator[LiveServer]:
    async with serve(websocket_max_message_size=SMALL_LIMIT) as live:
        yield live


def text_payload(size: int) -> bytes:
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


def fragmented(opcode: int, payload: bytes, fragment_size: int) -> bytes:
    pieces = [payload[i : i + fragment_size] for i in range(0, len(payload), fragment_size)]
    last = len(pieces) - 1
    return b"".join(
        encode_frame(opcode if i == 0 else OP_CONTINUATION, piece, fin=i == last)
        for i, piece in enumerate(pieces)
    )


SIZES = [64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 16 * MIB]


def _sizes(prefix: str) -> list[object]:
    return [pytest.param(n, id=f"{prefix}.{i}-{n // KIB}KiB") for i, n in enumerate(SIZES, 1)]


@pytest.mark.parametrize("size", _sizes("9.1"))
async def test_9_1_text_message_one_frame(server: LiveServer, size: int) -> None:
    payload = text_payload(size)
    ws = await server.open()
    await ws.send_frame(OP_TEXT, payload)
    await ws.expect_message(OP_TEXT, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize("size", _sizes("9.2"))
async def test_9_2_binary_message_one_frame(server: LiveServer, size: int) -> None:
    payload = os.urandom(size)
    ws = await server.open()
    await ws.send_frame(OP_BINARY, payload)
    await ws.expect_message(OP_BINARY, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize(
    ("opcode", "size", "fragment_size"),
    [
        pytest.param(OP_TEXT, 1 * MIB, 64, id="9.3.1-text-1MiB-in-64B-fragments"),
        pytest.param(OP_TEXT, 4 * MIB, 4 * KIB, id="9.3.2-text-4MiB-in-4KiB-fragments"),
        pytest.param(OP_TEXT, 16 * MIB, 64 * KIB, id="9.3.3-text-16MiB-in-64KiB-fragments"),
        pytest.param(OP_TEXT, 16 * MIB, 1 * MIB, id="9.3.4-text-16MiB-in-1MiB-fragments"),
        pytest.param(OP_BINARY, 16 * MIB, 4 * KIB, id="9.4.1-binary-16MiB-in-4KiB-fragments"),
        pytest.param(OP_BINARY, 16 * MIB, 256 * KIB, id="9.4.2-binary-16MiB-in-256KiB-fragments"),
    ],
)
async def test_9_3_message_in_many_fragments(
    server: LiveServer, opcode: int, size: int, fragment_size: int
) -> None:
    payload = text_payload(size) if opcode == OP_TEXT else os.urandom(size)
    ws = await server.open()
    await ws.send(fragmented(opcode, payload, fragment_size))
    await ws.expect_message(opcode, payload)
    await ws.close_cleanly()


async def test_9_5_1_frame_written_in_small_chops(server: LiveServer) -> None:
    """Autobahn 9.5/9.6: a 1 MiB frame written in 997-byte chops."""
    payload = text_payload(MIB)
    ws = await server.open()
    await ws.send_frame(OP_TEXT, payload, chunk=997)
    await ws.expect_message(OP_TEXT, payload)
    await ws.close_cleanly()


async def test_9_6_1_thousand_messages_in_one_write(server: LiveServer) -> None:
    """Autobahn 9.7/9.8: 1000 messages back to back are echoed in order."""
    messages = [os.urandom(1000) for _ in range(1000)]
    ws = await server.open()
    await ws.send(b"".join(encode_frame(OP_BINARY, m) for m in messages))
    for message in messages:
        await ws.expect_message(OP_BINARY, message)
    await ws.close_cleanly()


# ---- the limit ----


@pytest.mark.parametrize(
    "opcode", [pytest.param(OP_TEXT, id="9.7.1-text"), pytest.param(OP_BINARY, id="9.7.2-binary")]
)
async def test_9_7_message_of_exactly_the_limit(small_server: LiveServer, opcode: int) -> None:
    """Tornado's rule: a message of exactly ``websocket_max_message_size`` is accepted."""
    payload = text_payload(SMALL_LIMIT)
    ws = await small_server.open()
    await ws.send_frame(opcode, payload)
    await ws.expect_message(opcode, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize(
    ("announced", "limit_server"),
    [
        pytest.param(SMALL_LIMIT + 1, "small", id="9.8.1-limit+1-16-bit-length"),
        pytest.param(10 * MIB, "small", id="9.8.2-10MiB-64-bit-length"),
        pytest.param(MAX_MESSAGE_SIZE + 1, "main", id="9.8.3-17MiB+1"),
        pytest.param(1 << 62, "main", id="9.8.4-2**62"),
        pytest.param((1 << 63) - 1, "main", id="9.8.5-2**63-1"),
    ],
)
async def test_9_8_header_announcing_too_much_is_refused(
    server: LiveServer, small_server: LiveServer, announced: int, limit_server: str
) -> None:
    """Only the header (and mask) is sent; the 1009 must come without any payload."""
    live = small_server if limit_server == "small" else server
    ws = await live.open()
    await ws.send(encode_frame(OP_BINARY, b"", length=announced))
    await expect_close(ws, 1009)
    await live.assert_serving()


async def test_9_9_1_fragments_adding_up_past_the_limit(small_server: LiveServer) -> None:
    """The limit is on the message, not the frame: a second fragment whose header takes the
    total past the limit is refused on that header."""
    ws = await small_server.open()
    await ws.send(encode_frame(OP_TEXT, text_payload(40 * KIB), fin=False))
    await ws.send(encode_frame(OP_CONTINUATION, b"", length=30 * KIB))
    await expect_close(ws, 1009)
    await small_server.assert_serving()


async def test_9_9_2_many_small_fragments_up_to_the_limit(small_server: LiveServer) -> None:
    """64 fragments of 1 KiB fill the limit; the 65th fragment's header alone is refused."""
    pieces = [os.urandom(KIB) for _ in range(64)]
    ws = await small_server.open()
    await ws.send(
        b"".join(
            encode_frame(OP_BINARY if i == 0 else OP_CONTINUATION, piece, fin=False)
            for i, piece in enumerate(pieces)
        )
    )
    await ws.send(encode_frame(OP_CONTINUATION, b"", length=KIB)[:4])  # 16-bit length
    await expect_close(ws, 1009)
    await small_server.assert_serving()


# ---- compressed messages: the limit applies after decompression ----


@functools.cache
def deflate_bomb(size: int) -> bytes:
    """``size`` zero bytes, deflated as one permessage-deflate message (about size / 1000)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MIB)
    parts = [compressor.compress(chunk) for _ in range(size // MIB)]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(parts)
    assert data.endswith(DEFLATE_TAIL)
    return data[:-4]


async def test_9_10_1_compressed_message_of_exactly_the_limit(small_server: LiveServer) -> None:
    ws = await small_server.open("/deflate", extensions="permessage-deflate")
    payload = text_payload(SMALL_LIMIT)
    await ws.send_frame(OP_TEXT, Deflater().compress(payload), rsv=RSV1)
    await ws.expect_message(OP_TEXT, payload, inflater=Inflater())
    await ws.close_cleanly()


async def test_9_10_2_compressed_message_over_the_limit(small_server: LiveServer) -> None:
    """A few hundred compressed bytes that inflate to limit + 1."""
    ws = await small_server.open("/deflate", extensions="permessage-deflate")
    await ws.send_frame(OP_BINARY, Deflater().compress(bytes(SMALL_LIMIT + 1)), rsv=RSV1)
    await expect_close(ws, 1009)
    await small_server.assert_serving()


async def test_9_10_3_compression_bomb_memory_bounded(small_server: LiveServer) -> None:
    """48 MiB of zeros in about 48 KiB: refused with 1009, and the server never holds much
    more than the limit (measured with tracemalloc across the whole exchange). The frame
    stays under 64 KiB so that it reaches the server in one read, even on loopback."""
    bomb = deflate_bomb(48 * MIB)
    frame = encode_frame(OP_BINARY, bomb, rsv=RSV1)
    ws = await small_server.open("/deflate", extensions="permessage-deflate")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await ws.send(frame)
        await expect_close(ws, 1009)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The frame itself (~48 KiB) is buffered, plus at most the limit of inflated data.
    assert peak < 16 * MIB, f"peak traced memory {peak / MIB:.1f} MiB for a 64 KiB limit"
    await small_server.assert_serving()


async def test_9_10_4_compression_bomb_in_fragments(small_server: LiveServer) -> None:
    """The same bomb split into 4 KiB fragments (RSV1 on the first only)."""
    bomb = deflate_bomb(16 * MIB)
    pieces = [bomb[i : i + 4 * KIB] for i in range(0, len(bomb), 4 * KIB)]
    last = len(pieces) - 1
    data = b"".join(
        encode_frame(
            OP_BINARY if i == 0 else OP_CONTINUATION, p, fin=i == last, rsv=RSV1 if i == 0 else 0
        )
        for i, p in enumerate(pieces)
    )
    ws = await small_server.open("/deflate", extensions="permessage-deflate")
    await ws.send(data)
    await expect_close(ws, 1009)
    await small_server.assert_serving()
