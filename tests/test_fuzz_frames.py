"""Property-based robustness: random and mutated frame sequences against a live server.

For any bytes a client sends after a successful handshake, the server must:

- answer only with well-formed frames (unmasked, minimal lengths, known opcodes, RSV1 only on
  compressed data frames, valid UTF-8 text, at most one close frame and nothing after it);
- end the connection: once the client stops sending (half-close), the server closes TCP within
  a few seconds, after a valid close frame or with none (an abort): it never hangs;
- never crash: no error logged by asyncio or the application, and a fresh connection echoes.

Bounded: ``max_examples`` per test, small payloads, a 64 KiB message limit, a timeout on every
wait. The hypothesis database is off, so the run leaves no files behind.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from conformance.conftest import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    RSV2,
    RSV3,
    VALID_CLOSE_CODES,
    Frame,
    Inflater,
    LiveServer,
    ServerClosedError,
    check_close_frame,
    close_payload,
    encode_frame,
    mask_bytes,
    serve,
)
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

# Hypothesis imports this module (and libcst) to print a failing example as a patch; libcst's
# import emits a DeprecationWarning, which this suite's ``filterwarnings = error`` would turn
# into an INTERNALERROR hiding the failure. Importing it here, warning ignored, avoids that.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # pragma: no cover - libcst not installed
        pass

FUZZ_SETTINGS = settings(
    # Bounded for the default run; FUZZ_EXAMPLES=5000 for a longer hunt.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LIMIT = 64 * 1024
#: Per example: how long the server may take to answer and close once the client stops.
EXAMPLE_TIMEOUT = 3.0
KNOWN_OPCODES = [OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG]
WATCHED_LOGGERS = ("asyncio", "tornado.application", "tornado.general", "aiohttp")


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged_errors() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


@pytest_asyncio.fixture
async def live() -> AsyncIterator[LiveServer]:
    """One server for all examples of a test (hence the suppressed health check)."""
    async with serve(websocket_max_message_size=LIMIT, websocket_close_timeout=1.0) as server:
        yield server


# ---- strategies ----

# Drawn, not os.urandom: the mutations below change masked bytes, so what a mutated frame
# unmasks to depends on its key; with random keys a failing example could not be replayed
# (hypothesis: "Failed to reproduce exception") nor shrunk.
mask_keys = st.binary(min_size=4, max_size=4)

close_codes = st.sampled_from([*sorted(VALID_CLOSE_CODES)[:20], 1005, 1006, 0, 5000]) | (
    st.integers(0, 65535)
)


@st.composite
def payloads(draw: st.DrawFn, opcode: int) -> bytes:
    if opcode == OP_CLOSE:
        shape = draw(st.sampled_from(["empty", "code", "code+reason", "one-byte", "long"]))
        if shape == "empty":
            return b""
        if shape == "one-byte":
            return draw(st.binary(min_size=1, max_size=1))
        if shape == "long":
            return close_payload(1000, b"x" * draw(st.integers(124, 200)))
        code = draw(close_codes)
        reason = b""
        if shape == "code+reason":
            reason = draw(st.text(max_size=30).map(str.encode) | st.binary(max_size=30))
        return close_payload(code, reason)
    if opcode in (OP_TEXT, OP_CONTINUATION):
        return draw(st.text(max_size=200).map(str.encode) | st.binary(max_size=200))
    if opcode in (OP_PING, OP_PONG):
        return draw(st.binary(max_size=130))
    return draw(st.binary(max_size=400))


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """Any frame: mostly plausible, sometimes reserved opcodes, RSV bits, unmasked, or with
    an announced length that differs from the payload."""
    opcode = draw(st.sampled_from(KNOWN_OPCODES) | st.integers(0, 15))
    payload = draw(payloads(opcode))
    fin = draw(st.sampled_from([True, True, True, False]))
    rsv = draw(st.sampled_from([0, 0, 0, 0, 0, RSV1, RSV1, RSV2, RSV3]))
    masked = draw(st.sampled_from([True] * 9 + [False]))
    length = None
    if draw(st.integers(0, 19)) == 0:
        length = draw(st.sampled_from([0, 125, 126, 127, 65535, 65536, LIMIT + 1, 1 << 62]))
    return encode_frame(
        opcode, payload, fin=fin, rsv=rsv, masked=masked, length=length, mask_key=draw(mask_keys)
    )


@st.composite
def valid_frames(draw: st.DrawFn) -> bytes:
    """A frame a correct client could send (perhaps as part of a fragmented message)."""
    opcode = draw(st.sampled_from([OP_TEXT, OP_BINARY, OP_CONTINUATION, OP_PING, OP_PONG]))
    if opcode in (OP_PING, OP_PONG):
        return encode_frame(opcode, draw(st.binary(max_size=125)), mask_key=draw(mask_keys))
    payload = draw(st.text(max_size=300).map(str.encode))
    return encode_frame(opcode, payload, fin=draw(st.booleans()), mask_key=draw(mask_keys))


@st.composite
def mutated_sequences(draw: st.DrawFn) -> bytes:
    """Well-formed frames, then a few byte-level mutations: flips, overwrites, cuts, inserts,
    deletions and duplications (which shift every later frame boundary)."""
    data = bytearray(b"".join(draw(st.lists(valid_frames(), min_size=1, max_size=8))))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        index = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "dup"]))
        if action == "flip":
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[index] = draw(st.sampled_from([0x00, 0x7E, 0x7F, 0x80, 0xFF]))
        elif action == "truncate":
            del data[index:]
        elif action == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[index : index + draw(st.integers(1, 16))]
        else:
            data[index:index] = data[index : index + draw(st.integers(1, 32))]
    return bytes(data)


random_sequences = st.lists(frames(), min_size=1, max_size=10).map(b"".join)
# Every example ends with a half-close: a frame that announced more payload than was sent may
# legitimately keep the server waiting for it (a ping timeout, off here, is what ends that).
endings = st.sampled_from(["half-close", "close-frame-and-half-close"])
paths = st.sampled_from(["/echo", "/deflate"])
chunks = st.sampled_from([None, None, 1, 7, 100])


# ---- what RFC 6455 requires of an echo server, byte by byte ----

ABORT = "abort"  # TCP closed without a close frame
EMPTY_CLOSE = "empty close"  # a close frame without a status code


@dataclass
class Expected:
    """Acceptable endings (a close code, EMPTY_CLOSE or ABORT), each with the number of
    messages echoed before it, and the messages an echo server delivers, in order."""

    endings: dict[object, int] = field(default_factory=dict)
    messages: list[tuple[int, bytes]] = field(default_factory=list)

    def allow(self, ending: object) -> Expected:
        self.endings.setdefault(ending, len(self.messages))
        return self


def _fails_utf8(decoder: codecs.IncrementalDecoder, piece: bytes) -> bool:
    """Whether ``piece`` makes the text that ``decoder`` has seen invalid UTF-8 already,
    whatever comes next: a byte that cannot continue it, or ED A0-BF, the start of a
    surrogate (RFC 3629 section 3), which CPython's decoder refuses only at the third byte."""
    try:
        decoder.decode(piece)
    except UnicodeDecodeError:
        return True
    pending = decoder.getstate()[0]
    return len(pending) > 1 and pending[0] == 0xED and pending[1] >= 0xA0


