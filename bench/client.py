"""Load client for the WebSocket echo benchmark (loopback only).

A raw asyncio Protocol that speaks just enough RFC 6455 (and RFC 7692 permessage-deflate on the
sending side) to drive an echo server hard while costing little CPU itself: client frames are
masked once, up front, and resent as prepared bytes; replies are counted by walking the frame
headers, and their payloads are only decoded in the correctness checks.

It is meant to be started by ``bench/run.py`` (pinned to its own core), once per server process:

    python bench/client.py --port PORT --pid SERVER_PID [--quick] [--workloads a,b]

and prints one JSON object on stdout: per workload either its figures or ``{"error": ...}``.
Progress goes to stderr. Every loop is bounded in count and in time; every target is 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import resource
import statistics
import sys
import time
import zlib
from array import array

HOST = "127.0.0.1"  # loopback only, by design: this client must never reach another host
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
WS_KEY = base64.b64encode(b"tornado-ws-bench").decode()
WS_ACCEPT = base64.b64encode(hashlib.sha1(WS_KEY.encode() + GUID).digest()).decode()
MASK_KEY = b"\x37\xfa\x21\x3d"
PREFIX = b"You said: "  # the seed's EchoWebSocket prepends this to every text message
# 64 bytes of text that looks like a typical small JSON message (so deflate has something real).
PAYLOAD_64 = b'{"id":1234,"op":"update","price":101.25,"qty":7,"side":"buy"}'.ljust(64, b" ")
# The throughput workloads cycle through 64 distinct messages of the same length, so that
# permessage-deflate has realistic (not identical) messages to compress.
MESSAGES_64 = [
    (
        f'{{"id":{1000 + i},"op":"update","price":{100 + i * 0.25:.2f},'
        f'"qty":{i % 9 + 1},"side":"{"buy" if i % 2 else "sell"}"}}'
    )
    .encode()
    .ljust(64, b" ")
    for i in range(64)
]
assert len(PAYLOAD_64) == 64 and all(len(m) == 64 for m in MESSAGES_64)

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# Workload sizes. "quick" keeps the whole --quick bench at about a minute.
PROFILES = {
    "full": {
        "latency": {"warmup": 1_000, "count": 10_000, "timeout": 60.0},
        "depth1": {"conns": 64, "inflight": 1, "warmup": 1.0, "duration": 5.0},
        "depth8": {"conns": 32, "inflight": 8, "warmup": 1.0, "duration": 5.0},
        "throughput": {"conns": 32, "inflight": 64, "warmup": 1.0, "duration": 5.0},
        "broadcast200": {"subs": 200, "window": 8, "warmup": 1.0, "duration": 4.0},
        "broadcast1000": {"subs": 1000, "window": 8, "warmup": 1.0, "duration": 4.0},
        "binary": {"size": 1 << 20, "warmup": 3, "duration": 3.0, "max_count": 20_000},
        "handshakes": {
            "concurrency": 8,
            "warmup": 0.5,
            "duration": 3.0,
            "slices": 6,
            "max_count": 500_000,
        },
        "memory": {"conns": 5_000, "warm_conns": 50, "concurrency": 64, "settle": 1.0},
        "deflate": {"conns": 32, "inflight": 64, "warmup": 1.0, "duration": 5.0},
    },
    "quick": {
        "latency": {"warmup": 100, "count": 1_000, "timeout": 30.0},
        "depth1": {"conns": 64, "inflight": 1, "warmup": 0.15, "duration": 0.5},
        "depth8": {"conns": 32, "inflight": 8, "warmup": 0.15, "duration": 0.5},
        "throughput": {"conns": 32, "inflight": 64, "warmup": 0.15, "duration": 0.5},
        "broadcast200": {"subs": 200, "window": 8, "warmup": 0.2, "duration": 0.8},
        "broadcast1000": {"subs": 1000, "window": 8, "warmup": 0.2, "duration": 0.8},
        "binary": {"size": 1 << 20, "warmup": 2, "duration": 0.3, "max_count": 5_000},
        "handshakes": {
            "concurrency": 8,
            "warmup": 0.1,
            "duration": 1.0,
            "slices": 5,
            "max_count": 100_000,
        },
        "memory": {"conns": 2_000, "warm_conns": 50, "concurrency": 64, "settle": 0.3},
        "deflate": {"conns": 32, "inflight": 64, "warmup": 0.15, "duration": 0.5},
    },
}
# Memory first: it wants a fresh server process (a warm heap would absorb the new connections).
WORKLOADS = (
    "memory",
    "latency",
    "depth1",
    "depth8",
    "throughput",
    "broadcast200",
    "broadcast1000",
    "binary",
    "handshakes",
    "deflate",
)
CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0


class BenchError(Exception):
    """A workload could not run against this server (reported, not raised out of main)."""


# --------------------------------------------------------------------------- frames


def mask(payload: bytes, key: bytes = MASK_KEY) -> bytes:
    """XOR ``payload`` with the 4-byte masking key (RFC 6455 section 5.3), in one big-int op."""
    n = len(payload)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    x = int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")
    return x.to_bytes(n, "big")


def client_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    """One final, masked client frame (RFC 6455 section 5.2)."""
    b0 = 0x80 | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        header = bytes((b0, 0x80 | n))
    elif n < 1 << 16:
        header = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + MASK_KEY + mask(payload)


def deflate_message(payload: bytes) -> bytes:
    """Compress one message with a fresh compressor (RFC 7692 section 7.2.1).

    A fresh compressor references no earlier message, which any receiver accepts whatever
    context-takeover parameters were agreed, so the compressed frame can be prepared once.
    """
    comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    data = comp.compress(payload) + comp.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


CLOSE_FRAME = client_frame(OP_CLOSE, (1000).to_bytes(2, "big"))


# --------------------------------------------------------------------------- protocol


class Counter:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class WSClient(asyncio.Protocol):
    """One client connection. ``on_data(count, frames)`` is called once per read.

    ``count`` is the number of complete messages in the read; ``frames`` is a list of
    ``(first_byte, payload)`` when ``collect`` is set (fragments reassembled), else None.
    Control frames are handled here: a ping is answered, a close frame is answered (if we did
    not start the close).
    """

    def __init__(
        self, path: str, port: int, deflate: bool = False, cycle_frame: bytes | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        self.request = (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {HOST}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {WS_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            + ("Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else "")
            + "\r\n"
        ).encode()
        self.want_deflate = deflate
        self.extensions = ""
        self.handshaking = True
        self.hbuf = b""
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.opened = loop.create_future()
        self.lost = loop.create_future()
        self.close_received = False
        self.close_sent = False
        self.collect = True
        self.on_data = self._store
        self.frames: list[tuple[int, bytes]] = []
        self.partial: list = []  # first byte of a fragmented message, then its fragments
        self.waiter: asyncio.Future | None = None
        self.error: str | None = None
        # Replies that all have one known size and content: (size, expected bytes, period).
        self.fixed: tuple[int, bytes, int] | None = None
        self.fixed_pos = 0  # where the next reply starts in the expected bytes
        # A broadcast subscriber: every byte it receives continues this stream.
        self.stream: bytes | None = None
        self.stream_frame = 0
        # Handshake-cycle mode: send this frame once open, close on its reply (no awaits).
        self.cycle_frame = cycle_frame
        self.replies = 0
        if cycle_frame is not None:
            self.collect = False
            self.on_data = self._cycle_reply

    # asyncio callbacks

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        if not self.opened.done():
            self._fail(f"connection lost in handshake: {exc!r}")
        if not self.lost.done():
            self.lost.set_result(None)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(BenchError("connection lost"))

    def data_received(self, data):
        if self.handshaking:
            self.hbuf += data
            end = self.hbuf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.hbuf) > 65536:
                    self._fail("handshake response too long")
                return
            head, data = self.hbuf[:end], self.hbuf[end + 4 :]
            self.hbuf = b""
            self.handshaking = False
            error = self._check_handshake(head.decode("latin-1"))
            if error:
                self._fail(error)
                return
            self.opened.set_result(None)
            if self.cycle_frame is not None:
                self.transport.write(self.cycle_frame)
            if not data:
                return
        buf = self.buf
        buf += data
        n = len(buf)
        fixed = self.fixed
        if fixed is not None:
            # Every reply is known in advance: compare every byte of the whole frames that
            # came with the expected stream (one C-level comparison per read).
            size, expected, period = fixed
            k = n // size
            if k:
                end = k * size
                pos = self.fixed_pos
                if buf[:end] != expected[pos : pos + end]:
                    self._fail("a reply differs from the expected bytes (or one is missing)")
                    return
                self.fixed_pos = (pos + end) % period
                del buf[:end]
                self.on_data(k, None)
            return
        stream = self.stream
        if stream is not None:
            # Broadcast subscriber: the bytes must continue the expected stream exactly.
            pos = self.fixed_pos
            if buf != stream[pos : pos + n]:
                self._fail("a broadcast message differs from the expected one (or is missing)")
                return
            size = self.stream_frame
            before = pos // size
            pos += n
            self.fixed_pos = pos
            del buf[:]
            if pos // size > before:
                self.on_data(pos // size - before, None)
            return
        i = 0
        count = 0
        frames = [] if self.collect else None
        while n - i >= 2:
            b0 = buf[i]
            length = buf[i + 1]
            if length & 0x80:
                self._fail("server frame is masked")
                return
            h = 2
            if length == 126:
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                h = 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                h = 10
            end = i + h + length
            if end > n:
                break
            op = b0 & 0x0F
            if op < OP_CLOSE:
                if b0 & 0x80 and op:  # a whole message in one frame: the usual case
                    count += 1
                    if frames is not None:
                        frames.append((b0, bytes(buf[i + h : end])))
                else:  # a fragment (RFC 6455 section 5.4): reassemble, count on FIN
                    if op:
                        self.partial = [b0]
                    if frames is not None:
                        self.partial.append(bytes(buf[i + h : end]))
                    if b0 & 0x80:
                        count += 1
                        if frames is not None:
                            first = self.partial[0]
                            frames.append((first | 0x80, b"".join(self.partial[1:])))
                        self.partial = []
            elif op == OP_CLOSE:
                self.close_received = True
                if not self.close_sent:
                    self.close_sent = True
                    self.transport.write(CLOSE_FRAME)
                if self.waiter is not None and not self.waiter.done():
                    self.waiter.set_result(None)
            elif op == OP_PING:
                self.transport.write(client_frame(OP_PONG, bytes(buf[i + h : end])))
            i = end
        if i:
            del buf[:i]
        if count:
            self.on_data(count, frames)

    # helpers

    def _check_handshake(self, head: str) -> str | None:
        lines = head.split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            return f"handshake refused: {lines[0]!r}"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != WS_ACCEPT:
            return "bad Sec-WebSocket-Accept"
        self.extensions = headers.get("sec-websocket-extensions", "")
        return None

    def _fail(self, reason: str) -> None:
        self.error = self.error or reason
        if not self.opened.done():
            self.opened.set_exception(BenchError(reason))
            if self.cycle_frame is not None:
                self.opened.exception()  # nobody awaits it in cycle mode: mark it retrieved
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(BenchError(reason))
        if self.transport is not None:
            self.transport.abort()

    def _cycle_reply(self, count, _frames):
        self.replies += count
        if not self.close_sent:
            self.close_sent = True
            self.transport.write(CLOSE_FRAME)

    def _store(self, count, frames):
        self.frames.extend(frames)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    async def recv(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """The next data frame as (first byte, payload) (collect mode)."""
        deadline = time.monotonic() + timeout
        while not self.frames:
            if self.close_received or self.lost.done():
                raise BenchError("connection closed while waiting for a reply")
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.waiter, max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise BenchError("timed out waiting for a reply") from None
            finally:
                self.waiter = None
        return self.frames.pop(0)

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close handshake, then wait (bounded) for the server to drop TCP (RFC 6455 7.1.1)."""
        if self.transport is None or self.lost.done():
            return
        if not self.close_sent:
            self.close_sent = True
            self.transport.write(CLOSE_FRAME)
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
        except TimeoutError:
            self.transport.abort()
            await asyncio.wait_for(asyncio.shield(self.lost), 1.0)


