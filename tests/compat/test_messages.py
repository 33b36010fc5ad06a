"""Differential tests of data messages: echo, JSON, order, coroutine hooks, errors, limits.

Same harness as ``test_handshake.py``: one client script, run against Tornado 6.6.1 and against
tornado_ws_compat; client observations, handler events and log lines must be equal.
"""

from __future__ import annotations

import zlib
from typing import Any

import aiohttp
import pytest

from ._harness import (
    OP_BINARY,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    TIMEOUT,
    Differ,
    Inflater,
    Side,
    deflate,
)

UNICODE = "h\u00e9llo \u2713 \U0001d11e \u4e2d\u6587"


async def _aiohttp_messages(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[Any]:
    received = []
    for _ in range(count):
        message = await ws.receive(timeout=TIMEOUT)
        received.append((message.type.name, message.data))
    return received


@pytest.mark.asyncio
async def test_echo_with_aiohttp_client(diff: Differ) -> None:
    """Text, binary, unicode and empty messages round trip; dicts go out as JSON text."""

    async def scenario(side: Side) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(side.url("/echo"), autoclose=False) as ws,
        ):
            await ws.send_str("hello")
            await ws.send_bytes(b"\x00\x01\xfe\xff")
            await ws.send_str(UNICODE)
            await ws.send_str("")
            await ws.send_bytes(b"")
            await ws.send_str("!json")
            await ws.send_str("!binary-str")
            await ws.send_str("x" * 300)  # 16-bit length
            await ws.send_bytes(b"\xab" * 70_000)  # 64-bit length
            messages = await _aiohttp_messages(ws, 9)
            await ws.close(code=4000, message=b"client done")
            await side.rec.settle("on_close")
            return {"messages": messages, "close_code": ws.close_code, "protocol": ws.protocol}

    reference = await diff.compare(scenario)
    assert reference.client["messages"][:5] == [
        ("TEXT", "hello"),
        ("BINARY", b"\x00\x01\xfe\xff"),
        ("TEXT", UNICODE),
        ("TEXT", ""),
        ("BINARY", b""),
    ]
    assert reference.server[-1] == ("on_close", 4000, "client done")


@pytest.mark.asyncio
async def test_dict_message_is_json_with_script_close_escaped(diff: Differ) -> None:
    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_text("!json")
        events = [await client.recv()]
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    assert reference.client[0][0] == "text"
    assert "<\\/script>" in reference.client[0][1]


@pytest.mark.asyncio
async def test_fragmented_client_message_with_interleaved_ping(diff: Differ) -> None:
    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_frame(OP_TEXT, b"frag", fin=False)
        client.send_frame(OP_PING, b"in between")
        client.send_frame(OP_CONT, b"men", fin=False)
        client.send_frame(OP_CONT, b"ted")
        client.send_frame(OP_BINARY, b"\x01", fin=False)
        client.send_frame(OP_CONT, b"\x02")
        events = await client.recv_many(3)
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    assert reference.client[:3] == [
        ("pong", b"in between"),
        ("text", "fragmented"),
        ("binary", b"\x01\x02"),
    ]


