"""Micro-benchmark of the broadcast write path, in process: one publisher's read of K frames ->
FrameGuard -> aiohttp's reader -> ``Publisher.on_message`` of ``servers/compat_echo.py``
(``for client in SUBSCRIBERS: client.write_message(message)``) -> N subscribers' transports.

A real server on 127.0.0.1 does the handshakes (N subscribers and the publisher); then every
subscriber's transport is swapped for one that records each write instead of making a system
call. Printed per delivery (a message written to one subscriber): the Python CPU time
(``time.thread_time``; no system calls are made, so this is the interpreter's share alone)
and the writes handed to the transports (each would be one system call: ``write`` or
``writelines``, which uvloop sends with one ``writev``). Flushing takes no time here, so where
the 1 ms batching budget ends a hold depends on the Python time alone.

    python bench/broadcast_path.py                         # 200 and 1,000 subscribers
    python bench/broadcast_path.py --subs 1000 --frames 1,8
    git worktree add /tmp/base main                        # A/B against another checkout:
    python bench/broadcast_path.py --baseline /tmp/base
    python bench/broadcast_path.py --profile               # cProfile of the first case
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from typing import Any

from fake_transport import ROOT, FakeTransport, alternate_checkouts, client_frame

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def message(seq: int) -> bytes:
    return (b'{"seq":%08d,"op":"tick","price":101.25,"qty":7}' % seq).ljust(64, b" ")


async def handshake(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path.encode(), KEY)
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def measure(
    cases: list[tuple[int, int]], repeats: int, profile: bool
) -> dict[str, tuple[float, float]]:
    sys.path.insert(0, os.path.join(ROOT, "bench", "servers"))
    # The package of PYTHONPATH (--baseline sets it), else this checkout's, installed or not.
    sys.path.append(ROOT)
    import compat_echo

    from tornado_ws_compat import web
    from tornado_ws_compat._engine.connection import ServerConnection
    from tornado_ws_compat.testing import running

    app = web.Application([(r"/sub", compat_echo.Subscriber), (r"/pub", compat_echo.Publisher)])
    results: dict[str, tuple[float, float]] = {}
    async with running(app) as server:
        port = server.port
        subs = max(n for n, _ in cases)
        clients = [await handshake(port, "/sub") for _ in range(subs)]
        _, pub_writer = await handshake(port, "/pub")
        publisher = None
        for _ in range(200):
            await asyncio.sleep(0.01)
            found = [
                o
                for o in gc.get_objects()
                if isinstance(o, ServerConnection)
                and isinstance(o.handler, compat_echo.Publisher)
                and not o.held
            ]
            if found and len(compat_echo.SUBSCRIBERS) == subs:
                publisher = found[0]
                break
        assert publisher is not None, "the publisher or a subscriber did not connect"
        everyone = list(compat_echo.SUBSCRIBERS)
        calls: list[Any] = []
        swapped = []
        for handler in everyone:
            connection = handler.ws_connection
            swapped.append((connection, connection._transport))
            connection._transport = FakeTransport(connection._transport, calls.append)
        feed = publisher._protocol.data_received
        frames = [client_frame(message(i)) for i in range(64)]
        try:
            for n, k in cases:
                compat_echo.SUBSCRIBERS.clear()
                compat_echo.SUBSCRIBERS.update(everyone[:n])
                data = b"".join(frames[:k])
                rounds = max(2, 400_000 // (n * k))
                for _ in range(3):
                    feed(data)
                calls.clear()
                label = f"{n:5d} subscribers, {k} frame{'s' if k > 1 else ' '} per read"
                if profile:
                    import cProfile
                    import pstats

                    prof = cProfile.Profile()
                    prof.enable()
                    for _ in range(rounds):
                        feed(data)
                    prof.disable()
                    print(label)
                    pstats.Stats(prof).sort_stats("tottime").print_stats(14)
                    return results
                times = []
                for _ in range(repeats):
                    gc.collect()
                    calls.clear()
                    start = time.thread_time_ns()
                    for _ in range(rounds):
                        feed(data)
                    times.append((time.thread_time_ns() - start) / (rounds * n * k))
                results[label] = (min(times), len(calls) / (rounds * n * k))
        finally:
            for connection, transport in swapped:
                connection._transport = transport
        pub_writer.close()
        for _, writer in clients:
            writer.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subs", default="200,1000")
    parser.add_argument("--frames", default="1,8", help="frames per publisher read")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", help="a checkout to compare with (subprocesses)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first case")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = [(int(n), int(k)) for n in args.subs.split(",") for k in args.frames.split(",")]
    if args.baseline:
        arguments = ["--repeats", "3", "--subs", args.subs, "--frames", args.frames]
        runs = alternate_checkouts(__file__, arguments, args.baseline, args.repeats)
        for case in runs["this"][0]:
            base = [r[case] for r in runs["baseline"]]
            this = [r[case] for r in runs["this"]]
            b = statistics.median(x[0] for x in base)
            t = statistics.median(x[0] for x in this)
            print(
                f"{case}: baseline {b:6.0f} ns, {base[0][1]:.3f} writes; "
                f"this {t:6.0f} ns, {this[0][1]:.3f} writes per delivery (ratio {t / b:.3f})"
            )
        return
    import uvloop

    results = uvloop.run(measure(cases, args.repeats, args.profile))
    if args.json:
        print(json.dumps(results))
        return
    for label, (ns, writes) in results.items():
        print(f"{label}: {ns:6.0f} ns of Python and {writes:.3f} writes per delivery")


if __name__ == "__main__":
    main()
