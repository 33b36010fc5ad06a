"""Category 3: reserved bits (RFC 6455 section 5.2) on a connection without extensions.

"RSV1, RSV2, RSV3: MUST be 0 unless an extension is negotiated that defines meanings for
non-zero values. If a nonzero value is received and none of the negotiated extensions defines
the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket
Connection_." The code is 1002 (section 7.4.1: protocol error).
"""

from __future__ import annotations

import pytest

from conformance.conftest import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    RSV2,
    RSV3,
    LiveServer,
    close_payload,
    encode_frame,
    expect_close,
)

pytestmark = pytest.mark.asyncio

# Autobahn numbers the RSV field as a 3-bit value, RSV1 being its high bit.
RSV_VALUES = {
    1: RSV3,
    2: RSV2,
    3: RSV2 | RSV3,
    4: RSV1,
    5: RSV1 | RSV3,
    6: RSV1 | RSV2,
    7: RSV1 | RSV2 | RSV3,
}
FRAMES = {
    "text": (OP_TEXT, b"Hello, world!"),
    "binary": (OP_BINARY, b"\x00\xff\xfe"),
    "ping": (OP_PING, b"ping"),
    "pong": (OP_PONG, b"pong"),
    "close": (OP_CLOSE, close_payload(1000)),
}


def _cases() -> list[object]:
    return [
        pytest.param(kind, value, id=f"3.1.{n}-{kind}-rsv{value}")
        for n, (kind, value) in enumerate(
            ((kind, value) for kind in FRAMES for value in RSV_VALUES), 1
        )
    ]


@pytest.mark.parametrize(("kind", "rsv_value"), _cases())
async def test_3_1_reserved_bits_fail(server: LiveServer, kind: str, rsv_value: int) -> None:
    """Every combination of reserved bits on every frame type fails the connection."""
    opcode, payload = FRAMES[kind]
    ws = await server.open()
    await ws.send_frame(opcode, payload, rsv=RSV_VALUES[rsv_value])
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize(
    ("rsv_value", "chunk"),
    [
        pytest.param(2, None, id="3.2-rsv2"),
        pytest.param(3, 1, id="3.3-rsv3-byte-by-byte"),
        pytest.param(4, None, id="3.4-rsv4"),
        pytest.param(5, 1, id="3.5-rsv5-byte-by-byte"),
    ],
)
async def test_3_2_valid_message_then_reserved_bits_then_ping(
    server: LiveServer, rsv_value: int, chunk: int | None
) -> None:
    """Autobahn 3.2-3.5: a valid message (echoed), then a frame with RSV bits, then a ping in
    the same write. The ping comes after the failure and is not answered."""
    ws = await server.open()
    await ws.send(encode_frame(OP_TEXT, b"Hello"), chunk=chunk)
    await ws.expect_message(OP_TEXT, "Hello")
    await ws.send(
        encode_frame(OP_TEXT, b"Hello", rsv=RSV_VALUES[rsv_value]) + encode_frame(OP_PING, b"x")
    )
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_3_6_reserved_bits_on_a_continuation_frame(server: LiveServer) -> None:
    """RSV bits on a later fragment of a message are just as invalid."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"frag", fin=False)
        + encode_frame(0x0, b"ment", rsv=RSV2)  # continuation with RSV2
    )
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_3_7_rsv1_continuation_without_deflate(server: LiveServer) -> None:
    """RSV1 on a continuation frame, no extension negotiated."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_BINARY, b"frag", fin=False) + encode_frame(0x0, b"ment", rsv=RSV1)
    )
    await expect_close(ws, 1002)
    await server.assert_serving()
