"""Broadcast across worker processes: the chat example on 1 worker (memory://) against 2
workers sharing rooms over Redis, side by side in one run.

    python bench/scaleout.py [--subscribers 200,1000] [--messages 200] [--runs 3]

For each configuration and subscriber count: start ``examples/chat/chat.py`` (and, for the
Redis one, a fresh ``redis-server`` on a free loopback port, persistence off), connect the
subscribers to one room (the kernel spreads them over the workers), then one publisher sends
``--messages`` messages as fast as it can. Every subscriber checks that it received every
message, in publish order; a run with a missing, extra or out-of-order message is void.
Reported: deliveries per second (wall time from the first send to the last delivery) and
server CPU per delivery (the workers and the parent, read from /proc), with Redis's CPU per
delivery apart. The load client shares the machine's cores with the workers: on a 2-core
machine, two workers compete with it, so read the figures as what the workers cost, and the
rate as a floor. Loopback only (127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from client import HOST, Server, WSClient, client_frame, close_all, connect  # noqa: E402

from tests.scale.redis_server import RedisServer  # noqa: E402

CHAT = ROOT / "examples" / "chat" / "chat.py"
ROOM = "/chat/bench"
_READY = re.compile(r"worker (\d+) \(pid (\d+)\) listening on http://[^:]+:(\d+)/")


def cpu_seconds(pid: int) -> float:
    """CPU of one process so far, all its threads (bench/client.py's reading of /proc)."""
    try:
        return Server(pid).cpu()
    except OSError:
        return 0.0


class Chat:
    """The chat example running: its workers' pids and the shared port."""

    def __init__(self, workers: int, pubsub: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(CHAT),
                "--port=0",
                f"--workers={workers}",
                f"--pubsub={pubsub}",
                "--logging=warning",
            ],
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self.pids: list[int] = [self.process.pid]
        self.port = 0
        assert self.process.stdout is not None
        for _ in range(workers):
            line = self.process.stdout.readline().decode()
            match = _READY.search(line)
            if match is None:
                self.stop()
                raise RuntimeError(f"chat example did not start: {line!r}")
            self.pids.append(int(match.group(2)))
            self.port = int(match.group(3))

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in set(self.pids))

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, 9)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class Subscriber:
    """Counts the messages of one socket and checks their order (texts 0, 1, 2, ...)."""

    def __init__(self, proto: WSClient, total: int, done: asyncio.Future[None], left: list[int]):
        self.expected = 0
        self.total = total
        self.error: str | None = None
        self._done = done
        self._left = left
        proto.on_data = self.on_data

    def on_data(self, count: int, frames: list[tuple[int, bytes]] | None) -> None:
        assert frames is not None
        for _first, payload in frames:
            text = json.loads(payload)["text"]
            if text == "warmup":
                continue
            if text != str(self.expected) and self.error is None:
                self.error = f"expected {self.expected}, got {text}"
            self.expected += 1
            if self.expected == self.total:
                self._left[0] -= 1
                if not self._left[0] and not self._done.done():
                    self._done.set_result(None)


async def one_run(port: int, chat: Chat, redis_pid: int | None, subs: int, messages: int) -> dict:
    loop = asyncio.get_running_loop()
    protos = []
    for _ in range(subs):
        protos.append(await connect(port, ROOM))
    publisher = await connect(port, ROOM)
    everyone = [*protos, publisher]
    # Warm-up: one message that every socket must get (the rooms are joined everywhere).
    publisher.write(client_frame(0x1, b"warmup"))
    for proto in everyone:
        await proto.recv(timeout=30)
    left = [len(everyone)]
    done: asyncio.Future[None] = loop.create_future()
    checkers = [Subscriber(proto, messages, done, left) for proto in everyone]
    frames = b"".join(client_frame(0x1, str(i).encode()) for i in range(messages))
    cpu0 = chat.cpu()
    redis0 = cpu_seconds(redis_pid) if redis_pid else 0.0
    start = time.perf_counter()
    publisher.write(frames)
    try:
        await asyncio.wait_for(done, 120)
    except TimeoutError:
        missing = sum(c.total - c.expected for c in checkers)
        raise RuntimeError(f"void run: {missing} deliveries missing after 120 s") from None
    elapsed = time.perf_counter() - start
    cpu = chat.cpu() - cpu0
    redis_cpu = (cpu_seconds(redis_pid) - redis0) if redis_pid else 0.0
    errors = [c.error for c in checkers if c.error]
    await close_all(everyone)
    if errors:
        raise RuntimeError(f"void run: {len(errors)} sockets out of order: {errors[0]}")
    deliveries = len(everyone) * messages
    return {
        "deliveries": deliveries,
        "rate": deliveries / elapsed,
        "server_us": cpu / deliveries * 1e6,
        "redis_us": redis_cpu / deliveries * 1e6,
    }


def measure(config: str, subs: int, messages: int) -> dict:
    redis = None
    if config == "2 workers, Redis":
        redis = RedisServer()
        redis.start()
        chat = Chat(2, redis.url)
    else:
        chat = Chat(1, "memory://")
    try:
        redis_pid = redis.process.pid if redis is not None and redis.process else None
        return asyncio.run(one_run(chat.port, chat, redis_pid, subs, messages))
    finally:
        chat.stop()
        if redis is not None:
            redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="200,1000")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (Debian: apt-get install redis-server)")
        return 2
    configs = ("1 worker, memory://", "2 workers, Redis")
    counts = [int(n) for n in args.subscribers.split(",")]
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in range(args.runs):
        for subs in counts:
            for config in configs if run % 2 == 0 else reversed(configs):
                result = measure(config, subs, args.messages)
                results.setdefault((config, subs), []).append(result)
                print(
                    f"run {run + 1} {config:22} {subs:5} subscribers: "
                    f"{result['rate']:9.0f} deliveries/s, server {result['server_us']:.2f} us "
                    f"and Redis {result['redis_us']:.2f} us per delivery",
                    flush=True,
                )
    print()
    print(f"Medians of {args.runs} runs, {args.messages} messages to every subscriber, {HOST}:")
    print()
    columns = ("configuration", "subscribers", "deliveries/s", "server CPU us/delivery")
    print("| " + " | ".join((*columns, "Redis CPU us/delivery")) + " |")
    print("|---|---:|---:|---:|---:|")
    for (config, subs), rows in results.items():
        rate = statistics.median(r["rate"] for r in rows)
        server = statistics.median(r["server_us"] for r in rows)
        redis_us = statistics.median(r["redis_us"] for r in rows)
        redis_cell = f"{redis_us:.2f}" if config.endswith("Redis") else "-"
        print(f"| {config} | {subs} | {rate:,.0f} | {server:.2f} | {redis_cell} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
