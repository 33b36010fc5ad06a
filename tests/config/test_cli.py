"""``python -m tornado_ws_compat serve|check`` in a child process, as a user runs it.

Every test here drives a child process, whose own loop is the CLI's (uvloop); the test's loop
only reads pipes, so these run on one loop (asyncio), not on both as the in-process tests do.
"""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from ._process import EXAMPLE, Served, run_cli
from .conftest import TIMEOUT

one_loop = pytest.mark.asyncio(loop_factories=["asyncio"])

HOOKS = """\
def open(handler):
    handler.session["visits"] = handler.session.get("visits", 0) + 1
    print("visit", handler.session["visits"], "for", handler.session.id)
    handler.write_message(str(handler.session["visits"]))

def on_message(handler, message):
    print("said", message)
"""

CONFIG = """\
app:
  listen: {port: 0, address: 127.0.0.1}
  settings: {cookie_secret: cli-test-secret}
  session: {store: json, path: sessions.json}
url:
  counter:
    pattern: /counter
    handler: WebSocketHandler
    kwargs:
      open: {function: counter_hooks.open}
      on_message: {function: counter_hooks.on_message}
"""

INVALID = {
    "yaml-syntax": ("url:\n  pingbot:\n    pattern: /x\n   handler: y\n", ["line 4"]),
    "unknown-handler": (
        "url: {pingbot: {pattern: /x, handler: EchoHandler}}\n",
        ["route 'pingbot'", "key 'handler'", "unknown handler 'EchoHandler'"],
    ),
    "hook-module": (
        "url: {pingbot: {pattern: /x, handler: WebSocketHandler, kwargs: "
        "{open: {function: not_a_module_q.open}}}}\n",
        ["route 'pingbot'", "key 'kwargs.open.function'", "not_a_module_q"],
    ),
    "hook-function": (
        "url: {pingbot: {pattern: /x, handler: WebSocketHandler, kwargs: "
        "{on_message: {function: counter_hooks.on_mesage}}}}\n",
        ["route 'pingbot'", "key 'kwargs.on_message.function'", "on_mesage"],
    ),
    "regex": (
        "url: {pingbot: {pattern: '/(x', handler: WebSocketHandler}}\n",
        ["route 'pingbot'", "key 'pattern'", "invalid regular expression"],
    ),
    "hook-not-a-mapping": (
        "url: {pingbot: {pattern: /x, handler: WebSocketHandler, kwargs: "
        "{on_close: counter_hooks.open}}}\n",
        ["route 'pingbot'", "key 'kwargs.on_close'", "'function' key"],
    ),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "counter_hooks.py").write_text(HOOKS)
    (tmp_path / "app.yaml").write_text(CONFIG)
    return tmp_path


@one_loop
async def test_check_accepts_the_example_and_writes_nothing(folder: Path) -> None:
    status, out, err = await run_cli("check", str(EXAMPLE))
    assert status == 0, err
    assert out.startswith("pingbot.yaml: OK: pingbot-page (/), pingbot (/pingbot)")
    status, out, err = await run_cli("check", str(folder / "app.yaml"))
    assert (status, out) == (0, "app.yaml: OK: counter (/counter)\n"), err
    assert not (folder / "sessions.json").exists()


@one_loop
@pytest.mark.parametrize(
    ("command", "case"),
    [("serve", case) for case in sorted(INVALID)]
    # check and serve share the loader: two cases show that check reports the same way.
    + [("check", "hook-function"), ("check", "yaml-syntax")],
)
async def test_invalid_configuration_exits_2_naming_route_and_key(
    folder: Path, command: str, case: str
) -> None:
    text, fragments = INVALID[case]
    (folder / "bad.yaml").write_text(text)
    args = [command, str(folder / "bad.yaml")]
    if command == "serve":
        args += ["--port", "0"]
    status, out, err = await run_cli(*args)
    assert status == 2
    assert "listening" not in out  # nothing half-starts
    assert err.startswith("error: bad.yaml: ")
    for fragment in fragments:
        assert fragment in err


@one_loop
async def test_usage_errors_exit_2() -> None:
    status, _, err = await run_cli()
    assert status == 2 and "usage:" in err
    status, _, err = await run_cli("serve", str(EXAMPLE), "--port", "99999")
    assert status == 2 and "--port" in err


@one_loop
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_the_pingbot_example(signum: int) -> None:
    served = await Served.start(EXAMPLE, "--port", "0", "--address", "127.0.0.1")
    try:
        assert served.url == f"http://127.0.0.1:{served.port}/"
        async with aiohttp.ClientSession() as client:
            async with client.get(served.url) as response:
                assert response.status == 200
                assert "var ws = new WebSocket(url)" in await response.text()
            async with client.ws_connect(served.url + "pingbot") as ws:
                # Each print() of a hook is on stdout at once (line-buffered), while it runs.
                opened = await served.expect("Chatbot opened for ")
                sid = opened.rsplit(" ", 1)[1]
                assert len(sid) == 32
                await ws.send_str("Hello world")
                assert await ws.receive_str(timeout=TIMEOUT) == "Got message: Hello world"
                assert await served.line() == f"Got message Hello world for {sid}"
                if signum == signal.SIGTERM:
                    await ws.close()
                    assert await served.line() == f"Chatbot closed for {sid}"
                    assert await served.stop(signum) == 0
                else:
                    # Ctrl-C with a socket open: a graceful shutdown closes it with 1001.
                    served.process.send_signal(signum)
                    message = await ws.receive(timeout=TIMEOUT)
                    assert message.type is aiohttp.WSMsgType.CLOSE
                    assert ws.close_code == 1001
                    assert await served.stop(signum) == 0
                    assert f"Chatbot closed for {sid}" in await served.rest_of_stdout()
    finally:
        await served.stop(signal.SIGKILL)


@one_loop
async def test_yaml_listen_options_and_json_sessions_across_a_restart(folder: Path) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        for visit in (1, 2):
            served = await Served.start(folder / "app.yaml")  # port 0 from the YAML file
            try:
                assert served.url.startswith("http://127.0.0.1:")
                async with client.ws_connect(served.url + "counter") as ws:
                    assert await ws.receive_str(timeout=TIMEOUT) == str(visit)
                    assert (await served.expect("visit ")).startswith(f"visit {visit} for ")
                    await ws.send_str("bye")
                    await served.expect("said bye")
                assert await served.stop(signal.SIGTERM) == 0
            finally:
                await served.stop(signal.SIGKILL)
    saved = json.loads((folder / "sessions.json").read_text())
    assert [item["data"] for item in saved["sessions"].values()] == [{"visits": 2}]


@one_loop
async def test_a_taken_port_exits_1(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, out, err = await run_cli(
            "serve", str(folder / "app.yaml"), "--port", str(port), "--address", "127.0.0.1"
        )
    assert status == 1
    assert "listening" not in out
    assert f"cannot listen on 127.0.0.1:{port}" in err