def expected_from_echo_server(data: bytes, limit: int) -> Expected:
    """Parse what the client sent as RFC 6455 says a server must, up to the first violation.

    Header violations (RFC 6455 5.1, 5.2, 5.5), stray or interleaving data frames (5.4) among
    them -> 1002; a data frame taking its message past ``limit`` -> 1009 on its header (this
    project's rule); invalid close payloads (5.5.1, 7.4) -> 1002, invalid UTF-8 (5.6, 8.1) ->
    1007, which a fail-fast server may send as soon as a fragment makes the text invalid (a
    close frame that comes before the message completes may then be answered either way).
    Where a frame is cut short, the server may also just wait, then see EOF (ABORT).
    """
    expected = Expected()
    pos = 0
    opcode_in_progress: int | None = None
    parts: list[bytes] = []
    size = 0
    decoder: codecs.IncrementalDecoder | None = None
    text_invalid = False
    while True:
        available = len(data) - pos
        if available < 2:
            return expected.allow(ABORT)
        first, second = data[pos], data[pos + 1]
        fin, rsv, opcode = bool(first & 0x80), first & 0x70, first & 0x0F
        masked, length = bool(second & 0x80), second & 0x7F
        control = opcode >= OP_CLOSE
        # RFC 6455 5.4: a continuation frame outside a fragmented message, or a new data
        # message inside one, is visible in the first header byte. Like the other header
        # violations it may fail the connection (1002) as soon as the header arrives, before
        # the payload does, or only once the whole frame is in: both are what 5.4 requires.
        if opcode == OP_CONTINUATION:
            misplaced = opcode_in_progress is None
        else:
            misplaced = opcode in (OP_TEXT, OP_BINARY) and opcode_in_progress is not None
        header_error = bool(
            rsv
            or opcode not in KNOWN_OPCODES
            or not masked
            or (control and (not fin or length > 125))
            or misplaced
        )
        extended = 2 if length == 126 else 8 if length == 127 else 0
        if available < 2 + extended:
            if header_error:
                expected.allow(1002)
            return expected.allow(ABORT)
        if extended:
            length = int.from_bytes(data[pos + 2 : pos + 2 + extended], "big")
        if extended == 8 and length >> 63:
            header_error = True  # 5.2: the most significant bit MUST be 0
        too_big = not control and size + length > limit
        total = 2 + extended + (4 if masked else 0) + length
        if header_error or too_big:
            if header_error:
                expected.allow(1002)
            if too_big:
                expected.allow(1009)
            if header_error and available < total:
                expected.allow(ABORT)  # the server may wait for the rest of the frame
            return expected
        if available < total:
            # The frame is cut: a fail-fast server may still close with 1007 when the part of
            # a text payload that came is invalid already (Autobahn 6.4.3, 6.4.4).
            start = pos + 6 + extended
            text = opcode == OP_TEXT or (opcode == OP_CONTINUATION and decoder is not None)
            if text and not text_invalid and len(data) > start:
                probe = codecs.getincrementaldecoder("utf-8")()
                if opcode == OP_CONTINUATION and decoder is not None:
                    probe.setstate(decoder.getstate())
                key = data[start - 4 : start]
                if _fails_utf8(probe, mask_bytes(data[start:], key)):
                    expected.allow(1007)
            return expected.allow(ABORT)
        key = data[pos + 2 + extended : pos + 6 + extended]
        payload = mask_bytes(data[pos + 6 + extended : pos + total], key)
        pos += total
        if opcode == OP_CLOSE:
            # The close frame is judged on its own (5.5.1, 7.4). An ending allowed before it
            # can only be the fail-fast 1007 of a text message still in progress: 5.6 and 8.1
            # require valid UTF-8 of the reassembled message, and this one never completes
            # (5.4 lets a control frame interleave), so a server that validates whole
            # messages answers this close frame as it would any other.
            if not payload:
                return expected.allow(EMPTY_CLOSE).allow(1000)
            if len(payload) == 1:
                return expected.allow(1002)
            code = int.from_bytes(payload[:2], "big")
            answer_valid = True
            try:
                payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                expected.allow(1007)
                answer_valid = False
            if code not in VALID_CLOSE_CODES:
                expected.allow(1002)
                answer_valid = False
            return expected.allow(code) if answer_valid else expected
        if control:
            continue  # ping (answered) or pong (ignored)
        if opcode != OP_CONTINUATION:  # misplaced ones were failed above, as header errors
            opcode_in_progress, parts, size, text_invalid = opcode, [], 0, False
            decoder = codecs.getincrementaldecoder("utf-8")() if opcode == OP_TEXT else None
        parts.append(payload)
        size += length
        if decoder is not None and not text_invalid:
            invalid = _fails_utf8(decoder, payload)
            if not invalid and fin:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    invalid = True
            if invalid:
                text_invalid = True
                expected.allow(1007)  # a fail-fast server closes here
        if fin:
            if text_invalid:
                return expected.allow(1007)
            assert opcode_in_progress is not None
            expected.messages.append((opcode_in_progress, b"".join(parts)))
            opcode_in_progress, decoder = None, None
            size = 0


