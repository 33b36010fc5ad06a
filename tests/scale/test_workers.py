"""Worker processes (issue 12): ``HTTPServer.bind`` + ``start(2)``, restarts, SIGTERM, and
the chat example broadcasting across workers and across servers on Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from helpers import wait

from .redis_server import RedisServer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKERS_APP = HERE / "workers_app.py"
CHAT = REPO / "examples" / "chat" / "chat.py"
START_TIMEOUT = 30.0
#: Several processes (workers, Redis) share two cores with the test: be patient.
RECEIVE_TIMEOUT = 15.0


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


class Launched:
    """A launch script running; its stdout read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def line(self, prefix: str) -> str:
        """The next stdout line that starts with ``prefix`` (others are kept in ``lines``)."""
        assert self.process.stdout is not None
        while True:
            raw = await wait(self.process.stdout.readline(), START_TIMEOUT)
            if not raw:
                raise AssertionError(f"exited before {prefix!r}: {self.lines}")
            text = raw.decode().rstrip("\n")
            self.lines.append(text)
            if text.startswith(prefix):
                return text

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = await wait(self.process.communicate(), START_TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise
        self.lines += out.decode().splitlines()
        assert self.process.returncode is not None
        return self.process.returncode


@asynccontextmanager
async def launched(args: Sequence[str]) -> AsyncIterator[Launched]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=child_env(),
        cwd=REPO,
        start_new_session=True,  # its workers too can be killed as one group
    )
    child = Launched(process)
    try:
        yield child
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # workers left behind by a failure
        except ProcessLookupError:
            pass
        out, _ = await wait(process.communicate(), START_TIMEOUT)
        # Shown by pytest when the test fails: what the program said.
        print("\n".join(child.lines + out.decode(errors="replace").splitlines()))


async def workers_started(app: Launched, count: int) -> tuple[dict[int, int], int]:
    """{task id: pid} and the shared port, from the workers' "worker T PID PORT" lines."""
    pids: dict[int, int] = {}
    port = 0
    while len(pids) < count:
        _, task, pid, port_text = (await app.line("worker ")).split()
        pids[int(task)] = int(pid)
        port = int(port_text)
    return pids, port


async def pid_serving(session: aiohttp.ClientSession, port: int) -> int:
    async with session.get(
        f"http://127.0.0.1:{port}/pid", headers={"Connection": "close"}
    ) as response:
        assert response.status == 200
        return int(await response.text())


@pytest.mark.asyncio
async def test_start_2_serves_from_both_workers_and_restarts_a_killed_one() -> None:
    async with launched([str(WORKERS_APP), "2"]) as app:
        pids, port = await workers_started(app, 2)
        assert sorted(pids) == [0, 1]
        async with aiohttp.ClientSession() as session:
            seen: set[int] = set()
            for _ in range(400):  # the kernel picks the worker: bounded tries
                seen.add(await pid_serving(session, port))
                if seen == set(pids.values()):
                    break
            assert seen == set(pids.values())
            # A worker killed with SIGKILL is started again with the same task id.
            os.kill(pids[1], signal.SIGKILL)
            new_pids, _ = await workers_started(app, 1)
            assert list(new_pids) == [1] and new_pids[1] != pids[1]
            assert any(
                "child 1 (pid" in line and "killed by signal 9" in line for line in app.lines
            )
            serving = {await pid_serving(session, port) for _ in range(20)}
            assert pids[1] not in serving
        assert await app.stop() == 0


@pytest.mark.asyncio
async def test_sigterm_to_the_parent_closes_every_socket_with_1001() -> None:
    async with launched([str(WORKERS_APP), "2"]) as app:
        pids, port = await workers_started(app, 2)
        async with aiohttp.ClientSession() as session:
            sockets = []
            owners: set[int] = set()
            for _ in range(400):
                ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws")
                greeting = await wait(ws.receive_str(), RECEIVE_TIMEOUT)
                sockets.append(ws)
                owners.add(int(greeting.split()[1]))
                if owners == set(pids.values()) and len(sockets) >= 4:
                    break
            assert owners == set(pids.values())
            app.process.send_signal(signal.SIGTERM)
            for ws in sockets:
                message = await wait(ws.receive(), START_TIMEOUT)
                assert message.type == aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 1001
        assert await app.stop() == 0
        closes = [line for line in app.lines if line.startswith("on_close ")]
        assert len(closes) == len(sockets)
        assert not any("restarting" in line for line in app.lines)


