"""Soak test: thousands of WebSocket connections with random traffic and random disconnects.

    python bench/soak.py [--minutes 2] [--connections 2000] [--seconds S] [--seed N]
                         [--skip ENDING,...]

Starts ``bench/soak_server.py`` (this project) as a subprocess pinned to core 0 with
``taskset`` (this client pins itself to the other cores), records a baseline from the server's
``/stats`` page, then keeps ``--connections`` client connections busy for the duration: every
connection sends random text and binary messages (0 to 64 KiB, some fragmented, some
compressed, some on the server's coroutine path), pings, pauses, and after a random life ends
in one of several ways (clean close, server-initiated close, TCP half-close, RST, FIN without a
close frame, cut mid-frame, stalled mid-frame, silent on pings, oversized frame, abandoned
handshake); then a new connection takes its place. Every echo is checked byte for byte against
what was sent, in order; where the protocol says the echoes must all come back before the
close (clean close, server close, half-close, ping timeout, oversized frame), a missing echo is
a failure too.

Every 5 s it prints one line: elapsed time, server RSS, open WebSockets (server side), asyncio
tasks, file descriptors, server CPU and event-loop lag, and the client's totals. At the end the
clients stop, the server is polled (every 0.5 s, at most 30 s) until its open WebSockets return
to 0 and its task and fd counts to the baseline, a summary is printed, and the exit status is
non-zero on any failure (what counts: ``check()`` below, and ``bench/SOAK.md``). ``--skip``
leaves some endings out, to tell which one a failure comes from.

Files, in ``bench/results/`` (git-ignored): the server's stderr (``soak-<time>.log``), the
figures (``soak-<time>.json``) and, if the server did not settle, every task's stack
(``soak-<time>.tasks.json``). Not part of the test suite. Every target is 127.0.0.1; every loop
is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hashlib
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

HOST = "127.0.0.1"  # loopback only, by design
ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"  # git-ignored
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# ---- the server's settings (passed on its command line) ----
PING_INTERVAL = 5.0
PING_TIMEOUT = 5.0
MAX_MESSAGE_SIZE = 1 << 20
SERVER_CLOSE_TIMEOUT = 5.0  # websocket_close_timeout's default
SERVER_CLOSE_CODE = 4001  # soak_server.py closes with this after a "close:" message

# ---- bounds ----
REPORT_EVERY = 5.0
SETTLE_TIMEOUT = 30.0  # after the clients stop: how long the server has to get back to baseline
SETTLE_POLL = 0.5
STOP_TIMEOUT = 30.0  # how long the clients have to finish their last connection
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 20.0
STATS_TIMEOUT = 10.0
CONNECT_TIMEOUT = 15.0
ECHO_TIMEOUT = 30.0  # outstanding echoes must keep arriving within this
CLOSE_TIMEOUT = 10.0  # close frame / TCP drop after a close handshake
SLACK = 5.0
RAMP_UP = 5.0  # the first connections start spread over this many seconds

# ---- traffic ----
MEAN_LIFETIME = 10.0  # seconds, exponential, capped at MAX_LIFETIME
MAX_LIFETIME = 60.0
MAX_PAUSE = 1.0  # between bursts, uniform
MAX_BURST = 3  # messages per burst
MAX_SIZE = 64 * 1024
MAX_OUTSTANDING = 256 * 1024  # bytes sent but not echoed yet, per connection
MESSAGE_COST = 64  # what one message counts for in MAX_OUTSTANDING besides its bytes
DEFLATE_SHARE = 0.15  # connections that offer permessage-deflate
FRAGMENT_SHARE = 0.05  # messages sent in 2-4 fragments
PING_SHARE = 0.05  # bursts that also send a ping
SLOW_SHARE = 0.05  # text messages on the server's coroutine path

# How each connection ends, with weights. The first group must get every echo back.
STYLES = {
    "clean": 28,  # close frame, wait for the server's, wait for TCP to drop
    "server_close": 12,  # "close:" message: echo, then the server closes with 4001
    "half_close": 12,  # shutdown(SHUT_WR): the server answers what came, then closes
    "ping_silent": 3,  # stop answering pings: the server closes ("ping timed out")
    "too_big": 3,  # a frame header over the message size limit: 1009
    "abort": 12,  # RST (SO_LINGER 0), no close frame
    "drop": 10,  # FIN, no close frame
    "mid_frame": 10,  # part of a frame, then RST or FIN
    "stall": 3,  # part of a frame, then silence: ping timeout, close timeout, drop
    "handshake_abort": 7,  # part or all of the upgrade request, then RST or FIN at once
}
MUST_ECHO_ALL = {"clean", "server_close", "half_close", "ping_silent", "too_big"}

# ---- pass/fail (bench/SOAK.md has the measurements behind these numbers) ----
# RSS is judged after the clients are gone and the server has run gc.collect() and glibc's
# malloc_trim(0) (which hand back what the allocators hold but free no live object). Even then
# pymalloc keeps every 1 MiB arena in which a single object still lives, so the RSS left over
# grows with the peak; measured: 20-30% of (peak - baseline). The limit:
#     baseline + RSS_TOLERANCE_MB + RSS_TOLERANCE_OF_PEAK * (peak - baseline)
RSS_TOLERANCE_MB = 20.0
RSS_TOLERANCE_OF_PEAK = 0.35
# Live memory, which no allocator keeps: glibc's bytes in use and Python's allocated blocks,
# after gc.collect(). Measured: +1 to +1.5 MB and +1 to +3% over the baseline.
LIVE_MALLOC_TOLERANCE_MB = 5.0
LIVE_BLOCKS_TOLERANCE = 0.10


class LagMonitor:
    """This process's worst event-loop lag since the last read (a timer chain, no task)."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.worst = 0.0
        self.due = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.due = self.loop.time() + self.every
        self.handle = self.loop.call_at(self.due, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        self.worst = max(self.worst, now - self.due)
        self.due = now + self.every
        self.handle = self.loop.call_at(self.due, self._tick)

    def read_ms(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst * 1000

    def stop(self) -> None:
        self.handle.cancel()


class SoakError(Exception):
    """A connection went wrong in a way the client can name (counted by ``kind``)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Stats:
    def __init__(self) -> None:
        self.conns = 0  # connections started
        self.live = 0
        self.sent = 0
        self.echoed = 0
        self.bytes_sent = 0
        self.pings = 0
        self.pongs = 0
        self.server_pings = 0
        self.mismatches = 0  # wrong echo: content, type, order, or one never sent
        self.missing = 0  # echoes that should have come before the close and did not
        self.errors: collections.Counter[str] = collections.Counter()
        self.styles: collections.Counter[str] = collections.Counter()
        self.missing_by_style: collections.Counter[str] = collections.Counter()
        self.deflate = 0
        self.cut_at_stop = 0

    def error(self, kind: str) -> None:
        self.errors[kind] += 1


STATS = Stats()


# --------------------------------------------------------------------------- payloads


def _text_pool(rng: random.Random, n: int) -> str:
    # Mostly ASCII, some 2-, 3- and 4-byte characters; no ":" (a prefix means something).
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,{}[]\"'"
    extra = "éüß€日本語😀∑"
    return "".join(
        rng.choice(extra) if rng.random() < 0.05 else rng.choice(alphabet) for _ in range(n)
    )


POOL_RNG = random.Random(6455)
TEXT_POOL = _text_pool(POOL_RNG, 2 * MAX_SIZE)
BIN_POOL = POOL_RNG.randbytes(2 * MAX_SIZE)


def pick_size(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.6:
        return rng.randint(0, 125)
    if r < 0.9:
        return rng.randint(126, 4096)
    if r < 0.99:
        return rng.randint(4097, MAX_SIZE - 1)
    return MAX_SIZE


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte masking key (RFC 6455 section 5.3), in one big-int operation."""
    n = len(payload)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def frame_header(b0: int, n: int) -> bytes:
    if n < 126:
        return bytes((b0, 0x80 | n))
    if n < 1 << 16:
        return bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    return bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")


def client_frame(rng: random.Random, b0: int, payload: bytes) -> bytes:
    """One masked client frame (RFC 6455 section 5.2) with a random masking key."""
    key = rng.randbytes(4)
    return frame_header(b0, len(payload)) + key + mask(payload, key)


def deflate(payload: bytes) -> bytes:
    """Compress one message with a fresh compressor (RFC 7692 section 7.2.1)."""
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    data = comp.compress(payload) + comp.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4]


# --------------------------------------------------------------------------- one connection


class Conn(asyncio.Protocol):
    """A raw client WebSocket: checks every echo against what was sent, in order."""

    def __init__(self, port: int, rng: random.Random, offer_deflate: bool) -> None:
        loop = asyncio.get_running_loop()
        key = base64.b64encode(rng.randbytes(16)).decode()
        self.accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        self.request = (
            f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + ("Sec-WebSocket-Extensions: permessage-deflate\r\n" if offer_deflate else "")
            + "\r\n"
        ).encode()
        self.rng = rng
        self.transport: asyncio.Transport | None = None
        self.handshaking = True
        self.hbuf = b""
        self.buf = bytearray()
        self.opened = loop.create_future()
        self.lost = loop.create_future()
        self.server_close = loop.create_future()  # (code, reason) of the server's close frame
        self.expected: collections.deque[tuple[int, bytes]] = collections.deque()
        self.outstanding = 0  # bytes in self.expected, plus MESSAGE_COST each
        self.missing_at_close = 0  # len(expected) when the server's close frame came
        self.pings: collections.deque[bytes] = collections.deque()
        self.answer_pings = True
        self.close_sent = False
        self.writable = True  # False after write_eof or a partial frame
        self.waiter: asyncio.Future[None] | None = None
        self.partial: list[bytes] = []  # fragments of a message being received
        self.partial_b0 = 0
        self.deflate = False
        self.decomp: zlib._Decompress | None = None
        self.failed: str | None = None

    # ---- asyncio callbacks

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(SoakError("handshake: connection lost"))
            self.opened.exception()  # connect() may have given up on it already
        if not self.lost.done():
            self.lost.set_result(None)
        self._wake()

    def data_received(self, data):
        if self.handshaking:
            self.hbuf += data
            end = self.hbuf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.hbuf) > 65536:
                    self._fail("handshake: response too long")
                return
            head, data = self.hbuf[:end].decode("latin-1"), self.hbuf[end + 4 :]
            self.hbuf = b""
            self.handshaking = False
            error = self._check_handshake(head)
            if error:
                self._fail(error)
                return
            self.opened.set_result(None)
            if not data:
                return
        if self.server_close.done() or self.failed:
            return  # nothing may follow a close frame; after a failure nothing matters
        buf = self.buf
        buf += data
        n = len(buf)
        i = 0
        while n - i >= 2:
            b0, b1 = buf[i], buf[i + 1]
            if b1 & 0x80:
                self._fail("protocol: masked server frame")
                return
            length, h = b1, 2
            if length == 126:
                if n - i < 4:
                    break
                length, h = (buf[i + 2] << 8) | buf[i + 3], 4
            elif length == 127:
                if n - i < 10:
                    break
                length, h = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
            end = i + h + length
            if end > n:
                break
            payload = bytes(buf[i + h : end])
            i = end
            op = b0 & 0x0F
            if op == OP_TEXT or op == OP_BINARY:
                if self.partial:
                    self._fail("protocol: new message inside a fragmented one")
                    return
                if b0 & 0x80:
                    self._message(b0, payload)
                else:
                    self.partial_b0, self.partial = b0, [payload]
            elif op == OP_CONT:
                if not self.partial:
                    self._fail("protocol: continuation without a message")
                    return
                self.partial.append(payload)
                if b0 & 0x80:
                    whole, self.partial = b"".join(self.partial), []
                    self._message(self.partial_b0, whole)
            elif op == OP_PING:
                STATS.server_pings += 1
                if self.answer_pings and self.writable and not self.close_sent:
                    self.transport.write(client_frame(self.rng, 0x80 | OP_PONG, payload))
            elif op == OP_PONG:
                self._pong(payload)
            elif op == OP_CLOSE:
                self._close_frame(payload)
                break
            else:
                self._fail(f"protocol: opcode {op:#x}")
                return
            if self.failed:
                return
        del buf[:i]

    # ---- receiving

    def _check_handshake(self, head: str) -> str | None:
        lines = head.split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            return f"handshake: refused {lines[0][:40]!r}"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != self.accept:
            return "handshake: bad Sec-WebSocket-Accept"
        if "permessage-deflate" in headers.get("sec-websocket-extensions", ""):
            self.deflate = True
            self.decomp = zlib.decompressobj(-15)  # the server keeps its context
        return None

    def _message(self, b0: int, payload: bytes) -> None:
        if b0 & 0x40:
            if self.decomp is None:
                self._fail("protocol: compressed message without deflate")
                return
            try:
                payload = self.decomp.decompress(payload + b"\x00\x00\xff\xff")
            except zlib.error:
                STATS.mismatches += 1
                self._fail("mismatch: compressed echo does not inflate")
                return
        if not self.expected:
            STATS.mismatches += 1  # an echo of nothing we sent
            self._fail("mismatch: unexpected message")
            return
        op, sent = self.expected.popleft()
        self.outstanding -= len(sent) + MESSAGE_COST
        if (b0 & 0x0F) != op or payload != sent:
            STATS.mismatches += 1
            self._fail("mismatch: echo differs from what was sent")
            return
        STATS.echoed += 1
        if self.waiter is not None:
            self._wake()

    def _pong(self, payload: bytes) -> None:
        # A server may answer only the latest of several pings (RFC 6455 section 5.5.3).
        while self.pings:
            if self.pings.popleft() == payload:
                STATS.pongs += 1
                return
        STATS.mismatches += 1
        self._fail("mismatch: pong for no ping sent")

    def _close_frame(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        reason = payload[2:].decode("utf-8", "replace")
        self.missing_at_close = len(self.expected)
        self.server_close.set_result((code, reason))
        if not self.close_sent and self.writable:
            # RFC 6455 section 5.5.1: answer with the status code received.
            self.close_sent = True
            self.transport.write(
                client_frame(self.rng, 0x80 | OP_CLOSE, b"" if code is None else payload[:2])
            )
        self._wake()

    def _fail(self, reason: str) -> None:
        self.failed = self.failed or reason
        if not self.opened.done():
            self.opened.set_exception(SoakError(reason))
            self.opened.exception()
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- sending

    def check(self) -> None:
        """Raise if the connection is no longer usable for traffic."""
        if self.failed:
            raise SoakError(self.failed)
        if self.server_close.done():
            code, reason = self.server_close.result()
            raise SoakError(f"server closed a healthy connection ({code} {reason!r})")
        if self.lost.done():
            raise SoakError("server dropped a healthy connection")

    def send_message(self, op: int, payload: bytes) -> None:
        rng = self.rng
        compress = self.deflate and rng.random() < 0.5
        data = deflate(payload) if compress else payload
        rsv1 = 0x40 if compress else 0
        if len(data) >= 2 and rng.random() < FRAGMENT_SHARE:
            cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 3))))
            pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
            frames = []
            for k, piece in enumerate(pieces):
                b0 = (op | rsv1) if k == 0 else OP_CONT
                if k == len(pieces) - 1:
                    b0 |= 0x80
                frames.append(client_frame(rng, b0, piece))
                if k < len(pieces) - 1 and rng.random() < 0.3:
                    frames.append(self._ping_frame())  # control frames may come in between
            self.transport.write(b"".join(frames))
        else:
            self.transport.write(client_frame(rng, 0x80 | rsv1 | op, data))
        self.expected.append((op, payload))
        self.outstanding += len(payload) + MESSAGE_COST
        STATS.sent += 1
        STATS.bytes_sent += len(payload)

    def _ping_frame(self) -> bytes:
        payload = self.rng.randbytes(self.rng.randint(0, 125))
        self.pings.append(payload)
        STATS.pings += 1
        return client_frame(self.rng, 0x80 | OP_PING, payload)

    def send_ping(self) -> None:
        self.transport.write(self._ping_frame())

    def send_close(self, code: int) -> None:
        self.close_sent = True
        self.transport.write(client_frame(self.rng, 0x80 | OP_CLOSE, struct.pack("!H", code)))

    def partial_frame(self) -> None:
        """Write the start of a frame and nothing more (the connection is then unusable)."""
        rng = self.rng
        n = rng.randint(10, MAX_SIZE)
        frame = client_frame(rng, 0x80 | OP_BINARY, BIN_POOL[:n])
        self.writable = False
        self.transport.write(frame[: rng.randint(1, len(frame) - 1)])

    async def wait_echoes(self, limit: int) -> None:
        """Wait until at most ``limit`` bytes are unechoed; raise if the echoes stop coming."""
        loop = asyncio.get_running_loop()
        while self.outstanding > limit:
            self.check()
            self.waiter = loop.create_future()
            try:
                await asyncio.wait_for(self.waiter, ECHO_TIMEOUT)
            except TimeoutError:
                raise SoakError("echo timeout") from None
            finally:
                self.waiter = None

    async def wait(self, fut: asyncio.Future, timeout: float, kind: str) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            raise SoakError(kind) from None

    def rst(self) -> None:
        """Abort with an RST rather than a FIN (SO_LINGER with a zero timeout)."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


# --------------------------------------------------------------------------- endings


async def end_clean(c: Conn, rng: random.Random) -> None:
    code = rng.choice((1000, 1001, 3000, 4000))
    c.send_close(code)
    await c.wait(c.server_close, CLOSE_TIMEOUT, "clean: no close frame from the server")
    got, _ = c.server_close.result()
    if got != code:
        raise SoakError(f"clean: close code {got} echoed for {code}")
    await c.wait(c.lost, CLOSE_TIMEOUT, "clean: server kept TCP open after the close")


async def end_server_close(c: Conn, rng: random.Random) -> None:
    c.send_message(OP_TEXT, ("close:" + TEXT_POOL[: rng.randint(0, 64)]).encode())
    await c.wait(c.server_close, ECHO_TIMEOUT, "server_close: no close frame")
    got, _ = c.server_close.result()
    if got != SERVER_CLOSE_CODE:
        raise SoakError(f"server_close: close code {got}")
    await c.wait(c.lost, CLOSE_TIMEOUT, "server_close: server kept TCP open after the close")


async def end_half_close(c: Conn, rng: random.Random) -> None:
    c.writable = False
    c.transport.write_eof()
    await c.wait(c.lost, ECHO_TIMEOUT, "half_close: server kept TCP open")
    c.missing_at_close = len(c.expected)


async def end_ping_silent(c: Conn, rng: random.Random) -> None:
    c.answer_pings = False
    bound = 2 * PING_INTERVAL + PING_TIMEOUT + SLACK
    await c.wait(c.server_close, bound, "ping_silent: no close after missed pongs")
    _, reason = c.server_close.result()
    if reason != "ping timed out":
        raise SoakError(f"ping_silent: close reason {reason!r}")
    await c.wait(c.lost, CLOSE_TIMEOUT, "ping_silent: server kept TCP open after the close")


async def end_too_big(c: Conn, rng: random.Random) -> None:
    c.writable = False
    c.transport.write(frame_header(0x80 | OP_BINARY, MAX_MESSAGE_SIZE + 1) + rng.randbytes(4))
    await c.wait(c.server_close, ECHO_TIMEOUT, "too_big: no close frame")
    got, _ = c.server_close.result()
    if got != 1009:
        raise SoakError(f"too_big: close code {got}")
    await c.wait(c.lost, CLOSE_TIMEOUT, "too_big: server kept TCP open after 1009")


async def end_abort(c: Conn, rng: random.Random) -> None:
    c.rst()


async def end_drop(c: Conn, rng: random.Random) -> None:
    c.transport.close()


async def end_mid_frame(c: Conn, rng: random.Random) -> None:
    c.partial_frame()
    if rng.random() < 0.5:
        c.rst()
    else:
        c.transport.close()


async def end_stall(c: Conn, rng: random.Random) -> None:
    c.answer_pings = False
    c.partial_frame()
    bound = 2 * PING_INTERVAL + PING_TIMEOUT + SERVER_CLOSE_TIMEOUT + SLACK
    await c.wait(c.lost, bound, "stall: server kept a stalled connection")


ENDINGS = {
    "clean": end_clean,
    "server_close": end_server_close,
    "half_close": end_half_close,
    "ping_silent": end_ping_silent,
    "too_big": end_too_big,
    "abort": end_abort,
    "drop": end_drop,
    "mid_frame": end_mid_frame,
    "stall": end_stall,
}
assert set(ENDINGS) | {"handshake_abort"} == set(STYLES)


# --------------------------------------------------------------------------- the soak


class Soak:
    def __init__(
        self, port: int, connections: int, duration: float, seed: int, skip: set[str]
    ) -> None:
        self.styles = [name for name in STYLES if name not in skip]
        self.weights = [STYLES[name] for name in self.styles]
        self.port = port
        self.connections = connections
        self.duration = duration
        self.seed = seed
        self.stopping = False
        self.live: set[Conn] = set()
        self.stop_seconds = 0.0
        self.cpu: dict = {}

    async def connect(self, rng: random.Random, offer_deflate: bool) -> Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Conn(self.port, rng, offer_deflate), HOST, self.port
                ),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as exc:
            raise SoakError(f"connect: {type(exc).__name__}") from None
        self.live.add(conn)
        try:
            await asyncio.wait_for(asyncio.shield(conn.opened), CONNECT_TIMEOUT)
        except TimeoutError:
            conn.transport.abort()
            self.live.discard(conn)
            raise SoakError("handshake: timeout") from None
        except SoakError:
            self.live.discard(conn)
            raise
        return conn

    async def handshake_abort(self, rng: random.Random) -> None:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, self.port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise SoakError(f"connect: {type(exc).__name__}") from None
        key = base64.b64encode(rng.randbytes(16)).decode()
        request = (
            f"GET /ws HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        if rng.random() < 0.5:  # part of the request, then a pause
            writer.write(request[: rng.randint(0, len(request) - 1)])
            await asyncio.sleep(rng.uniform(0, 0.5))
        else:  # all of it, then gone before (or while) the 101 comes back
            writer.write(request)
            await asyncio.sleep(rng.choice((0, 0, rng.uniform(0, 0.005))))
        if rng.random() < 0.5:
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()

    async def life(self, rng: random.Random) -> None:
        """One connection from connect to its chosen ending."""
        loop = asyncio.get_running_loop()
        style = rng.choices(self.styles, self.weights)[0]
        STATS.styles[style] += 1
        STATS.conns += 1
        if style == "handshake_abort":
            await self.handshake_abort(rng)
            return
        offer_deflate = rng.random() < DEFLATE_SHARE
        conn = await self.connect(rng, offer_deflate)
        STATS.live += 1
        STATS.deflate += conn.deflate
        try:
            deadline = loop.time() + min(MAX_LIFETIME, rng.expovariate(1 / MEAN_LIFETIME))
            while not self.stopping and loop.time() < deadline:
                conn.check()
                for _ in range(rng.randint(1, MAX_BURST)):
                    size = pick_size(rng)
                    start = rng.randint(0, MAX_SIZE)
                    if rng.random() < 0.5:
                        text = TEXT_POOL[start : start + size]
                        if rng.random() < SLOW_SHARE:
                            text = "slow:" + text
                        conn.send_message(OP_TEXT, text.encode())
                    else:
                        conn.send_message(OP_BINARY, BIN_POOL[start : start + size])
                if rng.random() < PING_SHARE:
                    conn.send_ping()
                await conn.wait_echoes(MAX_OUTSTANDING)
                pause = rng.uniform(0, MAX_PAUSE)
                await asyncio.sleep(max(0.0, min(pause, deadline - loop.time())))
            conn.check()
            # No waiting for the echoes here: whatever was sent before the ending must still
            # come back, in order, before the server's close (for the MUST_ECHO_ALL endings).
            await ENDINGS[style](conn, rng)
            if style in MUST_ECHO_ALL and conn.missing_at_close:
                STATS.missing += conn.missing_at_close
                STATS.missing_by_style[style] += conn.missing_at_close
            if conn.failed:
                raise SoakError(conn.failed)
        finally:
            STATS.live -= 1
            self.live.discard(conn)
            if not conn.lost.done():
                conn.transport.abort()

    async def worker(self, index: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        await asyncio.sleep(RAMP_UP * index / max(1, self.connections))
        while not self.stopping:
            try:
                await self.life(rng)
            except SoakError as exc:
                STATS.error(exc.kind)
                await asyncio.sleep(rng.uniform(0.1, 1.0))  # no hot loop against a sick server

    async def run(self, baseline: dict) -> dict:
        loop = asyncio.get_running_loop()
        started = loop.time()
        workers = [asyncio.ensure_future(self.worker(i)) for i in range(self.connections)]
        peak = dict(baseline)
        last = (started, 0, time.process_time(), baseline.get("cpu_s", 0.0))
        lag = LagMonitor()
        lag.start()
        machine0, client0 = machine_busy(), time.process_time()
        server0 = baseline.get("cpu_s", 0.0)
        while loop.time() - started < self.duration:
            await asyncio.sleep(min(REPORT_EVERY, self.duration - (loop.time() - started)))
            now = loop.time()
            try:
                s = await fetch_stats(self.port)
            except (OSError, TimeoutError, ValueError) as exc:
                s = {}
                STATS.error(f"stats: {type(exc).__name__}")
            for key in PEAK_KEYS:
                if key in s:
                    peak[key] = max(peak.get(key, 0), s[key])
            if "cpu_s" in s:
                peak["cpu_s"] = s["cpu_s"]  # the last reading (for the CPU total)
            span = max(1e-9, now - last[0])
            cpu = time.process_time()
            figures = {
                "rate": (STATS.echoed - last[1]) / span,
                "client_cpu": (cpu - last[2]) / span,
                "client_lag": lag.read_ms(),
                "server_cpu": (s["cpu_s"] - last[3]) / span if "cpu_s" in s else None,
            }
            last = (now, STATS.echoed, cpu, s.get("cpu_s", last[3]))
            peak["server_lag_ms"] = max(peak.get("server_lag_ms", 0), s.get("loop_lag_max_ms", 0))
            peak["server_gc_ms"] = max(peak.get("server_gc_ms", 0), s.get("gc_pause_max_ms", 0))
            peak["client_lag_ms"] = max(peak.get("client_lag_ms", 0), figures["client_lag"])
            print(progress_line(now - started, s, figures), flush=True)
        lag.stop()
        # What else ran on the machine meanwhile: every core's busy time minus ours (a shared
        # machine makes the lags and the handshake times worse; the summary says so).
        elapsed = max(1e-9, loop.time() - started)
        server_cpu = peak.get("cpu_s", server0) - server0
        client_cpu = time.process_time() - client0
        others = machine_busy() - machine0 - server_cpu - client_cpu
        self.cpu = {
            "server_cpu_cores": server_cpu / elapsed,
            "client_cpu_cores": client_cpu / elapsed,
            "others_cores": max(0.0, others / elapsed),
            "cores": os.cpu_count(),
        }
        # Stop: every connection ends its own way; what is still running after the bound is
        # cut (and counted), which is itself a random disconnect for the server.
        self.stopping = True
        stop_started = loop.time()
        _, still = await asyncio.wait(workers, timeout=STOP_TIMEOUT)
        for conn in list(self.live):
            if not conn.lost.done():
                STATS.cut_at_stop += 1
                conn.transport.abort()
        for task in still:
            task.cancel()
        await asyncio.wait(workers, timeout=5.0)
        self.stop_seconds = loop.time() - stop_started
        return peak


PEAK_KEYS = (
    "rss_kb",
    "open_websockets",
    "tasks",
    "fds",
    "gc_objects",
    "py_blocks",
    "malloc_in_use_kb",
)


def progress_line(elapsed: float, s: dict, f: dict) -> str:
    rss = f"{s['rss_kb'] / 1024:6.1f}MB" if "rss_kb" in s else "     ?"
    srv_cpu = f"{f['server_cpu']:4.0%}" if f["server_cpu"] is not None else "   ?"
    return (
        f"t={elapsed:5.0f}s rss={rss} ws={s.get('open_websockets', '?'):>5} "
        f"tasks={s.get('tasks', '?'):>5} fds={s.get('fds', '?'):>5} "
        f"cpu={srv_cpu} lag={s.get('loop_lag_max_ms', 0):5.0f}ms | "
        f"client: live={STATS.live:>5} conns={STATS.conns:>6} sent={STATS.sent:>8} "
        f"echoed={STATS.echoed:>8} ({f['rate']:5.0f}/s) errors={sum(STATS.errors.values())} "
        f"mismatches={STATS.mismatches} missing={STATS.missing} "
        f"cpu={f['client_cpu']:4.0%} lag={f['client_lag']:5.0f}ms"
    )


async def fetch_stats(port: int, query: str = "") -> dict:
    """GET /stats on a fresh connection (Connection: close), bounded in time."""

    async def get() -> dict:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(
                f"GET /stats{query} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            data = await reader.read(1 << 20)
            while True:
                more = await reader.read(1 << 20)
                if not more:
                    break
                data += more
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError(f"/stats answered {head[:40]!r}")
        return json.loads(body)

    return await asyncio.wait_for(get(), STATS_TIMEOUT)


async def settle(port: int, baseline: dict) -> tuple[dict, float, bool]:
    """Poll /stats until no WebSocket is left and tasks and fds are back to the baseline."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    s: dict = {}
    while True:
        with contextlib.suppress(OSError, TimeoutError, ValueError):
            s = await fetch_stats(port)
        if s and (
            s["open_websockets"] == 0
            and s["engine_websockets"] == 0
            and s["engine_pending"] <= baseline["engine_pending"]
            and s["tasks"] <= baseline["tasks"]
            and s["fds"] <= baseline["fds"]
        ):
            return s, loop.time() - start, True
        if loop.time() - start >= SETTLE_TIMEOUT:
            return s, loop.time() - start, False
        await asyncio.sleep(SETTLE_POLL)


