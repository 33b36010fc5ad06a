"""Configuration mode accepts handler classes written against real Tornado's names (issue 8,
point 5): ``handler: module.PongWebSocket`` where the module does ``import tornado.websocket``.

Real Tornado is imported in this test process (the differential tests use it), so this also
proves that the loader serves ``tornado`` from this package while it imports user modules.
"""

from __future__ import annotations

import sys

import aiohttp
import pytest

import tornado_ws_compat.websocket
from tornado_ws_compat.testing import running

from ._process import Served
from .conftest import TIMEOUT, Project

TORNADO_STYLE = """
import tornado.web
import tornado.websocket
from tornado.escape import json_encode

class PongWebSocket(tornado.websocket.WebSocketHandler):
    def open(self):
        self.write_message(json_encode({"tornado": tornado.version}))

    def on_message(self, message):
        self.write_message("pong " + message)

class Page(tornado.web.RequestHandler):
    def get(self):
        self.write("page " + type(self).__mro__[1].__module__)
"""

YAML = """
url:
  pong:
    pattern: /pong
    handler: $hooks.PongWebSocket
  page:
    pattern: /page
    handler: $hooks.Page
"""


@pytest.mark.asyncio
async def test_tornado_named_classes_load_and_serve(project: Project) -> None:
    real_tornado = sys.modules.get("tornado")
    config = project.load(YAML, TORNADO_STYLE)
    module = sys.modules[project.module_name]
    assert issubclass(module.PongWebSocket, tornado_ws_compat.websocket.WebSocketHandler)
    assert sys.modules.get("tornado") is real_tornado  # the process's tornado is put back
    async with running(config.application) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url("/page")) as response:
            assert await response.text() == "page tornado_ws_compat.web"
        async with session.ws_connect(server.url("/pong")) as ws:
            assert await ws.receive_json(timeout=TIMEOUT) == {"tornado": "6.6.1"}
            await ws.send_str("hi")
            assert await ws.receive_str(timeout=TIMEOUT) == "pong hi"


@pytest.mark.asyncio
async def test_serve_command_loads_tornado_named_classes(project: Project) -> None:
    project.hooks(TORNADO_STYLE)
    config = project.write("app.yaml", YAML + "app: {listen: {port: 0, address: 127.0.0.1}}\n")
    served = await Served.start(config)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(served.url + "pong") as ws:
                assert await ws.receive_json(timeout=TIMEOUT) == {"tornado": "6.6.1"}
                await ws.send_str("cli")
                assert await ws.receive_str(timeout=TIMEOUT) == "pong cli"
    finally:
        await served.stop()


def test_check_command_in_a_process_that_imported_real_tornado(project: Project) -> None:
    """``cli.main`` leaves a process that uses real Tornado as it was, and still loads."""
    import tornado.web as real_web

    from tornado_ws_compat import cli
    from tornado_ws_compat.alias import tornado_alias_installed

    project.hooks(TORNADO_STYLE)
    config = project.write("app.yaml", YAML)
    assert cli.main(["check", str(config)]) == cli.EXIT_OK
    assert not tornado_alias_installed()
    assert sys.modules["tornado.web"] is real_web
