"""Differential harness: one scenario, run against real Tornado 6.6.1 and against this project.

Each side gets a fresh application built from the *same* handler factory
(``tests/compat/_handlers.py``), once over ``tornado.websocket``/``tornado.web`` and once over
``tornado_ws_compat.websocket``/``tornado_ws_compat.web``. The scenario drives the server with a
client (raw asyncio sockets, or aiohttp) and returns what the client observed; the harness adds
what the handlers recorded (hook events, in order) and the ``tornado.*`` log lines, normalised
where they legitimately differ (ports, timings). The test then asserts both observations are
equal, so a difference anywhere shows up as a readable diff.

Nothing here sleeps to wait for an event: clients read with deadlines, handlers' hooks set
events, and ``Side.barrier()`` (a full HTTP round trip to the same server on the same loop) is
the synchronisation point after which everything the server does for a closed socket is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from helpers import build_frame

import tornado_ws_compat.web
import tornado_ws_compat.websocket
from tornado_ws_compat.testing import running

from ._handlers import Recorder, make_routes

#: Deadline for anything a scenario waits for (a failing test fails fast, never hangs).
TIMEOUT = 5.0
#: Deadline for a whole scenario on one side.
SCENARIO_TIMEOUT = 15.0

#: RFC 6455 section 1.3's example key and the accept value it must produce.
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: The two implementations under comparison: name -> (websocket module, web module).
IMPLEMENTATIONS: dict[str, tuple[ModuleType, ModuleType]] = {
    "tornado": (tornado.websocket, tornado.web),
    "ours": (tornado_ws_compat.websocket, tornado_ws_compat.web),
}

#: Response headers never compared: the Server header names the implementation on purpose,
#: and Date is the clock.
IGNORED_HEADERS = frozenset({"server", "date"})

_ACCESS_LINE = re.compile(r"^(\d{3} [A-Z]+ \S+ \([^)]*\)) \d+\.\d{2}ms$")


# ---------------------------------------------------------------------------------------------
# Raw client: HTTP/1.1 and RFC 6455 framing over asyncio streams.
# ---------------------------------------------------------------------------------------------


@dataclass
class Response:
    """An HTTP response head (and body) as the raw client read it."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None

    def compared(self) -> dict[str, Any]:
        """What the differential tests compare: status, reason, headers but Server/Date, body."""
        headers: dict[str, list[str]] = {}
        for name, value in self.headers:
            if name.lower() not in IGNORED_HEADERS:
                headers.setdefault(name.lower(), []).append(value)
        return {
            "status": self.status,
            "reason": self.reason,
            "headers": dict(sorted(headers.items())),
            "body": self.body,
        }


@dataclass
class Frame:
    """One frame the server sent."""

    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    masked: bool = False

    def event(self) -> tuple[Any, ...]:
        """A readable, comparable form: ("text", str), ("close", code, reason), ..."""
        if self.opcode == OP_CLOSE:
            code = struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None
            reason = self.payload[2:].decode("utf-8", "replace") if len(self.payload) > 2 else None
            event: tuple[Any, ...] = ("close", code, reason)
        elif self.opcode == OP_TEXT:
            try:
                event = ("text", self.payload.decode("utf-8"))
            except UnicodeDecodeError:
                event = ("text-invalid-utf8", self.payload)
        elif self.opcode == OP_BINARY:
            event = ("binary", self.payload)
        elif self.opcode == OP_PING:
            event = ("ping", self.payload)
        elif self.opcode == OP_PONG:
            event = ("pong", self.payload)
        else:
            event = ("opcode", self.opcode, self.payload)
        if not self.fin or self.rsv or self.masked:
            event += (("fin", self.fin), ("rsv", self.rsv), ("masked", self.masked))
        return event


EOF: tuple[str] = ("eof",)
STILL_OPEN: tuple[str] = ("still open",)


