"""FrameGuard: the header scan in front of aiohttp's reader, fed every possible TCP split.

Frame boundaries do not depend on how TCP cuts the stream (RFC 6455 section 5.2), so the
guard must reach the same verdict whatever the split: valid streams pass through whole and
unchanged, invalid ones fail exactly once, after the frames before the bad one.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from helpers import build_frame

from tornado_ws_compat._engine.connection import FrameGuard

KEY = b"\x01\x02\x03\x04"


def frame(first: int, payload: bytes, masked: bool = True) -> bytes:
    """A client frame given its first header byte (FIN, RSV bits, opcode)."""
    return build_frame(
        first & 0x0F,
        payload,
        fin=bool(first & 0x80),
        rsv=(first >> 4) & 0x7,
        mask=KEY,
        masked=masked,
    )


class Reader:
    """aiohttp's reader, recording: what reaches the application, in order, as the bytes of
    the frames that carried it (FrameGuard delivers the common frame itself, the reader gets
    the rest; with one mask for every frame, a delivered message re-encodes to its frame)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.parts.append(data)
        return False, b""

    def feed_eof(self) -> None:
        pass


class Handler:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self.reader.parts.append(frame(0x81, message.encode()))
        else:
            self.reader.parts.append(frame(0x82, message))


class Lifecycle:
    client_terminated = False


class Connection:
    """The parts of ServerConnection that FrameGuard reads and calls."""

    def __init__(self, reader: Reader) -> None:
        self.work = 0
        self.held = False
        self.direct = False
        self._compressed = False
        self.lifecycle = Lifecycle()
        self.handler = Handler(reader)
        self.violations: list[Any] = []

    def protocol_violation(self, exc: Any) -> None:
        self.violations.append(exc)

    def _peer_closed(self, code: int, reason: str) -> None:
        # A close frame alone in a read, handed over by FrameGuard itself: re-encoded.
        payload = struct.pack("!H", code) + reason.encode() if code else b""
        self.handler.reader.parts.append(frame(0x88, payload))

    # The write scope's side (FrameGuard opens and closes it around a read of several
    # messages): nothing is written here, so holding and releasing only flip the flag.
    _batching = False
    _batch: list[bytes] = []

    def _hold_batch(self) -> None:
        self._batching = True

    def release_batch(self) -> None:
        self._batching = False

    def batch_writes(self) -> None:
        pass

    def flush_writes(self) -> None:
        pass


def feed_split(stream: bytes, cuts: list[int]) -> tuple[Reader, Connection]:
    reader = Reader()
    connection = Connection(reader)
    guard = FrameGuard(reader, connection)  # type: ignore[arg-type]
    start = 0
    for cut in [*cuts, len(stream)]:
        if cut > start:
            guard.feed_data(stream[start:cut])
            start = cut
    return reader, connection


VALID = {
    "fragmented, extended 16-bit length": frame(0x01, b"a" * 126)
    + frame(0x89, b"ping")
    + frame(0x80, b"b")
    + frame(0x88, struct.pack("!H", 1000)),
    "fragmented, 64-bit length": frame(0x02, b"x" * 70000) + frame(0x80, b"y"),
    "empty first fragment": frame(0x01, b"") + frame(0x80, b"z"),
    "small messages": frame(0x81, b"hi") + frame(0x82, b"") + frame(0x81, b"\xc3\xa9"),
    # Text checked as it arrives (RFC 6455 section 8.1): characters cut by fragments and by
    # reads at every mask offset, a ping between fragments, then a binary message.
    "fragmented text, characters cut between fragments": frame(0x01, "κό".encode()[:3])
    + frame(0x89, b"ping")
    + frame(0x00, "κόσμε 𝄞".encode()[3:-2])
    + frame(0x80, "κόσμε 𝄞".encode()[-2:])
    + frame(0x82, b"\xff\xfe"),
    "long text frame": frame(0x81, "Ünïcödé ✓ 漢字 𝄞 ".encode() * 20),
    "compressed text is left to the reader": frame(0xC1, b"\xff\xfe"),
}