# --------------------------------------------------------------------------- processes


def pin_argv() -> tuple[list[str], set[int] | None]:
    """taskset for the server on core 0, and the cores left for this client (or None)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        return [], None
    if len(allowed) < 2 or 0 not in allowed:
        return [], None
    rest = allowed - {0}
    if shutil.which("taskset"):
        return ["taskset", "-c", "0"], rest
    return [], rest


def start_server(log_path: Path) -> tuple[subprocess.Popen, int, str]:
    argv, client_cores = pin_argv()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    cmd = [
        *argv,
        sys.executable,
        str(BENCH / "soak_server.py"),
        "--port=0",
        f"--ping-interval={PING_INTERVAL}",
        f"--ping-timeout={PING_TIMEOUT}",
        f"--max-message-size={MAX_MESSAGE_SIZE}",
    ]
    log_file = open(log_path, "ab")  # the child writes to it directly; ours closes below
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file, cwd=ROOT, env=env
    )
    log_file.close()
    if client_cores:
        os.sched_setaffinity(0, client_cores)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and proc.poll() is None:
            if not sel.select(timeout=0.2):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            match = re.search(rb"^READY (\d+) loop=(\S+)", buf, re.MULTILINE)
            if match:
                return proc, int(match.group(1)), match.group(2).decode()
    proc.kill()
    proc.wait(5)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise SystemExit(f"server did not print READY within {SERVER_START_TIMEOUT} s:\n{tail}")


def stop_server(proc: subprocess.Popen) -> tuple[int | None, dict | None]:
    """SIGTERM (graceful shutdown), bounded; returns the exit status and the STOPPED stats."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
        return None, None
    final = None
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("STOPPED "):
            with contextlib.suppress(ValueError):
                final = json.loads(line[len("STOPPED ") :])
    return proc.returncode, final


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise SystemExit(f"need {needed} file descriptors, the limit is {soft} (ulimit -n)")


