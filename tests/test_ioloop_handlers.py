"""``IOLoop.add_handler`` / ``update_handler`` / ``remove_handler`` (public dashboards watch
serial ports, pipes and database connections with them) and ``IOLoop.configure`` (Tornado
4-5 programs choose ``"tornado.platform.asyncio.AsyncIOLoop"``), as on Tornado 6.6.1 (issue
8). Differential: the same calls on both IOLoops, over a socket pair."""

from __future__ import annotations

import asyncio
import socket
from types import ModuleType
from typing import Any

import pytest
import tornado.ioloop

import tornado_ws_compat.ioloop

MODULES = {"tornado": tornado.ioloop, "ours": tornado_ws_compat.ioloop}


async def _scenario(module: ModuleType) -> list[Any]:
    IOLoop = module.IOLoop
    loop = IOLoop.current()
    seen: list[Any] = []
    event = asyncio.Event()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)

    def handler(fileobj: Any, events: int) -> None:
        kind = "socket" if fileobj is ours else "fd" if fileobj == ours.fileno() else "?"
        if events & IOLoop.READ:
            seen.append([kind, "read", fileobj.recv(100) if kind == "socket" else b""])
        if events & IOLoop.WRITE:
            seen.append([kind, "write"])
            loop.update_handler(ours, IOLoop.READ)
        event.set()

    async def next_event() -> None:
        await asyncio.wait_for(event.wait(), 5)
        event.clear()

    try:
        loop.add_handler(ours, handler, IOLoop.READ)
        try:
            loop.add_handler(ours.fileno(), handler, IOLoop.READ)
        except ValueError as error:
            seen.append(["twice", str(error) == f"fd {ours.fileno()} added twice"])
        theirs.send(b"ping")
        await next_event()
        loop.update_handler(ours, IOLoop.READ | IOLoop.WRITE)
        await next_event()  # writable at once; the handler goes back to READ
        theirs.send(b"again")
        await next_event()
        loop.remove_handler(ours)
        loop.remove_handler(ours)  # not added any more: nothing happens
        theirs.send(b"unheard")
        await asyncio.sleep(0)  # one loop iteration in which the handler must not run
        seen.append(["unheard", event.is_set()])
        loop.add_handler(ours.fileno(), handler, IOLoop.READ)  # a bare descriptor now
        await next_event()
        loop.remove_handler(ours.fileno())
        seen.append(["split", loop.split_fd(ours) == (ours.fileno(), ours)])
    finally:
        ours.close()
        theirs.close()
    return seen


@pytest.mark.asyncio
async def test_add_update_remove_handler_as_tornado() -> None:
    seen = {name: await _scenario(module) for name, module in MODULES.items()}
    assert seen["ours"] == seen["tornado"]
    assert ["socket", "read", b"ping"] in seen["ours"]
    assert ["unheard", False] in seen["ours"]


def test_close_all_fds_closes_what_was_added() -> None:
    closed = {}
    for name, module in MODULES.items():
        loop = module.IOLoop(make_current=False)
        ours, theirs = socket.socketpair()
        try:
            loop.add_handler(ours, lambda fileobj, events: None, module.IOLoop.READ)
            loop.close(all_fds=True)
            closed[name] = ours.fileno() == -1
        finally:
            ours.close()
            theirs.close()
    assert closed == {"tornado": True, "ours": True}


@pytest.mark.parametrize(
    "impl",
    [
        "tornado.platform.asyncio.AsyncIOLoop",
        "tornado.platform.asyncio.AsyncIOMainLoop",
        "tornado.ioloop.NoSuchLoop",
        "socket.socket",
        None,
    ],
)
def test_configure_as_tornado(impl: str | None) -> None:
    outcomes = {}
    for name, module in MODULES.items():
        saved = tornado.ioloop.IOLoop._save_configuration()
        try:
            module.IOLoop.configure(impl)
            outcomes[name] = "ok"
        except (ImportError, RuntimeError) as error:
            outcomes[name] = type(error).__name__
        finally:
            tornado.ioloop.IOLoop._restore_configuration(saved)
    assert outcomes["ours"] == outcomes["tornado"]