class RawClient:
    """A deliberately dumb client: sends exactly what it is told, records exactly what it gets."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.eof = False

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), TIMEOUT
        )
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes = b""
    ) -> Response:
        lines = [f"{method} {path} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin1")
        self.writer.write(head + body)
        return await self.read_response()

    async def read_response(self) -> Response:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *header_lines = head.decode("latin1").split("\r\n")
        _version, status, reason = [*status_line.split(" ", 2), ""][:3]
        headers: list[tuple[str, str]] = []
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
        response = Response(int(status), reason, headers)
        length = response.header("Content-Length")
        if length is not None:
            response.body = await asyncio.wait_for(self.reader.readexactly(int(length)), TIMEOUT)
        elif (response.header("Transfer-Encoding") or "").lower() == "chunked":
            response.body = await asyncio.wait_for(self._read_chunked(), TIMEOUT)
        return response

    async def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return body
            body += await self.reader.readexactly(size)
            await self.reader.readexactly(2)

    async def handshake(self, path: str, headers: Iterable[tuple[str, str]]) -> Response:
        return await self.request("GET", path, headers)

    # ---- frames out ----

    def send_frame(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        fin: bool = True,
        rsv: int = 0,
        mask: bool = True,
    ) -> None:
        self.writer.write(build_frame(opcode, payload, fin=fin, rsv=rsv, masked=mask))

    def send_text(self, text: str, **kwargs: Any) -> None:
        self.send_frame(OP_TEXT, text.encode("utf-8"), **kwargs)

    def send_binary(self, data: bytes, **kwargs: Any) -> None:
        self.send_frame(OP_BINARY, data, **kwargs)

    def send_close(self, code: int | None = None, reason: str | None = None) -> None:
        payload = b"" if code is None else struct.pack("!H", code)
        if reason is not None:
            payload += reason.encode("utf-8")
        self.send_frame(OP_CLOSE, payload)

    # ---- frames in ----

    async def recv_frame(self, timeout: float = TIMEOUT) -> Frame | None:
        """The next frame, or None once the server closed the TCP connection."""
        if self.eof:
            return None
        try:
            return await asyncio.wait_for(self._read_frame(), timeout)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            self.eof = True
            return None

    async def _read_frame(self) -> Frame:
        b0, b1 = await self.reader.readexactly(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        masked = bool(b1 & 0x80)
        key = await self.reader.readexactly(4) if masked else b""
        payload = await self.reader.readexactly(length)
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload, masked)

    async def recv(self, timeout: float = TIMEOUT) -> tuple[Any, ...]:
        """The next frame as a comparable event, or ``EOF``."""
        frame = await self.recv_frame(timeout)
        return EOF if frame is None else frame.event()

    async def recv_many(self, count: int) -> list[tuple[Any, ...]]:
        return [await self.recv() for _ in range(count)]

    async def until_eof(
        self, answer_close: bool = False, idle: float | None = None
    ) -> list[tuple[Any, ...]]:
        """Every frame until the server closes TCP; optionally echo its close frame's code.

        With ``idle``, a server that sends nothing for that long ends the list with
        ``STILL_OPEN`` instead of failing the scenario (for servers that keep a broken
        connection open).
        """
        events: list[tuple[Any, ...]] = []
        while True:
            if idle is None:
                event = await self.recv()
            else:
                try:
                    event = await self.recv(timeout=idle)
                except TimeoutError:
                    events.append(STILL_OPEN)
                    return events
            events.append(event)
            if event == EOF:
                return events
            if answer_close and event[0] == "close":
                self.send_close(event[1])

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def deflate(compressor: Any, data: bytes) -> bytes:
    """One message's payload for a permessage-deflate frame (RFC 7692 section 7.2.1)."""
    out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflates_alone(payload: bytes) -> bool:
    """Whether a compressed payload inflates without any earlier message's context."""
    try:
        zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
    except zlib.error:
        return False
    return True


