"""One command for the WebSocket echo benchmark: every server, every workload, one table.

    python bench/run.py [--quick] [--servers a,b,...] [--runs N] [--workloads a,b,...]

Each server runs in its own process pinned to one core (``taskset -c 0``); the load client
(``bench/client.py``) runs pinned to the other core (``taskset -c 1``). Every run starts a fresh
server process per server and drives all workloads against it; runs are interleaved (run 1 of
every server, then run 2, ...) and the server order rotates, so slow drifts of a shared machine
fall on every server alike. Prints a Markdown table (median and min-max over runs), ratios
against tornado-asyncio and aiohttp paired run by run, and saves everything as JSON in
``bench/results/`` (git-ignored). Only 127.0.0.1 is used. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import selectors
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import chart  # bench/chart.py: run.py runs as a script, so its folder is on sys.path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"

SERVERS = {
    "compat": {
        "argv": ["servers/compat_echo.py"],
        "desc": "this project (tornado_ws_compat from the work tree), seed class unchanged, "
        "loop left to the project",
    },
    "compat-nobatch": {
        "argv": ["servers/compat_nobatch.py"],
        "desc": "this project with write batching switched off (the A/B of batching alone)",
    },
    "tornado-asyncio": {
        "argv": ["servers/tornado_echo.py", "--loop", "asyncio"],
        "desc": "Tornado 6.6.1, seed class unchanged, asyncio's default loop",
    },
    "tornado-uvloop": {
        "argv": ["servers/tornado_echo.py", "--loop", "uvloop"],
        "desc": "Tornado 6.6.1, seed class unchanged, uvloop",
    },
    "aiohttp": {
        "argv": ["servers/aiohttp_echo.py"],
        "desc": "native aiohttp web + uvloop: receive() loop + send_str, same reply text",
    },
    "aiohttp-batched": {
        "argv": ["servers/aiohttp_batched.py"],
        "desc": "native aiohttp web + uvloop written for speed: the replies to one read in one "
        "write (joined when small), broadcast framed once and written to each transport",
    },
    "websockets": {
        "argv": ["servers/websockets_echo.py"],
        "desc": "websockets 17 (asyncio implementation) + uvloop, broadcast() for the broadcast; "
        "no deflate",
    },
    "picows": {
        "argv": ["servers/picows_echo.py"],
        "desc": "picows + uvloop (uvloop's own transports), the floor",
    },
}
BASELINES = ("tornado-asyncio", "aiohttp")
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

# (workload, key, row label, True if higher is better)
METRICS = [
    ("latency", "p50_us", "(a) latency p50, us", False),
    ("latency", "p99_us", "(a) latency p99, us", False),
    ("depth1", "cpu_us_per_msg", "(b1) server CPU, us/msg, 64 conns x 1 in flight", False),
    ("depth8", "cpu_us_per_msg", "(b8) server CPU, us/msg, 32 x 8 in flight", False),
    ("throughput", "cpu_us_per_msg", "(b) server CPU, us/msg, 32 x 64 in flight", False),
    ("depth1", "msg_per_s", "(b1) throughput, msg/s, 64 x 1", True),
    ("depth8", "msg_per_s", "(b8) throughput, msg/s, 32 x 8", True),
    ("throughput", "msg_per_s", "(b) throughput, msg/s, 32 x 64", True),
    (
        "broadcast200",
        "cpu_us_per_delivery",
        "(g) broadcast, server CPU, us/delivery, 200 subs",
        False,
    ),
    (
        "broadcast1000",
        "cpu_us_per_delivery",
        "(g) broadcast, server CPU, us/delivery, 1,000 subs",
        False,
    ),
    ("broadcast200", "msg_per_s", "(g) broadcast deliveries/s, 200 subs", True),
    ("broadcast1000", "msg_per_s", "(g) broadcast deliveries/s, 1,000 subs", True),
    ("binary", "mb_per_s", "(c) 1 MiB binary echo, MB/s", True),
    ("handshakes", "per_s", "(d) handshakes/s", True),
    ("handshakes", "cpu_us_per_hs", "(d) server CPU, us/handshake", False),
    ("memory", "kb_per_conn", "(e) memory, KB per idle conn", False),
    ("deflate", "msg_per_s", "(f) deflate throughput, msg/s", True),
    ("deflate", "cpu_us_per_msg", "(f) deflate server CPU, us/msg", False),
]

DASH = "\u2013"  # en dash, for ranges
TIMES = "\u00d7"  # multiplication sign, for ratios
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 5.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- pinning


class Pinning:
    """How to put a child process on one core: taskset, else sched_setaffinity, else nothing."""

    def __init__(self, server_core: int, client_core: int, enabled: bool) -> None:
        self.server_core = server_core
        self.client_core = client_core
        self.how = "none"
        self.warning = ""
        try:
            allowed = os.sched_getaffinity(0)
        except AttributeError:  # not Linux
            allowed = set(range(os.cpu_count() or 1))
        if not enabled:
            self.warning = "pinning disabled (--no-pin): server and client share all cores"
        elif len(allowed) < 2 or not {server_core, client_core} <= allowed:
            self.warning = (
                f"cores {server_core} and {client_core} are not both available "
                f"(allowed: {sorted(allowed)}): running unpinned"
            )
        elif shutil.which("taskset"):
            self.how = "taskset"
        elif hasattr(os, "sched_setaffinity"):
            self.how = "sched_setaffinity"
            self.warning = "taskset not found: pinning with os.sched_setaffinity instead"
        else:
            self.warning = "taskset not found and no sched_setaffinity: running unpinned"

    def argv(self, core: int) -> list[str]:
        return ["taskset", "-c", str(core)] if self.how == "taskset" else []

    def preexec(self, core: int):
        if self.how != "sched_setaffinity":
            return None
        return lambda: os.sched_setaffinity(0, {core})

    def describe(self) -> str:
        if self.how == "none":
            return "unpinned"
        return f"server on core {self.server_core}, client on core {self.client_core} ({self.how})"


# --------------------------------------------------------------------------- processes


def child_env() -> dict[str, str]:
    """The servers import ``tornado_ws_compat`` from this work tree, installed or not."""
    env = dict(os.environ)
    peers = BENCH / ".peers"  # peers that are not dependencies (websockets), if installed
    paths = (str(ROOT), str(peers) if peers.is_dir() else None, env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


class ServerProcess:
    def __init__(self, name: str, pin: Pinning, log_path: Path) -> None:
        self.name = name
        spec = SERVERS[name]
        script, *extra = spec["argv"]
        cmd = [
            *pin.argv(pin.server_core),
            sys.executable,
            str(BENCH / script),
            *extra,
            "--port",
            "0",
        ]
        self.log_path = log_path
        self.log_file = open(log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            cwd=ROOT,
            env=child_env(),
            preexec_fn=pin.preexec(pin.server_core),
        )
        self.port = 0
        self.loop = "?"

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Read stdout until ``READY <port> [loop=<module>]`` (bounded), or raise."""
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        try:
            while time.monotonic() < deadline:
                if not sel.select(timeout=0.2):
                    if self.proc.poll() is not None:
                        break
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                for line in buf.splitlines():
                    parts = line.decode(errors="replace").split()
                    if len(parts) >= 2 and parts[0] == "READY":
                        self.port = int(parts[1])
                        for part in parts[2:]:
                            if part.startswith("loop="):
                                self.loop = part[5:]
                        self._check_pid()
                        return
        finally:
            sel.close()
        self.stop()
        status = "exited" if self.proc.poll() is not None else "timed out"
        raise RuntimeError(f"{self.name} {status} before READY: {self.stderr_tail()}")

    def _check_pid(self) -> None:
        """CPU and RSS are read from this pid: it must be Python, not a taskset wrapper."""
        with contextlib.suppress(OSError):
            comm = Path(f"/proc/{self.proc.pid}/comm").read_text().strip()
            if not comm.startswith("python"):
                log(f"warning: server pid {self.proc.pid} is {comm!r}, not python")

    def stderr_tail(self, lines: int = 6) -> str:
        try:  # the child writes its stderr straight to the file: nothing of ours to flush
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no stderr)"
        return " | ".join(text[-lines:]) or "(no stderr)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(SERVER_STOP_TIMEOUT)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log_file.close()


