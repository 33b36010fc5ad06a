"""Per-message cost of one echo server, counted rather than timed: for A/B work on the echo path
against the peers on a shared machine.

Starts a bench server (``servers/*.py``) pinned to core 0 and drives the in-flight sweep's
echo at it from this process, pinned to core 1: ``--conns`` connections on ``/ws``, each with
``--depth`` 64-byte text messages in flight (every read of replies is answered with as many
new messages in one write, as ``client.py`` does), until ``--messages`` replies came back,
every reply checked. Prints per echoed message the server's CPU time and, with
``--callgrind``, the user-space instructions valgrind counted (the interpreter, the event loop,
the C parts; not the kernel's share, which the same system calls cost every server alike):

    python bench/echo_server_path.py --callgrind                  # compat, 32 x 8
    python bench/echo_server_path.py --callgrind --server aiohttp-batched --depth 64
    python bench/echo_server_path.py --callgrind --baseline /work/main   # A/B, this first

Under valgrind a server runs some 50x slower: the defaults (20,000 messages) take about ten
seconds a server. Rates are not measured here: that is ``run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from client import HOST, MESSAGES_64, OP_TEXT, PREFIX, WS_KEY, client_frame  # noqa: E402
from handshake_path import (  # noqa: E402
    callgrind,
    callgrind_total,
    client_and_checkouts,
    cpu_times,
    start_server,
)

FRAMES = [client_frame(OP_TEXT, m) for m in MESSAGES_64]
REPLY_SIZE = 2 + len(PREFIX) + 64  # the seed's reply: an unmasked text frame under 126 bytes


class Shared:
    """What the connections share: replies so far, the goal, and whether all are home."""

    def __init__(self, goal: int) -> None:
        self.goal = goal
        self.replies = 0
        self.in_flight = 0
        self.home = asyncio.Event()  # the goal is reached and no message is in flight

    def replied(self, echoer: Echoer, count: int) -> None:
        self.replies += count
        self.in_flight -= count
        if self.replies < self.goal:
            echoer.send(count)
        elif not self.in_flight:
            self.home.set()


class Echoer(asyncio.Protocol):
    """One connection: keeps ``depth`` messages in flight until told to stop; checks that
    every reply is the seed's answer to the message it answers, in order."""

    def __init__(self, port: int, depth: int, state: Shared) -> None:
        self.request = (
            f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.depth = depth
        self.state = state
        self.buf = b""
        self.open = False
        self.sent = 0
        self.got = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def send(self, count: int) -> None:
        assert self.transport is not None
        start = self.sent % len(FRAMES)
        frames = (FRAMES + FRAMES)[start : start + count]
        self.sent += count
        self.state.in_flight += count
        self.transport.write(b"".join(frames))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"handshake refused: {head[:60]!r}")
            self.open, self.buf = True, rest
            self.send(self.depth)
        count = len(self.buf) // REPLY_SIZE
        if not count:
            return
        for n in range(count):
            reply = self.buf[n * REPLY_SIZE : (n + 1) * REPLY_SIZE]
            message = MESSAGES_64[(self.got + n) % len(MESSAGES_64)]
            if reply != bytes((0x81, REPLY_SIZE - 2)) + PREFIX + message:
                raise RuntimeError(f"wrong reply {reply[:20]!r}")
        self.buf = self.buf[count * REPLY_SIZE :]
        self.got += count
        self.state.replied(self, count)


async def echo(port: int, conns: int, depth: int, messages: int) -> None:
    """Echo ``messages`` replies' worth of traffic, and the messages still in flight then."""
    loop = asyncio.get_running_loop()
    state = Shared(messages)
    protocols = []
    for _ in range(conns):
        _, protocol = await loop.create_connection(lambda: Echoer(port, depth, state), HOST, port)
        protocols.append(protocol)
    await asyncio.wait_for(state.home.wait(), 600)
    for p in protocols:
        assert p.transport is not None
        p.transport.close()


def measure(name: str, root: Path, args: argparse.Namespace, work: Path) -> str:
    dump = work / f"{name}-{root.name}.out"
    server, port = start_server(name, root, dump, args.callgrind)
    try:
        asyncio.run(echo(port, args.conns, args.depth, args.messages // 10))  # warm-up
        if args.callgrind:
            callgrind(server, True)
        before = cpu_times(server.pid)
        asyncio.run(echo(port, args.conns, args.depth, args.messages))
        after = cpu_times(server.pid)
        figures = [f"cpu {(after[0] - before[0]) / args.messages / 1e3:.2f} us"]
        if args.callgrind:
            total = callgrind_total(server, dump)
            figures.append(f"instructions:u {total / args.messages:,.0f}")
        return f"{name} @ {root}: " + "  ".join(figures) + " per message"
    finally:
        server.terminate()
        server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="compat", help="comma-separated, from run.py")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured alike")
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1, help="alternate checkouts this often")
    parser.add_argument("--callgrind", action="store_true", help="instructions, valgrind")
    parser.add_argument("--keep", help="a directory to keep callgrind's output in")
    args = parser.parse_args()
    roots = client_and_checkouts(args.baseline)
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for name in args.server.split(","):
                for root in roots if name.startswith("compat") else roots[:1]:
                    print(measure(name, root, args, Path(args.keep or scratch)), flush=True)


if __name__ == "__main__":
    main()
