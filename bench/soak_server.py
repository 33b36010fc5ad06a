"""Soak-test server on tornado_ws_compat: an echo WebSocket and a ``/stats`` page.

Started by ``bench/soak.py`` (see ``bench/SOAK.md``); it can also be run by hand:

    python bench/soak_server.py [--port 0] [--ping-interval 5] [--loop default]

Routes:

- ``/ws``: :class:`SoakWebSocket`, an echo of every text and binary message, byte for byte.
  A text message starting with ``slow:`` takes the coroutine path (``on_message`` returns an
  awaitable that sleeps 1-50 ms before echoing, so later messages queue behind it); a text
  message starting with ``close:`` is echoed and then the server closes with 4001.
  permessage-deflate is accepted when the client offers it; the server pings every
  ``--ping-interval`` seconds and closes a connection whose pong does not come in time.
- ``/stats``: JSON (a plain ``RequestHandler``): ``rss_kb``; ``open_websockets`` (handlers
  between ``open`` and ``on_close``: a module-level set, so a handler whose ``on_close`` never
  ran stays counted); the engine's own ``engine_websockets`` and ``engine_pending``; ``tasks``
  (``len(asyncio.all_tasks())``); ``fds``; ``gc_objects``; live memory apart from what the
  allocators keep (``py_blocks``: ``sys.getallocatedblocks()``; ``malloc_in_use_kb``: glibc's
  ``mallinfo2``); ``cpu_s`` (process CPU time); ``loop_lag_max_ms`` and ``gc_pause_max_ms``
  (the event loop's worst lag and the longest garbage collection since the previous
  ``/stats``); counters (``opened``, ``closed``, ``closed_without_open``, ``closed_twice``,
  messages, server closes). ``?gc=1`` runs ``gc.collect()`` first, ``?trim=1`` that and then
  glibc's ``malloc_trim(0)`` (neither frees a live object); ``?tasks=1`` adds every task's
  stack, to find one that never finished.

Prints ``READY <port> loop=<module>`` once listening. SIGTERM or SIGINT shuts down gracefully
(``tornado_ws_compat.server.serve``), then it prints ``STOPPED <json stats>`` and exits 0.
Logging (WARNING and above, with logger names) goes to stderr. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import gc
import json
import logging
import os
import random
import resource
import sys
import time

from tornado_ws_compat import ioloop, web, websocket
from tornado_ws_compat.server import serve

HOST = "127.0.0.1"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

#: Handlers between ``open`` and ``on_close``; ``on_close`` removing itself proves it ran.
OPEN: set[SoakWebSocket] = set()
COUNTS = {
    "opened": 0,
    "closed": 0,  # on_close after open
    "closed_without_open": 0,  # on_close for a handler whose open() never ran (Tornado: never)
    "closed_twice": 0,
    "messages": 0,
    "slow_messages": 0,
    "server_closes": 0,
    "write_after_close": 0,
}
STARTED = time.monotonic()
SERVER = None  # the HTTPServer returned by listen(), set in ready()
LAG_EVERY = 0.1  # seconds between two looks at the event loop's lag


class LagMonitor:
    """The event loop's worst lag since the last read, from a chain of timer callbacks (no
    task: it must not show in the task count)."""

    def __init__(self):
        self.worst = 0.0
        self.loop = None
        self.due = 0.0

    def start(self):
        self.loop = asyncio.get_running_loop()
        self.due = self.loop.time() + LAG_EVERY
        self.loop.call_at(self.due, self._tick)

    def _tick(self):
        now = self.loop.time()
        self.worst = max(self.worst, now - self.due)
        self.due = now + LAG_EVERY
        self.loop.call_at(self.due, self._tick)

    def read_ms(self):
        worst, self.worst = self.worst, 0.0
        return round(worst * 1000, 1)


LAG = LagMonitor()


class GCMonitor:
    """The longest garbage-collector pause since the last read, and full collections so far."""

    def __init__(self):
        self.started = 0.0
        self.worst = 0.0
        self.full = 0

    def __call__(self, phase, info):
        if phase == "start":
            self.started = time.perf_counter()
            return
        self.worst = max(self.worst, time.perf_counter() - self.started)
        self.full += info["generation"] == 2

    def read_ms(self):
        worst, self.worst = self.worst, 0.0
        return round(worst * 1000, 1)


GC = GCMonitor()
gc.callbacks.append(GC)


class SoakWebSocket(websocket.WebSocketHandler):
    """Echo, with a coroutine path (``slow:``) and a server-initiated close (``close:``)."""

    _soak_state = "new"  # -> "open" -> "closed"

    def get_compression_options(self):
        return {}  # permessage-deflate when the client offers it

    def open(self):
        OPEN.add(self)
        COUNTS["opened"] += 1
        self._soak_state = "open"

    def on_message(self, message):
        COUNTS["messages"] += 1
        if isinstance(message, str):
            if message.startswith("slow:"):
                # Returning an awaitable is Tornado's coroutine path: the next message waits.
                return self._slow_echo(message)
            if message.startswith("close:"):
                self._echo(message)
                COUNTS["server_closes"] += 1
                self.close(4001, "soak: server-initiated close")
                return None
        self._echo(message)
        return None

    async def _slow_echo(self, message):
        COUNTS["slow_messages"] += 1
        await asyncio.sleep(random.uniform(0.001, 0.05))
        self._echo(message)

    def _echo(self, message):
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except websocket.WebSocketClosedError:
            COUNTS["write_after_close"] += 1  # the client went away meanwhile: expected

    def on_close(self):
        OPEN.discard(self)
        key = {"new": "closed_without_open", "open": "closed"}.get(self._soak_state)
        COUNTS[key or "closed_twice"] += 1
        self._soak_state = "closed"


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_KB


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


LIBC = _libc()


class _Mallinfo2(ctypes.Structure):
    _fields_ = [  # glibc 2.33+ struct mallinfo2, all size_t
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_in_use_kb():
    """Bytes glibc's malloc has handed out and not had back (live C-level memory), in KiB.

    Python's small objects live in pymalloc arenas, not here: see ``py_blocks``.
    """
    mallinfo2 = getattr(LIBC, "mallinfo2", None)
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) // 1024


def malloc_trim():
    """Give glibc's free heap memory back to the OS (a diagnostic; False if unavailable)."""
    trim = getattr(LIBC, "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


def task_stacks():
    """Every task but the caller's, with where it waits (to find what did not finish)."""
    current = asyncio.current_task()
    stacks = []
    for task in asyncio.all_tasks():
        if task is current:
            continue
        where = []
        awaited = task.get_coro()
        while awaited is not None and len(where) < 40:  # follow the chain of awaits
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is None:
                break
            where.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        waiting = getattr(task, "_fut_waiter", None)
        stacks.append(
            {"task": repr(task)[:300], "stack": where, "waiting_for": repr(waiting)[:300]}
        )
    return stacks


def stats(collect=False, trim=False, tasks=False):
    if collect or trim:
        gc.collect()
    trimmed = malloc_trim() if trim else None
    engine = SERVER.engine if SERVER is not None else None
    return {
        "uptime": round(time.monotonic() - STARTED, 3),
        "rss_kb": rss_kb(),
        "open_websockets": len(OPEN),
        "engine_websockets": len(engine.websockets) if engine is not None else None,
        "engine_pending": len(engine.pending) if engine is not None else None,
        "tasks": len(asyncio.all_tasks()),
        "fds": len(os.listdir("/proc/self/fd")),
        "gc_objects": len(gc.get_objects()),
        "py_blocks": sys.getallocatedblocks(),
        "malloc_in_use_kb": malloc_in_use_kb(),
        "gc_collected": collect or trim,
        "malloc_trimmed": trimmed,
        "cpu_s": round(time.process_time(), 3),
        "loop_lag_max_ms": LAG.read_ms(),
        "gc_pause_max_ms": GC.read_ms(),
        "gc_full_collections": GC.full,
        **COUNTS,
        **({"task_stacks": task_stacks()} if tasks else {}),
    }


class StatsHandler(web.RequestHandler):
    def get(self):
        self.set_header("Cache-Control", "no-store")
        self.write(
            stats(
                collect=self.get_argument("gc", "") == "1",
                trim=self.get_argument("trim", "") == "1",
                tasks=self.get_argument("tasks", "") == "1",
            )
        )


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def make_app(ping_interval, ping_timeout, max_message_size):
    return web.Application(
        [(r"/ws", SoakWebSocket), (r"/stats", StatsHandler)],
        websocket_ping_interval=ping_interval or None,
        websocket_ping_timeout=ping_timeout,
        websocket_max_message_size=max_message_size,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ping-interval", type=float, default=5.0, help="0: no pings")
    parser.add_argument("--ping-timeout", type=float, default=5.0)
    parser.add_argument("--max-message-size", type=int, default=1 << 20)
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument("--loop", choices=["default", "asyncio", "uvloop"], default="default")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    raise_fd_limit()
    if args.loop == "asyncio":
        os.environ["TORNADO_WS_COMPAT_NO_UVLOOP"] = "1"
    elif args.loop == "uvloop":
        import uvloop  # noqa: F401  (fail early if it is missing)
    app = make_app(args.ping_interval, args.ping_timeout, args.max_message_size)

    def ready(server):
        global SERVER
        SERVER = server
        LAG.start()
        loop = type(asyncio.get_running_loop())
        print(f"READY {server.port} loop={loop.__module__}", flush=True)

    # IOLoop.current() creates the loop the project would pick (uvloop's when installed,
    # unless TORNADO_WS_COMPAT_NO_UVLOOP is set), as a legacy program's would be.
    async def run():
        await serve(app, args.port, HOST, ready=ready, backlog=args.backlog)
        return stats()

    final = ioloop.IOLoop.current().run_sync(run)
    print("STOPPED " + json.dumps(final), flush=True)


if __name__ == "__main__":
    main()
