"""Names real programs take from Tornado's modules that Tornado 6.6.1 only re-exports there or
keeps as helpers (``gen.Future``, ``ioloop.TimeoutError``, ``httputil.url_concat``, ...): each
exists in the same module here and behaves as Tornado's (issue 8, found in public programs)."""

from __future__ import annotations

import asyncio
import datetime
import importlib
import time
from typing import Any

import pytest
import tornado.httputil

from tornado_ws_compat import gen, httputil, ioloop, websocket

# (module, name) pairs seen in public Tornado programs and their tests.
USED = [
    ("gen", "Future"),
    ("ioloop", "TimeoutError"),
    ("websocket", "WebSocketClientConnection"),
    ("httputil", "url_concat"),
    ("httputil", "format_timestamp"),
    ("httputil", "responses"),
    ("httputil", "HTTPInputError"),
    ("httputil", "HTTPOutputError"),
    ("httputil", "parse_body_arguments"),
    ("httputil", "parse_qs_bytes"),
    ("websocket", "WebSocketProtocol"),
    ("websocket", "WebSocketProtocol13"),
    ("netutil", "ThreadedResolver"),
    ("web", "ObjectDict"),
]


@pytest.mark.parametrize(("module", "name"), USED, ids=[f"{m}.{n}" for m, n in USED])
def test_name_is_where_tornado_has_it(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(f"tornado.{module}"), name)
    assert hasattr(importlib.import_module(f"tornado_ws_compat.{module}"), name)


def test_from_import_of_a_missing_name_still_fails() -> None:
    with pytest.raises(ImportError):
        exec("from tornado_ws_compat.websocket import NoSuchThing", {})


URLS = [
    ("http://a.example/p", {"x": "1", "y": "a b"}),
    ("http://a.example/p?x=0&e=", [("x", "1"), ("x", "2")]),
    ("http://a.example/p?q=1#frag", (("r", "&?"),)),
    ("/relative", {}),
    ("/relative?k=v", None),
    ("http://a.example/p;params?u=%C3%A9", {"v": "é"}),
]


@pytest.mark.parametrize(("url", "args"), URLS)
def test_url_concat_matches_tornado(url: str, args: Any) -> None:
    assert httputil.url_concat(url, args) == tornado.httputil.url_concat(url, args)


def test_url_concat_refuses_other_types_as_tornado() -> None:
    with pytest.raises(TypeError) as theirs:
        tornado.httputil.url_concat("/p", "x=1")  # type: ignore[arg-type]
    with pytest.raises(TypeError) as ours:
        httputil.url_concat("/p", "x=1")  # type: ignore[arg-type]
    assert str(ours.value) == str(theirs.value)


STAMPS: list[Any] = [
    1359312200,
    1359312200.75,
    time.gmtime(1359312200),
    (2013, 1, 27, 18, 43, 20, 0, 0, 0),
    datetime.datetime(2013, 1, 27, 18, 43, 20),
    datetime.datetime(
        2013, 1, 27, 20, 43, 20, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    ),
]


@pytest.mark.parametrize("stamp", STAMPS)
def test_format_timestamp_matches_tornado(stamp: Any) -> None:
    assert httputil.format_timestamp(stamp) == tornado.httputil.format_timestamp(stamp)


def test_format_timestamp_refuses_other_types_as_tornado() -> None:
    for bad in ("1359312200", None):
        with pytest.raises(TypeError) as theirs:
            tornado.httputil.format_timestamp(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError) as ours:
            httputil.format_timestamp(bad)  # type: ignore[arg-type]
        assert str(ours.value) == str(theirs.value)


def test_responses_and_error_classes() -> None:
    assert httputil.responses == tornado.httputil.responses
    for name in ("HTTPInputError", "HTTPOutputError"):
        ours, theirs = getattr(httputil, name), getattr(tornado.httputil, name)
        assert ours.__bases__ == theirs.__bases__ == (Exception,)


def test_gen_future_is_the_future_coroutines_use() -> None:
    async def main() -> None:
        future = gen.Future()
        asyncio.get_running_loop().call_soon(future.set_result, 3)

        @gen.coroutine
        def waiter() -> Any:
            value = yield future
            return value + 1

        result = waiter()
        assert isinstance(result, gen.Future)
        assert await result == 4

    asyncio.run(main())


def test_run_sync_timeout_is_ioloop_timeout_error() -> None:
    loop = ioloop.IOLoop(make_current=False)
    try:
        with pytest.raises(ioloop.TimeoutError):
            loop.run_sync(lambda: gen.sleep(5), timeout=0.01)
    finally:
        loop.close()


def test_websocket_client_connection_is_what_connect_returns() -> None:
    from tornado_ws_compat._engine.client import WebSocketClientConnection

    assert websocket.WebSocketClientConnection is WebSocketClientConnection


@pytest.mark.asyncio
async def test_ws_connection_is_a_websocket_protocol13_as_on_tornado() -> None:
    """Programs test ``isinstance(self.ws_connection, tornado.websocket.WebSocketProtocol13)``
    (a public ping helper does, to pick its ping)."""
    import aiohttp
    import tornado.websocket
    from differential import serving_both

    def routes(web: Any) -> list[Any]:
        module = tornado.websocket if web.__name__ == "tornado.web" else websocket

        class Kind(module.WebSocketHandler):  # type: ignore[name-defined,misc]
            def open(self) -> None:
                connection = self.ws_connection
                self.write_message(
                    {
                        "13": isinstance(connection, module.WebSocketProtocol13),
                        "base": isinstance(connection, module.WebSocketProtocol),
                        "subclass": issubclass(
                            module.WebSocketProtocol13, module.WebSocketProtocol
                        ),
                    }
                )

        return [("/ws", Kind)]

    async with serving_both(routes) as servers, aiohttp.ClientSession() as session:
        seen = {}
        for name, server in servers.items():
            port = server.sockets[0].getsockname()[1]
            async with session.ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
                seen[name] = (await ws.receive(timeout=5)).data
    assert seen["ours"] == seen["tornado"] == '{"13": true, "base": true, "subclass": true}'
