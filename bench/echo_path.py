"""Micro-benchmark of the whole per-message echo path, in process: what the socket delivers ->
aiohttp's protocol ``data_received`` -> FrameGuard -> aiohttp's reader -> the seed's
``EchoWebSocket.on_message`` -> ``write_message`` -> the transport, with a fake transport in
place of the socket (so no system calls: what is measured is the Python work per message).

A real server on 127.0.0.1 does the handshake; then the connection's transport is swapped
for one that takes every write. Reads of 1, 8 and 64 frames (the bench's in-flight depths)
are fed to the protocol; CPU time (``time.thread_time``) per message is printed, best and
median of the repeats. A/B against another checkout in the same process:

    git worktree add /tmp/base main
    python bench/echo_path.py --baseline /tmp/base
    python bench/echo_path.py --profile 1     # cProfile of depth 1, top functions
    python bench/echo_path.py --ops 8         # Python bytecodes per message at depth 8, by line
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import statistics
import sys
import time
from typing import Any

from fake_transport import ROOT, FakeTransport, alternate_checkouts, client_frame

PAYLOAD = b'{"seq": 12345, "text": "hello hello hello hello hello hello!!!"}'[:64].ljust(64)


def count_ops(feed: Any, data: bytes, rounds: int, messages: int) -> None:
    """Run ``feed(data)`` ``rounds`` times under an opcode tracer; print bytecodes per message
    by function and by line. The engine's clock stands still meanwhile (tracing is slow enough
    to exhaust the batching budget, which would count paths a real read does not take)."""
    import collections
    import itertools

    from tornado_ws_compat._engine import connection

    real_clock = connection._clock
    connection._clock = itertools.repeat(0.0).__next__

    ops: collections.Counter[tuple[str, str, int]] = collections.Counter()

    def trace(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            ops[os.path.basename(code.co_filename), code.co_name, frame.f_lineno] += 1
        return trace

    sys.settrace(trace)
    for _ in range(rounds):
        feed(data)
    sys.settrace(None)
    connection._clock = real_clock
    per = rounds * messages
    functions: collections.Counter[tuple[str, str]] = collections.Counter()
    for (filename, name, _), n in ops.items():
        functions[filename, name] += n
    print(f"bytecodes per message: {sum(ops.values()) / per:.1f}")
    for (filename, name), n in functions.most_common(20):
        print(f"  {n / per:7.2f}  {filename} {name}")
    print("by line:")
    for (filename, name, line), n in ops.most_common(60):
        print(f"  {n / per:7.2f}  {filename}:{line} {name}")


async def measure(
    depths: list[int], repeats: int, profile: int | None, ops: int | None = None
) -> dict[int, list[float]]:
    sys.path.insert(0, os.path.join(ROOT, "bench", "servers"))
    # The package of PYTHONPATH (--baseline sets it), else this checkout's, installed or not.
    sys.path.append(ROOT)
    import compat_echo  # the seed's class

    from tornado_ws_compat import web
    from tornado_ws_compat._engine.connection import ServerConnection
    from tornado_ws_compat.testing import running

    compat_echo.print = lambda *a, **k: None  # type: ignore[attr-defined]
    handler = compat_echo.EchoWebSocket
    if os.environ.get("ECHO_PATH_SILENT"):  # inbound only: on_message writes nothing

        class Silent(compat_echo.EchoWebSocket):  # type: ignore[misc, name-defined]
            def on_message(self, message: Any) -> None:
                pass

        handler = Silent
    app = web.Application([(r"/ws", handler)])
    results: dict[int, list[float]] = {d: [] for d in depths}
    async with running(app) as server:
        port = server_port(server)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await reader.readuntil(b"\r\n\r\n")
        connection = None
        for _ in range(100):
            found = [o for o in gc.get_objects() if isinstance(o, ServerConnection)]
            if found and not found[0].held:
                connection = found[0]
                break
            await asyncio.sleep(0.01)
        assert connection is not None
        protocol = connection._protocol
        fake = FakeTransport(connection._transport)
        connection._transport = fake  # type: ignore[assignment]
        frame = client_frame(PAYLOAD)
        for depth in depths:
            data = frame * depth
            rounds = max(1, 200_000 // depth)
            feed = protocol.data_received
            for _ in range(200):
                feed(data)
            if ops == depth:
                count_ops(feed, data, 100, depth)
                continue
            if profile == depth:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                for _ in range(rounds):
                    feed(data)
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(18)
                continue
            for _ in range(repeats):
                gc.collect()
                start = time.thread_time_ns()
                for _ in range(rounds):
                    feed(data)
                elapsed = time.thread_time_ns() - start
                results[depth].append(elapsed / (rounds * depth))
        connection._transport = fake.real
        writer.close()
    return results


def server_port(server: Any) -> int:
    for attr in ("port", "_port"):
        if isinstance(getattr(server, attr, None), int):
            return int(getattr(server, attr))
    sockets = getattr(server, "sockets", None) or []
    for sock in sockets:
        if isinstance(sock, socket.socket):
            return int(sock.getsockname()[1])
    raise RuntimeError(f"cannot find the port of {server!r}: {vars(server)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--depths", default="1,8,64")
    parser.add_argument("--baseline", help="a checkout to compare with (run in a subprocess)")
    parser.add_argument("--profile", type=int, help="cProfile this depth instead")
    parser.add_argument("--ops", type=int, help="count bytecodes at this depth instead")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    if args.baseline:
        runs = alternate_checkouts(
            __file__, ["--repeats", "3", "--depths", args.depths], args.baseline, args.repeats
        )
        medians = {
            label: {d: [run[str(d)] for run in outputs] for d in depths}
            for label, outputs in runs.items()
        }
        for depth in depths:
            b = statistics.median(medians["baseline"][depth])
            t = statistics.median(medians["this"][depth])
            bb = min(medians["baseline"][depth])
            tb = min(medians["this"][depth])
            print(
                f"depth {depth:3d}: baseline {b:5.0f} (best {bb:5.0f}) ns/msg"
                f"  this {t:5.0f} (best {tb:5.0f})  ratio {t / b:.3f} (best {tb / bb:.3f})"
            )
        return
    import uvloop

    results = uvloop.run(measure(depths, args.repeats, args.profile, args.ops))
    if args.json:
        print(json.dumps({d: min(v) for d, v in results.items() if v}))
        return
    for depth, values in results.items():
        if values:
            best, median = min(values), statistics.median(values)
            print(f"depth {depth:3d}: best {best:7.0f}  median {median:7.0f} ns/msg")


if __name__ == "__main__":
    main()