def run_client(
    server: ServerProcess, pin: Pinning, quick: bool, workloads: list[str], timeout: float
) -> dict:
    cmd = [
        *pin.argv(pin.client_core),
        sys.executable,
        str(BENCH / "client.py"),
        "--port",
        str(server.port),
        "--pid",
        str(server.proc.pid),
        "--workloads",
        ",".join(workloads),
    ]
    if quick:
        cmd.append("--quick")
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            timeout=timeout,
            cwd=ROOT,
            preexec_fn=pin.preexec(pin.client_core),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"client timed out after {timeout:.0f}s"}
    with open(server.log_path, "ab") as f:
        f.write(b"--- client stderr ---\n" + done.stderr)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return {"error": f"client exited {done.returncode}: {' | '.join(tail)}"}
    return json.loads(done.stdout)


# --------------------------------------------------------------------------- report


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    ax = abs(x)
    if ax >= 100_000:
        return f"{x / 1e3:.0f}k"
    if ax >= 10_000:
        return f"{x / 1e3:.1f}k"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def values(results: dict, server: str, wl: str, key: str) -> list[float | None]:
    """One value per run (None where that run has no figure)."""
    out = []
    for run in results[server]["runs"]:
        v = run.get("workloads", {}).get(wl, {}).get(key)
        out.append(v if isinstance(v, int | float) else None)
    return out


