"""``write_message`` patched on the handler's class after sockets opened, as a program's
tests do (``mock.patch.object(Handler, "write_message")``, pytest's ``monkeypatch``): every
later ``handler.write_message(...)`` calls the patch, as on Tornado 6.6.1, whether it comes
from another request, from the socket's own on_message or from a broadcast during another
socket's read; once the patch is undone, writes reach the socket again (issue 8).
Differential: the same handlers on both servers, the same client."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import aiohttp
import pytest
import tornado.websocket
from differential import serving_both

import tornado_ws_compat.websocket


class _State:
    """Not a route: what the servers' handlers share with the test."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.opened = asyncio.Event()
        self.marked = asyncio.Event()
        self.calls: list[Any] = []


def routes(web: ModuleType) -> list[Any]:
    ours = web.__name__ != "tornado.web"
    websocket = tornado_ws_compat.websocket if ours else tornado.websocket
    state = _State()

    class Room(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def open(self) -> None:
            state.sockets.append(self)
            if len(state.sockets) == 2:
                state.opened.set()

        def on_message(self, message: str) -> None:
            if message == "everyone":
                for socket in state.sockets:
                    socket.write_message("to everyone")
            else:
                self.write_message("echo " + message)

        def on_close(self) -> None:
            state.sockets.remove(self)

    class Push(web.RequestHandler):  # type: ignore[name-defined,misc]
        def post(self) -> None:
            for socket in state.sockets:
                socket.write_message({"pushed": self.get_argument("n")})
            self.write("pushed")

    return [("/ws", Room), ("/push", Push), ("/state", state)]


async def _next(ws: aiohttp.ClientWebSocketResponse) -> Any:
    message = await ws.receive(timeout=5)
    return [message.type.name, message.data]


@pytest.mark.asyncio
async def test_a_class_patched_after_open_receives_every_write() -> None:
    states: dict[str, _State] = {}
    classes: dict[str, Any] = {}

    def make(web: ModuleType) -> list[Any]:
        built = routes(web)
        states[web.__name__] = built.pop()[1]
        classes[web.__name__] = built[0][1]
        return built

    async with serving_both(make) as servers, aiohttp.ClientSession() as session:
        results = {}
        for name, server in servers.items():
            key = "tornado.web" if name == "tornado" else "tornado_ws_compat.web"
            state, room = states[key], classes[key]
            base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            seen: list[Any] = []
            calls = state.calls
            async with (
                session.ws_connect(base + "/ws") as a,
                session.ws_connect(base + "/ws") as b,
            ):
                await asyncio.wait_for(state.opened.wait(), 5)
                await a.send_str("before")
                seen.append(await _next(a))

                def fake(handler: Any, *args: Any, _state: _State = state, **kwargs: Any) -> None:
                    _state.calls.append([_state.sockets.index(handler), list(args), kwargs])
                    if args == ("echo mark",):
                        _state.marked.set()

                room.write_message = fake  # what mock.patch.object does
                try:
                    async with session.post(base + "/push", data={"n": "1"}) as response:
                        seen.append(await response.text())
                    await a.send_str("patched")
                    await b.send_str("everyone")
                    await b.send_str("mark")  # on_message runs in order: its call ends it
                    await asyncio.wait_for(state.marked.wait(), 5)
                finally:
                    del room.write_message
                async with session.post(base + "/push", data={"n": "2"}) as response:
                    seen.append(await response.text())
                seen += [await _next(a), await _next(b)]
                await a.send_str("after")
                seen.append(await _next(a))
            results[name] = (seen, calls)
    assert results["ours"] == results["tornado"]
    seen, calls = results["ours"]
    assert calls == [
        [0, [{"pushed": "1"}], {}],
        [1, [{"pushed": "1"}], {}],
        [0, ["echo patched"], {}],
        [0, ["to everyone"], {}],
        [1, ["to everyone"], {}],
        [1, ["echo mark"], {}],
    ]
    assert seen[-3:] == [
        ["TEXT", '{"pushed": "2"}'],
        ["TEXT", '{"pushed": "2"}'],
        ["TEXT", "echo after"],
    ]
