"""Live echo servers and a raw-socket WebSocket client for the conformance suite.

The client writes exactly the bytes a case asks for (any opcode, RSV bits, masked or not, an
announced length that differs from the payload, one write or many) and checks every frame the
server sends against RFC 6455 section 5 (unmasked, minimal length encoding) as it reads it.

Vocabulary used by the cases: "fails the connection with code X" (RFC 6455 section 7.1.7) means
the server sends a close frame with code X and then closes TCP; :func:`expect_close` asserts
exactly that. After a failing case the server must keep serving: :meth:`LiveServer.assert_serving`
opens a fresh connection and checks that it echoes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from helpers import apply_mask

from tornado_ws_compat import web, websocket
from tornado_ws_compat.testing import running

#: Upper bound for anything awaited; cases normally finish in milliseconds.
TIMEOUT = 5.0
#: The live server's ``websocket_max_message_size``: room for the 16 MiB cases of category 9.
MAX_MESSAGE_SIZE = 17 * 1024 * 1024
#: RFC 6455 section 1.3.
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
OPCODE_NAMES = {
    OP_CONTINUATION: "CONT",
    OP_TEXT: "TEXT",
    OP_BINARY: "BINARY",
    OP_CLOSE: "CLOSE",
    OP_PING: "PING",
    OP_PONG: "PONG",
}
#: Bits of a frame's first byte (RFC 6455 section 5.2).
RSV1 = 0x40
RSV2 = 0x20
RSV3 = 0x10
#: RFC 7692 section 7.2.1: the tail a sync flush leaves, removed by the sender.
DEFLATE_TAIL = b"\x00\x00\xff\xff"

#: Close codes a peer may put on the wire (RFC 6455 section 7.4.1/7.4.2; 1012-1014 by IANA).
VALID_CLOSE_CODES = frozenset([*range(1000, 1004), *range(1007, 1015), *range(3000, 5000)])


# ---- the applications under test ----


class EchoHandler(websocket.WebSocketHandler):
    """Echoes text as text and binary as binary."""

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


class DeflateEchoHandler(EchoHandler):
    """The same, with permessage-deflate enabled (Tornado's rule: any dict enables it)."""

    def get_compression_options(self) -> dict[str, Any]:
        return {}


class CloseHandler(websocket.WebSocketHandler):
    """Starts the closing handshake itself: the message ``"4000 bye"`` closes with 4000, "bye".

    Other messages are ignored (Tornado still delivers data that arrives after our close frame
    and before the client's).
    """

    def on_message(self, message: str | bytes) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        code, _, reason = text.partition(" ")
        if code.isdigit():
            self.close(int(code), reason)


def make_app(**settings: Any) -> web.Application:
    return web.Application(
        [
            (r"/echo", EchoHandler),
            (r"/deflate", DeflateEchoHandler),
            (r"/close", CloseHandler),
        ],
        **settings,
    )


# ---- frames ----


def mask_bytes(payload: bytes, key: bytes) -> bytes:
    """RFC 6455 section 5.3 masking, by the suite-wide helper (fast for 16 MiB too)."""
    return apply_mask(key, payload)


def encode_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    mask_key: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """One frame as a client would write it (RFC 6455 section 5.2), or a deliberately bad one.

    ``rsv`` is ORed into the first byte (``RSV1 | RSV2 | RSV3``); ``length`` overrides the
    announced payload length (to send a header alone); ``masked=False`` breaks section 5.1.
    """
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | (opcode & 0x0F)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        header = struct.pack("!BB", first, mask_bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not masked:
        return header + payload
    key = os.urandom(4) if mask_key is None else mask_key
    return header + key + mask_bytes(payload, key)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """RFC 6455 section 5.5.1: a 2-byte status code, then the reason."""
    return struct.pack("!H", code) + reason


@dataclass(frozen=True)
class Frame:
    """A frame the server sent (already checked: unmasked, minimal length encoding)."""

    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]

    def __repr__(self) -> str:
        name = OPCODE_NAMES.get(self.opcode, hex(self.opcode))
        shown = self.payload[:40] + (b"..." if len(self.payload) > 40 else b"")
        return (
            f"Frame({name}, fin={self.fin}, rsv={self.rsv:#x}, "
            f"len={len(self.payload)}, payload={shown!r})"
        )


class ServerClosedError(AssertionError):
    """The server closed TCP where a frame was expected."""


# ---- the raw client ----


@dataclass
class HandshakeResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """All values of ``name`` joined with ", " (RFC 9110 section 5.3), or None."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


def accept_value(key: str) -> str:
    """RFC 6455 section 4.2.2 item 5.4: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + WS_GUID).digest()).decode()