async def chat_clients(
    session: aiohttp.ClientSession, ports: Sequence[int], room: str, workers: int
) -> list[tuple[aiohttp.ClientWebSocketResponse, int]]:
    """Connect until the clients sit on ``workers`` distinct worker ids (bounded)."""
    clients: list[tuple[aiohttp.ClientWebSocketResponse, int]] = []
    seen: set[int] = set()
    for attempt in range(200):
        port = ports[attempt % len(ports)]
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/chat/{room}")
        # Learn which worker serves it: it hears its own message back with the worker id.
        await ws.send_str(f"hello {attempt}")
        while True:
            message = json.loads(await wait(ws.receive_str(), RECEIVE_TIMEOUT))
            if message["text"] == f"hello {attempt}":
                break
        clients.append((ws, message["worker"]))
        seen.add(message["worker"])
        if len(seen) == workers and len(clients) >= 4:
            return clients
    raise AssertionError(f"clients landed on workers {seen} only")


async def everyone_hears_everyone(
    clients: list[tuple[aiohttp.ClientWebSocketResponse, int]],
) -> None:
    # Drain the greetings of the clients that joined later.
    for index, (ws, _) in enumerate(clients):
        for later in range(index + 1, len(clients)):
            while (
                json.loads(await wait(ws.receive_str(), RECEIVE_TIMEOUT))["text"]
                != f"hello {later}"
            ):
                pass
    for sender, (ws, _) in enumerate(clients):
        for n in range(5):
            await ws.send_str(f"{sender}:{n}")
    for ws, _ in clients:
        got = [
            json.loads(await wait(ws.receive_str(), RECEIVE_TIMEOUT))["text"]
            for _ in range(5 * len(clients))
        ]
        for sender in range(len(clients)):
            # One publisher's messages arrive in publish order, wherever its worker is.
            assert [t for t in got if t.split(":")[0] == str(sender)] == [
                f"{sender}:{n}" for n in range(5)
            ]


@pytest.mark.asyncio
async def test_chat_example_on_two_workers_over_redis(redis_server: RedisServer) -> None:
    args = [str(CHAT), "--port=0", "--workers=2", f"--pubsub={redis_server.url}"]
    async with launched(args) as chat, aiohttp.ClientSession() as session:
        port = int((await chat.line("worker ")).rsplit(":", 1)[1].rstrip("/"))
        await chat.line("worker ")
        clients = await chat_clients(session, [port], "lobby", workers=2)
        await everyone_hears_everyone(clients)
        # Rooms are isolated across workers too.
        other = await session.ws_connect(f"http://127.0.0.1:{port}/chat/other")
        await other.send_str("elsewhere")
        assert json.loads(await wait(other.receive_str(), RECEIVE_TIMEOUT))["text"] == "elsewhere"
        for ws, _ in clients:
            await ws.send_str("last")
        for ws, _ in clients:
            texts = [
                json.loads(await wait(ws.receive_str(), RECEIVE_TIMEOUT))["text"] for _ in clients
            ]
            assert texts == ["last"] * len(clients)
        for ws, _ in clients:
            await ws.close()
        await other.close()
        assert await chat.stop() == 0


@pytest.mark.asyncio
async def test_two_independent_servers_share_rooms_over_redis(redis_server: RedisServer) -> None:
    args = [str(CHAT), "--port=0", f"--pubsub={redis_server.url}"]
    async with launched(args) as first, launched(args) as second:
        ports = []
        for server in (first, second):
            ports.append(int((await server.line("worker ")).rsplit(":", 1)[1].rstrip("/")))
        async with aiohttp.ClientSession() as session:
            clients = await chat_clients(session, ports, "shared", workers=1)
            await everyone_hears_everyone(clients)
            for ws, _ in clients:
                await ws.close()
        # One process each: SIGTERM closes the sockets, then ends the process with the
        # default action, as it ends a Tornado process.
        assert await first.stop() == -signal.SIGTERM
        assert await second.stop() == -signal.SIGTERM