class Inflater:
    """Client side of permessage-deflate (RFC 7692 section 7.2.2), context takeover kept."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(-15)

    def inflate(self, payload: bytes) -> bytes:
        return self._zlib.decompress(payload + b"\x00\x00\xff\xff")


# ---------------------------------------------------------------------------------------------
# Sides and the differential runner.
# ---------------------------------------------------------------------------------------------


@dataclass
class Side:
    """One running implementation, as a scenario sees it."""

    impl: str
    port: int
    rec: Recorder
    websocket: ModuleType
    web: ModuleType
    clients: list[RawClient] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://{self.host}{path}"

    def ws_headers(
        self, overrides: Mapping[str, str | None] | None = None
    ) -> list[tuple[str, str]]:
        """A valid version-13 handshake; ``overrides`` replace (or, with None, drop) headers."""
        headers: dict[str, str | None] = {
            "Host": self.host,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": WS_KEY,
            "Sec-WebSocket-Version": "13",
        }
        for name, value in (overrides or {}).items():
            headers[name] = value
        return [(name, value) for name, value in headers.items() if value is not None]

    async def raw(self) -> RawClient:
        client = await RawClient.connect(self.port)
        self.clients.append(client)
        return client

    async def open_ws(
        self, path: str, overrides: Mapping[str, str | None] | None = None
    ) -> tuple[RawClient, Response]:
        """Connect and handshake; the test asserts on the response itself."""
        client = await self.raw()
        response = await client.handshake(path, self.ws_headers(overrides))
        return client, response

    async def connected(self, path: str = "/echo") -> RawClient:
        """A raw client past a successful handshake (fails the scenario otherwise)."""
        client, response = await self.open_ws(path)
        assert response.status == 101, (self.impl, response)
        return client

    async def barrier(self) -> None:
        """A full HTTP round trip on a fresh connection to the same server.

        Server and client share one loop, so once this returns, the server has processed
        everything that was due before it (socket-closed callbacks, on_close, logging).
        """
        client = await RawClient.connect(self.port)
        try:
            response = await client.request(
                "GET", "/barrier", [("Host", self.host), ("Connection", "close")]
            )
            assert response.status == 200, response
        finally:
            await client.close()


@asynccontextmanager
async def serving(impl: str, settings: Mapping[str, Any] | None = None) -> AsyncIterator[Side]:
    """Serve the shared handler set on ``impl`` on 127.0.0.1, a free port."""
    websocket, web = IMPLEMENTATIONS[impl]
    rec = Recorder()
    routes = make_routes(websocket, web, rec)
    app = web.Application(routes, **dict(settings or {}))
    if impl == "tornado":
        server = app.listen(0, "127.0.0.1")
        port = next(iter(server._sockets.values())).getsockname()[1]
        side = Side(impl, port, rec, websocket, web)
        try:
            yield side
        finally:
            for client in side.clients:
                await client.close()
            server.stop()
            await server.close_all_connections()
    else:
        async with running(app) as server:
            side = Side(impl, server.port, rec, websocket, web)
            try:
                yield side
            finally:
                for client in side.clients:
                    await client.close()


@dataclass
class Observation:
    """Everything compared between the two implementations for one scenario."""

    client: Any
    server: list[tuple[Any, ...]]
    log: list[tuple[str, str, str]]


Scenario = Callable[[Side], Awaitable[Any]]

#: How long a connection may stay silent after a protocol violation before it counts as open.
IDLE = 0.3


def violation(
    send: Callable[[RawClient], None], path: str = "/echo", offer: str | None = None
) -> Scenario:
    """A scenario: handshake (offering ``offer`` as Sec-WebSocket-Extensions), one echo, then
    ``send`` writes something that breaks RFC 6455; returns every event until EOF.

    A server that keeps the connection is then asked to close it (4000 "end"), so an accepted
    violation shows up as ``STILL_OPEN`` followed by a normal closing handshake.
    """

    async def scenario(side: Side) -> list[tuple[Any, ...]]:
        client, response = await side.open_ws(
            path, {"Sec-WebSocket-Extensions": offer} if offer else None
        )
        assert response.status == 101, (side.impl, response)
        client.send_text("before")
        echo = await client.recv_frame()
        assert echo is not None, (side.impl, "no echo")
        payload = Inflater().inflate(echo.payload) if echo.rsv & 4 else echo.payload
        assert (echo.opcode, payload) == (OP_TEXT, b"before"), (side.impl, echo)
        send(client)
        events = await client.until_eof(idle=IDLE)
        if events[-1] == STILL_OPEN:
            client.send_close(4000, "end")
            events += await client.until_eof(idle=IDLE)
        await side.rec.settle("on_close", timeout=IDLE)
        return events

    return scenario


def _normalise_log(record: logging.LogRecord, port: int) -> tuple[str, str, str] | None:
    message = record.getMessage()
    if "/barrier" in message:
        return None
    first_line = message.split("\n", 1)[0].replace(str(port), "PORT")
    match = _ACCESS_LINE.match(first_line)
    if record.name == "tornado.access" and match:
        first_line = f"{match.group(1)} N.NNms"
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        first_line += f" [{type(exc).__name__}: {exc}]"
    return (record.name, record.levelname, first_line)


class Differ:
    """Runs scenarios on both implementations (pytest fixture ``diff``)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        caplog.set_level(logging.DEBUG, logger="tornado")
        #: The last run's observations, by implementation.
        self.results: dict[str, Observation] = {}

    async def run(
        self,
        scenario: Scenario,
        settings: Mapping[str, Any] | None = None,
        log_level: int = logging.INFO,
    ) -> dict[str, Observation]:
        """Run ``scenario`` once per implementation (Tornado first)."""
        results: dict[str, Observation] = {}
        for impl in IMPLEMENTATIONS:
            start = len(self.caplog.records)
            async with serving(impl, settings) as side:
                client = await asyncio.wait_for(scenario(side), SCENARIO_TIMEOUT)
                await side.barrier()
                server = list(side.rec.events)
                records = self.caplog.records[start:]
                port = side.port
            log = [
                entry
                for record in records
                if (record.name.startswith("tornado") and record.levelno >= log_level)
                or record.levelno >= logging.WARNING
                if (entry := _normalise_log(record, port)) is not None
            ]
            results[impl] = Observation(client, server, log)
        self.results = results
        return results

    async def compare(
        self,
        scenario: Scenario,
        settings: Mapping[str, Any] | None = None,
        log_level: int = logging.INFO,
    ) -> Observation:
        """Run on both and assert identical observations; returns Tornado's for extra checks."""
        results = await self.run(scenario, settings, log_level)
        reference, ours = results["tornado"], results["ours"]
        if os.environ.get("COMPAT_DUMP"):  # debugging aid: COMPAT_DUMP=1 pytest -s ...
            print(f"\ntornado: {reference!r}\nours:    {ours!r}")
        assert_same(results, "client", "server", "log")
        return reference


def assert_same(results: Mapping[str, Observation], *parts: str) -> None:
    """Assert the named parts ("client", "server", "log") of both observations are equal.

    ``Differ.compare`` checks all three; the intentional-difference tests check the parts the
    documented difference does not touch.
    """
    reference, ours = results["tornado"], results["ours"]
    for part in parts:
        theirs, mine = getattr(reference, part), getattr(ours, part)
        assert mine == theirs, (
            f"{part} observations differ\n tornado: {theirs!r}\n ours:    {mine!r}"
        )
