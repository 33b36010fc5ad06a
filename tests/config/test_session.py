"""Sessions: ``handler.session`` with a stable id, kept in a signed ``sid`` cookie minted on the
101; the memory store across connections, the json store across restarts."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import aiohttp
import pytest
from helpers import settle

from tornado_ws_compat import signing
from tornado_ws_compat.config import JSONStore, MemoryStore, Session
from tornado_ws_compat.errors import ConfigurationError
from tornado_ws_compat.testing import running

from ._client import Answer, handshake
from .conftest import TIMEOUT, Project

SECRET = "session-test-secret"

HOOKS = """
def open(handler):
    session = handler.session
    session["visits"] = session.get("visits", 0) + 1
    record("open", session.id, session["id"], session["visits"])

def on_message(handler, message):
    handler.session["said"] = message
    handler.write_message(handler.session["id"])
"""

YAML = """
app:
  settings: {cookie_secret: session-test-secret}
  session: {cookie: sid, expiry: 31, store: memory}
url:
  chat:
    pattern: /chat
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.open}
      on_message: {function: $hooks.on_message}
      origins: [example.com]
"""


def sid_of(answer: Answer) -> str:
    morsel = answer.cookies()["sid"]
    value = signing.decode_signed_value(SECRET, "sid", morsel.value)
    assert value is not None
    return value.decode()


# ---- the Session object and the stores ----


def test_session_is_dict_like_with_a_read_only_id() -> None:
    data: dict[str, object] = {"a": 1}
    session = Session("f" * 32, data, new_cookie=False, stored=True)
    assert session.id == session["id"] == "f" * 32
    assert dict(session) == {"id": "f" * 32, "a": 1}
    assert "id" in session and "a" in session and len(session) == 2
    session["b"] = 2
    assert data == {"a": 1, "b": 2}  # the store's dict, shared
    with pytest.raises(TypeError):
        session["id"] = "forged"
    with pytest.raises(TypeError):
        del session["id"]
    session.update(c=3)
    session.pop("a")
    session.clear()
    assert dict(session) == {"id": "f" * 32}
    assert session.get("missing", "default") == "default"


def test_memory_store_expiry_and_limit() -> None:
    now = [1000.0]
    store = MemoryStore(expiry_days=1, max_sessions=2, clock=lambda: now[0])
    store.put("a" * 32, {"n": 1})
    assert store.get("a" * 32) == {"n": 1}
    now[0] += 86400 + 1
    assert store.get("a" * 32) is None  # expired
    store.put("b" * 32, {})
    store.put("c" * 32, {})
    store.put("d" * 32, {})
    assert len(store) == 2 and store.get("b" * 32) is None  # the oldest went first


def test_json_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    now = [1000.0]
    store = JSONStore(str(path), expiry_days=1, clock=lambda: now[0])
    store.flush()
    assert not path.exists()  # nothing written while there is nothing to keep
    store.put("a" * 32, {"user": {"id": "x"}})
    store.put("b" * 32, {"n": 2})
    store.save("a" * 32)  # no loop runs here: only marked dirty
    assert not path.exists()
    store.close()
    assert sorted(json.loads(path.read_text())["sessions"]) == ["a" * 32, "b" * 32]
    # No temporary left; the lock file stays (it holds the pid of the last server).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions.json", "sessions.json.lock"]
    now[0] += 3600
    again = JSONStore(str(path), expiry_days=1, clock=lambda: now[0])
    assert again.get("a" * 32) == {"user": {"id": "x"}}
    again.close()
    now[0] += 86400
    expired = JSONStore(str(path), expiry_days=1, clock=lambda: now[0])
    assert expired.get("a" * 32) is None
    expired.close()


def test_json_store_write_encodes_only_the_sessions_saved_since_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write's cost follows what changed, not the size of the store: 1,000 sessions, then
    one saved, one deleted, one loaded again for the first time; the next write encodes the
    saved and the reused ones only, and the file holds exactly what a fresh store has."""
    from tornado_ws_compat.config import session as session_module

    path = tmp_path / "sessions.json"
    now = [1000.0]
    store = JSONStore(str(path), expiry_days=1, clock=lambda: now[0])
    sids = [f"{n:032x}" for n in range(1000)]
    for sid in sids:
        store.put(sid, {"n": 0})
    store.flush()
    encoded: list[object] = []
    real_dumps = json.dumps

    def counting_dumps(value: object) -> str:
        encoded.append(value)
        return real_dumps(value)

    monkeypatch.setattr(session_module.json, "dumps", counting_dumps)
    data = store.get(sids[1])  # loaded again: its "used" flag changes
    assert data is not None
    store.get(sids[0])["n"] = 5  # type: ignore[index]
    store.save(sids[0])
    store.delete(sids[2])
    store.flush()
    assert sorted(value for value in encoded if isinstance(value, str)) == [sids[0], sids[1]]
    monkeypatch.undo()
    written = json.loads(path.read_text())["sessions"]
    assert len(written) == 999 and sids[2] not in written
    assert written[sids[0]]["data"] == {"n": 5} and written[sids[1]]["used"] is True
    # Least recently used first, as held: the two just loaded come last.
    assert list(written)[-2:] == [sids[1], sids[0]]
    # Expired sessions leave the file at the next write.
    now[0] += 86400 + 1
    store.put("f" * 32, {"fresh": True})
    store.close()
    assert list(json.loads(path.read_text())["sessions"]) == ["f" * 32]


