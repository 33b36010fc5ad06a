"""Attack: flooding the json session store with anonymous connections (issue 10, point 7).

Before the fix every cookie-less WebSocket added a session and every close rewrote the whole
file (632 ms per close at 100k sessions; 50 anonymous clients took the CPU to 100%), at the
cap anonymous connections evicted real sessions, two servers on one file lost each other's
sessions, and a session id was never rotated on login.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from config._client import handshake
from config._process import run_cli
from config.conftest import Project
from helpers import settle

from tornado_ws_compat import signing
from tornado_ws_compat.config import ConfigError, JSONStore, MemoryStore
from tornado_ws_compat.config import session as session_module
from tornado_ws_compat.errors import ConfigurationError
from tornado_ws_compat.testing import running

SECRET = "flood-test-secret"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    instance = Project(tmp_path)
    yield instance
    instance.cleanup()


HOOKS = """
def open(handler):
    record("open", handler.session.id)
    if "login" in handler.request.arguments:
        handler.session["user"] = {"id": "alice"}
"""

YAML = """
app:
  settings: {cookie_secret: SECRET}
  session: {store: json, path: sessions.json, flush_interval: 3600%s}
url:
  chat:
    pattern: /chat
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.open}
""".replace("SECRET", SECRET)


def sid_of(answer: Any) -> str:
    value = signing.decode_signed_value(SECRET, "sid", answer.cookies()["sid"].value)
    assert value is not None
    return value.decode()


@pytest.mark.asyncio
async def test_anonymous_sockets_add_no_session_and_no_write(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    real_replace = session_module.os.replace

    def counting_replace(source: str, target: str) -> None:
        writes.append(target)
        real_replace(source, target)

    monkeypatch.setattr(session_module.os, "replace", counting_replace)
    config = project.load(YAML % "", HOOKS)
    store = config.sessions.store
    async with running(config.application) as server:
        for count in range(1, 51):
            answer = await handshake(server.port, "/chat")
            assert answer.status == 101 and "sid" in answer.cookies()  # the cookie is still sent
            await project.record.wait("open", count)
        await settle()
        assert len(store) == 0  # type: ignore[arg-type]
        # A browser that writes gets its session stored; a close marks, never writes.
        answer = await handshake(server.port, "/chat?login=1")
        await project.record.wait("open", 51)
        sid = sid_of(answer)
        for _ in range(200):
            if store.get(sid) is not None:
                break
            await asyncio.sleep(0)
        assert store.get(sid) == {"user": {"id": "alice"}}
        assert writes == []  # 51 closes: no file write before flush_interval
    config.close()
    assert len(writes) == 1  # once, at shutdown
    saved = json.loads((project.root / "sessions.json").read_text())
    assert list(saved["sessions"]) == [sid]


@pytest.mark.asyncio
async def test_store_anonymous_option_keeps_every_connection(project: Project) -> None:
    config = project.load(YAML % ", store_anonymous: true", HOOKS)
    async with running(config.application) as server:
        for count in range(1, 6):
            await handshake(server.port, "/chat")
            await project.record.wait("open", count)
    assert len(config.sessions.store) == 5  # type: ignore[arg-type]


def test_flood_at_the_cap_evicts_never_reused_sessions_first() -> None:
    store = MemoryStore(max_sessions=3)
    real = "r" * 32
    store.put(real, {"user": {"id": "alice"}})
    assert store.get(real) is not None  # used again by a later connection
    for index in range(100):  # anonymous sessions (store_anonymous) pour in
        store.put(f"{index:032x}", {})
    assert store.get(real) == {"user": {"id": "alice"}}
    assert len(store) == 3
    # With only reused sessions, the least recently used goes first (never the new one).
    lru = MemoryStore(max_sessions=2)
    for name in "xy":
        lru.put(name * 32, {})
        lru.get(name * 32)
    lru.get("x" * 32)
    lru.put("z" * 32, {})
    assert [lru.get(name * 32) is not None for name in "xyz"] == [True, False, True]


def test_two_servers_cannot_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    first = JSONStore(str(path))
    try:
        with pytest.raises(ConfigurationError, match="in use by another server"):
            JSONStore(str(path))
        # Another process (a second server) is refused too, with the same clear error.
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from tornado_ws_compat.config import JSONStore\n"
                "try:\n    JSONStore(sys.argv[1])\nexcept Exception as e:\n"
                "    print(e); sys.exit(3)",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert child.returncode == 3, child.stderr
        assert "in use by another server" in child.stdout
    finally:
        first.put("a" * 32, {"kept": True})
        first.close()
    second = JSONStore(str(path))  # free once the first server is gone
    assert second.get("a" * 32) == {"kept": True}
    second.close()


ROTATE = """
from tornado_ws_compat.config import WebSocketHandler