def first_error(results: dict, server: str, wl: str) -> str | None:
    if results[server].get("error"):
        return results[server]["error"]
    for run in results[server]["runs"]:
        if run.get("error"):
            return run["error"]
        err = run.get("workloads", {}).get(wl, {}).get("error")
        if err:
            return err
    return None


def short_error(err: str) -> str:
    if "404" in err and "handshake refused" in err:
        return "n/a"
    return "error"


def cell(vals: list[float | None]) -> str:
    got = [v for v in vals if v is not None]
    if not got:
        return ""
    med = statistics.median(got)
    if len(got) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(got))}{DASH}{fmt(max(got))})"


def render(results: dict, meta: dict) -> str:
    servers = list(results)
    lines = []
    n_runs = meta["runs"]
    lines.append(
        f"### WebSocket echo benchmark ({'quick' if meta['quick'] else 'full'}, "
        f"{n_runs} run{'s' if n_runs != 1 else ''}, {meta['pinning']})"
    )
    lines.append("")
    lines.append(f"Median over runs, (min{DASH}max) in brackets.")
    lines.append("")
    lines.append("| workload | " + " | ".join(servers) + " |")
    lines.append("|---|" + "---:|" * len(servers))
    notes: list[str] = []
    for wl, key, label, higher in METRICS:
        if wl not in meta["workloads"]:
            continue
        row = [f"{label} {'↑' if higher else '↓'}"]
        for s in servers:
            text = cell(values(results, s, wl, key))
            if not text:
                err = first_error(results, s, wl)
                if err:
                    tag = short_error(err)
                    note = f"{s} {wl}: {err}"
                    if note not in notes:
                        notes.append(note)
                    text = f"{tag} [{notes.index(note) + 1}]"
                else:
                    text = "-"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")

    for base in BASELINES:
        if base not in servers:
            continue
        lines.append(
            f"Ratio to **{base}** (this server / {base}, paired run by run, median): "
            "above 1 is better on ↑ rows, below 1 is better on ↓ rows."
        )
        lines.append("")
        lines.append("| workload | " + " | ".join(servers) + " |")
        lines.append("|---|" + "---:|" * len(servers))
        for wl, key, label, higher in METRICS:
            if wl not in meta["workloads"]:
                continue
            base_vals = values(results, base, wl, key)
            row = [f"{label} {'↑' if higher else '↓'}"]
            for s in servers:
                ratios = [
                    v / b
                    for v, b in zip(values(results, s, wl, key), base_vals, strict=False)
                    if v is not None and b
                ]
                row.append(f"{statistics.median(ratios):.2f}{TIMES}" if ratios else "-")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")

    lines.append("Notes:")
    lines.append("")
    for s in servers:
        loop = results[s].get("loop", "?")
        lines.append(f"- **{s}**: {SERVERS[s]['desc']} (loop reported: {loop}).")
    lines.append(
        "- (a), (b), (d), (e) use the seed's `EchoWebSocket` unchanged (reply = "
        '`"You said: "` + the 64-byte text message). (c) uses `BinaryEcho` '
        '(`write_message(message, binary=True)`) because the seed\'s `"You said: " + bytes` '
        "fails on binary; (f) uses `DeflateEcho(EchoWebSocket)`, which only adds "
        "`get_compression_options() -> {}`. aiohttp and picows serve the same replies "
        "natively. picows has no permessage-deflate: (f) is n/a there."
    )
    lines.append(
        "- Server CPU per message/handshake = server process CPU time (user+system, all "
        f"threads, from /proc/PID/{meta.get('cpu_source', 'stat')}) over the measuring window "
        "divided by the messages/handshakes completed in it; for handshakes, the median of "
        "that figure over the window's equal parts (bench/README.md)."
    )
    mem = sorted({int(v) for s in servers for v in values(results, s, "memory", "conns") if v})
    if mem:
        lines.append(
            "- (e) = (server RSS with N more idle, handshaken connections - RSS before) / N, "
            f"N = {', '.join(f'{v:,}' for v in mem)}, after 50 warm-up connections"
            + (" (run 1 only in --quick: it barely varies)" if meta["quick"] else "")
            + "."
        )
    for i, note in enumerate(notes, 1):
        lines.append(f"- [{i}] {note}")
    for w in meta["warnings"]:
        lines.append(f"- warning: {w}")
    return "\n".join(lines)


