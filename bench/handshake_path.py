"""Per-handshake cost of one server, counted rather than timed: for A/B work on the handshake.

Starts a bench server (``servers/*.py``) pinned to core 0, drives handshake cycles at it from
this process pinned to core 1 (the ``handshakes`` workload's cycle: connect, handshake on
``/ws``, one echo, close handshake, wait for TCP to drop), and prints per cycle the server's
CPU time (user + system; the split is from clock ticks) and, with a counter, a figure that
others' load barely moves:

    python bench/handshake_path.py                         # compat, this checkout: CPU only
    python bench/handshake_path.py --callgrind --cycles 500 --baseline /work/main
                                     # user-space instructions per cycle (valgrind), A/B
    python bench/handshake_path.py --perf     # instructions:u from perf (needs a PMU; most
                                              # VMs have none)
    python bench/handshake_path.py --ops      # Python bytecodes run per cycle, by module and
                                              # by function (sys.settrace with opcode events)
    python bench/handshake_path.py --server aiohttp --ops   # any server of run.py

Under valgrind the server runs some 50x slower, so keep ``--cycles`` at a few hundred. Not a
comparison with the peers at rates: that is ``run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import marshal
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from client import HOST, OP_TEXT, PAYLOAD_64, WSClient, client_frame  # noqa: E402
from run import SERVERS  # noqa: E402

# Runs the server script with a bytecode counter that SIGUSR1 starts and SIGUSR2 stops and
# dumps (a marshal'd {(file, line, function): count}).
_OPS_HOOK = """
import collections, marshal, os, runpy, signal, sys
script, out = sys.argv[1:3]
sys.argv[:3] = [script]
sys.path[0] = os.path.dirname(script)  # as `python script`: not the working directory
ops = collections.Counter()
def count(frame, event, arg):
    frame.f_trace_opcodes = True
    if event == "opcode":
        code = frame.f_code
        ops[code.co_filename, code.co_firstlineno, code.co_name] += 1
    return count
def start(signum, frame):
    sys.settrace(count)
def stop(signum, frame):
    sys.settrace(None)
    with open(out, "wb") as f:
        marshal.dump(dict(ops), f)
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
runpy.run_path(script, run_name="__main__")
"""


def cpu_times(pid: int) -> tuple[int, int, int]:
    """(ns of CPU from schedstat, user ticks, system ticks) of every thread of ``pid``."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return total, int(fields[11]), int(fields[12])


