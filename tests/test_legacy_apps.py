"""Legacy Tornado programs (tests/legacy_apps/) run unchanged through ``run`` (issue 8).

Each program runs as a child process twice: under ``python -m tornado_ws_compat run`` with a
poisoned ``tornado`` package first on ``sys.path`` (real Tornado cannot be imported), and under
plain ``python`` on real Tornado 6.6.1. The same aiohttp client script drives both and what it
observes (statuses, content types, bodies, messages, close codes) must be equal. Programs that
Tornado 6.6.1 cannot run (``@web.asynchronous``, writes from a worker thread) are compared with
the transcript Tornado 4/5 gave them, written out below.

The child's loop follows the test's: uvloop under uvloop, asyncio's otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yarl

REPO = Path(__file__).resolve().parents[1]
APPS = Path(__file__).resolve().parent / "legacy_apps"
TIMEOUT = 15.0
_LISTENING = re.compile(r"Listening on port (\d+)")

Transcript = list[Any]
Driver = Callable[[aiohttp.ClientSession, str], Awaitable[Transcript]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def poison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("poison")
    (root / "tornado").mkdir()
    (root / "tornado" / "__init__.py").write_text(
        "raise ImportError('the real tornado package was imported')\n"
    )
    return root


class Program:
    """A legacy program running in a child process, until ``stop``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.port = 0
        self.stderr = b""

    @classmethod
    async def start(
        cls, script: str, args: list[str], ours: bool, poison: Path, swapped: Path | None = None
    ) -> Program:
        """Under ``run`` (``ours``), on real Tornado, or, given ``swapped`` (the programs with
        their imports changed to ``tornado_ws_compat``), under plain ``python``."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        apps = APPS if swapped is None else swapped
        if ours:
            command = (
                [sys.executable] if swapped else [sys.executable, "-m", "tornado_ws_compat", "run"]
            )
            env["PYTHONPATH"] = os.pathsep.join([str(poison), str(REPO)])
            if "uvloop" not in type(asyncio.get_running_loop()).__module__:
                env["TORNADO_WS_COMPAT_NO_UVLOOP"] = "1"
        else:
            command = [sys.executable]
            env.pop("PYTHONPATH", None)
        process = await asyncio.create_subprocess_exec(
            *command,
            str(apps / script),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=apps,
            env=env,
        )
        program = cls(process)
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        except BaseException:
            await program.stop()
            raise
        found = _LISTENING.search(line.decode())
        if found is None:
            await program.stop()
            raise AssertionError(f"{script}: {line!r}; stderr:\n{program.stderr.decode()}")
        program.port = int(found.group(1))
        return program

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, self.stderr = await asyncio.wait_for(self.process.communicate(), TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise


async def _page(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with session.request(method, url, **kwargs) as response:
        return [response.status, response.headers.get("Content-Type"), await response.text()]


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    message = await ws.receive(timeout=TIMEOUT)
    if message.type is aiohttp.WSMsgType.CLOSE:
        return ["close", message.data, message.extra]
    return [message.type.name, message.data]


async def chat_room(session: aiohttp.ClientSession, base: str) -> Transcript:
    out: Transcript = []
    ws_url = base.replace("http", "ws") + "/chatsocket"
    async with session.ws_connect(ws_url) as a, session.ws_connect(ws_url) as b:
        out.append(await _page(session, "GET", base + "/"))
        for sender, body in ((a, "<b>hi</b>"), (b, "x & y"), (a, "third")):
            await sender.send_str(json.dumps({"body": body}))
            out += [await _receive(a), await _receive(b)]
        async with session.ws_connect(ws_url) as c:
            out += [await _receive(c) for _ in range(3)]  # the cache, replayed
            out.append(await _page(session, "GET", base + "/"))
            await c.send_str(json.dumps({"body": "late"}))
            out += [await _receive(a), await _receive(b), await _receive(c)]
    return out


async def gen_coroutines(session: aiohttp.ClientSession, base: str) -> Transcript:
    out: Transcript = [await _page(session, "GET", base + "/sum")]
    async with session.ws_connect(base.replace("http", "ws") + "/shout") as ws:
        out.append(await _receive(ws))
        for word in ("first", "second", "third"):
            await ws.send_str(word)
        out += [await _receive(ws) for _ in range(3)]
    return out


async def ioloop_timers(session: aiohttp.ClientSession, base: str) -> Transcript:
    async with session.ws_connect(base.replace("http", "ws") + "/ticks") as ws:
        out: Transcript = [await _receive(ws) for _ in range(6)]
        await ws.send_str("hello")
        out.append(await _receive(ws))
    return out


async def worker_progress(session: aiohttp.ClientSession, base: str) -> Transcript:
    out: Transcript = [await _page(session, "GET", base + "/square/12")]
    async with session.ws_connect(base.replace("http", "ws") + "/job") as ws:
        await ws.send_str("5")
        out += [await _receive(ws) for _ in range(6)]
    out.append(await _page(session, "GET", base + "/square/x"))
    return out


async def escape_and_sockets(session: aiohttp.ClientSession, base: str) -> Transcript:
    note = "see http://example.com/a?b=1&c=2 <now>"
    out: Transcript = [
        await _page(session, "POST", base + "/notes", data=json.dumps({"note": note})),
        await _page(session, "GET", base + "/notes?q=see"),
    ]
    async with session.ws_connect(base.replace("http", "ws") + "/notes/socket") as ws:
        await ws.send_str("a <b> & 'c' \"d\"")
        out.append(await _receive(ws))
    out.append(await _page(session, "GET", base + "/notes", params={"q": "<"}))
    return out


async def thread_pusher(session: aiohttp.ClientSession, base: str) -> Transcript:
    async with session.ws_connect(base.replace("http", "ws") + "/feed") as ws:
        out: Transcript = [await _receive(ws) for _ in range(101)]
        await ws.send_str("bye")
        out.append(await _receive(ws))
    return out


async def asynchronous_page(session: aiohttp.ClientSession, base: str) -> Transcript:
    return [
        await _page(session, "GET", base + "/slow"),
        await _page(session, "GET", base + "/quick"),
    ]


_XSRF_FIELD = re.compile(r'(name="_xsrf" value=")[^"]*(")')


def _masked(page: Any) -> Any:
    """A page with the xsrf token (random per session) replaced."""
    status, content_type, body = page
    return [status, content_type, _XSRF_FIELD.sub(r"\1X\2", body)]


async def dashboard(session: aiohttp.ClientSession, base: str) -> Transcript:
    ws_base = base  # aiohttp sends the jar's cookies to http:// URLs, not ws:// ones
    out: Transcript = []
    async with session.get(base + "/", allow_redirects=False) as response:
        out.append([response.status, response.headers.get("Location")])
    out.append(_masked(await _page(session, "GET", base + "/login?next=%2Fboard%2Fops")))
    out.append(await _page(session, "POST", base + "/login", data={"name": "ann"}))
    xsrf = session.cookie_jar.filter_cookies(yarl.URL(base))["_xsrf"].value
    login = {"name": "ann", "_xsrf": xsrf}
    url = base + "/login?next=/board/ops"
    async with session.post(url, data=login, allow_redirects=False) as response:
        out.append([response.status, response.headers.get("Location"), "user" in response.cookies])
    board = await _page(session, "GET", base + "/board/ops")
    out.append(board)
    css = re.search(r'href="([^"]+)"', board[2])
    assert css is not None, board
    async with session.get(base + css.group(1)) as response:
        headers = [response.headers.get(h) for h in ("Content-Type", "Etag", "Cache-Control")]
        out.append([response.status, headers, await response.text()])
    out.append(await _page(session, "GET", base + "/board/nope"))
    async with session.ws_connect(ws_base + "/socket/ops") as ws:
        out.append(await _receive(ws))
        await ws.send_str(json.dumps({"cpu": 7}))
        out.append(await _receive(ws))
        out.append(await _page(session, "POST", base + "/api/ops", data=json.dumps({"mem": 512})))
        out.append(await _receive(ws))
        await ws.send_str("{oops")
        out.append(await _receive(ws))
        out.append(await _page(session, "GET", base + "/board/ops"))
        async with aiohttp.ClientSession() as stranger:
            async with stranger.ws_connect(ws_base + "/socket/ops") as other:
                out.append(await _receive(other))
        async with session.ws_connect(ws_base + "/socket/zzz") as other:
            out.append(await _receive(other))
    out.append(await _page(session, "POST", base + "/api/ops", data="{oops"))
    out.append(await _page(session, "POST", base + "/api/ops", data=json.dumps({"cpu": 9})))
    out.append(await _page(session, "GET", base + "/api/ops"))
    return out


async def game_lobby(session: aiohttp.ClientSession, base: str) -> Transcript:
    url = base + "/play?name="
    out: Transcript = [await _page(session, "GET", base + "/stats")]
    first = await session.ws_connect(url + "ann", protocols=["chat", "game.v1"], compress=15)
    out += [first.protocol, await _receive(first), await _receive(first)]
    out.append(await _page(session, "GET", base + "/stats"))
    second = await session.ws_connect(url + "bob", protocols=["game.v1"])
    out += [second.protocol, await _receive(second), await _receive(first), await _receive(second)]
    await second.send_str(json.dumps({"cell": 4}))  # not bob's turn: the server does not care
    out += [await _receive(second), await _receive(first)]
    await first.send_str(json.dumps({"cell": 0}))
    out += [await _receive(first), await _receive(second)]
    await first.send_bytes(b"\x01\x02\x03")
    out.append(await _receive(first))
    await second.send_str(json.dumps({"ping": "are you there"}))
    out.append(await _receive(second))
    await first.send_str(json.dumps({"quit": 4100, "why": "bored"}))
    out += [await _receive(first), await _receive(second)]
    await first.close()
    lonely = await session.ws_connect(url + "cid")
    out += [lonely.protocol, await _receive(lonely), await _receive(lonely)]
    await lonely.close()  # while its open() still waits for an opponent
    await second.close()
    out += [second.close_code, await _page(session, "GET", base + "/stats")]
    return out


async def notebook(session: aiohttp.ClientSession, base: str) -> Transcript:
    ws = base.replace("http", "ws")
    out: Transcript = [
        await _page(session, "GET", base + "/"),
        await _page(session, "GET", base + "/kernels/k1"),
    ]
    async with session.post(base + "/api/kernels/k1", data=b"") as response:
        out.append([response.status, response.headers.get("Location"), await response.text()])
    async with session.ws_connect(
        ws + "/kernels/k1/channels",
        headers={"X-Real-Ip": "10.1.2.3"},
        origin="http://notebook.example",
    ) as kernel:
        out.append(await _receive(kernel))
        cells = [("a", "6 * 7", False), ("b", "2 ** 10 / 4", True), ("c", "1 / 0", False)]
        for cell_id, code, slow in cells:
            await kernel.send_str(json.dumps({"id": cell_id, "code": code, "slow": slow}))
            out += [await _receive(kernel) for _ in range(3)]
        await kernel.send_str(json.dumps({"id": "d", "code": "__import__('os')"}))
        out += [await _receive(kernel) for _ in range(3)]
    try:
        await session.ws_connect(ws + "/kernels/k1/channels", origin="http://evil.example")
    except aiohttp.WSServerHandshakeError as refused:
        out.append(["refused", refused.status])
    out.append(await _page(session, "GET", base + "/kernels/k1"))
    out.append(await _page(session, "GET", base + "/kernels/k2"))
    async with session.ws_connect(ws + "/relay/k1") as relay:
        out.append(await _receive(relay))
        await relay.send_str(json.dumps({"id": "e", "code": "1 + 1"}))
        out += [await _receive(relay) for _ in range(3)]
    async with session.ws_connect(ws + "/relay/k9") as relay:
        out.append(await _receive(relay))
    out.append(await _page(session, "GET", base + "/api/kernels/k1"))
    return out


async def tornado4_feed(session: aiohttp.ClientSession, base: str) -> Transcript:
    out: Transcript = [await _page(session, "GET", base + "/count")]
    async with session.ws_connect(base.replace("http", "ws") + "/feed") as ws:
        pushed = await _receive(ws)  # the feeder pushes every 20 ms from the start
        out.append([pushed[0], re.sub(r"\d+", "N", pushed[1])])
        await ws.send_str("hello")
        while (answer := await _receive(ws))[1].startswith("push"):
            pass
        out += [answer, await _page(session, "GET", base + "/count")]
    return out


async def command_console(session: aiohttp.ClientSession, base: str) -> Transcript:
    ws_url = base + "/console"  # aiohttp sends the jar's cookies to http:// URLs
    out: Transcript = []
    async with session.get(base + "/status", allow_redirects=False) as response:
        out.append([response.status, response.headers.get("Location")])
    out.append(await _page(session, "GET", base + "/login?next=%2Fstatus"))
    out.append(await _page(session, "POST", base + "/login", data={"name": "ops"}))
    headers = {"X-Real-Ip": "10.0.0.7", "X-Scheme": "https"}
    out.append(await _page(session, "GET", base + "/status", headers=headers))
    async with aiohttp.ClientSession() as stranger:
        async with stranger.ws_connect(ws_url) as ws:
            out.append(await _receive(ws))
    async with session.ws_connect(ws_url) as ws:
        out.append(await _receive(ws))
        await ws.send_str(json.dumps({"id": "a", "run": "count", "args": ["3"]}))
        await ws.send_str(json.dumps({"id": "b", "run": "fail"}))  # waits for the one slot
        out += [await _receive(ws) for _ in range(8)]
        await ws.send_str(json.dumps({"id": "c", "run": "upper"}))
        out.append(await _receive(ws))
        for text in ("hello", "tornado <3"):
            await ws.send_str(json.dumps({"id": "c", "stdin": text}))
            out.append(await _receive(ws))
        await ws.send_str(json.dumps({"id": "c", "eof": True}))
        out.append(await _receive(ws))
        await ws.send_str(json.dumps({"id": "d", "run": "rm"}))
        out.append(await _receive(ws))
        await ws.send_str("{not json")
        out.append(await _receive(ws))
        out.append(await _page(session, "GET", base + "/status"))
    out.append(await _page(session, "GET", base + "/history"))
    return out


async def shell_bridge(session: aiohttp.ClientSession, base: str) -> Transcript:
    ws_url = base.replace("http", "ws") + "/ws"
    out: Transcript = []
    async with session.get(base + "/") as response:
        out.append([response.status, response.headers.get("Server"), await response.text()])
    out.append(await _page(session, "GET", base + "/", headers={"Host": "blocked.example"}))
    async with session.get(
        base + "/?a=1", headers={"Host": "old.example"}, allow_redirects=False
    ) as response:
        out.append([response.status, response.headers.get("Location")])
    for form in ({"user": "ann"}, {}, {"user": ""}, {"user": "root"}):
        out.append(await _page(session, "POST", base + "/", data=form))
    async with session.ws_connect(ws_url) as ws:
        out.append(await _receive(ws))
    async with session.ws_connect(ws_url + "?id=1") as ws:
        out.append(await _receive(ws))
        await ws.send_str(json.dumps({"resize": [80, 24]}))
        await ws.send_str(json.dumps({"data": "ls -l\r"}))
        out.append(await _receive(ws))
        await ws.send_str("[1, 2]")
        await ws.send_str(json.dumps({"data": "exit\r"}))
        out += [await _receive(ws), await _receive(ws)]
    async with session.ws_connect(ws_url + "?id=1") as ws:
        out.append(await _receive(ws))
    return out


async def wsgi_and_sockets(session: aiohttp.ClientSession, base: str) -> Transcript:
    out: Transcript = [await _page(session, "GET", base + "/")]
    async with session.ws_connect(base.replace("http", "ws") + "/live") as ws:
        out.append(await _receive(ws))
        async with session.post(base + "/api/notes", data={"text": "first <note>"}) as response:
            out.append([response.status, response.headers.get("Location"), await response.text()])
        out.append(await _receive(ws))
        out.append(await _page(session, "POST", base + "/api/notes", data={"text": ""}))
        await ws.send_str("ping")
        out.append(await _receive(ws))
    out.append(await _page(session, "GET", base + "/api/notes"))
    out.append(await _page(session, "GET", base + "/nowhere/%C3%A9"))
    out.append(await _page(session, "GET", base + "/"))
    return out


async def sensor_bridge(session: aiohttp.ClientSession, base: str) -> Transcript:
    async with session.get(base + "/status") as response:
        sensor_port = (await response.json())["sensor_port"]
    out: Transcript = []
    async with session.ws_connect(base.replace("http", "ws") + "/live") as browser:
        out.append(await _receive(browser))
        reader, writer = await asyncio.open_connection("127.0.0.1", sensor_port)
        writer.write(b"thermo-1\n")
        out += [await _receive(browser), await reader.readline()]
        for line in (b"temp=21.5\n", b"te", b"mp=22\n"):  # the second reading in two packets
            writer.write(line)
            await writer.drain()
        out += [await _receive(browser), await _receive(browser)]
        out.append(_port_masked(await _page(session, "GET", base + "/status")))
        await browser.send_str(json.dumps({"to": "thermo-1", "say": "RATE 5"}))
        out += [await _receive(browser), await reader.readline()]
        await browser.send_str(json.dumps({"to": "hygro-9", "say": "RATE 1"}))
        out.append(await _receive(browser))
        writer.write(b"x" * 100 + b"\n")  # over max_line: the bridge drops the sensor
        out += [await _receive(browser), await reader.read()]
        writer.close()
        second_reader, second = await asyncio.open_connection("127.0.0.1", sensor_port)
        second.write(b"hygro-2\n")
        out += [await _receive(browser), await second_reader.readline()]
        second.close()
        out.append(await _receive(browser))
    out.append(_port_masked(await _page(session, "GET", base + "/status")))
    return out


def _port_masked(page: Any) -> Any:
    """A page with the sensor port (a free port, another each run) replaced."""
    status, content_type, body = page
    return [status, content_type, re.sub(r'"sensor_port": \d+', '"sensor_port": N', body)]


HTML = "text/html; charset=UTF-8"

#: What Tornado 4.x/5.x clients saw from the programs that Tornado 6.6.1 cannot run.
PRE_6_TRANSCRIPTS: dict[str, Transcript] = {
    "thread_pusher.py": [
        *(["TEXT", f"item {i}"] for i in range(1, 101)),
        ["TEXT", "end of feed"],
        ["close", 4001, "finished"],
    ],
    "asynchronous_page.py": [
        [200, HTML, "started; step 1; step 2; step 3; finished"],
        [200, HTML, "quick"],
    ],
    "tornado4_feed.py": [
        [200, HTML, "count 0, a,b"],
        ["TEXT", "push N"],
        ["TEXT", "echo hello"],
        [200, HTML, "count 1, a,b"],
    ],
}

# script, its arguments ({port} is a free port), the client script
PROGRAMS: list[tuple[str, list[str], Driver]] = [
    ("chat_room.py", ["--port={port}", "--room=test", "--logging=warning"], chat_room),
    ("gen_coroutines.py", ["{port}"], gen_coroutines),
    ("ioloop_timers.py", ["{port}"], ioloop_timers),
    ("worker_progress.py", ["--port={port}", "--logging=error"], worker_progress),
    ("escape_and_sockets.py", [], escape_and_sockets),
    ("thread_pusher.py", ["{port}"], thread_pusher),
    ("asynchronous_page.py", ["{port}"], asynchronous_page),
    ("dashboard/dashboard.py", ["--port={port}", "--boards=ops,lab"], dashboard),
    ("game_lobby.py", ["--turn_seconds=60"], game_lobby),
    ("notebook/notebook.py", [], notebook),
    ("tornado4_feed.py", ["{port}"], tornado4_feed),
    ("command_console.py", ["--logging=error"], command_console),
    ("shell_bridge.py", ["--port={port}", "--logging=error"], shell_bridge),
    ("wsgi_and_sockets.py", ["{port}"], wsgi_and_sockets),
    ("sensor_bridge.py", ["--port={port}", "--logging=error"], sensor_bridge),
]

#: Programs whose stderr (no timestamps in it) is compared too.
COMPARE_STDERR = {"command_console.py"}

_tornado_transcripts: dict[str, Transcript] = {}


async def _transcript(
    script: str,
    args: list[str],
    drive: Driver,
    ours: bool,
    poison: Path,
    swapped: Path | None = None,
) -> Any:
    for attempt in range(3):
        # A free port can be taken by another process before the program binds it: retry.
        port = str(_free_port())
        try:
            program = await Program.start(
                script, [arg.replace("{port}", port) for arg in args], ours, poison, swapped
            )
            break
        except AssertionError as error:
            if "Address already in use" not in str(error) or attempt == 2:
                raise
    try:
        # unsafe: keep the cookies a server at an IP address (127.0.0.1) sets.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            transcript = await drive(session, f"http://127.0.0.1:{program.port}")
    finally:
        await program.stop()
    if script in COMPARE_STDERR:  # what the program wrote on its way out, after the SIGTERM
        transcript.append(program.stderr.decode())
    return transcript


@pytest.mark.asyncio
@pytest.mark.parametrize(("script", "args", "drive"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
async def test_legacy_program_runs_unchanged(
    script: str, args: list[str], drive: Driver, poison: Path
) -> None:
    ours = await _transcript(script, args, drive, True, poison)
    assert ours == await _expected(script, args, drive, poison)


_IMPORTS = re.compile(r"\btornado(?=\.| import)|^import tornado$", re.MULTILINE)


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The programs and their modules with every ``tornado`` import changed to
    ``tornado_ws_compat`` (the README's other way to migrate)."""
    root = tmp_path_factory.mktemp("swapped")
    shutil.copytree(APPS, root, dirs_exist_ok=True)
    for source in root.rglob("*.py"):
        source.write_text(_IMPORTS.sub("tornado_ws_compat", source.read_text()))
    return root