def collect_warnings(results: dict) -> list[str]:
    """Client-bound windows, steal time, other processes: the figures they touch are suspect."""
    out = []
    for s, data in results.items():
        windows = 0
        stolen: list[float] = []
        crowded: list[float] = []
        for i, run in enumerate(data["runs"], 1):
            for wl, r in run.get("workloads", {}).items():
                if not isinstance(r, dict) or "error" in r or "steal_frac" not in r:
                    continue
                client = r.get("client_cpu_frac", 0.0)
                server = r.get("server_cpu_frac", 1.0)
                if wl != "latency" and client > 0.9 > server:
                    out.append(
                        f"{s} run {i} {wl}: client core {client:.0%} busy, server "
                        f"{server:.0%}: client-bound, the rate is a lower bound"
                    )
                windows += 1
                if r["steal_frac"] > 0.05:
                    stolen.append(r["steal_frac"])
                # Others on the server's core always matter; on the client's core only when
                # the server was not saturated anyway (a slowed client then slows the rate).
                others = r.get("server_core_others_frac", 0.0)
                if server < 0.9:
                    others = max(others, r.get("client_core_others_frac", 0.0))
                if others > 0.1:
                    crowded.append(others)
        if stolen:
            out.append(
                f"{s}: the hypervisor stole over 5% of the server core in {len(stolen)} of "
                f"{windows} measuring windows (worst {max(stolen):.0%})"
            )
        if crowded:
            out.append(
                f"{s}: other processes used over 10% of the server's core (or of the client's, "
                f"while the server was not saturated) in {len(crowded)} of {windows} measuring "
                f"windows (worst {max(crowded):.0%})"
            )
    if out:
        out.append(
            "in the windows above, wall-clock rates and latencies are low; CPU per message or "
            "handshake moves much less, but is not immune (shared caches)"
        )
    return out


def machine_load(seconds: float = 1.0) -> float:
    """Share of all cores busy over ``seconds`` (before we start anything), from /proc/stat."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[0] + v[1] + v[2] + v[5] + v[6], sum(v[:8])

    try:
        b0, t0 = sample()
        time.sleep(seconds)
        b1, t1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return (b1 - b0) / max(1, t1 - t0)


def machine_info() -> dict:
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("tornado", "aiohttp", "uvloop", "picows"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    info["packages"] = versions
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT)]
        info["git_commit"] = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        info["git_dirty"] = bool(
            subprocess.run(
                [*git, "status", "--porcelain", "--", "tornado_ws_compat"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    return info


def wait_quiet(limit: float) -> bool:
    """Wait (at most ``limit`` seconds) until under 10% of the machine's CPU is busy."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if machine_load(0.5) < 0.1:
            return True
    return False


# --------------------------------------------------------------------------- main


