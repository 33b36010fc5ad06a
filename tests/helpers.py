"""Shared test helpers: an event probe for handler hooks and a raw-socket WebSocket client.

The raw client speaks HTTP/1.1 and RFC 6455 framing over ``asyncio.open_connection`` so that
tests can send what aiohttp's client never would (malformed handshakes, unanswered close
frames, frames after an abrupt close) and read exactly what the server put on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict

#: How long a test waits for an event that must happen (never a sleep: a deadline).
TIMEOUT = 5.0

#: RFC 6455 section 1.3's example key and the accept value it must produce.
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def accept_value(key: str) -> str:
    """RFC 6455 section 4.2.2: base64(SHA-1(key + GUID))."""
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


async def wait(awaitable: Any, timeout: float = TIMEOUT) -> Any:
    """Await ``awaitable`` with a deadline (a failing test fails fast, never hangs)."""
    return await asyncio.wait_for(awaitable, timeout)


class Probe:
    """Records what handler hooks did, in order, and lets a test wait for a named event.

    Handlers receive the probe through their route kwargs (``initialize(probe=...)``) and call
    ``probe.record("on_close", code, reason)``; the test awaits ``probe.wait("on_close")``.
    """

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self._futures: dict[str, asyncio.Future[tuple[Any, ...]]] = {}
        self._changed: asyncio.Future[None] | None = None

    def _future(self, name: str) -> asyncio.Future[tuple[Any, ...]]:
        if name not in self._futures:
            self._futures[name] = asyncio.get_running_loop().create_future()
        return self._futures[name]

    def record(self, name: str, *data: Any) -> None:
        self.events.append((name, *data))
        future = self._future(name)
        if not future.done():
            future.set_result(data)
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    async def wait(self, name: str, timeout: float = TIMEOUT) -> tuple[Any, ...]:
        """The data of the first ``name`` event, waiting up to ``timeout`` for it."""
        return await asyncio.wait_for(asyncio.shield(self._future(name)), timeout)

    async def wait_count(self, name: str, count: int, timeout: float = TIMEOUT) -> None:
        """Wait until ``name`` has been recorded at least ``count`` times."""

        async def reached() -> None:
            while self.count(name) < count:
                if self._changed is None or self._changed.done():
                    self._changed = asyncio.get_running_loop().create_future()
                await asyncio.shield(self._changed)

        await asyncio.wait_for(reached(), timeout)

    def names(self) -> list[str]:
        return [event[0] for event in self.events]

    def count(self, name: str) -> int:
        return self.names().count(name)

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [event[1:] for event in self.events if event[0] == name]


async def settle(rounds: int = 20) -> None:
    """Let already-scheduled callbacks run (a yield to the loop, not a timed sleep)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


@dataclass
class RawResponse:
    """An HTTP response read off a raw socket."""

    status: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes
    raw_head: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Frame:
    fin: bool
    opcode: int
    payload: bytes
    rsv: int = 0

    @property
    def close_code(self) -> int | None:
        assert self.opcode == OP_CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> str:
        assert self.opcode == OP_CLOSE
        return self.payload[2:].decode("utf-8")


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    masked: bool = True,
) -> bytes:
    """One client frame (masked unless ``masked=False``), RFC 6455 section 5.2."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head = struct.pack("!BB", first, mask_bit | length)
    elif length < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not masked:
        return head + payload
    key = mask if mask is not None else os.urandom(4)
    return head + key + apply_mask(key, payload)


def apply_mask(key: bytes, data: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``key`` repeated (RFC 6455 section 5.3), fast for big data."""
    if not data:
        return data
    size = len(data)
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        size, "little"
    )


def close_payload(code: int | None = 1000, reason: str = "") -> bytes:
    if code is None:
        return b""
    return struct.pack("!H", code) + reason.encode("utf-8")


async def read_frame(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> tuple[Frame, bool]:
    """One frame off ``reader`` (unmasked if it was masked) and whether it was masked."""
    head = await wait(reader.readexactly(2), timeout)
    first, second = head[0], head[1]
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await wait(reader.readexactly(2), timeout))[0]
    elif length == 127:
        length = struct.unpack("!Q", await wait(reader.readexactly(8), timeout))[0]
    masked = bool(second & 0x80)
    key = await wait(reader.readexactly(4), timeout) if masked else b""
    payload = await wait(reader.readexactly(length), timeout) if length else b""
    if masked:
        payload = apply_mask(key, payload)
    return Frame(bool(first & 0x80), first & 0x0F, payload, (first >> 4) & 0x7), masked