# ---- the property ----


async def exchange(live: LiveServer, path: str, data: bytes, chunk: int | None, end: str) -> None:
    """Send ``data``, stop, and check everything the server sends until it closes TCP."""
    offer = "permessage-deflate" if path == "/deflate" else None
    ws = await live.open(path, extensions=offer)
    assert ws.response is not None
    deflate = ws.response.header("Sec-WebSocket-Extensions") is not None
    if end == "close-frame-and-half-close":
        data += encode_frame(OP_CLOSE, close_payload(1000))
    await ws.send(data, chunk=chunk)
    # Our transport closes itself only on an error: a piece written after the server closed
    # its socket met a reset, and the transport may then drop bytes not yet read from it.
    reset_while_sending = ws.writer.transport.is_closing()
    if not reset_while_sending:
        try:
            ws.writer.write_eof()
        except OSError:
            pass  # already reset by the server
    received: list[Frame] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EXAMPLE_TIMEOUT
    while True:
        try:
            frame = await ws.read_frame(timeout=max(0.01, deadline - loop.time()))
        except ServerClosedError:
            event("ended by TCP close without a close frame")
            break  # TCP closed (or reset) by the server: the connection is over
        check_server_frame(frame, deflate, received)
        received.append(frame)
        if frame.opcode == OP_CLOSE:
            event(f"ended by close frame {frame.close_code}")
            await ws.expect_eof(max(0.01, deadline - loop.time()))
            break
    messages = check_messages(received, deflate)
    ws.abort()
    if deflate:
        return  # compressed payloads: the structural checks above are what applies
    expected = expected_from_echo_server(data, LIMIT)
    closes = [f for f in received if f.opcode == OP_CLOSE]
    if not closes:
        ending: object = ABORT
    else:
        ending = closes[0].close_code if closes[0].payload else EMPTY_CLOSE
    if reset_while_sending and ending == ABORT and expected.endings.keys() - {ABORT}:
        # Written in pieces: after failing, the server's socket resets on the next piece.
        # What our reader had received stays readable (conftest's reader), but a write that
        # failed on the reset closed our transport, perhaps before it read the server's last
        # frames, its close frame among them. Echoes must still be a prefix.
        if expected.endings.get(ABORT) != len(messages):
            event("reset while sending: the server's last frames may be lost")
        assert messages == expected.messages[: len(messages)]
        return
    assert ending in expected.endings, (
        f"the connection ended with {ending!r}; RFC 6455 requires one of "
        f"{sorted(map(str, expected.endings))}"
    )
    assert messages == expected.messages[: expected.endings[ending]], (
        f"echoed {len(messages)} messages, expected {expected.endings[ending]}"
    )


