"""The per-message path's shortcuts keep Tornado's semantics (issue 11, the echo goals).

The hot path of a read of many small messages skips work that only matters in rare states:
FrameGuard checks the common frame shape in one test, a read too small to reach Tornado's
yield threshold delivers without counting, a text or binary message goes to ``on_message``
without ``_deliver``, and ``write_message`` appends a small frame to the read's batch in
place. These tests drive exactly those paths and check what a client observes: every
reply, in order, control frames in their place, one ``on_message`` at a time, futures that
resolve once flushed and fail when the connection goes first, and the failures (1002,
1009) after the replies to the messages before them.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import pytest
from helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    TIMEOUT,
    Probe,
    build_frame,
    close_payload,
    raw_websocket,
    serve,
    wait,
)

from tornado_ws_compat._engine import connection as connection_module
from tornado_ws_compat.websocket import WebSocketClosedError, WebSocketHandler

pytestmark = pytest.mark.asyncio


class Echo(WebSocketHandler):
    """Echoes text with a prefix (the seed's reply) and binary as is; keeps every future."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe
        self.futures: list[Any] = []

    def open(self) -> None:
        self.probe.record("open", self)

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.futures.append(self.write_message(message, binary=True))
        else:
            self.futures.append(self.write_message("You said: " + message))


def payloads() -> list[tuple[int, bytes]]:
    """Messages of the sizes around the frame-header and copy limits, text and binary."""
    out: list[tuple[int, bytes]] = []
    for size in (0, 1, 64, 124, 125, 126, 127, 4095, 4096, 4097, 70_000):
        out.append((OP_TEXT, ("é" * (size // 2) + "a" * (size % 2)).encode()))
        out.append((OP_BINARY, bytes(range(256)) * (size // 256) + bytes(size % 256)))
    return out


def expected_reply(opcode: int, payload: bytes) -> tuple[int, bytes]:
    return (opcode, b"You said: " + payload) if opcode == OP_TEXT else (opcode, payload)


async def test_replies_to_one_read_arrive_in_order_with_control_frames_in_place() -> None:
    """Many messages of every size in one write, a ping among them: every reply once, in
    order, the pong between the replies to the messages before and after the ping, and
    every future of those writes resolved (nothing failed, nothing pending)."""
    probe = Probe()
    messages = payloads() * 3
    middle = len(messages) // 2
    stream = b"".join(build_frame(op, data) for op, data in messages[:middle])
    stream += build_frame(OP_PING, b"ping!")
    stream += b"".join(build_frame(op, data) for op, data in messages[middle:])
    async with serve([("/ws", Echo, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            (handler,) = await probe.wait("open")
            await conn.send(stream)
            received = [await conn.read_frame() for _ in range(len(messages) + 1)]
            got = [(frame.opcode, frame.payload) for frame in received]
            replies = [expected_reply(op, data) for op, data in messages]
            assert got == [*replies[:middle], (OP_PONG, b"ping!"), *replies[middle:]]
            assert len(handler.futures) == len(messages)
            await wait(asyncio.gather(*handler.futures))


class CoroutineEcho(WebSocketHandler):
    """A coroutine on_message that yields to the loop: the next must wait for it."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe
        self.running = False

    async def on_message(self, message: str | bytes) -> None:
        assert not self.running, "two on_message at once"
        self.running = True
        self.probe.record("start", message)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.probe.record("end", message)
        self.running = False
        self.write_message(message)


async def test_a_coroutine_on_message_pauses_a_read_then_the_next_reads_flow() -> None:
    """In a read of many messages, each coroutine on_message finishes before the next
    starts, in order; reads after that go the direct way again, still in order."""
    probe = Probe()
    async with serve([("/ws", CoroutineEcho, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            for round_ in range(3):
                texts = [f"{round_}:{n}" for n in range(20)]
                await conn.send(b"".join(build_frame(OP_TEXT, t.encode()) for t in texts))
                for text in texts:
                    frame = await conn.read_frame()
                    assert frame.payload == text.encode()
    starts = [data[0] for name, *data in probe.events if name == "start"]
    ends = [data[0] for name, *data in probe.events if name == "end"]
    assert starts == ends == [f"{r}:{n}" for r in range(3) for n in range(20)]
    order = [name for name, *_ in probe.events]
    assert order == ["start", "end"] * 60


class Counter(WebSocketHandler):
    """Counts deliveries synchronously; exposes the connection to feed reads to it."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe
        self.seen: list[bytes] = []
        self.target = 0

    def open(self) -> None:
        self.probe.record("open", self)

    def on_message(self, message: str | bytes) -> None:
        assert isinstance(message, bytes)
        self.seen.append(message)
        if len(self.seen) == self.target:
            self.probe.record("all", self.target)


def numbered(count: int, size: int) -> tuple[bytes, list[bytes]]:
    payloads = [struct.pack("!I", n) + bytes(size - 4) for n in range(count)]
    return b"".join(build_frame(OP_BINARY, p) for p in payloads), payloads


async def test_a_read_past_tornados_yield_threshold_is_delivered_over_two_loop_turns() -> None:
    """Tornado 6.6 lets the loop run after 256 KiB of frames in one burst; a smaller read is
    delivered whole at once (the hot path skips the count only when it cannot matter)."""
    probe = Probe()
    async with serve([("/ws", Counter, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws"):
            (handler,) = await probe.wait("open")
            protocol: Any = handler.ws_connection._protocol
            small, small_payloads = numbered(200, 100)  # 21 KB: under the threshold
            protocol.data_received(small)
            assert handler.seen == small_payloads  # all of it, before any loop turn
            handler.seen.clear()
            big, big_payloads = numbered(300, 1000)  # 300 KB of frames in one read
            handler.target = len(big_payloads)
            protocol.data_received(big)
            delivered_at_once = len(handler.seen)
            assert 0 < delivered_at_once < len(big_payloads)
            await probe.wait("all")
            assert handler.seen == big_payloads


class Flooder(WebSocketHandler):
    """Each message makes it write 4,000 small text messages (the batched fast path)."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe
        self.futures: list[Any] = []

    def on_message(self, message: str | bytes) -> None:
        for n in range(4000):
            self.futures.append(self.write_message(f"{n:06d}".ljust(1000, "x")))
        if len(self.futures) == 8000:
            self.probe.record("written", self)


async def test_futures_of_batched_small_writes_fail_when_the_peer_goes_first() -> None:
    """8 MB of small replies to two messages of one read, to a peer that reads nothing and
    then drops the connection: no future says flushed while bytes were unsent, and every
    one that had not resolved fails with WebSocketClosedError."""
    probe = Probe()
    async with serve([("/ws", Flooder, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send(build_frame(OP_TEXT, b"a") + build_frame(OP_TEXT, b"b"))
            (handler,) = await probe.wait("written")
            pending = [f for f in handler.futures if not f.done()]
            assert pending  # 8 MB cannot all be in the socket buffers of a silent peer
            conn.abort()
            outcomes = await wait(asyncio.gather(*pending, return_exceptions=True))
    assert all(isinstance(outcome, WebSocketClosedError) for outcome in outcomes)


async def test_futures_of_batched_small_writes_resolve_once_read() -> None:
    """The same flood to a peer that reads it all: every reply in order, every future
    resolved without error."""
    probe = Probe()
    async with serve([("/ws", Flooder, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send(build_frame(OP_TEXT, b"a") + build_frame(OP_TEXT, b"b"))
            (handler,) = await probe.wait("written")
            for round_ in range(2):
                for n in range(4000):
                    frame = await conn.read_frame()
                    assert frame.payload[:6] == b"%06d" % n, round_
            await wait(asyncio.gather(*handler.futures))


@pytest.mark.parametrize(
    "bad, code",
    [
        (build_frame(OP_TEXT, b"unmasked", masked=False), 1002),
        # A whole text frame (the fast shape) inside a fragmented message (RFC 6455 5.4)
        # whose first fragment is empty (aiohttp's reader misses that one).
        (build_frame(OP_TEXT, b"", fin=False) + build_frame(OP_TEXT, b"two"), 1002),
        (build_frame(OP_TEXT, b"\xff\xfe"), 1007),
        (build_frame(OP_TEXT, b"x" * 65), 1009),  # over websocket_max_message_size
    ],
    ids=["unmasked", "new-message-in-fragmented", "invalid-utf8", "too-big"],
)
async def test_a_bad_frame_after_good_ones_in_one_read_fails_after_their_replies(
    bad: bytes, code: int
) -> None:
    """The replies to the messages before the offending frame go out, then the close with
    its code; nothing after it is delivered."""
    probe = Probe()
    good = [f"m{n}".encode() for n in range(10)]
    stream = b"".join(build_frame(OP_TEXT, g) for g in good) + bad
    stream += build_frame(OP_TEXT, b"after")
    async with serve([("/ws", Echo, {"probe": probe})], websocket_max_message_size=64) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send(stream)
            frames = await conn.frames_until_eof()
    assert [(f.opcode, f.payload) for f in frames[:-1]] == [
        (OP_TEXT, b"You said: " + g) for g in good
    ]
    assert frames[-1].opcode == OP_CLOSE
    assert frames[-1].close_code == code


async def test_a_continuation_after_fast_frames_in_one_read_is_delivered_whole() -> None:
    """Fast-shaped frames, then a fragmented text message whose parts span two reads."""
    probe = Probe()
    async with serve([("/ws", Echo, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            first = build_frame(OP_TEXT, b"a") + build_frame(OP_TEXT, b"b")
            first += build_frame(OP_TEXT, "frag-é".encode(), fin=False)
            part = build_frame(OP_CONT, b"-ment", fin=True)
            await conn.send(first + part[:3])
            await conn.send(part[3:] + build_frame(OP_TEXT, b"c"))
            got = [(await conn.read_frame()).payload for _ in range(4)]
    assert got == [
        b"You said: a",
        b"You said: b",
        "You said: frag-é-ment".encode(),
        b"You said: c",
    ]


async def test_writes_after_close_raise_in_a_batched_read() -> None:
    """close() from a hook in the middle of a read: the next write_message raises
    WebSocketClosedError (the hot path's state check), and what was written before the close
    frame goes out before it."""

    class Closer(WebSocketHandler):
        def initialize(self, probe: Probe) -> None:
            self.probe = probe

        def on_message(self, message: str | bytes) -> None:
            if message == "close":
                self.close(1000, "bye")
                return
            try:
                self.write_message(message)
            except WebSocketClosedError:
                self.probe.record("refused", message)

    probe = Probe()
    async with serve([("/ws", Closer, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            texts = [b"one", b"two", b"close", b"three"]
            await conn.send(b"".join(build_frame(OP_TEXT, t) for t in texts))
            frames = [await conn.read_frame() for _ in range(3)]
            await conn.send_close(1000)
            assert await probe.wait("refused", TIMEOUT) == ("three",)
    assert [(f.opcode, f.payload) for f in frames[:2]] == [(OP_TEXT, b"one"), (OP_TEXT, b"two")]
    assert frames[2].opcode == OP_CLOSE and frames[2].close_code == 1000


# ---- FrameGuard's own delivery of the common frame (aiohttp's reader bypassed) ----


class Typed(WebSocketHandler):
    """Records each message with its type; echoes it (text prefixed) unless it says so."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def open(self) -> None:
        self.probe.record("open", self)

    def on_message(self, message: str | bytes) -> None:
        self.probe.record("message", type(message).__name__, message)
        if message == "raise":
            raise ValueError("hook failed")
        if isinstance(message, bytes):
            self.write_message(message, binary=True)
        else:
            self.write_message("You said: " + message)


@pytest.mark.parametrize("split", ["one-read-each", "one-read"])
async def test_common_frames_are_delivered_as_str_and_bytes_with_their_exact_payload(
    split: str,
) -> None:
    """Every payload size a frame under 126 bytes can carry (multi-byte characters cut at
    every mask offset), text as ``str`` and binary as ``bytes``, one frame per read (one
    message in flight) and all in one read; empty messages too."""
    probe = Probe()
    texts = ["", "a", "é", "€𝄞", *("xé€𝄞"[: n % 4] + "y" * n for n in range(110, 126))]
    messages: list[str | bytes] = []
    for n, text in enumerate(texts):
        messages.append(text.encode()[:125].decode("utf-8", "ignore"))
        messages.append(bytes((n + i) % 256 for i in range(n * 7 % 126)))
    frames = [
        build_frame(OP_TEXT, m.encode()) if isinstance(m, str) else build_frame(OP_BINARY, m)
        for m in messages
    ]
    async with serve([("/ws", Typed, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await probe.wait("open")
            if split == "one-read":
                await conn.send(b"".join(frames))
            replies = []
            for frame in frames:
                if split == "one-read-each":
                    await conn.send(frame)
                replies.append(await conn.read_frame())
    got = [(kind, message) for kind, message in probe.of("message")]
    assert got == [(type(m).__name__, m) for m in messages]
    assert [(f.opcode, f.payload) for f in replies] == [
        (OP_TEXT, b"You said: " + m.encode()) if isinstance(m, str) else (OP_BINARY, m)
        for m in messages
    ]


@pytest.mark.parametrize(
    "bad, code",
    [
        (build_frame(OP_TEXT, b"\xff\xfe"), 1007),
        (build_frame(OP_TEXT, "é".encode()[:1]), 1007),  # a character cut at the end
        (build_frame(OP_TEXT, b"\xed\xa0\x80"), 1007),  # a surrogate (RFC 3629 section 3)
        (build_frame(OP_TEXT, b"x" * 11), 1009),  # websocket_max_message_size is 10 here
        (build_frame(OP_BINARY, b"x" * 11), 1009),
        (build_frame(OP_TEXT, b"unmasked", masked=False), 1002),
        (build_frame(OP_TEXT, b"rsv2", rsv=2), 1002),
        (build_frame(OP_TEXT, b"rsv1", rsv=4), 1002),  # RSV1 without permessage-deflate
    ],
    ids=[
        "utf8",
        "utf8-cut",
        "surrogate",
        "too-big-text",
        "too-big-binary",
        "unmasked",
        "rsv2",
        "rsv1",
    ],
)
@pytest.mark.parametrize("alone", [True, False], ids=["alone", "after-others"])
async def test_a_bad_common_shaped_frame_fails_with_its_code(
    bad: bytes, code: int, alone: bool
) -> None:
    """A frame of nearly the common shape fails as the reader fails it, whether it is the
    only frame of its read (one message in flight) or follows good ones in the same read;
    a message of exactly the size limit is still delivered; nothing after the bad frame."""
    probe = Probe()
    good = [b"0123456789", b"ok"]
    stream = b"".join(build_frame(OP_TEXT, g) for g in good)
    async with serve([("/ws", Typed, {"probe": probe})], websocket_max_message_size=10) as server:
        async with raw_websocket(server, "/ws") as conn:
            await probe.wait("open")
            if alone:
                for frame in build_frame(OP_TEXT, good[0]), build_frame(OP_TEXT, good[1]):
                    await conn.send(frame)
                    await conn.read_frame()
                await conn.send(bad)
                await conn.send(build_frame(OP_TEXT, b"after"))
                frames = await conn.frames_until_eof()
            else:
                await conn.send(stream + bad + build_frame(OP_TEXT, b"after"))
                frames = await conn.frames_until_eof()
                assert [f.payload for f in frames[:-1]] == [b"You said: " + g for g in good]
    assert frames[-1].opcode == OP_CLOSE
    assert frames[-1].close_code == code
    assert [m for _k, m in probe.of("message")] == [g.decode() for g in good]


async def test_control_frames_and_fragments_between_common_frames_keep_their_place() -> None:
    """Common frames around a ping, a pong and a fragmented message (with a ping between
    its fragments), in one read and one frame per read: every message whole and in order,
    the pongs answering in place."""
    probe = Probe()
    sequence = [
        build_frame(OP_TEXT, b"a"),
        build_frame(OP_PING, b"p1"),
        build_frame(OP_BINARY, b"b"),
        build_frame(OP_PONG, b"unsolicited"),
        build_frame(OP_TEXT, b"fr", fin=False),
        build_frame(OP_PING, b"p2"),
        build_frame(OP_CONT, b"ag", fin=True),
        build_frame(OP_TEXT, b"c"),
    ]
    expected = [
        (OP_TEXT, b"You said: a"),
        (OP_PONG, b"p1"),
        (OP_BINARY, b"b"),
        (OP_PONG, b"p2"),
        (OP_TEXT, b"You said: frag"),
        (OP_TEXT, b"You said: c"),
    ]
    async with serve([("/ws", Typed, {"probe": probe})]) as server:
        for one_read in (True, False):
            async with raw_websocket(server, "/ws") as conn:
                if one_read:
                    await conn.send(b"".join(sequence))
                else:
                    for frame in sequence:
                        await conn.send(frame)
                got = [await conn.read_frame() for _ in expected]
                assert [(f.opcode, f.payload) for f in got] == expected


async def test_nothing_after_the_peers_close_frame_or_a_failed_hook_is_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In one read: a message, the peer's close frame, a message: the second is not
    delivered (RFC 6455 section 5.5.1). A hook that raises is logged and the connection
    dropped; the messages after it in the same read are not delivered."""
    probe = Probe()
    async with serve([("/ws", Typed, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send(
                build_frame(OP_TEXT, b"one")
                + build_frame(OP_CLOSE, close_payload(1000))
                + build_frame(OP_TEXT, b"two")
            )
            frames = await conn.frames_until_eof()
        assert [(f.opcode, f.payload) for f in frames[:1]] == [(OP_TEXT, b"You said: one")]
        assert frames[1].opcode == OP_CLOSE and frames[1].close_code == 1000
        async with raw_websocket(server, "/ws") as conn:
            texts = [b"before", b"raise", b"after"]
            await conn.send(b"".join(build_frame(OP_TEXT, t) for t in texts))
            frames = await conn.frames_until_eof()
        assert [(f.opcode, f.payload) for f in frames] == [(OP_TEXT, b"You said: before")]
    delivered = [m for _k, m in probe.of("message")]
    assert delivered == ["one", "before", "raise"]
    assert [r.getMessage() for r in caplog.records if r.name == "tornado.application"]


async def test_a_read_of_small_frames_past_the_yield_threshold_is_delivered_in_two_turns() -> None:
    """Common frames count towards Tornado's yield threshold as the reader's do: 300 frames
    of 100 bytes (1,124 each: 337 KB of work) are not all delivered before a loop turn."""
    probe = Probe()
    async with serve([("/ws", Counter, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws"):
            (handler,) = await probe.wait("open")
            protocol: Any = handler.ws_connection._protocol
            many, payloads_ = numbered(300, 100)
            handler.target = len(payloads_)
            protocol.data_received(many)
            assert 0 < len(handler.seen) < len(payloads_)
            await probe.wait("all")
            assert handler.seen == payloads_


async def test_a_coroutine_on_message_holds_later_single_frame_reads() -> None:
    """One frame per read, on_message a coroutine: reads that come while it runs wait in
    the reader's queue and are delivered after it, one at a time, in order."""
    probe = Probe()
    async with serve([("/ws", CoroutineEcho, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            texts = [f"m{n}" for n in range(20)]
            for text in texts:
                await conn.send(build_frame(OP_TEXT, text.encode()))
            for text in texts:
                assert (await conn.read_frame()).payload == text.encode()
    assert [name for name, *_ in probe.events] == ["start", "end"] * 20


class DeflateTyped(Typed):
    def get_compression_options(self) -> dict[str, Any]:
        return {}


async def test_a_deflate_connection_leaves_every_frame_to_the_reader() -> None:
    """With permessage-deflate, an uncompressed frame of the common shape (allowed: RFC 7692
    section 6) and a compressed one are both delivered by the reader, and the replies are
    compressed."""
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    compressed = compressor.compress(b"packed") + compressor.flush(zlib.Z_SYNC_FLUSH)
    probe = Probe()
    headers = {"Sec-WebSocket-Extensions": "permessage-deflate"}
    async with serve([("/ws", DeflateTyped, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws", headers) as conn:
            await conn.send(build_frame(OP_TEXT, b"plain"))
            first = await conn.read_frame()
            await conn.send(build_frame(OP_TEXT, compressed[:-4], rsv=4))
            second = await conn.read_frame()
    assert [m for _k, m in probe.of("message")] == ["plain", "packed"]
    inflater = zlib.decompressobj(-15)
    for frame, text in ((first, b"plain"), (second, b"packed")):
        assert frame.rsv == 4  # RSV1: compressed
        assert inflater.decompress(frame.payload + b"\x00\x00\xff\xff") == b"You said: " + text


class Gate(WebSocketHandler):
    """A coroutine on_message that waits for the test to open its gate."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe
        self.gate = asyncio.Event()

    def open(self) -> None:
        self.probe.record("open", self)

    async def on_message(self, message: str | bytes) -> None:
        self.probe.record("message", message)
        await self.gate.wait()


async def test_nothing_is_delivered_after_a_frame_the_reader_failed_while_held() -> None:
    """While a coroutine on_message runs, an oversized frame fails in the reader (its error
    waits in the queue) and a common frame follows in a later read: once the hook is done
    the connection fails with 1009, and the common frame is never delivered."""
    probe = Probe()
    async with serve([("/ws", Gate, {"probe": probe})], websocket_max_message_size=200) as server:
        async with raw_websocket(server, "/ws") as conn:
            (handler,) = await probe.wait("open")
            await conn.send(build_frame(OP_TEXT, b"first"))
            await probe.wait("message")
            protocol: Any = handler.ws_connection._protocol
            protocol.data_received(build_frame(OP_TEXT, b"x" * 300))  # over the limit
            protocol.data_received(build_frame(OP_TEXT, b"after"))
            handler.gate.set()
            frames = await conn.frames_until_eof()
    assert frames[-1].opcode == OP_CLOSE and frames[-1].close_code == 1009
    assert probe.of("message") == [("first",)]


class Overriding(WebSocketHandler):
    """Overrides write_message (as programs do to log or count): it must see every write."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def write_message(
        self, message: bytes | str | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        self.probe.record("written", message)
        return super().write_message(message, binary)

    def on_message(self, message: str | bytes) -> None:
        self.write_message({"echo": message})


async def test_an_overridden_write_message_sees_every_write_and_a_dict_is_json() -> None:
    """The shortcut from the handler to the connection's write_message is taken only when
    the class does not override write_message; a dict goes out as Tornado's JSON."""
    probe = Probe()
    async with serve([("/ws", Overriding, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send(build_frame(OP_TEXT, b"a") + build_frame(OP_TEXT, b"</b>"))
            got = [(await conn.read_frame()).payload for _ in range(2)]
    assert got == [b'{"echo": "a"}', b'{"echo": "<\\/b>"}']
    assert probe.of("written") == [({"echo": "a"},), ({"echo": "</b>"},)]


class Closing(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def open(self) -> None:
        self.probe.record("open", self)

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)
        self.close(1000)
        try:
            self.write_message("after close()")
        except WebSocketClosedError:
            self.probe.record("refused")

    def on_close(self) -> None:
        try:
            self.write_message("in on_close")
        except WebSocketClosedError:
            self.probe.record("refused in on_close", "write_message" in self.__dict__)


async def test_write_message_refuses_after_close_and_in_on_close() -> None:
    """Tornado 5.0: write_message raises WebSocketClosedError once the connection closes,
    whether the handler calls the connection's method directly or its own again."""
    probe = Probe()
    async with serve([("/ws", Closing, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send(build_frame(OP_TEXT, b"hi"))
            assert (await conn.read_frame()).payload == b"hi"
            assert (await conn.read_frame()).opcode == OP_CLOSE
            await conn.send_close(1000)
            await probe.wait("refused in on_close")
    assert probe.of("refused") == [()]
    assert probe.of("refused in on_close") == [(False,)]


class RecordingTransport:
    """A connection's transport, recording what each write hands it (one system call)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[str, list[bytes]]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", [bytes(data)]))
        self.real.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        lines = [bytes(line) for line in lines]
        self.calls.append(("writelines", lines))
        self.real.writelines(lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class Recorded(Echo):
    def open(self) -> None:
        connection: Any = self.ws_connection
        connection._transport = RecordingTransport(connection._transport)
        self.probe.record("open", connection._transport)


async def test_the_replies_to_one_read_leave_in_one_write_joined_when_small() -> None:
    """One write per read: the replies to eight small messages are joined into one buffer
    (uvloop's write of one copy costs less than writelines of eight frames); replies of
    more than 8 KB in all go with writelines (no copy of large payloads); a single reply is
    written as it is. The bytes are the frames in order either way."""
    probe = Probe()
    small = [b"%02d" % n for n in range(8)]
    large = [bytes([65 + n]) * 3000 for n in range(3)]
    async with serve([("/ws", Recorded, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            (transport,) = await probe.wait("open")
            for read in small, large, [b"one"]:
                await conn.send(b"".join(build_frame(OP_TEXT, m) for m in read))
                replies = [await conn.read_frame() for _ in read]
                assert [f.payload for f in replies] == [b"You said: " + m for m in read]
    frames = [
        [build_frame(OP_TEXT, b"You said: " + m, masked=False) for m in read]
        for read in (small, large, [b"one"])
    ]
    assert transport.calls[:3] == [  # (then the close frame of the server's shutdown)
        ("write", [b"".join(frames[0])]),
        ("writelines", frames[1]),
        ("write", frames[2]),
    ]


class DirectFlood(WebSocketHandler):
    """On a message: shrinks its socket's send buffer, then (in a callback of its own, so
    outside any read: the direct path of one message in flight) writes ``FLOOD`` small
    frames one by one; records for each write whether its future said flushed and what
    was unsent at that moment."""

    FLOOD = 4000

    def initialize(self, probe: Probe) -> None:
        self.probe = probe
        self.futures: list[Any] = []
        self.claims: list[tuple[bool, int]] = []

    def on_message(self, message: str | bytes) -> None:
        connection: Any = self.ws_connection
        sock = connection._transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        asyncio.get_running_loop().call_soon(self.flood)

    def flood(self) -> None:
        connection: Any = self.ws_connection
        for n in range(self.FLOOD):
            future = self.write_message(b"%06d" % n + b"x" * 94)
            self.futures.append(future)
            self.claims.append((future.done(), connection.unsent_bytes()))
        self.probe.record("written", self)


async def test_a_direct_write_says_flushed_only_when_nothing_is_unsent() -> None:
    """Small frames written one by one outside any read (one message in flight) to a peer
    that reads nothing meanwhile: a future is done when it is returned only if the socket
    took everything (the transport pauses its protocol whenever it keeps bytes, which is
    what the direct path reads); once the transport keeps bytes the futures are pending,
    and all resolve as the peer reads every frame, in order."""
    probe = Probe()
    async with serve([("/ws", DirectFlood, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            sock = conn.writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            await conn.send_text("flood")
            (handler,) = await probe.wait("written")
            claims = handler.claims
            assert [claim for claim in claims if claim[0] and claim[1]] == []
            assert claims[0] == (True, 0)  # the socket took the first frame
            assert not claims[-1][0]  # 400 KB cannot all be in the socket buffers
            for n in range(DirectFlood.FLOOD):
                frame = await conn.read_frame()
                assert frame.payload == b"%06d" % n + b"x" * 94
            await wait(asyncio.gather(*handler.futures))


async def test_the_read_copy_leaves_the_shared_empty_buffer_empty() -> None:
    """FrameGuard copies a read with ``_NO_BYTES + data`` (a new bytearray each time):
    single-frame reads and reads of several frames leave that shared buffer empty, and
    each message is its own payload."""
    probe = Probe()
    async with serve([("/ws", Typed, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await probe.wait("open")
            for read in ([b"one"], [b"two", b"three"], [b"four"]):
                await conn.send(b"".join(build_frame(OP_BINARY, m) for m in read))
                for _ in read:
                    await conn.read_frame()
    assert connection_module._NO_BYTES == bytearray()
    assert [message for _, message in probe.of("message")] == [
        b"one",
        b"two",
        b"three",
        b"four",
    ]
