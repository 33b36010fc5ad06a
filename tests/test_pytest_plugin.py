"""The pytest plugin: its fixtures in a user's test run, and its ``pytest11`` entry point.

The fixtures are exercised in a separate pytest run (``pytester``) on a small test module as a
user would write it, under asyncio and uvloop. The entry point is checked the way an installed
copy finds it: setuptools writes the package's metadata from ``setup.cfg`` into a copy of the
source, and a pytest run with that copy on its path, and no ``-p`` option, has the fixtures.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

USER_TESTS = """
import aiohttp
import pytest

from tornado_ws_compat import web, websocket


class Echo(websocket.WebSocketHandler):
    closed = []

    def on_message(self, message):
        self.write_message("You said: " + message)

    def on_close(self):
        Echo.closed.append(self.close_code)


class Page(web.RequestHandler):
    def get(self):
        self.write({"ip": self.request.remote_ip, "query": self.get_argument("q", "")})

    def post(self):
        self.write(self.request.body)


def make_app():
    return web.Application([(r"/websocket", Echo), (r"/", Page)])


@pytest.mark.asyncio
async def test_http_and_websocket(tornado_client):
    client = await tornado_client(make_app())
    response = await client.get("/", params={"q": "x"})
    assert response.status == 200
    assert await response.json() == {"ip": "127.0.0.1", "query": "x"}
    async with client.post("/", data=b"body") as posted:
        assert await posted.read() == b"body"
    async with client.ws_connect("/websocket") as ws:
        await ws.send_str("hi")
        assert await ws.receive_str() == "You said: hi"
    assert client.url("/a").startswith("http://127.0.0.1:")
    assert client.ws_url("/a") == "ws" + client.url("/a")[4:]
    assert isinstance(client.session, aiohttp.ClientSession)


@pytest.mark.asyncio
async def test_listen_options_and_two_servers(tornado_client):
    first = await tornado_client(make_app(), xheaders=True)
    second = await tornado_client(make_app())
    assert first.server.port != second.server.port
    response = await first.get("/", headers={"X-Real-IP": "10.0.0.1"})
    assert (await response.json())["ip"] == "10.0.0.1"
    response = await second.get("/", headers={"X-Real-IP": "10.0.0.1"})
    assert (await response.json())["ip"] == "127.0.0.1"


@pytest.mark.asyncio
async def test_server_only(tornado_server):
    server = await tornado_server(make_app())
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url("/")) as response:
            assert response.status == 200


@pytest.mark.asyncio
async def test_open_socket_left_to_teardown(tornado_client):
    client = await tornado_client(make_app())
    ws = await client.ws_connect("/websocket")
    await ws.send_str("x")
    assert await ws.receive_str() == "You said: x"


def test_library_asserts_are_not_rewritten():
    # pytest rewrites the asserts of a plugin's distribution; the plugin opts the library
    # out, so a failing assert in it is the same bare AssertionError as in Tornado.
    from tornado_ws_compat import locale

    with pytest.raises(AssertionError) as info:
        locale.Locale.get("no-such-locale")
    assert str(info.value) == ""


def test_teardown_ran_every_on_close():
    # Two sockets closed by their tests (1000), two dropped when the client went at teardown.
    assert sorted(Echo.closed, key=str) == [1000, 1000, None, None]
"""


#: Every async test under asyncio and uvloop, as in this project's own conftest.
USER_CONFTEST = """
import asyncio

import uvloop


def pytest_asyncio_loop_factories(config, item):
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
"""


def plugin_args() -> list[str]:
    """``-p`` the plugin unless an installed copy already loads it (CI installs the package)."""
    installed = any(
        entry.value == "tornado_ws_compat.pytest_plugin"
        for entry in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "tornado_ws_compat.pytest_plugin"]


def test_fixtures_in_a_user_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makeconftest(USER_CONFTEST)
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=10)


def test_without_pytest_asyncio_the_run_still_works(pytester: pytest.Pytester) -> None:
    """The plugin is loaded by every pytest run of an environment that has the package; one
    without pytest-asyncio must still run, and the fixtures say what they need."""
    blocker = pytester.mkpydir("pytest_asyncio")
    (blocker / "__init__.py").write_text("raise ImportError('not installed')\n")
    pytester.makepyfile(
        test_plain="def test_plain():\n    pass\n\ndef test_fixture(tornado_client):\n    pass\n"
    )
    result = pytester.runpytest_subprocess(
        *plugin_args(), "-p", "no:asyncio", "-p", "no:randomly", timeout=120
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*tornado_client fixture (tornado_ws_compat) needs pytest-asyncio*"]
    )


def test_entry_point_of_an_installed_copy(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    copy.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(
        ROOT / "tornado_ws_compat",
        copy / "tornado_ws_compat",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # setuptools' own metadata step (what pip runs first): writes the egg-info, with
    # entry_points.txt, from setup.cfg; a directory holding it is an installed distribution.
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "egg_info"],
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=120,
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(USER_TESTS)
    (project / "conftest.py").write_text(USER_CONFTEST)
    (project / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    env = {**os.environ, "PYTHONPATH": str(copy)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 passed" in done.stdout