def check_server_frame(frame: Frame, deflate: bool, before: list[Frame]) -> None:
    assert frame.opcode in KNOWN_OPCODES, f"server sent a reserved opcode: {frame}"
    assert frame.opcode != OP_CLOSE or not any(f.opcode == OP_CLOSE for f in before)
    if frame.opcode >= OP_CLOSE:
        assert frame.fin and frame.rsv == 0, f"malformed control frame: {frame}"
        assert len(frame.payload) <= 125, f"control frame over 125 bytes: {frame}"
    elif frame.rsv:
        assert deflate and frame.rsv == RSV1, f"RSV bits without an extension: {frame}"
        assert frame.opcode != OP_CONTINUATION, f"RSV1 on a continuation: {frame}"
    if frame.opcode == OP_CLOSE:
        check_close_frame(frame)


def check_messages(received: list[Frame], deflate: bool) -> list[tuple[int, bytes]]:
    """Data frames form whole messages; text is valid UTF-8 once inflated."""
    inflater = Inflater()
    messages: list[tuple[int, bytes]] = []
    parts: list[Frame] = []
    for frame in received:
        if frame.opcode >= OP_CLOSE:
            continue
        if parts:
            assert frame.opcode == OP_CONTINUATION, f"new message inside another: {frame}"
        else:
            assert frame.opcode != OP_CONTINUATION, f"continuation without a start: {frame}"
        parts.append(frame)
        if frame.fin:
            payload = b"".join(p.payload for p in parts)
            if deflate and parts[0].rsv & RSV1:
                payload = inflater.decompress(payload)
            if parts[0].opcode == OP_TEXT:
                payload.decode("utf-8")
            messages.append((parts[0].opcode, payload))
            parts = []
    return messages