INVALID = {
    "unmasked": (frame(0x81, b"ok") + frame(0x81, b"bad", masked=False), 8),
    # Found by tests/test_fuzz_frames.py: the mask bit is known before a 16-bit length is.
    "unmasked, extended length cut": (frame(0x81, b"ok") + b"\x01\x7e\x00\x00\x00\x00", 8),
    "rsv1 on ping": (frame(0x81, b"ok") + frame(0xC9, b"p"), 8),
    "new message inside an empty-started one": (
        frame(0x01, b"") + frame(0x81, b"new"),
        6,
    ),
    "new message inside a long fragmented one": (
        frame(0x01, b"a" * 200) + frame(0x82, b"new"),
        208,
    ),
}


def split_points(stream: bytes) -> list[list[int]]:
    """Every single cut in the first 300 bytes and around the end, and a byte-by-byte feed."""
    singles = [[cut] for cut in range(1, min(len(stream), 300))]
    singles += [[cut] for cut in range(max(1, len(stream) - 40), len(stream))]
    return [*singles, list(range(1, min(len(stream), 400)))]


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_streams_pass_whole_whatever_the_split(name: str) -> None:
    stream = VALID[name]
    for cuts in split_points(stream):
        reader, connection = feed_split(stream, cuts)
        assert not connection.violations, (name, cuts, connection.violations)
        assert reader.data == stream


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_streams_fail_once_after_the_frames_before(name: str) -> None:
    stream, valid_prefix = INVALID[name]
    for cuts in split_points(stream):
        reader, connection = feed_split(stream, cuts)
        assert len(connection.violations) == 1, (name, cuts)
        assert connection.violations[0].code == 1002
        # The reader got at most the valid frames (and never bytes of the bad frame's tail).
        assert stream.startswith(reader.data)
        assert len(reader.data) <= valid_prefix + 13  # at most a cut header of the bad frame


#: Text whose payload turns invalid at one byte: (stream, offending byte).
TEXT = "κόσμε".encode()
_LONG = frame(0x81, TEXT + b"\xf4\x90\x80\x80" + b"x" * 300)
INVALID_UTF8 = {
    # Autobahn 6.4.1: the second of three fragments holds U+110000 (out of range).
    "6.4.1 fragment out of range": (
        frame(0x01, TEXT) + frame(0x00, b"\xf4\x90\x80\x80") + frame(0x80, b"edited"),
        len(frame(0x01, TEXT)) + 6 + 1,
    ),
    # Autobahn 6.4.2: the first fragment ends with 0xF4, the second starts with 0x90.
    "6.4.2 sequence cut by fragments": (
        frame(0x01, TEXT + b"\xf4") + frame(0x00, b"\x90\x80\x80") + frame(0x80, b"edited"),
        len(frame(0x01, TEXT + b"\xf4")) + 6,
    ),
    # Autobahn 6.4.3 / 6.4.4: one frame, the invalid sequence in its middle.
    "6.4.3 one frame": (_LONG, 8 + len(TEXT) + 1),
    "surrogate after a ping between fragments": (
        frame(0x01, b"ok") + frame(0x89, b"") + frame(0x80, b"\xed\xa0\x80"),
        len(frame(0x01, b"ok") + frame(0x89, b"")) + 6 + 1,
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID_UTF8))
def test_invalid_utf8_fails_fast_at_the_offending_byte(name: str) -> None:
    """The stream is cut right after the offending byte (the rest never comes): whatever the
    split, the guard fails with 1007 and the reader never sees the offending byte."""
    stream, offending = INVALID_UTF8[name]
    arrived = stream[: offending + 1]
    for cuts in split_points(arrived):
        reader, connection = feed_split(arrived, cuts)
        assert [exc.code for exc in connection.violations] == [1007], (name, cuts)
        assert stream.startswith(reader.data)
        assert len(reader.data) <= offending, (name, cuts, len(reader.data))


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "deflate"])
def test_the_frame_size_table_says_which_second_bytes_make_a_common_frame(
    compressed: bool,
) -> None:
    """FrameGuard reads a common frame's size from its second header byte in one lookup:
    the whole frame (header, mask and payload) when the byte says masked and a payload
    under 126 bytes within the size limit (RFC 6455 section 5.2), else 0 (the scan and the
    reader take it); on a permessage-deflate connection never (RFC 7692: the reader
    inflates)."""
    for limit in (0, 1, 10, 124, 125, 126, 10**6):
        reader = Reader()
        connection = Connection(reader)
        connection._compressed = compressed
        guard = FrameGuard(reader, connection, limit)  # type: ignore[arg-type]
        for second in range(256):
            length = second & 0x7F
            common = second & 0x80 and length < 126 and length <= limit and not compressed
            assert guard._sizes[second] == (6 + length if common else 0), (limit, second)


