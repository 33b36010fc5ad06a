"""Hooks over the wire: the three forms, async hooks in order, return values ignored, failures
contained to their connection, the static page route, and this mode's ping default."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from tornado_ws_compat.config import DEFAULT_PING_INTERVAL, Config, WebSocketHandler
from tornado_ws_compat.testing import running

from .conftest import TIMEOUT, Project

HOOKS = """
import asyncio

def open(handler):
    record("open", handler.session["id"], handler.request.path)

def on_message(handler, message):
    record("message", message)
    if message == "boom":
        raise ValueError("hook failed on purpose")
    handler.write_message("echo: " + message)
    return 42  # return values are ignored (not awaited, not an error)

def on_close(handler):
    record("close", handler.session["id"], handler.close_code)

def on_pong(handler, data):
    record("pong", data)

def tag(handler, message, suffix, sep=" "):
    handler.write_message(message + sep + suffix)

async def slow_echo(handler, message):
    # Earlier messages take longer: if on_message calls overlapped, answers would reorder.
    for _ in range(20 - int(message)):
        await asyncio.sleep(0)
    handler.write_message(message)
    return "ignored"

async def slow_open(handler):
    for _ in range(20):
        await asyncio.sleep(0)
    handler.session["opened"] = True

def report_opened(handler, message):
    handler.write_message(str(handler.session.get("opened")))

def failing_open(handler):
    record("open", handler.session["id"])
    raise RuntimeError("open failed on purpose")

async def failing_async_open(handler):
    await asyncio.sleep(0)
    raise RuntimeError("async open failed on purpose")

async def async_close(handler):
    await asyncio.sleep(0)
    record("async close", handler.session["id"])
"""

YAML = """
app:
  settings: {cookie_secret: test-secret}
url:
  page:
    pattern: /
    handler: FileHandler
    kwargs: {path: index.html}
  echo:
    pattern: /echo
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.open}
      on_message: {function: $hooks.on_message}
      on_close: {function: $hooks.on_close}
      on_pong: {function: $hooks.on_pong}
  expression:
    pattern: /expression
    handler: WebSocketHandler
    kwargs:
      on_message: {function: "$hooks.tag(handler, message.upper(), '!')"}
  arguments:
    pattern: /arguments
    handler: WebSocketHandler
    kwargs:
      on_message:
        function: $hooks.tag
        args: [=handler, =message, "?"]
        kwargs: {sep: "=handler.request.path"}
  ordered:
    pattern: /ordered
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.slow_open}
      on_message: {function: $hooks.slow_echo}
  opened:
    pattern: /opened
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.slow_open}
      on_message: {function: $hooks.report_opened}
  failing-open:
    pattern: /failing-open
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.failing_open}
      on_close: {function: $hooks.on_close}
  failing-async-open:
    pattern: /failing-async-open
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.failing_async_open}
      on_close: {function: $hooks.async_close}
  silent:
    pattern: /silent
    handler: WebSocketHandler
