"""The peer's close frame alone in a read (the closing handshake's usual read) is handed to the
connection by FrameGuard itself, without aiohttp's reader (``FrameGuard._peer_close_frame``):
what ``on_close`` sees and the close frame that answers it are Tornado 6.6.1's. Frames the
reader is to judge (refused codes, bad reasons) are tests/conformance/test_7_close.py's.
"""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from differential import serving_both
from helpers import OP_CLOSE, OP_TEXT, raw_websocket

import tornado_ws_compat.websocket


def _routes(seen: dict[str, list[Any]]) -> Any:
    def make(web: ModuleType) -> list[Any]:
        side = "tornado" if web is tornado.web else "ours"
        websocket = tornado.websocket if web is tornado.web else tornado_ws_compat.websocket

        class Recorder(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
            def on_message(self, message: str | bytes) -> None:
                self.write_message(message)

            def on_close(self) -> None:
                seen[side].append((self.close_code, self.close_reason))

        return [("/ws", Recorder)]

    return make


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [
        b"",
        struct.pack("!H", 1000),
        struct.pack("!H", 1001) + b"going",
        struct.pack("!H", 4000) + "héllo ✓".encode(),
        struct.pack("!H", 3000) + b"r" * 123,
    ],
    ids=["empty", "1000", "1001-reason", "4000-utf8", "3000-longest"],
)
async def test_the_peer_close_frame_alone_in_a_read(payload: bytes) -> None:
    seen: dict[str, list[Any]] = {"tornado": [], "ours": []}
    frames = {}
    async with serving_both(_routes(seen)) as servers:
        for name, server in servers.items():
            async with raw_websocket(server, "/ws") as conn:
                await conn.send_text("before")
                assert (await conn.read_frame()).payload == b"before"
                await conn.send_frame(OP_CLOSE, payload)
                frames[name] = [(f.opcode, f.payload) for f in await conn.frames_until_eof()]
    assert frames["ours"] == frames["tornado"]
    assert [opcode for opcode, _ in frames["ours"]] == [OP_CLOSE]
    assert OP_TEXT not in [opcode for opcode, _ in frames["ours"]]
    assert seen["ours"] == seen["tornado"] and len(seen["ours"]) == 1