class RecordingReader(Reader):
    """A reader that also keeps what was fed to it apart from what FrameGuard delivered."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[bytes] = []

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed.append(data)
        return super().feed_data(data)


@pytest.mark.parametrize(
    ("payload", "handed"),
    [
        (b"", (0, "")),  # aiohttp's reader reports an empty payload as code 0
        (struct.pack("!H", 1000), (1000, "")),
        (struct.pack("!H", 4000) + "héllo ✓".encode(), (4000, "héllo ✓")),
        (struct.pack("!H", 1014) + b"x" * 123, (1014, "x" * 123)),
        (struct.pack("!H", 1005), None),  # never on the wire (RFC 6455 section 7.4.1)
        (struct.pack("!H", 999), None),
        (struct.pack("!H", 5000), None),
        (b"\x03", None),  # a 1-byte payload
        (struct.pack("!H", 1000) + b"\xce\xba\xff", None),  # a reason that is not UTF-8
    ],
)
def test_a_close_frame_alone_in_a_read(payload: bytes, handed: tuple[int, str] | None) -> None:
    # The closing handshake's usual read: a close frame the reader would pass as it is goes
    # to the connection at once; any other to the reader, which judges it as before.
    reader = RecordingReader()
    connection = Connection(reader)
    closed: list[tuple[int, str]] = []
    connection._peer_closed = lambda code, reason: closed.append((code, reason))  # type: ignore[method-assign]
    guard = FrameGuard(reader, connection)  # type: ignore[arg-type]
    guard.feed_data(frame(0x88, payload))
    if handed is None:
        assert reader.fed == [frame(0x88, payload)] and not closed
    else:
        assert closed == [handed] and not reader.fed
    # Not alone in its read, or cut: the reader's, as before.
    for data in (frame(0x81, b"x") + frame(0x88, payload), frame(0x88, payload)[:-1]):
        reader = RecordingReader()
        guard = FrameGuard(reader, Connection(reader))  # type: ignore[arg-type]
        guard.feed_data(data)
        assert reader.fed, data


@pytest.mark.parametrize("end", ["refuse", "detach"])
def test_nothing_passes_once_refused_even_a_common_frame_at_a_boundary(end: str) -> None:
    """After the reader failed (refuse) or the connection ended (detach), a read holding
    a whole common frame at a message boundary, the guard's own fast shape, is neither
    delivered nor handed to the reader (feed_data's first test reads the boundary flag
    alone, which both clear)."""
    reader = Reader()
    connection = Connection(reader)
    guard = FrameGuard(reader, connection)  # type: ignore[arg-type]
    guard.feed_data(frame(0x81, b"before"))
    getattr(guard, end)()
    for data in (frame(0x81, b"after"), frame(0x82, b"x") * 2, frame(0x88, b"\x03\xe8"), b"\x81"):
        guard.feed_data(data)
    assert reader.parts == [frame(0x81, b"before")]


def test_a_read_of_one_byte_at_a_boundary_goes_to_the_scan() -> None:
    """A single byte at a message boundary (the first of a common frame's header) is left
    to the scan and the reader, and the frame it begins arrives whole, once."""
    stream = frame(0x81, b"one") + frame(0x82, b"two")
    reader, connection = feed_split(stream, [1, len(frame(0x81, b"one"))])
    assert reader.data == stream
    assert connection.violations == []