@pytest.mark.asyncio
@pytest.mark.client_loop_uvloop_only  # the run mode's test above covers both loops
@pytest.mark.parametrize(("script", "args", "drive"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
async def test_legacy_program_runs_with_its_imports_changed(
    script: str, args: list[str], drive: Driver, poison: Path, swapped: Path
) -> None:
    """``from tornado_ws_compat import web`` instead of ``from tornado import web``: under
    plain ``python``, no alias, real Tornado blocked, the client sees the same."""
    ours = await _transcript(script, args, drive, True, poison, swapped)
    assert ours == await _expected(script, args, drive, poison)


async def _expected(script: str, args: list[str], drive: Driver, poison: Path) -> Transcript:
    if script in PRE_6_TRANSCRIPTS:
        expected = PRE_6_TRANSCRIPTS[script]
    else:
        if script not in _tornado_transcripts:
            _tornado_transcripts[script] = await _transcript(script, args, drive, False, poison)
        expected = _tornado_transcripts[script]
    return expected


#: The apps' own test modules: the folder copied beside them, the module, its test count.
TEST_MODULES = {
    "chat": ({"chat_room.py": APPS / "chat_room.py"}, "legacy_test_chat", 3),
    "dashboard": ({"": APPS / "dashboard"}, "legacy_test_dashboard", 7),
    "console": ({"command_console.py": APPS / "command_console.py"}, "legacy_test_console", 7),
}


@pytest.mark.parametrize("app", sorted(TEST_MODULES))
@pytest.mark.parametrize("runner", ["pytest", "unittest"])
def test_legacy_test_module_runs_unchanged(
    app: str, runner: str, poison: Path, tmp_path: Path
) -> None:
    """The app's own Tornado-style tests pass through ``run -m``, as they do on Tornado."""
    files, module, count = TEST_MODULES[app]
    for name, source in files.items():
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, dirs_exist_ok=True)
        else:
            shutil.copy(source, tmp_path / name)
    if not (tmp_path / f"{module}.py").exists():
        shutil.copy(APPS / f"{module}.py", tmp_path)
    if runner == "pytest":
        args = ["pytest", "-q", "-p", "no:cacheprovider", f"{module}.py"]
    else:
        args = ["unittest", "-v", module]
    results = {}
    for ours in (True, False):
        env = dict(os.environ)
        if ours:
            command = [sys.executable, "-m", "tornado_ws_compat", "run", "-m", *args]
            env["PYTHONPATH"] = os.pathsep.join([str(poison), str(REPO)])
        else:
            command = [sys.executable, "-m", *args]
            if runner == "pytest":
                # On real Tornado this project's pytest plugin (an entry point wherever the
                # package is installed, even a stale editable install) is not the app's.
                command[3:3] = ["-p", "no:tornado_ws_compat"]
            env.pop("PYTHONPATH", None)
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        results[ours] = done
        assert done.returncode == 0, done.stdout + done.stderr
    summary = {ours: _summary(r.stdout + r.stderr) for ours, r in results.items()}
    assert summary[True] == summary[False]
    assert summary[True] in (f"{count} passed", f"Ran {count} tests")


@pytest.mark.parametrize("runner", ["pytest", "unittest"])
def test_tornado4_test_module_passes_unchanged(runner: str, poison: Path, tmp_path: Path) -> None:
    """A Tornado 4 test module (io_loop= everywhere, gen.Task, stop/wait callbacks), which
    Tornado 6.6.1 cannot run, passes through ``run -m`` as it passed on Tornado 4.5."""
    for name in ("tornado4_feed.py", "legacy_test_tornado4.py"):
        shutil.copy(APPS / name, tmp_path)
    if runner == "pytest":
        args = ["pytest", "-q", "-p", "no:cacheprovider", "legacy_test_tornado4.py"]
    else:
        args = ["unittest", "-v", "legacy_test_tornado4"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(poison), str(REPO)]))
    done = subprocess.run(
        [sys.executable, "-m", "tornado_ws_compat", "run", "-m", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _summary(done.stdout + done.stderr) in ("7 passed", "Ran 7 tests")


def _summary(output: str) -> str:
    found = re.search(r"(\d+ passed|Ran \d+ tests?)", output)
    assert found, output
    return found.group(1)
