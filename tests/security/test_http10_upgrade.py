"""An HTTP/1.0 upgrade request is refused with 400 (RFC 6455 section 4.2.1 item 1).

The handshake must be an HTTP/1.1 or later GET; an HTTP/1.0 intermediary or client cannot
keep the connection for the WebSocket. ``open`` never runs.
"""

from __future__ import annotations

import pytest
from helpers import Probe, raw_connection, serve, upgrade_headers

from tornado_ws_compat.websocket import WebSocketHandler

pytestmark = pytest.mark.asyncio


class Opener(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def open(self) -> None:
        self.probe.record("open")


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
async def test_upgrade_needs_http11(version: str) -> None:
    probe = Probe()
    async with serve([("/ws", Opener, {"probe": probe})]) as server:
        async with raw_connection(server) as conn:
            headers = {"Host": f"{conn.host}:{conn.port}", **upgrade_headers()}
            head = f"GET /ws {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            await conn.send(head.encode("latin1") + b"\r\n")
            response = await conn.read_response()
            if version == "HTTP/1.1":
                assert response.status == 101
                await probe.wait("open")
                return
            assert response.status == 400
            assert response.body == b"WebSocket upgrades need HTTP/1.1 or later"
            assert await conn.read_eof() == b""
    assert probe.count("open") == 0