async def cycles(port: int, count: int, concurrency: int) -> None:
    """``count`` handshake cycles, ``concurrency`` at a time; each checked as run.py does."""
    loop = asyncio.get_running_loop()
    frame = client_frame(OP_TEXT, PAYLOAD_64)
    left = [count]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            _, p = await loop.create_connection(
                lambda: WSClient("/ws", port, cycle_frame=frame), HOST, port
            )
            await asyncio.wait_for(p.lost, 10.0)
            if p.error or p.replies != 1 or not p.close_received:
                raise RuntimeError(f"bad cycle: {p.error} replies={p.replies}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def summarize_ops(path: Path, count: int) -> list[str]:
    with path.open("rb") as f:
        ops: dict[tuple[str, int, str], int] = marshal.load(f)
    by_module: collections.Counter[str] = collections.Counter()
    for (filename, _, _), n in ops.items():
        by_module[filename.split("site-packages/")[-1]] += n
    lines = [f"  bytecodes per cycle: {sum(ops.values()) / count:.0f}"]
    lines += [f"  {n / count:8.1f}  {name}" for name, n in by_module.most_common(20)]
    lines.append("  by function:")
    for (filename, line, name), n in sorted(ops.items(), key=lambda item: -item[1])[:40]:
        lines.append(f"  {n / count:8.1f}  {Path(filename).name}:{line} {name}")
    return lines


def start_server(
    name: str, root: Path, dump: Path, callgrind: bool, ops: bool = False
) -> tuple[subprocess.Popen[str], int]:
    """Start server ``name`` of run.py with ``root``'s package, pinned to core 0, under
    callgrind (instrumentation off until ``callgrind_control -i on``) or the bytecode
    counter, either dumping to ``dump``; returns it and its port once it printed READY."""
    env = dict(os.environ, PYTHONPATH=str(root))
    argv = [str(HERE / a) if a.endswith(".py") else a for a in SERVERS[name]["argv"]]
    if ops:
        argv = ["-c", _OPS_HOOK, argv[0], str(dump), *argv[1:]]
    prefix = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    if callgrind:
        prefix += ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        prefix += [f"--callgrind-out-file={dump}"]
    server = subprocess.Popen(
        [*prefix, sys.executable, *argv, "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("READY"):
        server.terminate()
        server.wait(60)
        raise RuntimeError(f"{name}: no READY ({line!r})")
    return server, int(line.split()[1])


def client_and_checkouts(baseline: Path | None) -> list[Path]:
    """Pin this process (the load client) to core 1, as run.py pins its client; the
    checkouts to measure: this one, then ``baseline`` if given."""
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    return [HERE.parent] + ([baseline.resolve()] if baseline else [])


def callgrind(server: subprocess.Popen[str], on: bool) -> None:
    """Switch the instrumentation of a server started under callgrind on or off."""
    control = ["callgrind_control", "-i", "on" if on else "off", str(server.pid)]
    subprocess.run(control, check=True, stdout=subprocess.DEVNULL)


def callgrind_total(server: subprocess.Popen[str], dump: Path) -> int:
    """Stop a server started under callgrind; the instructions it counted."""
    callgrind(server, False)
    server.terminate()
    server.wait(60)
    for row in dump.read_text().splitlines():
        if row.startswith("totals:"):
            return int(row.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def measure(name: str, root: Path, args: argparse.Namespace, work: Path) -> list[str]:
    dump = work / f"{root.name}.out"
    server, port = start_server(name, root, dump, args.callgrind, args.ops)
    try:
        asyncio.run(cycles(port, args.warmup, args.concurrency))
        perf = None
        if args.ops:
            os.kill(server.pid, signal.SIGUSR1)
        elif args.callgrind:
            callgrind(server, True)
        elif args.perf:
            perf = subprocess.Popen(
                ["perf", "stat", "-x", ",", "-e", "instructions:u", "-p", str(server.pid)],
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.3)  # perf attaches
        before, t0 = cpu_times(server.pid), time.perf_counter()
        asyncio.run(cycles(port, args.cycles, args.concurrency))
        after, t1 = cpu_times(server.pid), time.perf_counter()
        tick_us = 1e6 / os.sysconf("SC_CLK_TCK") / args.cycles
        figures = [
            f"cpu {(after[0] - before[0]) / args.cycles / 1e3:.1f} us",
            f"(user {(after[1] - before[1]) * tick_us:.0f}",
            f"sys {(after[2] - before[2]) * tick_us:.0f})",
            f"{args.cycles / (t1 - t0):.0f} cycles/s",
        ]
        lines: list[str] = []
        if args.ops:
            os.kill(server.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while not dump.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)  # the dump is written
            lines = summarize_ops(dump, args.cycles)
        elif args.callgrind:
            total = callgrind_total(server, dump)
            figures.append(f"instructions:u {total / args.cycles:,.0f}")
        elif perf is not None:
            perf.send_signal(signal.SIGINT)
            _, err = perf.communicate(timeout=10)
            fields = err.strip().splitlines()[-1].split(",")
            figures.append(f"instructions:u {fields[0]} (total; per cycle if a number:)")
            if fields[0].strip().isdigit():
                figures.append(f"{int(fields[0]) / args.cycles:,.0f}")
        return [f"{name} @ {root}: " + "  ".join(figures), *lines]
    finally:
        server.terminate()
        server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="compat", choices=sorted(SERVERS))
    parser.add_argument("--baseline", type=Path, help="another checkout, measured alike")
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="alternate checkouts this often")
    counter = parser.add_mutually_exclusive_group()
    counter.add_argument("--callgrind", action="store_true", help="instructions, valgrind")
    counter.add_argument("--perf", action="store_true", help="instructions, perf stat")
    counter.add_argument("--ops", action="store_true", help="Python bytecodes per cycle")
    parser.add_argument("--keep", help="a directory to keep callgrind's output in")
    args = parser.parse_args()
    roots = client_and_checkouts(args.baseline)
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or scratch
        for _ in range(args.rounds):
            for root in roots:
                for line in measure(args.server, root, args, Path(work)):
                    print(line, flush=True)


if __name__ == "__main__":
    main()
