"""Category 4: reserved opcodes (RFC 6455 section 5.2).

"%x3-7 are reserved for further non-control frames", "%xB-F are reserved for further control
frames"; section 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
WebSocket Connection_." The code is 1002 (section 7.4.1).
"""

from __future__ import annotations

import pytest

from conformance.conftest import (
    OP_PING,
    OP_TEXT,
    LiveServer,
    encode_frame,
    expect_close,
)

pytestmark = pytest.mark.asyncio

NON_CONTROL = [3, 4, 5, 6, 7]
CONTROL = [0xB, 0xC, 0xD, 0xE, 0xF]


def _opcodes(category: str, opcodes: list[int]) -> list[object]:
    return [
        pytest.param(op, id=f"{category}.{i}-opcode{op:#x}") for i, op in enumerate(opcodes, 1)
    ]


@pytest.mark.parametrize("opcode", _opcodes("4.1.1", NON_CONTROL) + _opcodes("4.2.1", CONTROL))
async def test_4_x_1_reserved_opcode_empty(server: LiveServer, opcode: int) -> None:
    """A frame with a reserved opcode and no payload."""
    ws = await server.open()
    await ws.send_frame(opcode, b"")
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize("opcode", _opcodes("4.1.2", NON_CONTROL) + _opcodes("4.2.2", CONTROL))
async def test_4_x_2_reserved_opcode_with_payload(server: LiveServer, opcode: int) -> None:
    """A frame with a reserved opcode and a payload."""
    ws = await server.open()
    await ws.send_frame(opcode, b"reserved opcode payload")
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize("opcode", _opcodes("4.1.3", NON_CONTROL) + _opcodes("4.2.3", CONTROL))
async def test_4_x_3_valid_message_reserved_opcode_ping(server: LiveServer, opcode: int) -> None:
    """Autobahn 4.1.3/4.2.3: a valid text (echoed), a reserved-opcode frame, then a ping in the
    same write; the ping follows the failure and is not answered."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"Hello")
        + encode_frame(opcode, b"reserved")
        + encode_frame(OP_PING, b"after")
    )
    await ws.expect_message(OP_TEXT, "Hello")
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize("opcode", _opcodes("4.1.4", NON_CONTROL) + _opcodes("4.2.4", CONTROL))
async def test_4_x_4_reserved_opcode_byte_by_byte(server: LiveServer, opcode: int) -> None:
    """Autobahn 4.1.4/4.2.4: the same with the valid text written one byte per write, then the
    reserved-opcode frame."""
    ws = await server.open()
    await ws.send(encode_frame(OP_TEXT, b"Hello"), chunk=1)
    await ws.expect_message(OP_TEXT, "Hello")
    await ws.send_frame(opcode, b"reserved")
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize("opcode", _opcodes("4.3", [3, 7, 0xB, 0xF]))
async def test_4_3_reserved_opcode_inside_a_fragmented_message(
    server: LiveServer, opcode: int
) -> None:
    """A reserved opcode between the fragments of a message."""
    ws = await server.open()
    await ws.send(encode_frame(OP_TEXT, b"frag", fin=False) + encode_frame(opcode, b"x"))
    await expect_close(ws, 1002)
    await server.assert_serving()
