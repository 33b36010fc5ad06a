"""Category 5: fragmentation (RFC 6455 section 5.4).

Rules exercised: a fragmented message is a first frame with FIN clear and an opcode, then
continuation frames (opcode 0), the last with FIN set; "Control frames MAY be injected in the
middle of a fragmented message" and "Control frames themselves MUST NOT be fragmented"; the
fragments of one message are not interleaved with another message. Violations fail the
connection with 1002 (sections 5.4, 7.4.1).
"""

from __future__ import annotations

import pytest

from conformance.conftest import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    LiveServer,
    RawWebSocket,
    close_payload,
    encode_frame,
    expect_close,
)

pytestmark = pytest.mark.asyncio


def fragments(opcode: int, parts: list[bytes], **options: object) -> bytes:
    """``parts`` as one message: the first frame carries ``opcode``, the rest continue it."""
    frames = []
    for i, part in enumerate(parts):
        frames.append(
            encode_frame(
                opcode if i == 0 else OP_CONTINUATION,
                part,
                fin=i == len(parts) - 1,
                **options,  # type: ignore[arg-type]
            )
        )
    return b"".join(frames)


async def _expect_pong(ws: RawWebSocket, payload: bytes) -> None:
    frame = await ws.read_frame()
    assert frame.opcode == OP_PONG and frame.payload == payload, f"expected pong, got {frame}"


# ---- control frames cannot be fragmented ----


@pytest.mark.parametrize(
    ("opcode", "payload"),
    [
        pytest.param(OP_PING, b"fragmented ping", id="5.1-ping"),
        pytest.param(OP_PONG, b"fragmented pong", id="5.2-pong"),
        pytest.param(OP_CLOSE, close_payload(1000, b"fragmented close"), id="5.3-close"),
    ],
)
async def test_5_1_fragmented_control_frame_fails(
    server: LiveServer, opcode: int, payload: bytes
) -> None:
    """A control frame with FIN clear, followed by its continuation."""
    half = len(payload) // 2
    ws = await server.open()
    await ws.send(
        encode_frame(opcode, payload[:half], fin=False)
        + encode_frame(OP_CONTINUATION, payload[half:])
    )
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_5_1_4_control_frame_with_fin_clear_alone(server: LiveServer) -> None:
    """The non-final control frame is refused by itself, without waiting for more."""
    ws = await server.open()
    await ws.send_frame(OP_PING, b"no fin", fin=False)
    await expect_close(ws, 1002)
    await server.assert_serving()


# ---- valid fragmented messages ----


@pytest.mark.parametrize(
    ("opcode", "parts", "chunk"),
    [
        pytest.param(OP_TEXT, [b"fragment1", b"fragment2"], None, id="5.4-text-2"),
        pytest.param(OP_TEXT, [b"fragment1", b"fragment2"], 1, id="5.5-text-2-byte-by-byte"),
        pytest.param(OP_BINARY, [b"\x00\x01", b"\x02", b"\x03\x04"], None, id="5.6-binary-3"),
        pytest.param(OP_TEXT, [b"a"] * 100, None, id="5.7-text-100-one-byte-fragments"),
        pytest.param(OP_TEXT, [b"", b"abc", b"", b"def", b""], None, id="5.8-empty-fragments"),
        pytest.param(OP_BINARY, [b"", b"", b""], None, id="5.9-all-fragments-empty"),
        pytest.param(OP_BINARY, [bytes(70000), b"x" * 300], 997, id="5.10-large-fragments"),
    ],
)
async def test_5_valid_fragmented_message_echoed(
    server: LiveServer, opcode: int, parts: list[bytes], chunk: int | None
) -> None:
    ws = await server.open()
    await ws.send(fragments(opcode, parts), chunk=chunk)
    await ws.expect_message(opcode, b"".join(parts))
    await ws.close_cleanly()


@pytest.mark.parametrize("chunk", [pytest.param(None, id="5.11"), pytest.param(1, id="5.12")])
async def test_5_11_ping_between_fragments(server: LiveServer, chunk: int | None) -> None:
    """Autobahn 5.6/5.7: a ping between two fragments is answered at once; the message is
    then delivered whole (one write, then one byte per write)."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"fragment1", fin=False)
        + encode_frame(OP_PING, b"ping payload")
        + encode_frame(OP_CONTINUATION, b"fragment2"),
        chunk=chunk,
    )
    await _expect_pong(ws, b"ping payload")
    await ws.expect_message(OP_TEXT, "fragment1fragment2")
    await ws.close_cleanly()


async def test_5_13_pong_between_fragments(server: LiveServer) -> None:
    """Autobahn 5.8: an unsolicited pong between fragments is ignored."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"fragment1", fin=False)
        + encode_frame(OP_PONG, b"pong payload")
        + encode_frame(OP_CONTINUATION, b"fragment2")
    )
    await ws.expect_message(OP_TEXT, "fragment1fragment2")
    await ws.close_cleanly()


async def test_5_14_many_control_frames_between_fragments(server: LiveServer) -> None:
    """Autobahn 5.19/5.20: a message in 5 fragments, each followed by a ping; each ping is
    answered as it arrives, the message once it is complete (before the last pong)."""
    ws = await server.open()
    for i in range(5):
        opcode = OP_TEXT if i == 0 else OP_CONTINUATION
        await ws.send(
            encode_frame(opcode, f"fragment{i + 1}".encode(), fin=i == 4)
            + encode_frame(OP_PING, f"pongme {i + 1}!".encode())
        )
        if i == 4:  # the final fragment completes the message before this ping
            await ws.expect_message(OP_TEXT, "fragment1fragment2fragment3fragment4fragment5")
        await _expect_pong(ws, f"pongme {i + 1}!".encode())
    await ws.close_cleanly()


