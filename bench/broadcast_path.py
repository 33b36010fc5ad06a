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
    python bench/broadcast_path.py --write-us 5            # each write costs 5 us (a model)

``--write-us`` models the system call a write is on a real socket (about 5 us of the server's
CPU per write on this machine's loopback, as bench/run.py's broadcast shows): each write spins
that long, so a write made inside a hook ages what the scope holds as a real one would.
``--model NS`` runs the scope on a virtual clock instead, which only the loop moves (NS per
delivery written) and the writes (``--write-us`` each): which frames pair is then decided by
these figures alone, whatever else runs on the machine (the writes per delivery it prints
are the model's; its times are not).
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


def costly(sink: Any, seconds: float, virtual: list[float] | None = None) -> Any:
    """``sink``, spinning ``seconds`` of thread time after each call (a system call's cost),
    or with a ``virtual`` clock, moving it on by ``seconds``."""
    if not seconds:
        return sink
    if virtual is not None:

        def advance(data: Any) -> None:
            sink(data)
            virtual[0] += seconds

        return advance
    clock = time.thread_time

    def write(data: Any) -> None:
        sink(data)
        end = clock() + seconds
        while clock() < end:
            pass

    return write


async def measure(
    cases: list[tuple[int, int]],
    repeats: int,
    profile: bool,
    write_cost: float = 0.0,
    model: float = 0.0,
) -> dict[str, tuple[float, float, float]]:
    sys.path.insert(0, os.path.join(ROOT, "bench", "servers"))
    # The package of PYTHONPATH (--baseline sets it), else this checkout's, installed or not.
    sys.path.append(ROOT)
    import compat_echo

    from tornado_ws_compat import web
    from tornado_ws_compat._engine import connection as engine
    from tornado_ws_compat._engine.connection import ServerConnection

    virtual = [1000.0]
    if model:
        engine._clock = lambda: virtual[0]  # type: ignore[attr-defined]
    from tornado_ws_compat.testing import running

    app = web.Application([(r"/sub", compat_echo.Subscriber), (r"/pub", compat_echo.Publisher)])
    results: dict[str, tuple[float, float, float]] = {}
    # Thread time inside the publisher's hooks, less the time the write scope counted as
    # sending meanwhile (what its budget does not count).
    spent = {"hooks": 0.0}
    loop_body = compat_echo.Publisher.on_message
    scope = engine._SCOPE

    def modelled_loop(self: Any, message: Any) -> None:
        for client in compat_echo.SUBSCRIBERS:
            client.write_message(message)
            virtual[0] += model

    def timed_hook(self: Any, message: Any) -> None:
        start = time.thread_time()
        sending = scope.sending
        (modelled_loop if model else loop_body)(self, message)
        spent["hooks"] += time.thread_time() - start
        if not model:  # (a virtual clock's sending time is not thread time)
            spent["hooks"] -= scope.sending - sending

    compat_echo.Publisher.on_message = timed_hook  # type: ignore[method-assign]
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
            connection._transport = FakeTransport(
                connection._transport, costly(calls.append, write_cost, virtual if model else None)
            )
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
                hooks = []
                for _ in range(repeats):
                    gc.collect()
                    calls.clear()
                    spent["hooks"] = 0.0
                    start = time.thread_time_ns()
                    for _ in range(rounds):
                        feed(data)
                    times.append((time.thread_time_ns() - start) / (rounds * n * k))
                    hooks.append(spent["hooks"] * 1e9 / (rounds * n * k))
                writes = len(calls) / (rounds * n * k)
                results[label] = (min(times), writes, min(hooks))
        finally:
            compat_echo.Publisher.on_message = loop_body  # type: ignore[method-assign]
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
    parser.add_argument("--write-us", type=float, default=0.0, help="each write's cost (model)")
    parser.add_argument("--model", type=float, default=0.0, help="virtual ns per delivery")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = [(int(n), int(k)) for n in args.subs.split(",") for k in args.frames.split(",")]
    if args.baseline:
        arguments = ["--repeats", "3", "--subs", args.subs, "--frames", args.frames]
        arguments += ["--write-us", str(args.write_us)]
        arguments += ["--model", str(args.model)]
        runs = alternate_checkouts(__file__, arguments, args.baseline, args.repeats)
        for case in runs["this"][0]:
            base = [r[case] for r in runs["baseline"]]
            this = [r[case] for r in runs["this"]]
            b = statistics.median(x[0] for x in base)
            t = statistics.median(x[0] for x in this)
            bh = statistics.median(x[2] for x in base)
            th = statistics.median(x[2] for x in this)
            print(
                f"{case}: baseline {b:6.0f} ns ({bh:4.0f} in hooks), {base[0][1]:.3f} writes; "
                f"this {t:6.0f} ns ({th:4.0f} in hooks), {this[0][1]:.3f} writes per delivery "
                f"(ratio {t / b:.3f}, in hooks {th / bh:.3f})"
            )
        return
    import uvloop

    results = uvloop.run(
        measure(cases, args.repeats, args.profile, args.write_us / 1e6, args.model / 1e9)
    )
    if args.json:
        print(json.dumps(results))
        return
    for label, (ns, writes, hook_ns) in results.items():
        print(
            f"{label}: {ns:6.0f} ns of Python ({hook_ns:4.0f} in the loops, sending aside) "
            f"and {writes:.3f} writes per delivery"
        )


if __name__ == "__main__":
    main()