def test_json_store_skips_unserializable_sessions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.json"
    store = JSONStore(str(path))
    store.put("a" * 32, {"bad": object()})
    store.put("b" * 32, {"good": True})
    with caplog.at_level(logging.ERROR, logger="tornado.application"):
        store.flush()
    assert list(json.loads(path.read_text())["sessions"]) == ["b" * 32]
    assert "not saved" in caplog.text


@pytest.mark.parametrize("content", ["{not json", '{"sessions": {"x": 1}}', "[1, 2]"])
def test_json_store_refuses_a_file_that_is_not_a_store(tmp_path: Path, content: str) -> None:
    path = tmp_path / "sessions.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match="not a session store"):
        JSONStore(str(path))


# ---- over the wire ----


@pytest.mark.asyncio
async def test_cookie_minted_on_the_101_with_its_attributes(project: Project) -> None:
    config = project.load(YAML, HOOKS)
    async with running(config.application, **config.listen.server_kwargs()) as server:
        answer = await handshake(server.port, "/chat")
        assert answer.status == 101
        header = answer.set_cookie_header("sid")
        morsel = answer.cookies()["sid"]
        assert morsel["httponly"] is True and "HttpOnly" in header
        assert morsel["path"] == "/"
        assert not morsel["secure"] and "Secure" not in header  # plain http
        assert morsel["expires"]
        sid = sid_of(answer)
        assert len(sid) == 32
        assert await project.record.wait("open") == (sid, sid, 1)


@pytest.mark.asyncio
async def test_same_id_and_data_across_connections(project: Project) -> None:
    config = project.load(YAML, HOOKS)
    async with running(config.application) as server:
        first = await handshake(server.port, "/chat")
        sid = sid_of(first)
        cookie = f"sid={first.cookies()['sid'].coded_value}"
        second = await handshake(server.port, "/chat", {"Cookie": cookie})
        assert second.status == 101
        assert "Set-Cookie" not in second.headers  # the cookie is only minted when absent
        assert await project.record.wait("open", 2) == (sid, sid, 2)  # data survived

        tampered = cookie[:-3] + ("0" if cookie[-3] != "0" else "1") + cookie[-2:]
        third = await handshake(server.port, "/chat", {"Cookie": tampered})
        new_sid = sid_of(third)
        assert new_sid != sid
        assert await project.record.wait("open", 3) == (new_sid, new_sid, 1)

        # A cookie signed for another name or with another secret is not an id either.
        other = signing.create_signed_value("wrong secret", "sid", sid).decode()
        fourth = await handshake(server.port, "/chat", {"Cookie": f'sid="{other}"'})
        assert sid_of(fourth) not in (sid, new_sid)