async def test_5_15_close_between_fragments(server: LiveServer) -> None:
    """A close frame is a control frame and may come between fragments: the closing handshake
    completes (code echoed, RFC 6455 5.5.1) and the unfinished message is never delivered."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"fragment1", fin=False)
        + encode_frame(OP_CLOSE, close_payload(1000))
    )
    await expect_close(ws, 1000)


# ---- invalid sequences ----


@pytest.mark.parametrize(
    ("fin", "chunk"),
    [
        pytest.param(True, None, id="5.16-fin"),
        pytest.param(False, None, id="5.17-nofin"),
        pytest.param(True, 1, id="5.18-fin-byte-by-byte"),
        pytest.param(False, 1, id="5.19-nofin-byte-by-byte"),
    ],
)
async def test_5_16_continuation_without_start(
    server: LiveServer, fin: bool, chunk: int | None
) -> None:
    """Autobahn 5.9-5.12: a continuation frame with no message to continue. The chopped
    variants write a complete message one byte per write first, then the stray continuation
    in one write (bytes written after the server has failed the connection would reset it
    and could lose the close frame)."""
    ws = await server.open()
    if chunk is not None:
        await ws.send(fragments(OP_TEXT, [b"frag", b"ment"]), chunk=chunk)
        await ws.expect_message(OP_TEXT, "fragment")
    await ws.send(encode_frame(OP_CONTINUATION, b"non-continuation payload", fin=fin))
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_5_20_continuation_after_a_complete_message(server: LiveServer) -> None:
    """Autobahn 5.13-5.15: a complete message (echoed), then a stray continuation."""
    ws = await server.open()
    await ws.send_text("complete")
    await ws.expect_message(OP_TEXT, "complete")
    await ws.send_frame(OP_CONTINUATION, b"stray", fin=True)
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_5_21_continuation_after_a_fragmented_message(server: LiveServer) -> None:
    """Autobahn 5.15: fragments 1 and 2 complete a message; a further continuation fails."""
    ws = await server.open()
    await ws.send(
        fragments(OP_TEXT, [b"fragment1", b"fragment2"])
        + encode_frame(OP_CONTINUATION, b"fragment3", fin=False)
    )
    await ws.expect_message(OP_TEXT, "fragment1fragment2")
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize(
    ("first", "second", "second_fin"),
    [
        pytest.param(OP_TEXT, OP_TEXT, False, id="5.22-text-then-text-nofin"),
        pytest.param(OP_TEXT, OP_TEXT, True, id="5.23-text-then-text-fin"),
        pytest.param(OP_TEXT, OP_BINARY, True, id="5.24-text-then-binary-fin"),
        pytest.param(OP_BINARY, OP_TEXT, False, id="5.25-binary-then-text-nofin"),
        pytest.param(OP_BINARY, OP_BINARY, True, id="5.26-binary-then-binary-fin"),
    ],
)
async def test_5_22_new_message_inside_a_fragmented_one(
    server: LiveServer, first: int, second: int, second_fin: bool
) -> None:
    """Section 5.4: fragments of one message are not interleaved with another; a data frame
    with a non-zero opcode before the current message's final fragment fails."""
    ws = await server.open()
    await ws.send(
        encode_frame(first, b"fragment1", fin=False)
        + encode_frame(second, b"fragment2", fin=second_fin)
    )
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_5_27_new_start_after_continuations(server: LiveServer) -> None:
    """Autobahn 5.16-5.18 shape: start, continuation, then a new start before FIN."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"fragment1", fin=False)
        + encode_frame(OP_CONTINUATION, b"fragment2", fin=False)
        + encode_frame(OP_TEXT, b"fragment3", fin=True)
    )
    await expect_close(ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize(
    ("first", "second", "second_fin"),
    [
        pytest.param(OP_TEXT, OP_TEXT, True, id="5.28-empty-text-fragment-then-text"),
        pytest.param(OP_BINARY, OP_BINARY, True, id="5.29-empty-binary-fragment-then-binary"),
        pytest.param(OP_TEXT, OP_BINARY, False, id="5.30-empty-text-fragment-then-binary-nofin"),
    ],
)
async def test_5_28_new_message_after_an_empty_first_fragment(
    server: LiveServer, first: int, second: int, second_fin: bool
) -> None:
    """The message in progress is still in progress when its first fragment is empty: a new
    data frame before its final fragment is the same violation (section 5.4)."""
    ws = await server.open()
    await ws.send(encode_frame(first, b"", fin=False) + encode_frame(second, b"x", fin=second_fin))
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_5_31_empty_fragments_then_continuation(server: LiveServer) -> None:
    """An empty first fragment, empty continuations, then the final one: one message."""
    ws = await server.open()
    await ws.send(
        encode_frame(OP_TEXT, b"", fin=False)
        + encode_frame(OP_CONTINUATION, b"", fin=False)
        + encode_frame(OP_CONTINUATION, b"end")
    )
    await ws.expect_message(OP_TEXT, "end")
    await ws.close_cleanly()