"""


@pytest.fixture
def config(project: Project) -> Config:
    project.write("index.html", "<p>the page</p>\n")
    return project.load(YAML, HOOKS)


@pytest.mark.asyncio
async def test_bare_name_hooks_get_handler_and_message(project: Project, config: Config) -> None:
    async with running(config.application, **config.listen.server_kwargs()) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/echo")) as ws:
                sid, path = await project.record.wait("open")
                assert path == "/echo"
                await ws.send_str("hello")
                assert await ws.receive_str(timeout=TIMEOUT) == "echo: hello"
                await ws.send_str("again")  # the 42 returned before did no harm
                assert await ws.receive_str(timeout=TIMEOUT) == "echo: again"
                await ws.pong(b"unsolicited")
                assert await project.record.wait("pong") == (b"unsolicited",)
            assert await project.record.wait("close") == (sid, 1000)
    assert project.record.named("message") == [("hello",), ("again",)]


@pytest.mark.asyncio
async def test_expression_and_argument_hooks(config: Config) -> None:
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/expression")) as ws:
                await ws.send_str("hi")
                assert await ws.receive_str(timeout=TIMEOUT) == "HI !"
            async with client.ws_connect(server.url("/arguments")) as ws:
                await ws.send_str("hi")
                assert await ws.receive_str(timeout=TIMEOUT) == "hi/arguments?"


@pytest.mark.asyncio
async def test_async_hooks_are_awaited_in_order(config: Config) -> None:
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/ordered")) as ws:
                for index in range(10):
                    await ws.send_str(str(index))
                answers = [await ws.receive_str(timeout=TIMEOUT) for _ in range(10)]
                assert answers == [str(index) for index in range(10)]
            async with client.ws_connect(server.url("/opened")) as ws:
                await ws.send_str("sent at once")  # delivered after the async open finished
                assert await ws.receive_str(timeout=TIMEOUT) == "True"


@pytest.mark.asyncio
async def test_a_raising_hook_drops_only_its_connection_and_on_close_runs(
    project: Project,
    config: Config,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/echo")) as other:
                other_sid, _ = await project.record.wait("open")
                async with client.ws_connect(server.url("/echo")) as ws:
                    sid, _ = await project.record.wait("open", 2)
                    with caplog.at_level(logging.ERROR, logger="tornado.application"):
                        await ws.send_str("boom")
                        message = await ws.receive(timeout=TIMEOUT)
                    # Dropped as Tornado drops it: no close frame, the TCP connection ends.
                    assert message.type is aiohttp.WSMsgType.CLOSED
                    assert ws.close_code == 1006
                    assert await project.record.wait("close") == (sid, None)
                    errors = [r for r in caplog.records if r.name == "tornado.application"]
                    assert errors and errors[0].exc_info is not None
                    assert "hook failed on purpose" in str(errors[0].exc_info[1])
                # The other connection keeps working.
                await other.send_str("still here")
                assert await other.receive_str(timeout=TIMEOUT) == "echo: still here"
            assert (other_sid, 1000) in project.record.named("close")


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["/failing-open", "/failing-async-open"])
async def test_a_raising_open_is_logged_and_on_close_still_runs(
    project: Project,
    config: Config,
    caplog: pytest.LogCaptureFixture,
    route: str,
) -> None:
    close_event = "close" if route == "/failing-open" else "async close"
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            with caplog.at_level(logging.ERROR, logger="tornado.application"):
                async with client.ws_connect(server.url(route)) as ws:
                    message = await ws.receive(timeout=TIMEOUT)
                    assert message.type is aiohttp.WSMsgType.CLOSED
                    assert ws.close_code == 1006
                (sid, *_) = await project.record.wait(close_event)
            assert len(sid) == 32
            assert len(project.record.named(close_event)) == 1  # exactly once
            errors = [r for r in caplog.records if r.name == "tornado.application"]
            assert len(errors) == 1 and "open failed on purpose" in str(errors[0].exc_info)
            # The server goes on serving.
            async with client.ws_connect(server.url("/echo")) as ws:
                await ws.send_str("after")
                assert await ws.receive_str(timeout=TIMEOUT) == "echo: after"


@pytest.mark.asyncio
async def test_route_without_hooks_ignores_messages(config: Config) -> None:
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/silent")) as ws:
                await ws.send_str("nobody listens")
                await ws.close()
                assert ws.close_code == 1000


@pytest.mark.asyncio
async def test_file_handler_serves_the_page(config: Config) -> None:
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.get(server.url("/")) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/html")
                assert await response.text() == "<p>the page</p>\n"
            async with client.get(server.url("/index.html")) as response:
                assert response.status == 404  # only the route's own file is served


def test_config_mode_pings_every_30_seconds_by_default(project: Project) -> None:
    config = project.load("url: {ws: {pattern: /ws, handler: WebSocketHandler}}\n")
    assert DEFAULT_PING_INTERVAL == 30
    assert config.application.settings["websocket_ping_interval"] == 30
    assert config.listen.xheaders is True
    explicit = project.load(
        "app: {settings: {websocket_ping_interval: 5}}\n"
        "url: {ws: {pattern: /ws, handler: WebSocketHandler}}\n",
        name="other.yaml",
    )
    assert explicit.application.settings["websocket_ping_interval"] == 5


@pytest.mark.asyncio
async def test_pings_are_sent_at_the_configured_interval(project: Project) -> None:
    # The 30 s default, shortened: the server pings an idle client by itself.
    config = project.load(
        "app: {settings: {websocket_ping_interval: 0.05}}\n"
        "url: {ws: {pattern: /ws, handler: WebSocketHandler}}\n"
    )
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/ws"), autoping=False) as ws:
                message = await ws.receive(timeout=TIMEOUT)
                assert message.type is aiohttp.WSMsgType.PING


@pytest.mark.asyncio
async def test_subclass_of_the_configurable_handler(project: Project) -> None:
    project.hooks(
        """
        from tornado_ws_compat.config import WebSocketHandler

        class Greeter(WebSocketHandler):
            def initialize(self, route, greeting="hi"):
                super().initialize(route)
                self.greeting = greeting

            def greet(self, message):
                self.write_message(self.greeting + " " + message)
        """
    )
    config = project.load(
        """
        url:
          greet:
            pattern: /greet
            handler: $hooks.Greeter
            kwargs:
              greeting: hello
              origins: example.com
              on_message: {function: handler.greet(message)}
        """
    )
    (route,) = config.routes
    assert issubclass(route.handler_class, WebSocketHandler)
    assert route.kwargs["greeting"] == "hello"
    assert route.kwargs["route"].origins[0].host == "example.com"
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/greet")) as ws:
                await ws.send_str("you")
                assert await ws.receive_str(timeout=TIMEOUT) == "hello you"


@pytest.mark.asyncio
async def test_tornado_settings_from_yaml_apply(project: Project) -> None:
    config = project.load(
        "app: {settings: {websocket_max_message_size: 16}}\n"
        "url: {ws: {pattern: /ws, handler: WebSocketHandler}}\n"
    )
    async with running(config.application) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/ws")) as ws:
                await ws.send_str("x" * 17)
                message = await ws.receive(timeout=TIMEOUT)
                assert message.type is aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 1009  # Tornado's answer to a message over the limit
