"""Micro-benchmark of the inbound text path: what the socket delivers -> FrameGuard ->
aiohttp's C frame reader -> a message, without sockets or an event loop turn per message.

Measures the cost per message of valid text in three shapes, so that UTF-8 validation
changes (issue 10 point 11) are judged on the hot path (many small text frames per read) as
well as on the paths that validate incrementally (a frame split across reads, a fragmented
message). Run it on the code before and after a change, on an otherwise quiet core:

    python bench/frame_guard.py            # best of 7 repeats per workload
    python bench/frame_guard.py --repeats 15
    git worktree add /tmp/base HEAD~1      # the code before a change, then A/B in one process:
    python bench/frame_guard.py --baseline /tmp/base

Prints one line per workload: CPU nanoseconds per message (best and median of the repeats);
with ``--baseline``, the repeats of both alternate and the ratio of the medians is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import struct
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader

from tornado_ws_compat._engine.connection import FrameGuard

MASK = b"\x37\xfa\x21\x3d"


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 section 5.2)."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + masked


class Counter(WebSocketDataQueue):
    count = 0

    def feed_data(self, data: Any, size: int) -> None:
        self.count += 1


class Connection:
    """The parts of ServerConnection that FrameGuard calls."""

    work = 0
    held = False
    direct = False
    _compressed = False

    def batch_writes(self) -> None:
        pass

    def flush_writes(self) -> None:
        pass

    def protocol_violation(self, exc: BaseException) -> None:
        raise AssertionError(f"valid input refused: {exc}")


class Protocol:
    _reading_paused = False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def workloads() -> dict[str, tuple[list[bytes], int]]:
    """name -> (the reads that deliver them, messages in them)."""
    text = ("κόσμε ascii-mostly text " * 3).encode()[:64]
    small = b"".join(frame(0x1, text) for _ in range(64))
    big = ("Ünïcödé ✓ 漢字 " * 40000).encode()[: 1 << 20]
    big_frame = frame(0x1, big)
    chunk = 64 * 1024
    split = [big_frame[i : i + chunk] for i in range(0, len(big_frame), chunk)]
    piece = len(big) // 16
    fragments = b"".join(
        frame(0x1 if i == 0 else 0x0, big[i * piece : (i + 1) * piece], fin=i == 15)
        for i in range(16)
    )
    fragmented = [fragments[i : i + chunk] for i in range(0, len(fragments), chunk)]
    return {
        "64 x 64-byte text frames per read": ([small], 64),
        "1 MiB text frame in 64 KiB reads": (split, 1),
        "1 MiB text message in 16 fragments, 64 KiB reads": (fragmented, 1),
    }


def load_guard(root: str) -> Any:
    """FrameGuard as defined in another checkout (its other imports come from this one)."""
    path = os.path.join(root, "tornado_ws_compat", "_engine", "connection.py")
    spec = importlib.util.spec_from_file_location("baseline_connection", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FrameGuard


def run(guard_class: Any, reads: list[bytes], messages: int, rounds: int) -> float:
    loop = asyncio.new_event_loop()
    try:
        queue = Counter(Protocol(), 1 << 30, loop=loop)  # type: ignore[arg-type]
        reader = WebSocketReader(queue, 1 << 24, compress=False, decode_text=True)
        guard = guard_class(reader, Connection())
        feed = guard.feed_data
        start = time.thread_time_ns()  # CPU time: a shared machine's other load is left out
        for _ in range(rounds):
            for data in reads:
                feed(data)
        elapsed = time.thread_time_ns() - start
        assert queue.count == rounds * messages, (queue.count, rounds * messages)
        return elapsed / (rounds * messages)
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--baseline", help="a checkout of the code to compare with")
    args = parser.parse_args()
    guards = {"this": FrameGuard}
    if args.baseline:
        guards = {"baseline": load_guard(args.baseline), "this": FrameGuard}
    for name, (reads, messages) in workloads().items():
        total = sum(len(r) for r in reads)
        rounds = max(1, (32 << 20) // total)  # about 32 MiB of input per repeat
        results: dict[str, list[float]] = {label: [] for label in guards}
        for _ in range(args.repeats):
            for label, guard_class in guards.items():
                results[label].append(run(guard_class, reads, messages, rounds))
        for label, values in results.items():
            print(
                f"{name:50s} {label:8s} best {min(values):11.1f}"
                f"  median {statistics.median(values):11.1f} ns/msg"
            )
        if args.baseline:
            ratio = statistics.median(results["this"]) / statistics.median(results["baseline"])
            print(f"{name:50s} this/baseline (medians) {ratio:.3f}")


if __name__ == "__main__":
    main()
