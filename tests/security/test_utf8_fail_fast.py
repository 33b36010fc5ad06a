"""Invalid UTF-8 fails the connection at the offending byte (issue 10, point 11).

RFC 6455 section 8.1 (close 1007, section 7.4.1); Autobahn 6.4.1-6.4.4 ("fail fast"). In each
case the client sends the text up to and including the byte that makes it invalid and never
sends the rest: a server that checks only complete messages or frames waits forever, ours
closes with 1007 at once. ``on_message`` never sees the message.
"""

from __future__ import annotations

import asyncio

import pytest
from helpers import OP_CLOSE, OP_CONT, OP_TEXT, Probe, build_frame, raw_websocket, serve

from tornado_ws_compat.websocket import WebSocketHandler

pytestmark = pytest.mark.asyncio

KOSME = "κόσμε".encode()
KEY = b"\x11\x22\x33\x44"


class Echo(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def on_message(self, message: str | bytes) -> None:
        self.probe.record("on_message", message)
        self.write_message(message)

    def on_close(self) -> None:
        self.probe.record("on_close", self.close_code)


def _frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    return build_frame(opcode, payload, fin=fin, mask=KEY)


def _one_frame(bad: bytes) -> tuple[bytes, int]:
    """A single 200+ byte text frame with ``bad`` after KOSME, and the offset of ``bad``."""
    frame = _frame(OP_TEXT, (KOSME + bad + b"edited") * 20)
    return frame, 8 + len(KOSME)  # 2 + 2 (16-bit length) + 4 (mask)


_OUT_OF_RANGE, _AT = _one_frame(b"\xf4\x90\x80\x80")
_SURROGATE, _ = _one_frame(b"\xed\xa0\x80")

CASES = {
    # 6.4.1: three fragments, the second U+110000 (out of range); the third never comes.
    "6.4.1": [_frame(OP_TEXT, KOSME, fin=False), _frame(OP_CONT, b"\xf4\x90\x80\x80", fin=False)],
    # 6.4.2: the first fragment ends with 0xF4; 0x90 starts the second.
    "6.4.2": [_frame(OP_TEXT, KOSME + b"\xf4", fin=False), _frame(OP_CONT, b"\x90", fin=False)],
    # 6.4.3: one frame in chops; the second chop makes it invalid, the rest never comes.
    "6.4.3": [_OUT_OF_RANGE[:_AT], _OUT_OF_RANGE[_AT : _AT + 4]],
    # 6.4.4: the same, one byte at a time.
    "6.4.4": [_OUT_OF_RANGE[:_AT], _OUT_OF_RANGE[_AT : _AT + 1], _OUT_OF_RANGE[_AT + 1 : _AT + 2]],
    # A surrogate (RFC 3629 section 3) is refused at its second byte.
    "surrogate": [_SURROGATE[:_AT], _SURROGATE[_AT : _AT + 2]],
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_invalid_utf8_fails_at_the_offending_byte(case: str) -> None:
    probe = Probe()
    async with serve([("/ws", Echo, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            for chunk in CASES[case]:
                await conn.send(chunk)
            frame = await conn.read_frame()
            assert (frame.opcode, frame.close_code) == (OP_CLOSE, 1007)
            assert await conn.read_eof() == b""
        await probe.wait("on_close")
    assert probe.count("on_message") == 0


async def test_valid_text_split_anywhere_is_delivered() -> None:
    """Characters cut by fragments and by writes at odd offsets are not mistaken for errors."""
    probe = Probe()
    text = "κόσμε ✓ 漢字 𝄞 " * 300
    data = text.encode()
    stream = (
        _frame(OP_TEXT, data[:1001], fin=False)
        + _frame(OP_CONT, data[1001:-3], fin=False)
        + _frame(OP_CONT, data[-3:])
    )
    async with serve([("/ws", Echo, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            for start in range(0, len(stream), 777):
                await conn.send(stream[start : start + 777])
                await asyncio.sleep(0)  # a loop turn between writes: let them be separate reads
            frame = await conn.read_frame()
            assert frame.payload.decode() == text
    assert probe.of("on_message") == [(text,)]