def log_problems(log_path: Path) -> tuple[int, int, list[str]]:
    """(errors, warnings, a few lines) the server logged."""
    errors = warnings = 0
    sample: list[str] = []
    for line in log_path.read_text(errors="replace").splitlines():
        if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
            errors += 1
        elif " WARNING " in line:
            warnings += 1
        else:
            continue
        if len(sample) < 8:
            sample.append(line[:200])
    return errors, warnings, sample


# --------------------------------------------------------------------------- main


def machine_busy() -> float:
    """Seconds of CPU all cores have been busy since boot (/proc/stat), 0 if unknown."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")  # user..softirq


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


async def soak_main(args: argparse.Namespace, port: int) -> dict:
    baseline = await fetch_stats(port)
    print(
        f"baseline: rss={mb(baseline['rss_kb'])} ws={baseline['open_websockets']} "
        f"tasks={baseline['tasks']} fds={baseline['fds']} gc_objects={baseline['gc_objects']}",
        flush=True,
    )
    soak = Soak(port, args.connections, args.duration, args.seed, args.skip)
    peak = await soak.run(baseline)
    print(
        f"clients stopped in {soak.stop_seconds:.1f} s ({STATS.cut_at_stop} cut at the "
        f"{STOP_TIMEOUT:.0f} s bound); waiting for the server to settle",
        flush=True,
    )
    after, waited, settled = await settle(port, baseline)
    if not settled:
        # What is still running: every task's stack, saved beside the server log.
        with contextlib.suppress(OSError, TimeoutError, ValueError):
            dump = await fetch_stats(port, "?tasks=1")
            args.tasks_dump.write_text(json.dumps(dump.get("task_stacks"), indent=1))
    collected = await fetch_stats(port, "?gc=1")
    trimmed = await fetch_stats(port, "?trim=1")
    return {
        "baseline": baseline,
        "peak": peak,
        "after": after,
        "after_gc": collected,
        "after_trim": trimmed,
        "settle_seconds": waited,
        "settled": settled,
        **soak.cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, help="duration in seconds (overrides --minutes)")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--skip",
        default="",
        metavar="ENDING,...",
        help=f"endings not to use (to isolate a failure): {', '.join(STYLES)}",
    )
    args = parser.parse_args()
    args.skip = {name for name in args.skip.split(",") if name}
    if args.skip - set(STYLES) or args.skip >= set(STYLES):
        parser.error(f"--skip takes some of: {', '.join(STYLES)}")
    args.duration = args.seconds if args.seconds is not None else args.minutes * 60
    if args.connections < 1 or args.duration <= 0:
        parser.error("--connections and the duration must be positive")
    raise_fd_limit(2 * args.connections + 256)  # the server inherits the limit too
    RESULTS.mkdir(exist_ok=True)
    log_path = RESULTS / time.strftime("soak-%Y%m%d-%H%M%S.log")
    args.tasks_dump = log_path.with_suffix(".tasks.json")
    args.json_path = log_path.with_suffix(".json")
    proc, port, loop_name = start_server(log_path)
    print(
        f"soak: {args.connections} connections for {args.duration:.0f} s against "
        f"soak_server.py (pid {proc.pid}, port {port}, loop={loop_name}); server log {log_path}",
        flush=True,
    )
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    try:
        with runner:
            result = runner.run(soak_main(args, port))
    except (OSError, TimeoutError, ValueError) as exc:  # /stats failed: nothing to judge
        print(f"FAIL: the server's /stats did not answer: {exc!r} (log: {log_path})")
        return 2
    finally:
        status, final = stop_server(proc)
    return summarize(args, result, status, final, log_path)


def check(args, result, status, log_path) -> tuple[list[str], dict]:
    """Every pass/fail rule, in one place; returns the failures and the limits used."""
    base, peak, after = result["baseline"], result["peak"], result["after"]
    collected, trimmed = result["after_gc"], result["after_trim"]
    growth = max(0, peak.get("rss_kb", 0) - base["rss_kb"])
    limits = {
        "rss_kb": base["rss_kb"] + RSS_TOLERANCE_MB * 1024 + RSS_TOLERANCE_OF_PEAK * growth,
        "malloc_in_use_kb": (base.get("malloc_in_use_kb") or 0) + LIVE_MALLOC_TOLERANCE_MB * 1024,
        "py_blocks": base["py_blocks"] * (1 + LIVE_BLOCKS_TOLERANCE),
    }
    failures = []
    if not result["settled"]:
        failures.append(f"the server did not settle within {SETTLE_TIMEOUT:.0f} s")
    if after.get("open_websockets") or after.get("engine_websockets"):
        failures.append(
            f"open websockets after: {after.get('open_websockets')} "
            f"(engine: {after.get('engine_websockets')})"
        )
    for key in ("tasks", "fds", "engine_pending"):
        if after.get(key, 1 << 30) > base[key]:
            failures.append(f"{key} after: {after.get(key)} > baseline {base[key]}")
    if trimmed.get("rss_kb", 1 << 40) > limits["rss_kb"]:
        failures.append(f"RSS after {mb(trimmed['rss_kb'])} > limit {mb(limits['rss_kb'])}")
    in_use = collected.get("malloc_in_use_kb")
    if in_use is not None and in_use > limits["malloc_in_use_kb"]:
        failures.append(f"malloc in use after {mb(in_use)} > {mb(limits['malloc_in_use_kb'])}")
    if collected.get("py_blocks", 1 << 40) > limits["py_blocks"]:
        failures.append(
            f"Python blocks after {collected.get('py_blocks')} > {limits['py_blocks']:.0f}"
        )
    if STATS.mismatches:
        failures.append(f"{STATS.mismatches} echo mismatches")
    if STATS.missing:
        failures.append(
            f"{STATS.missing} echoes missing before a close: {dict(STATS.missing_by_style)}"
        )
    if STATS.errors:
        failures.append(f"{sum(STATS.errors.values())} connection errors")
    if after.get("opened") != after.get("closed"):
        failures.append(f"open() ran {after.get('opened')} times, on_close {after.get('closed')}")
    for key in ("closed_without_open", "closed_twice"):
        if after.get(key):
            failures.append(f"on_close {key.replace('_', ' ')}: {after[key]}")
    log_errors, _, _ = log_problems(log_path)
    if log_errors:
        failures.append(f"the server logged {log_errors} error lines")
    if status != 0:
        failures.append(f"server exit status {status} after SIGTERM")
    return failures, limits


def summarize(args, result, status, final, log_path) -> int:
    base, peak, after = result["baseline"], result["peak"], result["after"]
    failures, limits = check(args, result, status, log_path)
    skipped = f", without {','.join(sorted(args.skip))}" if args.skip else ""
    print()
    print(
        f"summary ({args.connections} connections, {args.duration:.0f} s, seed {args.seed}"
        f"{skipped})"
    )
    print(
        f"  client: {STATS.conns} connections ({STATS.deflate} with deflate), "
        f"{STATS.sent} messages sent ({STATS.bytes_sent / 1e6:.0f} MB), {STATS.echoed} echoed, "
        f"{STATS.pings} pings / {STATS.pongs} pongs, {STATS.server_pings} server pings"
    )
    print(f"  endings: {dict(STATS.styles)}")
    print(f"  mismatches: {STATS.mismatches}, missing echoes: {STATS.missing}")
    print(f"  errors: {dict(STATS.errors) or 0}; cut at stop: {STATS.cut_at_stop}")
    print(
        f"  server: open() {after.get('opened')}, on_close {after.get('closed')} "
        f"(+{after.get('closed_without_open')} without open, +{after.get('closed_twice')} "
        f"twice); {after.get('messages')} messages ({after.get('slow_messages')} on the "
        f"coroutine path), {after.get('server_closes')} server closes, "
        f"{after.get('write_after_close')} writes after close"
    )
    print("  server           baseline     peak    after  after gc  after trim    limit")
    rows = (
        ("rss_kb", mb),  # judged after trim
        ("open_websockets", str),  # this and the next three: after
        ("engine_pending", str),
        ("tasks", str),
        ("fds", str),
        ("gc_objects", str),  # not judged
        ("py_blocks", str),  # this and the next: after gc
        ("malloc_in_use_kb", mb),
    )
    for key, fmt in rows:
        values = [
            base.get(key),
            peak.get(key),
            after.get(key),
            result["after_gc"].get(key),
            result["after_trim"].get(key),
        ]
        limit = limits.get(key, base.get(key) if key != "gc_objects" else None)
        if key == "open_websockets":
            limit = 0
        cells = [fmt(v) if v is not None else "?" for v in values]
        cells.append(fmt(round(limit)) if limit is not None else "")
        print(
            f"  {key:<16}"
            + "".join(f"{c:>9}" if i < 3 else f"{c:>11}" for i, c in enumerate(cells))
        )
    print(
        f"  settled in {result['settle_seconds']:.1f} s after the clients stopped; "
        f"worst event-loop lag in a 5 s window: server {peak.get('server_lag_ms', 0):.0f} ms, "
        f"client {peak.get('client_lag_ms', 0):.0f} ms; longest GC pause in the server "
        f"{peak.get('server_gc_ms', 0):.0f} ms"
    )
    print(
        f"  CPU while the clients ran: server {result['server_cpu_cores']:.2f} cores, client "
        f"{result['client_cpu_cores']:.2f}, other processes {result['others_cores']:.2f} "
        f"(of {result['cores']} cores)"
    )
    if not result["settled"] and args.tasks_dump.exists():
        print(f"  tasks still running when the settle bound expired: {args.tasks_dump}")
        for entry in json.loads(args.tasks_dump.read_text())[:6]:
            print(f"    {entry['task'][:150]}")
            for frame in entry["stack"][-3:]:
                print(f"      {frame}")
    log_errors, log_warnings, sample = log_problems(log_path)
    print(f"  server log: {log_errors} errors, {log_warnings} warnings ({log_path})")
    for line in sample:
        print(f"    {line}")
    if final:
        print(
            f"  after SIGTERM: exit {status}, tasks={final.get('tasks')}, "
            f"ws={final.get('open_websockets')}"
        )
    args.json_path.write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if isinstance(v, int | float | str)},
                "skip": sorted(args.skip),
                "result": result,
                "client": {k: v for k, v in vars(STATS).items()},
                "failures": failures,
            },
            indent=1,
            default=str,
        )
    )
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