class LoginSocket(WebSocketHandler):
    def prepare(self):
        super().prepare()
        if "login" in self.request.arguments:
            self.session["user"] = {"id": "alice"}
            self.rotate_session()

def open(handler):
    record("open", handler.session.id, dict(handler.session))
    try:
        handler.rotate_session()
    except RuntimeError as exc:
        record("late", str(exc))
"""


@pytest.mark.asyncio
async def test_session_id_rotates_on_login(project: Project) -> None:
    yaml_text = (YAML % ", store_anonymous: true").replace(
        "handler: WebSocketHandler", "handler: $hooks.LoginSocket"
    )
    config = project.load(yaml_text, ROTATE)
    store = config.sessions.store
    async with running(config.application) as server:
        first = await handshake(server.port, "/chat")
        old = sid_of(first)
        await project.record.wait("open")
        cookie = {"Cookie": f"sid={first.cookies()['sid'].coded_value}"}
        login = await handshake(server.port, "/chat?login=1", cookie)
        assert login.status == 101
        new = sid_of(login)  # a new cookie with the 101
        assert new != old
        opened = await project.record.wait("open", 2)
        assert opened == (new, {"id": new, "user": {"id": "alice"}})
        assert store.get(old) is None  # the fixated id is worthless now
        assert store.get(new) == {"user": {"id": "alice"}}
        late = await project.record.wait("late")
        assert "before the response" in late[0]


def test_worker_processes_cannot_share_a_json_store(project: Project) -> None:
    """Forked workers would each hold a copy of the store and overwrite each other's file."""
    with pytest.raises(ConfigError, match=r"app\.session\.store.*workers"):
        project.load(YAML.replace("app:\n", "app:\n  listen: {workers: 2}\n", 1) % "", HOOKS)


@pytest.mark.asyncio(loop_factories=["asyncio"])  # the child process runs its own loop
async def test_serve_workers_flag_refuses_a_json_store(project: Project) -> None:
    path = project.write("app.yaml", YAML % "")
    project.hooks(HOOKS)
    status, out, err = await run_cli("serve", str(path), "--port", "0", "--workers", "2")
    assert status == 2, err
    assert "app.session.store" in err and "workers" in err
    assert "listening" not in out


PAGE_YAML = """
app:
  settings: {cookie_secret: SECRET}
  session: {store: json, path: sessions.json, flush_interval: 3600}
url:
  page:
    pattern: /
    handler: FileHandler
    kwargs: {path: index.html}
  chat:
    pattern: /chat
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.open}
""".replace("SECRET", SECRET)


@pytest.mark.asyncio
async def test_a_page_load_starts_the_session_its_sockets_share(project: Project) -> None:
    project.write("index.html", "<p>chat</p>")
    config = project.load(PAGE_YAML, HOOKS)
    store = config.sessions.store
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of an IP-address host (127.0.0.1)
    async with (
        running(config.application) as server,
        aiohttp.ClientSession(cookie_jar=jar) as session,
    ):
        async with session.get(server.url("/")) as response:
            assert response.status == 200
            sid = signing.decode_signed_value(SECRET, "sid", response.cookies["sid"].value)
        assert sid is not None
        assert store.get(sid.decode()) == {}  # a browser's page load: stored at once
        # The page's socket carries the cookie and finds the same, stored session.
        async with session.ws_connect(server.url("/chat")) as ws:
            await project.record.wait("open", 1)
            assert project.record.events[-1][1] == sid.decode()
            await ws.close()
        # An anonymous socket (no page, no cookie) still adds nothing.
        answer = await handshake(server.port, "/chat")
        assert answer.status == 101
        await project.record.wait("open", 2)
        assert len(store) == 1  # type: ignore[arg-type]
    config.close()
    saved = json.loads((project.root / "sessions.json").read_text())
    assert list(saved["sessions"]) == [sid.decode()]
