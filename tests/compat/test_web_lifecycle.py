"""Request lifecycle hooks, differential against Tornado 6.6.1: ``on_connection_close`` for a
client that leaves during a long request, and ``@stream_request_body``'s order of calls.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest

from ._webdiff import WebSide, same

TIMEOUT = 5.0


def build_long(events: list[str], left: asyncio.Event) -> Any:
    def make(w: ModuleType) -> Any:
        class Long(w.RequestHandler):  # type: ignore[name-defined,misc]
            async def get(self) -> None:
                events.append("get")
                self.write("partial")
                await self.flush()
                await left.wait()
                events.append("resumed")

            def on_connection_close(self) -> None:
                events.append("on_connection_close")
                left.set()

            def on_finish(self) -> None:
                events.append("on_finish")

        class Barrier(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self) -> None:
                self.write("ok")

        return w.Application([(r"/long", Long), (r"/barrier", Barrier)])

    return make


@pytest.mark.asyncio
async def test_on_connection_close_when_the_client_leaves() -> None:
    events: list[str] = []
    left = asyncio.Event()

    async def scenario(side: WebSide) -> list[str]:
        events.clear()
        left.clear()
        reader, writer = await asyncio.open_connection("127.0.0.1", side.port)
        writer.write(b"GET /long HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 200"), head
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(left.wait(), TIMEOUT)
        await side.fetch("/barrier")  # the handler has resumed and ended by now
        return list(events)

    observed = await same(build_long(events, left), scenario)
    assert observed[:2] == ["get", "on_connection_close"]


def build_streaming(events: list[Any], **settings: Any) -> Any:
    def make(w: ModuleType) -> Any:
        @w.stream_request_body
        class Upload(w.RequestHandler):  # type: ignore[name-defined,misc]
            def prepare(self) -> None:
                events.append(("prepare", self.get_argument("q", None)))
                self.received = b""

            def data_received(self, chunk: bytes) -> None:
                if not events or events[-1] != "data":
                    events.append("data")
                self.received += chunk

            def post(self) -> None:
                events.append(("post", self.get_argument("field", "absent")))
                self.write(b"got " + self.received)

            put = post

        class Plain(w.RequestHandler):  # type: ignore[name-defined,misc]
            def post(self) -> None:
                self.write(self.get_argument("field", "absent"))

        return w.Application([(r"/upload", Upload), (r"/plain", Plain)], **settings)

    return make


@pytest.mark.asyncio
async def test_stream_request_body() -> None:
    events: list[Any] = []

    async def scenario(side: WebSide) -> list[Any]:
        events.clear()
        form = {"field": "value"}
        seen = [
            await side.fetch("/upload?q=1", "POST", data=form),
            await side.fetch("/upload", "PUT", data=b"x" * 100_000),
            await side.fetch("/upload", "POST"),
            await side.fetch("/plain", "POST", data=form),
        ]
        return [seen, list(events)]

    observed = await same(build_streaming(events), scenario)
    assert observed[1][0] == ("prepare", "1")
    assert observed[0][0]["body"] == b"got field=value"


def test_stream_request_body_needs_a_handler_class() -> None:
    import tornado.web

    import tornado_ws_compat.web

    for w in (tornado.web, tornado_ws_compat.web):
        with pytest.raises(TypeError):
            w.stream_request_body(object)


@pytest.mark.asyncio
async def test_stream_request_body_xsrf_token_only_from_query_or_header() -> None:
    """The body is not parsed for a streaming handler, so a token there is not seen."""
    events: list[Any] = []
    token = "ab" * 16
    # Tornado drops a connection whose streamed body it refused to read: one per request.
    cookie = {"Cookie": f"_xsrf={token}", "Connection": "close"}

    async def scenario(side: WebSide) -> list[int]:
        in_body = await side.fetch("/upload", "POST", data={"_xsrf": token}, headers=cookie)
        in_query = await side.fetch(f"/upload?_xsrf={token}", "POST", data=b"x", headers=cookie)
        plain = await side.fetch("/plain", "POST", data={"_xsrf": token}, headers=cookie)
        return [in_body["status"], in_query["status"], plain["status"]]

    assert await same(build_streaming(events, xsrf_cookies=True), scenario) == [403, 200, 200]
