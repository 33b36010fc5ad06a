"""Differential tests of the closing handshake, from either side, and writes after it.

Same harness as ``test_handshake.py``: one client script, run against Tornado 6.6.1 and against
tornado_ws_compat; the raw client records exact close frames and the TCP close (``eof``).
"""

from __future__ import annotations

from typing import Any

import pytest

from ._harness import Differ, Side


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "command",
    [
        "!close",
        "!close 4000",
        "!close 4000 bye now",
        "!close-reason only a reason",
        "!close 1001",
        "!close-twice",
    ],
    ids=["no-code", "code", "code-reason", "reason-only", "going-away", "twice"],
)
async def test_server_initiated_close(diff: Differ, command: str) -> None:
    """close(code, reason) sends them; after it write_message/ping raise WebSocketClosedError."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_text(command)
        close = await client.recv()
        if close[0] == "close" and close[1] is not None:
            client.send_close(close[1], "client ack")
        else:
            client.send_close()
        return [close, *await client.until_eof()]

    reference = await diff.compare(scenario)
    assert reference.client[0][0] == "close"
    assert reference.client[-1] == ("eof",)
    if command == "!close-twice":
        return
    assert ("write_message after close raised", "WebSocketClosedError") in reference.server
    assert ("ping after close raised", "WebSocketClosedError") in reference.server


@pytest.mark.asyncio
async def test_messages_after_server_close_are_still_delivered(diff: Differ) -> None:
    """Until the client's close frame arrives, its messages reach on_message (Tornado does)."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_text("!close 4000 server first")
        close = await client.recv()
        client.send_text("late text")
        client.send_binary(b"late binary")
        client.send_close(4000, "client ack")
        return [close, *await client.until_eof()]

    reference = await diff.compare(scenario)
    assert ("on_message", "late text") in reference.server
    assert ("on_message", b"late binary") in reference.server
    assert reference.server[-1] == ("on_close", 4000, "client ack")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("code", "reason"),
    [(4001, "client reason"), (1001, "caf\u00e9 \u2713"), (3000, None), (None, None)],
    ids=["code-reason", "unicode-reason", "code-only", "empty"],
)
async def test_client_initiated_close(diff: Differ, code: int | None, reason: str | None) -> None:
    """close_code/close_reason reach on_close; the server echoes the code (not the reason)."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_text("before close")
        client.send_close(code, reason)
        events = await client.until_eof()
        await side.rec.settle("on_close")
        return events

    reference = await diff.compare(scenario)
    assert reference.client[-2:] == [("close", code, None), ("eof",)]
    assert reference.server[-1] == ("on_close", code, reason)


@pytest.mark.asyncio
async def test_client_close_1000_without_reason(diff: Differ) -> None:
    """The most common close of all (browsers' ``ws.close()``): reason is None, not ''."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_close(1000)
        events = await client.until_eof()
        await side.rec.settle("on_close")
        return events

    reference = await diff.compare(scenario)
    assert reference.server[-1] == ("on_close", 1000, None)


@pytest.mark.asyncio
async def test_write_message_in_on_close_raises(diff: Differ) -> None:
    async def scenario(side: Side) -> list[Any]:
        client = await side.connected("/on-close-writes")
        client.send_close(4000, "bye")
        events = await client.until_eof()
        await side.rec.settle("write_message in on_close raised")
        return events

    reference = await diff.compare(scenario)
    assert reference.server[-2:] == [
        ("on_close", 4000, "bye"),
        ("write_message in on_close raised", "WebSocketClosedError"),
    ]


@pytest.mark.asyncio
async def test_client_drops_tcp_without_close_frame(diff: Differ) -> None:
    """An abrupt TCP close: on_close runs with close_code and close_reason None."""

    async def scenario(side: Side) -> None:
        client = await side.connected()
        client.send_text("hello")
        assert await client.recv() == ("text", "hello")
        await client.close()
        await side.rec.settle("on_close")

    reference = await diff.compare(scenario)
    assert reference.server[-1] == ("on_close", None, None)


@pytest.mark.asyncio
async def test_close_in_open(diff: Differ) -> None:
    """close() inside open(): the close frame follows the 101; later writes raise."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected("/close-in-open")
        client.send_text("too late")
        events = await client.until_eof(answer_close=True)
        await side.rec.settle("on_close")
        return events

    reference = await diff.compare(scenario)
    assert reference.client[0] == ("close", 4002, "not now")
