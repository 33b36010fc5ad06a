"""Differential tests of ping/pong: hooks with payloads, keep-alive pings and their timeout.

Same harness as ``test_handshake.py``: one client script, run against Tornado 6.6.1 and against
tornado_ws_compat.
"""

from __future__ import annotations

from typing import Any

import pytest

from ._harness import EOF, OP_PING, OP_PONG, Differ, RawClient, Side


@pytest.mark.asyncio
async def test_client_ping_gets_pong_and_on_ping(diff: Differ) -> None:
    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_frame(OP_PING, b"hello")
        client.send_frame(OP_PING, b"")
        events = await client.recv_many(2)
        await side.rec.wait_for("on_ping", 2)
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    assert reference.client[:2] == [("pong", b"hello"), ("pong", b"")]
    assert reference.server[1:3] == [("on_ping", b"hello"), ("on_ping", b"")]


@pytest.mark.asyncio
async def test_server_ping_and_on_pong(diff: Differ) -> None:
    """handler.ping(bytes or str) sends a ping; the client's pong reaches on_pong."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_text("!ping abc")
        events = [await client.recv()]
        client.send_frame(OP_PONG, b"abc")
        await side.rec.wait_for("on_pong")
        client.send_text("!ping-str caf\u00e9")
        events.append(await client.recv())
        client.send_frame(OP_PONG, b"unsolicited")
        await side.rec.wait_for("on_pong", 2)
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    assert reference.client[:2] == [("ping", b"abc"), ("ping", "caf\u00e9".encode())]
    assert ("on_pong", b"abc") in reference.server
    assert ("on_pong", b"unsolicited") in reference.server


async def _skip_pings(client: RawClient, answer: bool) -> tuple[Any, ...]:
    """The next frame that is not a ping (pings answered with a pong if ``answer``)."""
    while True:
        frame = await client.recv_frame()
        if frame is None:
            return EOF
        if frame.opcode != OP_PING:
            return frame.event()
        if answer:
            client.send_frame(OP_PONG, frame.payload)


@pytest.mark.asyncio
async def test_ping_interval_with_client_that_answers(diff: Differ) -> None:
    """websocket_ping_interval: empty pings; a client that answers stays connected.

    The handler does not override on_pong.
    """

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected("/plain")
        events = []
        for _ in range(3):
            frame = await client.recv()
            events.append(frame)
            client.send_frame(OP_PONG, frame[1])
        client.send_text("still here")
        events.append(await _skip_pings(client, answer=True))
        client.send_close(4000, "done")
        events.append(await _skip_pings(client, answer=False))
        events.append(await _skip_pings(client, answer=False))
        await side.rec.settle("on_close")
        return events

    reference = await diff.compare(scenario, {"websocket_ping_interval": 0.05})
    assert reference.client == [
        ("ping", b""),
        ("ping", b""),
        ("ping", b""),
        ("text", "still here"),
        ("close", 4000, None),
        EOF,
    ]
    assert reference.server == [("on_close", 4000, "done")]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "settings",
    [
        {"websocket_ping_interval": 0.05},
        {"websocket_ping_interval": 0.1, "websocket_ping_timeout": 0.05},
    ],
    ids=["timeout-defaults-to-interval", "explicit-timeout"],
)
async def test_ping_timeout_with_client_that_never_answers(
    diff: Differ, settings: dict[str, Any]
) -> None:
    """No pong within websocket_ping_timeout: close(reason="ping timed out"), code 1000."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected("/echo")
        events = [await client.recv(), await client.recv()]
        if events[-1][0] == "close":
            client.send_close(events[-1][1], "client ack")
        events += await client.until_eof()
        await side.rec.settle("on_close")
        return events

    reference = await diff.compare(scenario, settings)
    assert reference.client == [("ping", b""), ("close", 1000, "ping timed out"), EOF]
    assert reference.server[-1] == ("on_close", 1000, "client ack")