async def connect(port: int, path: str, deflate: bool = False) -> WSClient:
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(
        loop.create_connection(lambda: WSClient(path, port, deflate), HOST, port),
        CONNECT_TIMEOUT,
    )
    try:
        await asyncio.wait_for(asyncio.shield(proto.opened), CONNECT_TIMEOUT)
    except BaseException:
        if proto.transport is not None:
            proto.transport.abort()
        raise
    if deflate and "permessage-deflate" not in proto.extensions:
        proto.transport.abort()
        raise BenchError("server did not negotiate permessage-deflate")
    return proto


async def close_all(protos: list[WSClient], timeout: float = 10.0) -> None:
    """Close many connections; whatever has not closed cleanly by ``timeout`` is aborted."""
    for p in protos:
        if p.transport is not None and not p.lost.done() and not p.close_sent:
            p.close_sent = True
            p.transport.write(CLOSE_FRAME)
    pending = [p.lost for p in protos if not p.lost.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout)
    for p in protos:
        if not p.lost.done() and p.transport is not None:
            p.transport.abort()


# --------------------------------------------------------------------------- server stats


class Server:
    """CPU time and RSS of the server process, read from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.tick = os.sysconf("SC_CLK_TCK")
        self.cpu_source = "schedstat" if self._schedstat() is not None else "stat"

    def _schedstat(self) -> float | None:
        """Sum of all threads' run time in ns (precise, when the kernel keeps it)."""
        total = 0
        try:
            for tid in os.listdir(f"/proc/{self.pid}/task"):
                with open(f"/proc/{self.pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return total / 1e9 if total else None

    def cpu(self) -> float:
        """Seconds of CPU (user + system) the server has used so far."""
        if self.cpu_source == "schedstat":
            value = self._schedstat()
            if value is not None:
                return value
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime

    def user_system(self) -> tuple[float, float]:
        """Seconds of user and of system CPU so far (clock ticks: coarse, for the split)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / self.tick, int(fields[12]) / self.tick

    def write_calls(self) -> int:
        """System calls of the write family (write, writev, ...) made so far; -1 if unknown."""
        try:
            with open(f"/proc/{self.pid}/io") as f:
                for line in f:
                    if line.startswith("syscw:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return -1

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * self.page


def cpu_ticks(cpus: set[int]) -> tuple[int, int]:
    """(busy, steal) clock ticks, summed over ``cpus``, from /proc/stat."""
    busy = steal = 0
    try:
        with open("/proc/stat") as f:
            for line in f:
                name, _, rest = line.partition(" ")
                if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                    v = [int(x) for x in rest.split()]
                    busy += v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq
                    steal += v[7] if len(v) > 7 else 0
    except (OSError, ValueError, IndexError):
        pass
    return busy, steal


class Window:
    """Server CPU, client CPU and wall time over a measuring window, and what else ran.

    From /proc/stat it also records, for the server's core and the client's core, the share of
    the window taken by other processes (``*_others_frac``: the core's busy time minus our own
    process's) and by the hypervisor (``steal_frac``, server core). Either one being large
    means the machine was shared and that window's wall-clock rates are suspect.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        try:
            self.srv_cpus = os.sched_getaffinity(server.pid)
            self.cli_cpus = os.sched_getaffinity(0)
        except OSError:
            self.srv_cpus = self.cli_cpus = set()
        self.tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Window:
        self.t0 = time.perf_counter()
        self.s0 = self.server.cpu()
        self.w0 = self.server.write_calls()
        self.u0 = self.server.user_system()
        self.c0 = time.process_time()
        self.k0 = cpu_ticks(self.srv_cpus)
        self.q0 = cpu_ticks(self.cli_cpus)
        return self

    def __exit__(self, *exc) -> None:
        self.elapsed = time.perf_counter() - self.t0
        self.server_cpu = self.server.cpu() - self.s0
        w1 = self.server.write_calls()
        self.server_writes = w1 - self.w0 if w1 >= 0 and self.w0 >= 0 else -1
        u1 = self.server.user_system()
        self.server_user = u1[0] - self.u0[0]
        self.server_system = u1[1] - self.u0[1]
        self.client_cpu = time.process_time() - self.c0
        k1 = cpu_ticks(self.srv_cpus)
        q1 = cpu_ticks(self.cli_cpus)
        srv_span = self.tick * self.elapsed * max(1, len(self.srv_cpus))
        cli_span = self.tick * self.elapsed * max(1, len(self.cli_cpus))
        self.steal_frac = (k1[1] - self.k0[1]) / srv_span
        srv_busy = (k1[0] - self.k0[0]) / srv_span
        cli_busy = (q1[0] - self.q0[0]) / cli_span
        # Meaningful when pinned (one core each); tick-based, so +-10 ms of noise per window.
        self.srv_others = max(0.0, srv_busy - self.server_cpu * self.tick / srv_span)
        self.cli_others = max(0.0, cli_busy - self.client_cpu * self.tick / cli_span)
        if self.srv_cpus == self.cli_cpus:  # unpinned: we cannot tell the two apart
            self.srv_others = self.cli_others = max(
                0.0, srv_busy - (self.server_cpu + self.client_cpu) * self.tick / srv_span
            )

    def stats(self) -> dict:
        return {
            "server_cpu_frac": self.server_cpu / self.elapsed,
            "client_cpu_frac": self.client_cpu / self.elapsed,
            "steal_frac": self.steal_frac,
            # The server's write system calls in the window (-1: unknown), and its CPU split
            # into user and system time (clock ticks: coarse).
            "server_writes": self.server_writes,
            "server_user_s": self.server_user,
            "server_system_s": self.server_system,
            "server_core_others_frac": self.srv_others,
            "client_core_others_frac": self.cli_others,
        }


# --------------------------------------------------------------------------- checks


async def check_text(port: int) -> None:
    p = await connect(port, "/ws")
    try:
        for i in range(3):
            msg = PAYLOAD_64[:-2] + b"%02d" % i
            p.write(client_frame(OP_TEXT, msg))
            b0, payload = await p.recv()
            if b0 & 0x0F != OP_TEXT or payload != PREFIX + msg:
                raise BenchError(f"/ws replied {b0:#x} {payload[:80]!r}")
    finally:
        await p.close()


async def check_binary(port: int) -> None:
    p = await connect(port, "/bin")
    try:
        for size in (0, 125, 126, 65535, 65536, 300_000):
            msg = random.Random(size).randbytes(size)
            p.write(client_frame(OP_BINARY, msg))
            b0, payload = await p.recv()
            if b0 & 0x0F != OP_BINARY or payload != msg:
                raise BenchError(f"/bin did not echo {size} bytes: {b0:#x} {len(payload)}")
    finally:
        await p.close()


async def check_deflate(port: int) -> None:
    p = await connect(port, "/deflate", deflate=True)
    try:
        decomp = zlib.decompressobj(-15)  # the server may keep its context between messages
        compressed = 0
        for i in range(4):
            msg = MESSAGES_64[i % 2]
            p.write(client_frame(OP_TEXT, deflate_message(msg), rsv1=True))
            b0, payload = await p.recv()
            if b0 & 0x40:
                compressed += 1
                payload = decomp.decompress(payload + b"\x00\x00\xff\xff")
            if b0 & 0x0F != OP_TEXT or payload != PREFIX + msg:
                raise BenchError(f"/deflate replied {b0:#x} {payload[:80]!r}")
        if not compressed:
            raise BenchError("/deflate negotiated deflate but sent no compressed reply")
    finally:
        await p.close()


# --------------------------------------------------------------------------- workloads


async def w_latency(port: int, server: Server, cfg: dict) -> dict:
    """(a) One connection, sequential round trips of a 64-byte text message; p50/p99."""
    await check_text(port)
    p = await connect(port, "/ws")
    loop = asyncio.get_running_loop()
    frame = client_frame(OP_TEXT, PAYLOAD_64)
    total = cfg["warmup"] + cfg["count"]
    samples = array("q")
    done = loop.create_future()
    clock = time.perf_counter_ns
    state = {"sent_at": 0}

    def on_data(count, _frames):
        now = clock()
        samples.append(now - state["sent_at"])
        if count != 1:
            done.done() or done.set_exception(BenchError(f"{count} replies to one message"))
        elif len(samples) < total:
            state["sent_at"] = clock()
            p.transport.write(frame)
        elif not done.done():
            done.set_result(None)

    p.collect = False
    p.on_data = on_data
    try:
        with Window(server) as win:
            state["sent_at"] = clock()
            p.write(frame)
            await asyncio.wait_for(done, cfg["timeout"])
    finally:
        await p.close()
    us = sorted(s / 1000 for s in samples[cfg["warmup"] :])
    return {
        "p50_us": us[len(us) // 2],
        "p99_us": us[min(len(us) - 1, int(len(us) * 0.99))],
        "mean_us": sum(us) / len(us),
        "round_trips": len(us),
        **win.stats(),
    }


async def w_throughput(port: int, server: Server, cfg: dict, deflate: bool = False) -> dict:
    """(b)/(f) Echo of 64-byte text messages over N connections with M messages in flight each."""
    path = "/deflate" if deflate else "/ws"
    await (check_deflate if deflate else check_text)(port)
    frames = [
        client_frame(OP_TEXT, deflate_message(m) if deflate else m, rsv1=deflate)
        for m in MESSAGES_64
    ]
    ring = frames + frames  # a reply count never exceeds the in-flight count (<= 64)
    n_frames = len(frames)
    inflight = cfg["inflight"]
    if not 1 <= inflight <= n_frames:
        raise BenchError(f"inflight must be 1..{n_frames}")
    burst = b"".join(frames[:inflight])
    replies = [bytes((0x80 | OP_TEXT, len(PREFIX) + len(m))) + PREFIX + m for m in MESSAGES_64]
    expected = b"".join(replies) * 2  # a read holds at most `inflight` (<= 64) replies
    received = Counter()
    running = [True]
    protos: list[WSClient] = []
    try:
        for _ in range(cfg["conns"]):
            protos.append(await connect(port, path, deflate))
        sent = {}
        got = {}
        for p in protos:
            sent[p] = inflight
            got[p] = 0

            def on_data(count, _frames, p=p):
                received.n += count
                got[p] += count
                if got[p] > sent[p]:
                    p._fail(f"{got[p] - sent[p]} replies more than messages sent")
                elif running[0]:
                    i = sent[p] % n_frames
                    sent[p] += count
                    p.transport.write(ring[i] if count == 1 else b"".join(ring[i : i + count]))

            p.collect = False
            p.on_data = on_data
            if not deflate:  # every reply is one unmasked FIN text frame, known in advance
                p.fixed = (len(replies[0]), expected, len(expected) // 2)
        for p in protos:
            p.write(burst)
        await asyncio.sleep(cfg["warmup"])
        start = received.n
        with Window(server) as win:
            await asyncio.sleep(cfg["duration"])
            count = received.n - start
        running[0] = False
        deadline = time.monotonic() + 5.0  # let the in-flight replies come home, bounded
        while time.monotonic() < deadline and any(got[p] < sent[p] for p in protos):
            if any(p.lost.done() for p in protos):
                first = next((p.error for p in protos if p.error), "")
                raise BenchError(f"a connection closed during the throughput run {first}")
            await asyncio.sleep(0.01)
        missing = sum(sent[p] - got[p] for p in protos)
        failed = [p.error for p in protos if p.error]
        if failed:
            raise BenchError(f"{len(failed)} connections failed the check, first: {failed[0]}")
        if missing:
            raise BenchError(f"{missing} messages never echoed")
    finally:
        for p in protos:
            p.fixed = None  # the close handshake's frames are parsed as usual
        await close_all(protos)
    if not count:
        raise BenchError("no message echoed in the measuring window")
    return {
        "msg_per_s": count / win.elapsed,
        "cpu_us_per_msg": win.server_cpu / count * 1e6,
        "messages": count,
        **win.stats(),
    }


def broadcast_message(seq: int) -> bytes:
    """Message ``seq`` of the broadcast: 64 bytes of text that name their sequence number."""
    return (b'{"seq":%08d,"op":"tick","price":101.25,"qty":7}' % seq).ljust(64, b" ")


async def w_broadcast(port: int, server: Server, cfg: dict) -> dict:
    """One publisher on /pub, N subscribers on /sub; the server writes every published
    message to every subscriber. Each subscriber checks every byte it receives against the
    expected stream (every message, in order, nothing extra). The publisher keeps ``window``
    messages in flight: it sends the next one when the deliveries of the one ``window``
    back are all done. Server CPU per delivery = server CPU / (messages x subscribers)."""
    n_subs = cfg["subs"]
    window = cfg["window"]
    limit = 50_000  # messages prepared; the run stops publishing there (bounded)
    frame_len = 2 + 64
    stream = b"".join(bytes((0x81, 64)) + broadcast_message(i) for i in range(limit))
    pub_frames = [client_frame(OP_TEXT, broadcast_message(i)) for i in range(limit)]
    delivered = Counter()
    state = {"sent": 0, "running": True}
    subs: list[WSClient] = []
    pub: WSClient | None = None
    sem = asyncio.Semaphore(64)

    def on_delivery(count, _frames):
        delivered.n += count
        sent = state["sent"]
        while state["running"] and sent < limit and delivered.n >= (sent - window + 1) * n_subs:
            pub.transport.write(pub_frames[sent])
            sent += 1
        state["sent"] = sent

    async def open_sub() -> None:
        async with sem:
            p = await connect(port, "/sub")
            p.collect = False
            p.stream = stream
            p.stream_frame = frame_len
            p.on_data = on_delivery
            subs.append(p)

    try:
        await asyncio.gather(*(open_sub() for _ in range(n_subs)))
        pub = await connect(port, "/pub")
        await asyncio.sleep(0.2)  # the server registers subscribers after their handshake
        sent = 0
        while sent < window:
            pub.transport.write(pub_frames[sent])
            sent += 1
        state["sent"] = sent
        await asyncio.sleep(cfg["warmup"])
        start = delivered.n
        with Window(server) as win:
            await asyncio.sleep(cfg["duration"])
            count = delivered.n - start
        state["running"] = False
        deadline = time.monotonic() + 10.0  # let every published message reach everyone
        while time.monotonic() < deadline and delivered.n < state["sent"] * n_subs:
            if any(p.error for p in subs):
                break
            await asyncio.sleep(0.01)
        failed = [p.error for p in subs if p.error]
        if failed:
            raise BenchError(f"{len(failed)} subscribers failed the check, first: {failed[0]}")
        missing = state["sent"] * n_subs - delivered.n
        if missing:
            raise BenchError(f"{missing} deliveries never arrived")
        if any(p.fixed_pos != state["sent"] * frame_len for p in subs):
            raise BenchError("a subscriber's stream does not end after the last message")
    finally:
        for p in subs:
            p.stream = None  # the close handshake's frames are parsed as usual
        await close_all(subs + ([pub] if pub is not None else []), timeout=20.0)
    if not count:
        raise BenchError("no message delivered in the measuring window")
    return {
        "msg_per_s": count / win.elapsed,
        "cpu_us_per_delivery": win.server_cpu / count * 1e6,
        "deliveries": count,
        "published": state["sent"],
        **win.stats(),
    }


async def w_binary(port: int, server: Server, cfg: dict) -> dict:
    """(c) One connection, sequential echo of 1 MiB binary messages; MB/s of payload."""
    await check_binary(port)
    size = cfg["size"]
    msg = random.Random(1).randbytes(size)
    frame = client_frame(OP_BINARY, msg)
    p = await connect(port, "/bin")
    try:
        p.write(frame)
        _, payload = await p.recv(10.0)
        if payload != msg:
            raise BenchError("1 MiB echo came back different")
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        state = {"n": 0, "stop_at": 0.0, "limit": cfg["warmup"]}

        def on_data(count, _frames):
            state["n"] += count
            if state["n"] < state["limit"] and time.perf_counter() < state["stop_at"]:
                p.transport.write(frame)
            elif not done.done():
                done.set_result(None)

        p.collect = False
        p.on_data = on_data
        state["stop_at"] = time.perf_counter() + 30.0
        p.write(frame)
        await asyncio.wait_for(done, 30.0)  # warm-up round trips
        done = loop.create_future()
        state.update(n=0, limit=cfg["max_count"])
        with Window(server) as win:
            state["stop_at"] = time.perf_counter() + cfg["duration"]
            p.write(frame)
            await asyncio.wait_for(done, cfg["duration"] + 30.0)
        count = state["n"]
    finally:
        await p.close(10.0)
    return {
        "mb_per_s": count * size / win.elapsed / 1e6,
        "cpu_ms_per_msg": win.server_cpu / count * 1e3,
        "messages": count,
        **win.stats(),
    }


async def w_handshakes(port: int, server: Server, cfg: dict) -> dict:
    """(d) Connect, one echo, close; several such loops at once. Completed cycles per second,
    and the server's CPU per cycle: the median of the window's ``slices`` equal parts (a burst
    of other work on the machine, or of steal, in one part does not move it; each server is
    measured alike), beside the whole window's figure."""
    await check_text(port)
    frame = client_frame(OP_TEXT, PAYLOAD_64)
    counter = Counter()
    errors: list[str] = []
    stop_at = time.monotonic() + cfg["warmup"] + cfg["duration"] + 5.0  # backstop only
    running = [True]
    max_count = cfg["max_count"]

    loop = asyncio.get_running_loop()

    def factory() -> WSClient:
        return WSClient("/ws", port, cycle_frame=frame)

    async def cycle() -> None:
        """One connection's life, driven by the protocol's callbacks; one timer, no task."""
        transport, p = await asyncio.wait_for(
            loop.create_connection(factory, HOST, port), CONNECT_TIMEOUT
        )
        timer = loop.call_later(CONNECT_TIMEOUT, transport.abort)
        try:
            await p.lost
        finally:
            timer.cancel()
        if p.error:
            raise BenchError(p.error)
        if p.replies != 1 or not p.close_received:
            raise BenchError(f"replies={p.replies} close_received={p.close_received}")

    async def worker() -> None:
        while running[0] and time.monotonic() < stop_at and counter.n < max_count:
            if len(errors) >= 20:
                break
            try:
                t = time.perf_counter()
                await cycle()
                t = time.perf_counter() - t
                if t > 0.1:
                    slow.append(t)
            except (BenchError, OSError, TimeoutError) as exc:
                errors.append(repr(exc))
                continue
            counter.n += 1

    slow: list[float] = []
    tasks = [asyncio.ensure_future(worker()) for _ in range(cfg["concurrency"])]
    try:
        await asyncio.sleep(cfg["warmup"])
        start = counter.n
        slices = cfg["slices"]
        per_slice: list[float] = []
        with Window(server) as win:
            for _ in range(slices):
                cycles, cpu = counter.n, server.cpu()
                await asyncio.sleep(cfg["duration"] / slices)
                cycles, cpu = counter.n - cycles, server.cpu() - cpu
                if cycles:
                    per_slice.append(cpu / cycles * 1e6)
            count = counter.n - start
    finally:
        running[0] = False
        await asyncio.wait(tasks, timeout=CONNECT_TIMEOUT + 2 * CLOSE_TIMEOUT + 5)
        for t in tasks:
            t.cancel()
    if errors:
        raise BenchError(f"{len(errors)} failed cycles, first: {errors[0]}")
    return {
        "per_s": count / win.elapsed,
        "cpu_us_per_hs": statistics.median(per_slice) if per_slice else None,
        "cpu_us_per_hs_window": win.server_cpu / count * 1e6 if count else None,
        "cpu_us_per_hs_slices": per_slice,
        "cycles": count,
        "slow_cycles": len(slow),
        "slowest_s": max(slow, default=0.0),
        **win.stats(),
    }


async def w_memory(port: int, server: Server, cfg: dict) -> dict:
    """(e) Server RSS growth per idle (open, handshaken) connection: (RSS_N - RSS_0) / N."""
    await check_text(port)
    warm: list[WSClient] = []
    conns: list[WSClient] = []
    sem = asyncio.Semaphore(cfg["concurrency"])  # stay well under the listen backlog

    async def open_one(path: str, out: list[WSClient], echo: bool) -> None:
        async with sem:
            p = await connect(port, path)
            out.append(p)
            if echo:
                p.write(client_frame(OP_TEXT, PAYLOAD_64))
                await p.recv()

    try:
        # Warm-up connections that stay open: lazy imports and first-use caches are paid here.
        await asyncio.gather(*(open_one("/ws", warm, True) for _ in range(cfg["warm_conns"])))
        await asyncio.sleep(cfg["settle"])
        rss0 = server.rss()
        t0 = time.perf_counter()
        await asyncio.gather(*(open_one("/ws", conns, False) for _ in range(cfg["conns"])))
        open_s = time.perf_counter() - t0
        await asyncio.sleep(cfg["settle"])
        rss1 = server.rss()
        alive = sum(1 for p in conns if not p.lost.done())
        if alive != cfg["conns"]:
            raise BenchError(f"only {alive} of {cfg['conns']} connections stayed open")
    finally:
        await close_all(conns + warm, timeout=20.0)
    return {
        "kb_per_conn": (rss1 - rss0) / cfg["conns"] / 1024,
        "rss0_mb": rss0 / 1e6,
        "rss1_mb": rss1 / 1e6,
        "conns": cfg["conns"],
        "open_s": open_s,
    }


async def run(args: argparse.Namespace) -> dict:
    profile = PROFILES["quick" if args.quick else "full"]
    server = Server(args.pid)
    funcs = {
        "latency": w_latency,
        "depth1": w_throughput,
        "depth8": w_throughput,
        "throughput": w_throughput,
        "broadcast200": w_broadcast,
        "broadcast1000": w_broadcast,
        "binary": w_binary,
        "handshakes": w_handshakes,
        "memory": w_memory,
        "deflate": lambda port, srv, cfg: w_throughput(port, srv, cfg, deflate=True),
    }
    out: dict = {"cpu_source": server.cpu_source, "workloads": {}}
    for name in args.workloads:
        t0 = time.perf_counter()
        try:
            result = await asyncio.wait_for(funcs[name](args.port, server, profile[name]), 120.0)
        except (BenchError, OSError, TimeoutError) as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["wall_s"] = time.perf_counter() - t0
        out["workloads"][name] = result
        print(f"  {name}: {json.dumps(result)}", file=sys.stderr, flush=True)
        await asyncio.sleep(0.05)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="server process id (CPU, RSS)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {sorted(unknown)}")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            print("client: uvloop not installed, using asyncio", file=sys.stderr)
        else:
            result = uvloop.run(run(args))
            print(json.dumps(result))
            return
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