@dataclass
class RawConnection:
    """A TCP connection to the test server, driven byte by byte."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    host: str
    port: int
    response: RawResponse | None = field(default=None)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(
        self,
        path: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        method: str = "GET",
        body: bytes = b"",
        host: str | None = None,
    ) -> RawResponse:
        """Send one request (``Host`` added unless given) and read the whole response."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        if host is not None or not any(name.lower() == "host" for name, _ in pairs):
            pairs.insert(0, ("Host", host or f"{self.host}:{self.port}"))
        if body and not any(name.lower() == "content-length" for name, _ in pairs):
            pairs.append(("Content-Length", str(len(body))))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs)
        await self.send(head.encode("latin1") + b"\r\n" + body)
        return await self.read_response(head_only=method == "HEAD")

    async def read_response(self, head_only: bool = False) -> RawResponse:
        raw_head = await wait(self.reader.readuntil(b"\r\n\r\n"))
        lines = raw_head.decode("latin1").split("\r\n")
        _version, status, *reason = lines[0].split(" ", 2)
        headers: CIMultiDict[str] = CIMultiDict()
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.add(name.strip(), value.strip())
        code = int(status)
        body = b""
        if not head_only and code != 101 and code != 304 and code != 204:
            if "Content-Length" in headers:
                body = await wait(self.reader.readexactly(int(headers["Content-Length"])))
            elif headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = await self._read_chunked()
        self.response = RawResponse(code, reason[0] if reason else "", headers, body, raw_head)
        return self.response

    async def _read_chunked(self) -> bytes:
        out = b""
        while True:
            size = int((await wait(self.reader.readuntil(b"\r\n"))).strip(), 16)
            chunk = await wait(self.reader.readexactly(size + 2))
            if size == 0:
                return out
            out += chunk[:-2]

    # ---- WebSocket framing (after a 101) ----

    async def send_frame(self, opcode: int, payload: bytes = b"", **kwargs: Any) -> None:
        await self.send(build_frame(opcode, payload, **kwargs))

    async def send_text(self, text: str) -> None:
        await self.send_frame(OP_TEXT, text.encode("utf-8"))

    async def send_close(self, code: int | None = 1000, reason: str = "") -> None:
        await self.send_frame(OP_CLOSE, close_payload(code, reason))

    async def read_frame(self, timeout: float = TIMEOUT) -> Frame:
        frame, masked = await read_frame(self.reader, timeout)
        assert not masked, "server frames must not be masked (RFC 6455 section 5.1)"
        return frame

    async def read_eof(self, timeout: float = TIMEOUT) -> bytes:
        """Everything until the server closes the TCP connection (then ``b""`` reads)."""
        return bytes(await wait(self.reader.read(), timeout))

    async def frames_until_eof(self, timeout: float = TIMEOUT) -> list[Frame]:
        frames = []
        while True:
            try:
                frames.append(await self.read_frame(timeout))
            except asyncio.IncompleteReadError as exc:
                assert exc.partial == b"", f"truncated frame: {exc.partial!r}"
                return frames
            except ConnectionResetError:
                return frames

    async def aclose(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (RST if possible)."""
        transport = self.writer.transport
        transport.abort()


def server_address(server: Any) -> tuple[str, int]:
    host, port = server.sockets[0].getsockname()[:2]
    return str(host), int(port)


@asynccontextmanager
async def raw_connection(server: Any) -> AsyncIterator[RawConnection]:
    """A raw TCP connection to ``server`` (a ``testing.running`` server), closed on exit."""
    host, port = server_address(server)
    reader, writer = await wait(asyncio.open_connection(host, port))
    connection = RawConnection(reader, writer, host, port)
    try:
        yield connection
    finally:
        await connection.aclose()


def upgrade_headers(**extra: str) -> dict[str, str]:
    """A valid client handshake's headers; keyword arguments add or replace (``_`` -> ``-``)."""
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": WS_KEY,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return headers


@asynccontextmanager
async def raw_websocket(
    server: Any, path: str, headers: Mapping[str, str] | None = None
) -> AsyncIterator[RawConnection]:
    """A raw connection that has completed the handshake (asserts the 101)."""
    async with raw_connection(server) as connection:
        response = await connection.request(path, {**upgrade_headers(), **(headers or {})})
        assert response.status == 101, (response.status, response.body)
        assert response.headers["Sec-WebSocket-Accept"] == WS_ACCEPT
        yield connection


@dataclass
class RawPeer:
    """The server side of one connection accepted by :func:`raw_server` (after its 101)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    request_line: str
    headers: CIMultiDict[str]

    async def read_frame(self, timeout: float = TIMEOUT) -> Frame:
        frame, masked = await read_frame(self.reader, timeout)
        assert masked, "client frames must be masked (RFC 6455 section 5.1)"
        return frame

    async def send_frame(self, opcode: int, payload: bytes = b"") -> None:
        self.writer.write(build_frame(opcode, payload, masked=False))
        await self.writer.drain()

    async def aclose(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


@dataclass
class RawServer:
    """A hand-driven WebSocket server for client tests: ``peers`` yields accepted connections."""

    port: int
    peers: asyncio.Queue[RawPeer]

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def accept(self) -> RawPeer:
        return await wait(self.peers.get())  # type: ignore[no-any-return]


@asynccontextmanager
async def raw_server(
    status: int = 101, body: bytes = b"", extra_headers: Mapping[str, str] | None = None
) -> AsyncIterator[RawServer]:
    """Listen on 127.0.0.1:0; answer each handshake with ``status`` (101: a valid upgrade)."""
    peers: asyncio.Queue[RawPeer] = asyncio.Queue()
    accepted: list[RawPeer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin1")
        lines = head.split("\r\n")
        headers: CIMultiDict[str] = CIMultiDict()
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.add(name.strip(), value.strip())
        out = [f"HTTP/1.1 {status} {'Switching Protocols' if status == 101 else 'Other'}"]
        if status == 101:
            out += [
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Accept: {accept_value(headers['Sec-WebSocket-Key'])}",
            ]
        else:
            out += [f"Content-Length: {len(body)}", "Connection: close"]
        out += [f"{name}: {value}" for name, value in (extra_headers or {}).items()]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin1") + body)
        peer = RawPeer(reader, writer, lines[0], headers)
        accepted.append(peer)
        await peers.put(peer)

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield RawServer(listener.sockets[0].getsockname()[1], peers)
    finally:
        for peer in accepted:
            await peer.aclose()
        listener.close()
        await listener.wait_closed()


@asynccontextmanager
async def serve(handlers: list[Any], **settings: Any) -> AsyncIterator[Any]:
    """Serve ``Application(handlers, **settings)`` on 127.0.0.1:0 for an ``async with``."""
    from tornado_ws_compat import web
    from tornado_ws_compat.testing import running

    async with running(web.Application(handlers, **settings), shutdown_timeout=2.0) as server:
        yield server


@asynccontextmanager
async def aio_ws(server: Any, path: str, **kwargs: Any) -> AsyncIterator[Any]:
    """An aiohttp client WebSocket to ``server``; session and socket closed on exit."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.url(path), **kwargs) as ws:
            yield ws


@asynccontextmanager
async def ws_client(url: Any, **kwargs: Any) -> AsyncIterator[Any]:
    """Our ``websocket_connect`` client, closed and drained on exit (no leaked session)."""
    from tornado_ws_compat.websocket import websocket_connect

    connection = await wait(websocket_connect(url, **kwargs))
    try:
        yield connection
    finally:
        await shut_client(connection)


async def shut_client(connection: Any) -> None:
    """Close our client connection and wait until its reader (and session) are done."""
    connection.close()
    reader = connection._reader
    if kwargs_callback(connection):
        await wait(asyncio.shield(reader))
        return
    while not reader.done():
        if (await wait(connection.read_message())) is None:
            break
    await wait(asyncio.shield(reader))


def kwargs_callback(connection: Any) -> bool:
    return connection._on_message_callback is not None


@asynccontextmanager
async def python_child(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    merge_stderr: bool = False,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python ARGS`` with its output piped (stderr into stdout with ``merge_stderr``),
    killed if still running and reaped on exit.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    try:
        yield child
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()