@pytest.mark.asyncio
async def test_a_browser_session_across_connections(project: Project) -> None:
    config = project.load(YAML, HOOKS)
    async with running(config.application) as server:
        jar = aiohttp.CookieJar(unsafe=True)  # accept cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            ids = []
            for _ in range(2):
                async with client.ws_connect(server.url("/chat")) as ws:
                    await ws.send_str("hi")
                    ids.append(await ws.receive_str(timeout=TIMEOUT))
        assert ids[0] == ids[1]
        assert config.sessions.store.get(ids[0]) == {"visits": 2, "said": "hi"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("xheaders", "scheme_header", "secure"),
    [
        ("true", {"X-Scheme": "https"}, True),
        ("true", {"X-Forwarded-Proto": "https"}, True),
        ("true", {"X-Scheme": "http"}, False),
        ("false", {"X-Scheme": "https"}, False),  # not behind a trusted proxy: ignored
    ],
)
async def test_secure_cookie_on_https(
    project: Project, xheaders: str, scheme_header: dict[str, str], secure: bool
) -> None:
    yaml_text = YAML.replace("app:\n", f"app:\n  listen: {{xheaders: {xheaders}}}\n")
    config = project.load(yaml_text, HOOKS)
    async with running(config.application, **config.listen.server_kwargs()) as server:
        answer = await handshake(server.port, "/chat", scheme_header)
        assert answer.status == 101
        assert ("Secure" in answer.set_cookie_header("sid")) is secure


@pytest.mark.asyncio
async def test_no_cookie_and_no_session_for_a_refused_upgrade(project: Project) -> None:
    config = project.load(YAML, HOOKS)
    async with running(config.application) as server:
        answer = await handshake(server.port, "/chat", {"Origin": "https://evil.test"})
        assert answer.status == 403
        assert "Set-Cookie" not in answer.headers
        assert len(config.sessions.store) == 0


@pytest.mark.asyncio
async def test_json_store_survives_a_restart(project: Project) -> None:
    yaml_text = YAML.replace("store: memory", "store: json, path: data/sessions.json")
    os.makedirs(project.root / "data")
    config = project.load(yaml_text, HOOKS)
    async with running(config.application) as server:
        first = await handshake(server.port, "/chat")
        sid = sid_of(first)
        cookie = f"sid={first.cookies()['sid'].coded_value}"
        await project.record.wait("open")
    config.close()  # what the CLI does after a graceful shutdown
    saved = json.loads((project.root / "data" / "sessions.json").read_text())
    assert saved["sessions"][sid]["data"] == {"visits": 1}

    restarted = project.load(yaml_text)  # a new store, read back from the file
    async with running(restarted.application) as server:
        again = await handshake(server.port, "/chat", {"Cookie": cookie})
        assert again.status == 101 and "Set-Cookie" not in again.headers
        assert await project.record.wait("open", 2) == (sid, sid, 2)


CLOSE_HOOKS = """
import asyncio

def on_close(handler):
    handler.session["closed"] = "sync"
    record("closed")

async def on_close_async(handler):
    await asyncio.sleep(0)
    handler.session["closed"] = "async"
    record("closed")
"""


@pytest.mark.asyncio
@pytest.mark.parametrize("hook", ["on_close", "on_close_async"])
async def test_json_store_is_written_when_a_connection_closes(project: Project, hook: str) -> None:
    (project.root / "data").mkdir()
    config = project.load(
        f"""
        app:
          settings: {{cookie_secret: x}}
          session: {{store: json, path: data/sessions.json, flush_interval: 0}}
        url:
          chat:
            pattern: /chat
            handler: WebSocketHandler
            kwargs:
              on_close: {{function: $hooks.{hook}}}
        """,
        CLOSE_HOOKS,
    )
    async with running(config.application) as server:
        answer = await handshake(server.port, "/chat")  # then the socket is dropped
        sid = signing.decode_signed_value("x", "sid", answer.cookies()["sid"].value)
        assert sid is not None
        await project.record.wait("closed")
        await settle()  # the write is scheduled flush_interval (0 s) after the close
        # Written when that connection ended (after the hook, awaited or not), not at shutdown.
        saved = json.loads((project.root / "data" / "sessions.json").read_text())
        expected = "async" if hook == "on_close_async" else "sync"
        assert saved["sessions"][sid.decode()]["data"] == {"closed": expected}