@pytest.mark.asyncio
async def test_coroutine_open_delays_first_messages(diff: Differ) -> None:
    """Messages sent right after the 101 reach on_message only after ``open`` finished."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected("/async-open")
        for i in range(3):
            client.send_text(f"early {i}")
        events = await client.recv_many(3)
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    assert reference.server[:5] == [
        ("open start",),
        ("open end",),
        ("on_message", "early 0"),
        ("on_message", "early 1"),
        ("on_message", "early 2"),
    ]


@pytest.mark.asyncio
async def test_coroutine_on_message_strict_order(diff: Differ) -> None:
    """Each coroutine on_message finishes before the next starts, in arrival order."""
    count = 30

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected("/slow-message")
        for i in range(count):
            client.send_text(str(i))
        events = await client.recv_many(count)
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    expected: list[tuple[Any, ...]] = []
    for i in range(count):
        expected += [("start", str(i)), ("end", str(i))]
    assert reference.server == [("open", (), {}), *expected, ("on_close", 4000, "done")]
    assert reference.client[:count] == [("text", str(i)) for i in range(count)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/open-raises", "boom in open"),
        ("/async-open-raises", "boom in async open"),
        ("/message-raises", "boom in on_message"),
        ("/async-message-raises", "boom in async on_message"),
    ],
    ids=["open", "async-open", "on_message", "async-on_message"],
)
async def test_exception_in_hook(diff: Differ, path: str, message: str) -> None:
    """Logged as ``Uncaught exception`` on tornado.application; the connection is dropped.

    on_close runs (or not) exactly as in Tornado; the client sees the same frames and TCP close.
    """

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected(path)
        client.send_text("trigger")
        return await client.until_eof()

    reference = await diff.compare(scenario)
    error = ("tornado.application", "ERROR", f"Uncaught exception GET {path} (127.0.0.1)")
    assert (*error[:2], f"{error[2]} [ValueError: {message}]") in reference.log


@pytest.mark.asyncio
async def test_exception_in_on_message_command(diff: Differ) -> None:
    """A handler that raised stops receiving: later frames are not delivered."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_text("!raise")
        client.send_text("after the error")
        return await client.until_eof()

    reference = await diff.compare(scenario)
    assert ("on_message", "after the error") not in reference.server


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "frames",
    [
        [(OP_TEXT, b"x" * 16, True)],
        [(OP_TEXT, b"x" * 17, True)],
        [(OP_BINARY, b"\x00" * 17, True)],
        [(OP_TEXT, b"x" * 10, False), (OP_CONT, b"x" * 6, True)],
        [(OP_TEXT, b"x" * 10, False), (OP_CONT, b"x" * 7, True)],
    ],
    ids=["at-limit", "text-over", "binary-over", "fragmented-at-limit", "fragmented-over"],
)
async def test_max_message_size(diff: Differ, frames: list[tuple[int, bytes, bool]]) -> None:
    """websocket_max_message_size=16: 16 bytes pass; 17 close with 1009 "message too big"."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        for opcode, payload, fin in frames:
            client.send_frame(opcode, payload, fin=fin)
        client.send_text("!close")  # short enough to pass the limit
        return await client.until_eof(answer_close=True)

    reference = await diff.compare(scenario, {"websocket_max_message_size": 16})
    size = sum(len(payload) for _, payload, _ in frames)
    if size > 16:
        assert reference.client[0] == ("close", 1009, "message too big")
    else:
        assert reference.client[0][0] in ("text", "binary")


@pytest.mark.asyncio
async def test_compression_with_aiohttp_client(diff: Differ) -> None:
    """get_compression_options() returning {} enables permessage-deflate (aiohttp offers it)."""
    messages = ["hello " * 50, UNICODE, "", "short"]

    async def scenario(side: Side) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(side.url("/compressed"), compress=15, autoclose=False) as ws,
        ):
            for message in messages:
                await ws.send_str(message)
            await ws.send_bytes(b"\x00" * 1000)
            received = await _aiohttp_messages(ws, len(messages) + 1)
            await ws.close(code=4000, message=b"client done")
            await side.rec.settle("on_close")
            return {"compress": ws.compress, "received": received, "close_code": ws.close_code}

    reference = await diff.compare(scenario)
    assert reference.client["compress"] == 15
    assert [data for _, data in reference.client["received"]] == [*messages, b"\x00" * 1000]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "offer"),
    [
        ("/compressed", "permessage-deflate"),
        ("/compressed", "permessage-deflate; client_max_window_bits"),
        ("/compressed", "permessage-deflate; client_max_window_bits=12"),
        ("/compressed", "permessage-deflate; server_max_window_bits=10"),
        ("/compressed", "x-webkit-deflate-frame, permessage-deflate"),
        ("/echo", "permessage-deflate; client_max_window_bits"),
    ],
    ids=["plain", "client-bits-no-value", "client-bits-12", "server-bits-10", "unknown-first",
         "not-enabled"],
)  # fmt: skip
async def test_compression_negotiation_and_frames(diff: Differ, path: str, offer: str) -> None:
    """The Sec-WebSocket-Extensions answer, RSV1 on server frames, and inflated payloads.

    Intentional differences, in ``test_intentional_differences.py``: ``*_no_context_takeover``
    offers (RFC 7692 section 7.1.1) and offers with an unknown parameter or an invalid value,
    which ours declines (RFC 7692 sections 5 and 7.1).
    """

    async def scenario(side: Side) -> dict[str, Any]:
        client, response = await side.open_ws(path, {"Sec-WebSocket-Extensions": offer})
        assert response.status == 101
        negotiated = response.header("Sec-WebSocket-Extensions") is not None
        inflater = Inflater()
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        received = []
        for text in ("hello hello hello", "second message", "hello hello hello"):
            client.send_text(text)  # uncompressed frames are always allowed (RFC 7692 6.1)
            if negotiated:
                client.send_frame(OP_TEXT, deflate(compressor, text.encode()), rsv=4)
            for _ in range(2 if negotiated else 1):
                frame = await client.recv_frame()
                assert frame is not None
                payload = inflater.inflate(frame.payload) if frame.rsv & 4 else frame.payload
                received.append((frame.rsv, frame.opcode, payload))
        client.send_close(4000, "done")
        return {
            "headers": response.compared()["headers"],
            "received": received,
            "end": await client.until_eof(),
        }

    reference = await diff.compare(scenario)
    if path == "/echo":
        assert "sec-websocket-extensions" not in reference.client["headers"]
    else:
        assert reference.client["received"][0] == (4, OP_TEXT, b"hello hello hello")


@pytest.mark.asyncio
async def test_write_message_future_resolves(diff: Differ) -> None:
    """write_message returns a future that completes once the frame is written."""

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_text("!write-future")
        events = [await client.recv()]
        await side.rec.wait_for("write future done")
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    assert ("write future done", True) in reference.server


@pytest.mark.asyncio
async def test_write_message_in_open(diff: Differ) -> None:
    async def scenario(side: Side) -> list[Any]:
        client = await side.connected("/greet-in-open")
        events = await client.recv_many(2)
        client.send_close(4000, "done")
        return events + await client.until_eof()

    reference = await diff.compare(scenario)
    assert reference.client[:2] == [("text", "welcome"), ("text", '{"greeting": true}')]


@pytest.mark.asyncio
async def test_compressed_message_too_big_after_decompression(diff: Differ) -> None:
    """A small compressed frame that inflates past websocket_max_message_size."""

    async def scenario(side: Side) -> list[Any]:
        client, response = await side.open_ws(
            "/compressed", {"Sec-WebSocket-Extensions": "permessage-deflate"}
        )
        assert response.status == 101
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        client.send_frame(OP_TEXT, deflate(compressor, b"a" * 1000), rsv=4)
        events = await client.until_eof()
        await side.rec.settle("on_close")
        return events

    reference = await diff.compare(scenario, {"websocket_max_message_size": 100})
    assert reference.client[-1] == ("eof",)