async def finish_example(live: LiveServer, errors: ErrorRecords) -> None:
    assert not errors.records, [r.getMessage() for r in errors.records]
    await live.assert_serving()


@pytest.mark.asyncio
@FUZZ_SETTINGS
@given(data=random_sequences, path=paths, chunk=chunks, end=endings)
async def test_random_frame_sequences(
    live: LiveServer,
    logged_errors: ErrorRecords,
    data: bytes,
    path: str,
    chunk: int | None,
    end: str,
) -> None:
    await exchange(live, path, data, chunk, end)
    await finish_example(live, logged_errors)


@pytest.mark.asyncio
@FUZZ_SETTINGS
@given(data=mutated_sequences(), path=paths, chunk=chunks, end=endings)
# Found by this test: an unmasked header cut in its 16-bit length (1002, not an abort); a cut
# text frame whose arrived payload is invalid UTF-8 (a fail-fast 1007 is allowed); a text
# fragment longer than the size limit whose arrived payload is invalid UTF-8 (1009 on its
# header, not 1007).
@example(data=b"\x01~\x00\x00\x00\x00", path="/echo", chunk=None, end="half-close")
@example(
    data=b"\x01\xff\x00\x00\x00\x00\x89\x80\x00\x00\x00\x00\x89\x80\x00\x00\x00\x00",
    path="/echo",
    chunk=None,
    end="half-close",
)
@example(
    data=b"\x89\x80\x00\x00\x00\x00\x01",
    path="/echo",
    chunk=None,
    end="close-frame-and-half-close",
)
async def test_mutated_frame_sequences(
    live: LiveServer,
    logged_errors: ErrorRecords,
    data: bytes,
    path: str,
    chunk: int | None,
    end: str,
) -> None:
    await exchange(live, path, data, chunk, end)
    await finish_example(live, logged_errors)


@pytest.mark.asyncio
@FUZZ_SETTINGS
@given(data=st.binary(min_size=1, max_size=2000), path=paths, chunk=chunks)
async def test_arbitrary_bytes_after_handshake(
    live: LiveServer, logged_errors: ErrorRecords, data: bytes, path: str, chunk: int | None
) -> None:
    """Plain noise: most of it fails at the first header, some announces long payloads."""
    await exchange(live, path, data, chunk, "half-close")
    await finish_example(live, logged_errors)


@pytest.mark.asyncio
async def test_many_aborted_connections_leave_the_server_serving(
    live: LiveServer, logged_errors: ErrorRecords
) -> None:
    """Peers that vanish mid-frame, mid-handshake or right after it (not hypothesis: a fixed
    set of cut points over one realistic stream)."""
    stream = (
        encode_frame(OP_TEXT, "κόσμε".encode() * 20, fin=False)
        + encode_frame(OP_PING, b"ping")
        + encode_frame(OP_CONTINUATION, b"x" * 300)
        + encode_frame(OP_BINARY, bytes(70000))
    )
    for cut in [0, 1, 2, 5, 6, 7, 100, 200, 250, 260, 600, 700, 5000, len(stream) - 1]:
        ws = await live.open("/echo")
        await ws.send(stream[:cut])
        ws.abort()
    for _ in range(5):  # vanish during the handshake itself
        _reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        await writer.drain()
        writer.transport.abort()
    await finish_example(live, logged_errors)