class _ResetReadsAsEof(asyncio.StreamReader):
    """asyncio's StreamReader, except that a reset reads as the end of the stream.

    A server that fails the connection closes its socket, and what the client writes after
    that makes the server's kernel answer with a reset (RST). The bytes the server sent
    before, its close frame included, have arrived and stay readable (Linux keeps them), but
    StreamReader raises the connection's error before handing out what it buffered, so a
    case would see "closed without a close frame" where the server did send one. Here the
    buffered bytes come first, then EOF: read_frame and expect_eof report the end as before.
    """

    def set_exception(self, exc: BaseException) -> None:
        if isinstance(exc, OSError):  # reset, broken pipe, ENOTCONN (uvloop)
            self.feed_eof()
        else:
            super().set_exception(exc)


class RawWebSocket:
    """A WebSocket client over a plain TCP stream, for writing anything a case needs."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str | None
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.key = key
        self.response: HandshakeResponse | None = None

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str = "/echo",
        *,
        headers: Mapping[str, str | None] | None = None,
        method: str = "GET",
        extensions: str | None = None,
        timeout: float = TIMEOUT,
    ) -> RawWebSocket:
        """Connect and send an opening handshake; ``headers`` override the defaults (None
        removes one). The response is read and kept in ``response``, whatever its status."""
        # asyncio.open_connection, with the reader below.
        loop = asyncio.get_running_loop()
        reader = _ResetReadsAsEof(limit=1 << 20, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: protocol, "127.0.0.1", port), timeout
        )
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        fields: dict[str, tuple[str, str]] = {}
        defaults = {
            "Host": f"127.0.0.1:{port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
        }
        if extensions is not None:
            defaults["Sec-WebSocket-Extensions"] = extensions
        for name, value in defaults.items():
            fields[name.lower()] = (name, value)
        for name, maybe in (headers or {}).items():
            if maybe is None:
                fields.pop(name.lower(), None)
            else:
                fields[name.lower()] = (name, maybe)
        sent_key = fields.get("sec-websocket-key", (None, None))[1]
        client = cls(reader, writer, sent_key)
        lines = [f"{method} {path} HTTP/1.1"] + [f"{n}: {v}" for n, v in fields.values()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            client.response = await asyncio.wait_for(client._read_response(), timeout)
        except BaseException:
            client.abort()
            raise
        return client

    async def _read_response(self) -> HandshakeResponse:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        _version, status, *reason = status_line.split(" ", 2)
        headers: list[tuple[str, str]] = []
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
        response = HandshakeResponse(int(status), reason[0] if reason else "", headers, b"")
        length = response.header("Content-Length")
        if response.status != 101 and length is not None:
            response.body = await self.reader.readexactly(int(length))
        return response

    def check_accepted(self) -> None:
        """Assert a valid 101 answer (RFC 6455 section 4.2.2 item 5 and 4.1 items 1-4)."""
        response = self.response
        assert response is not None
        assert response.status == 101, f"handshake: {response.status} {response.body!r}"
        assert (response.header("Upgrade") or "").lower() == "websocket"
        connection = [t.strip().lower() for t in (response.header("Connection") or "").split(",")]
        assert "upgrade" in connection
        assert self.key is not None
        assert response.header("Sec-WebSocket-Accept") == accept_value(self.key)

    # ---- writing ----

    async def send(self, data: bytes, *, chunk: int | None = None) -> None:
        """Write ``data`` at once, or in writes of ``chunk`` bytes ("fragmented on the wire"):
        the loop runs between writes, so the server reads the pieces separately.

        A connection the server already closed or reset is not an error here: the server may
        fail the connection before the last byte; what the case then reads is what counts.
        """
        writer = self.writer
        try:
            if chunk is None:
                if not writer.transport.is_closing():
                    writer.write(data)
                    await writer.drain()
                return
            for start in range(0, len(data), chunk):
                if writer.transport.is_closing():
                    return
                writer.write(data[start : start + chunk])
                await writer.drain()
                await asyncio.sleep(0)  # a yield, not a wait: let the server read this piece
        except ConnectionError:
            pass

    async def send_frame(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        chunk: int | None = None,
        **options: Any,
    ) -> None:
        await self.send(encode_frame(opcode, payload, **options), chunk=chunk)

    async def send_text(self, text: str | bytes, **options: Any) -> None:
        data = text.encode() if isinstance(text, str) else text
        await self.send_frame(OP_TEXT, data, **options)

    async def send_binary(self, data: bytes, **options: Any) -> None:
        await self.send_frame(OP_BINARY, data, **options)

    async def send_close(self, code: int | None = 1000, reason: bytes = b"") -> None:
        await self.send_frame(OP_CLOSE, b"" if code is None else close_payload(code, reason))

    # ---- reading ----

    async def read_frame(self, timeout: float = TIMEOUT) -> Frame:
        """The next frame, checked against RFC 6455 section 5.1/5.2 rules for server frames."""
        try:
            return await asyncio.wait_for(self._read_frame(), timeout)
        except TimeoutError:
            raise AssertionError(f"no frame from the server within {timeout} s") from None
        except (asyncio.IncompleteReadError, OSError) as exc:  # reset, ENOTCONN (uvloop)
            raise ServerClosedError(
                f"the server closed the TCP connection where a frame was expected ({exc!r})"
            ) from None

    async def _read_frame(self) -> Frame:
        read = self.reader.readexactly
        first, second = await read(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await read(2))
            assert size >= 126, "RFC 6455 5.2: the minimal length encoding MUST be used"
        elif size == 127:
            (size,) = struct.unpack("!Q", await read(8))
            assert 65536 <= size < 1 << 63, "RFC 6455 5.2: bad 64-bit payload length"
        assert not second & 0x80, "RFC 6455 5.1: a server MUST NOT mask frames it sends"
        payload = await read(size) if size else b""
        return Frame(bool(first & 0x80), first & 0x70, first & 0x0F, payload)

    async def read_message(
        self, timeout: float = TIMEOUT, inflater: Inflater | None = None
    ) -> tuple[int, bytes]:
        """The next data message (fragments joined, decompressed when RSV1 says so).

        Any control frame met on the way is a failure, reported with what arrived.
        """
        frame = await self.read_frame(timeout)
        assert frame.opcode in (OP_TEXT, OP_BINARY), f"expected a data message, got {frame}"
        opcode, compressed, parts = frame.opcode, bool(frame.rsv & RSV1), [frame.payload]
        assert frame.rsv & ~RSV1 == 0 and (inflater or not compressed), f"bad RSV: {frame}"
        while not frame.fin:
            frame = await self.read_frame(timeout)
            assert frame.opcode == OP_CONTINUATION, f"expected a continuation, got {frame}"
            assert frame.rsv == 0, f"RFC 7692 6: RSV1 only on the first fragment: {frame}"
            parts.append(frame.payload)
        payload = b"".join(parts)
        if compressed:
            assert inflater is not None
            payload = inflater.decompress(payload)
        if opcode == OP_TEXT:
            payload.decode("utf-8")  # RFC 6455 5.6: a text message is valid UTF-8
        return opcode, payload

    async def expect_message(
        self, opcode: int, payload: bytes | str, inflater: Inflater | None = None
    ) -> None:
        """Assert that the next message is ``payload`` with ``opcode`` (an echo, usually)."""
        expected = payload.encode() if isinstance(payload, str) else payload
        got_opcode, got = await self.read_message(inflater=inflater)
        assert got_opcode == opcode, f"opcode {got_opcode}, expected {opcode}"
        assert len(got) == len(expected), f"{len(got)} bytes, expected {len(expected)}"
        assert got == expected, f"payload differs: {got[:60]!r} vs {expected[:60]!r}"

    async def expect_eof(self, timeout: float = TIMEOUT) -> None:
        """Assert that the server closes TCP (EOF or reset) and sends nothing more."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except TimeoutError:
            raise AssertionError(
                f"the server did not close the TCP connection within {timeout} s"
            ) from None
        except OSError:  # reset, or ENOTCONN on uvloop: closed all the same
            data = b""
        assert data == b"", f"expected TCP close, got more bytes: {data[:60]!r}"
        self.abort()

    async def close_cleanly(self) -> None:
        """Close cleanly from our side; the server must send nothing but its close echo."""
        await self.send_close(1000)
        await expect_close(self, 1000)

    def abort(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()


def check_close_frame(frame: Frame) -> None:
    """RFC 6455 section 5.5/5.5.1/7.4: a well-formed close frame from the server."""
    assert frame.fin and frame.rsv == 0, f"malformed close frame: {frame}"
    assert len(frame.payload) != 1, "RFC 6455 5.5.1: a close payload is empty or >= 2 bytes"
    assert len(frame.payload) <= 125, "RFC 6455 5.5: control frame payload over 125 bytes"
    if frame.close_code is not None:
        assert frame.close_code in VALID_CLOSE_CODES, f"invalid close code sent: {frame}"
        frame.close_reason.decode("utf-8")


async def expect_close(
    reader: RawWebSocket, code: int | frozenset[int], *, timeout: float = TIMEOUT
) -> Frame:
    """Assert that the server ends the connection with ``code``: its close frame (the next
    frame it sends), then TCP close (RFC 6455 sections 5.5.1, 7.1.1 and 7.1.7).

    ``code`` may be a set where the RFC allows more than one answer.
    """
    codes = frozenset([code]) if isinstance(code, int) else code
    wanted = " or ".join(map(str, sorted(codes)))
    try:
        frame = await reader.read_frame(timeout)
    except ServerClosedError:
        raise AssertionError(
            f"expected a close frame with code {wanted}; the server closed TCP without one"
        ) from None
    assert frame.opcode == OP_CLOSE, f"expected a close frame with code {wanted}, got {frame}"
    check_close_frame(frame)
    assert frame.close_code in codes, f"expected close code {wanted}, got {frame}"
    await reader.expect_eof(timeout)
    return frame


# ---- permessage-deflate (RFC 7692 section 7.2) ----


class Deflater:
    """A client-side compressor for permessage-deflate messages."""

    def __init__(self, wbits: int = 15, no_context_takeover: bool = False) -> None:
        self.wbits = wbits
        self.no_context_takeover = no_context_takeover
        self._zlib = self._new()

    def _new(self) -> Any:
        return zlib.compressobj(6, zlib.DEFLATED, -self.wbits)

    def compress(self, data: bytes) -> bytes:
        """RFC 7692 section 7.2.1: compress, sync flush, remove the 4-byte tail."""
        compressor = self._new() if self.no_context_takeover else self._zlib
        out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(DEFLATE_TAIL)
        return out[:-4]


class Inflater:
    """A client-side decompressor; a fresh one per message checks no context takeover."""

    def __init__(self, wbits: int = 15, no_context_takeover: bool = False) -> None:
        self.wbits = wbits
        self.no_context_takeover = no_context_takeover
        self._zlib = zlib.decompressobj(-wbits)

    def decompress(self, payload: bytes) -> bytes:
        """RFC 7692 section 7.2.2: append 0x00 0x00 0xff 0xff, then inflate."""
        inflater = zlib.decompressobj(-self.wbits) if self.no_context_takeover else self._zlib
        return bytes(inflater.decompress(payload + DEFLATE_TAIL))


# ---- live servers ----


class LiveServer:
    """A running test application and the raw clients opened against it."""

    def __init__(self, http_server: Any) -> None:
        self.http_server = http_server
        self.port: int = http_server.port
        self._clients: list[RawWebSocket] = []

    async def connect(self, path: str = "/echo", **options: Any) -> RawWebSocket:
        """Send a handshake (see :meth:`RawWebSocket.connect`); the status is not checked."""
        client = await RawWebSocket.connect(self.port, path, **options)
        self._clients.append(client)
        return client

    async def open(self, path: str = "/echo", **options: Any) -> RawWebSocket:
        """An open WebSocket: the handshake must succeed."""
        client = await self.connect(path, **options)
        client.check_accepted()
        return client

    async def assert_serving(self) -> None:
        """A fresh connection echoes text and binary and closes cleanly."""
        client = await self.open("/echo")
        await client.send_text("still serving")
        await client.expect_message(OP_TEXT, "still serving")
        await client.send_binary(b"\x00\xffstill")
        await client.expect_message(OP_BINARY, b"\x00\xffstill")
        await client.close_cleanly()

    def abort_clients(self) -> None:
        for client in self._clients:
            client.abort()


@asynccontextmanager
async def serve(**settings: Any) -> AsyncIterator[LiveServer]:
    """Serve the test application on 127.0.0.1; extra settings go to the Application."""
    settings.setdefault("websocket_max_message_size", MAX_MESSAGE_SIZE)
    async with running(make_app(**settings), shutdown_timeout=TIMEOUT) as http_server:
        live = LiveServer(http_server)
        try:
            yield live
        finally:
            live.abort_clients()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[LiveServer]:
    """The echo server (``/echo``, ``/deflate``, ``/close``) with a 17 MiB message limit."""
    async with serve() as live:
        yield live