def parse_list(text: str, known, what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in items if x not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return items


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short windows, about a minute")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    parser.add_argument("--runs", type=int, help="runs per server (default 3 quick, 5 full)")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="do not pin (not recommended)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each server run, wait up to SECONDS for the machine to be under 10%% busy",
    )
    parser.add_argument("--output", type=Path, help="JSON path (default bench/results/...)")
    parser.add_argument(
        "--chart", type=Path, help="SVG chart path (default bench/results/chart-<time>.svg)"
    )
    args = parser.parse_args()
    servers = parse_list(args.servers, SERVERS, "servers")
    workloads = parse_list(args.workloads, WORKLOADS, "workloads")
    workloads = [w for w in WORKLOADS if w in workloads]  # memory first: fresh server
    runs = args.runs or (3 if args.quick else 5)
    if not 1 <= runs <= 50:
        raise SystemExit("--runs must be between 1 and 50")

    pin = Pinning(args.server_core, args.client_core, not args.no_pin)
    warnings = [pin.warning] if pin.warning else []
    for w in warnings:
        log(f"warning: {w}")
    if pin.how != "none":  # keep this orchestrating process off the server's core
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {pin.client_core})
    # 5,000 idle connections need file descriptors on both sides; children inherit this.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 12_000 and "memory" in workloads:
        warnings.append(f"RLIMIT_NOFILE hard limit {hard} may be too low for (e)")

    load = machine_load()
    if load > 0.1:
        warnings.append(
            f"before the start, {load:.0%} of the machine's CPU was busy with other processes: "
            "expect noisy rates (compare the CPU-per-message rows)"
        )
        log(f"warning: {warnings[-1]}")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    log_dir = RESULTS / f"logs-{stamp}"
    log_dir.mkdir(exist_ok=True)
    client_timeout = 150.0 if args.quick else 400.0
    results: dict = {s: {"runs": [], "loop": "?"} for s in servers}
    cpu_source = "stat"
    t_start = time.monotonic()
    for r in range(runs):
        order = servers[r % len(servers) :] + servers[: r % len(servers)]
        for name in order:
            if results[name].get("error"):
                continue  # it failed to start once: do not wait for it again
            if args.wait_quiet > 0 and not wait_quiet(args.wait_quiet):
                log(f"the machine stayed busy for {args.wait_quiet:.0f}s: running anyway")
            t0 = time.monotonic()
            server = ServerProcess(name, pin, log_dir / f"{name}.log")
            try:
                server.wait_ready()
            except RuntimeError as exc:
                results[name]["error"] = str(exc)
                log(f"run {r + 1}/{runs} {name}: FAILED TO START: {exc}")
                continue
            todo = workloads
            if args.quick and r > 0:  # (e) barely varies run to run: once is enough in --quick
                todo = [w for w in workloads if w != "memory"] or workloads
            try:
                results[name]["loop"] = server.loop
                out = run_client(server, pin, args.quick, todo, client_timeout)
            finally:
                server.stop()
            cpu_source = out.get("cpu_source", cpu_source)
            results[name]["runs"].append(out)
            errs = [w for w, v in out.get("workloads", {}).items() if "error" in v]
            status = out.get("error") or (f"errors in {', '.join(errs)}" if errs else "ok")
            log(f"run {r + 1}/{runs} {name}: {status} ({time.monotonic() - t0:.1f}s)")

    warnings += collect_warnings(results)
    meta = {
        "quick": args.quick,
        "runs": runs,
        "workloads": workloads,
        "pinning": pin.describe(),
        "cpu_source": cpu_source,
        "warnings": warnings,
    }
    report = render(results, meta)
    print(report)
    out_path = args.output or RESULTS / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    payload = {
        "meta": {**meta, "started": stamp, "elapsed_s": time.monotonic() - t_start},
        "machine": machine_info(),
        "servers": {s: SERVERS[s]["desc"] for s in servers},
        "results": results,
        "table": report,
    }
    out_path.write_text(json.dumps(payload, indent=1))
    chart_path = args.chart or RESULTS / f"chart-{stamp}.svg"
    caption = f"{runs} runs, median; {pin.describe()}; started {stamp}"
    chart_path.write_text(chart.svg(results, caption))
    log(f"chart: {chart_path}")
    log(f"saved {out_path} (server logs in {log_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
