"""``WSGIContainer`` behind ``FallbackHandler`` (issue 8): Flask/Django-era programs serve
their WebSocket handlers and hand every other path to a WSGI application. The same routes run
on Tornado 6.6.1 and here; what a client sees must be equal (but the ``Server`` header, which
names the implementation when the application sets none)."""

from __future__ import annotations

import concurrent.futures
import json
from types import ModuleType
from typing import Any

import pytest
import tornado.web
import tornado.websocket
import tornado.wsgi
from differential import observed, serving_both
from helpers import raw_connection, raw_websocket

import tornado_ws_compat.web
import tornado_ws_compat.websocket
import tornado_ws_compat.wsgi
from tornado_ws_compat.testing import running

_EXECUTOR = concurrent.futures.ThreadPoolExecutor(2)


class _Body:
    """A response iterable with close(), as WSGI frameworks return."""

    def __init__(self, parts: list[bytes], closed: list[str]) -> None:
        self.parts = parts
        self.closed = closed

    def __iter__(self) -> Any:
        return iter(self.parts)

    def close(self) -> None:
        self.closed.append("closed")


def _wsgi_app(closed: list[str]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        if path == "/missing":
            start_response("404 NOT FOUND", [("Content-Type", "text/plain")])
            return [b"no such page"]
        if path == "/bare":
            start_response("200 OK", [])
            return [b"no headers ", b"given"]
        if path == "/cached":
            start_response("304 Not Modified", [("ETag", '"v1"')])
            return []
        if path == "/served-by":
            start_response("200 OK", [("Server", "gunicorn"), ("X-Twice", "a"), ("X-Twice", "b")])
            return _Body([b"streamed ", b"in parts"], closed)
        keys = [
            "REQUEST_METHOD",
            "SCRIPT_NAME",
            "PATH_INFO",
            "QUERY_STRING",
            "REMOTE_ADDR",
            "SERVER_NAME",
            "SERVER_PORT",
            "SERVER_PROTOCOL",
            "CONTENT_TYPE",
            "CONTENT_LENGTH",
            "HTTP_X_CUSTOM",
            "wsgi.url_scheme",
            "wsgi.multithread",
            "wsgi.multiprocess",
        ]
        seen = {key: environ.get(key) for key in keys}
        seen["SERVER_PORT"] = seen["SERVER_PORT"] != ""  # the two servers' ports differ
        seen["SERVER_NAME"] = seen["SERVER_NAME"] == "127.0.0.1"
        seen["body"] = environ["wsgi.input"].read().decode()
        seen["headers"] = sorted(k for k in environ if k.startswith("HTTP_") and k != "HTTP_HOST")
        start_response("201 Created", [("Content-Type", "application/json")])
        return [json.dumps(seen).encode()]

    return app


def _routes(web: ModuleType) -> list[Any]:
    ours = web is not tornado.web
    wsgi = tornado_ws_compat.wsgi if ours else tornado.wsgi
    websocket = tornado_ws_compat.websocket if ours else tornado.websocket
    closed: list[str] = []

    class Echo(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def on_message(self, message: str) -> None:
            self.write_message("echo " + message)

    class Closed(web.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.write(",".join(closed))

    return [
        (r"/ws", Echo),
        (r"/closed", Closed),
        (
            r"/threaded/.*",
            web.FallbackHandler,
            {"fallback": wsgi.WSGIContainer(_wsgi_app(closed), _EXECUTOR)},
        ),
        (r".*", web.FallbackHandler, {"fallback": wsgi.WSGIContainer(_wsgi_app(closed))}),
    ]


REQUESTS = [
    ("GET", "/a%20b/c?x=1&y=%2F", {"X-Custom": "yes"}, b""),
    ("POST", "/form", {"Content-Type": "application/x-www-form-urlencoded"}, b"name=ann&n=1"),
    ("PUT", "/threaded/put", {"Content-Type": "text/plain"}, b"payload"),
    ("GET", "/missing", {}, b""),
    ("GET", "/bare", {}, b""),
    ("GET", "/cached", {}, b""),
    ("GET", "/served-by", {}, b""),
    ("GET", "/closed", {}, b""),
]


@pytest.mark.asyncio
async def test_wsgi_application_behind_fallback_handler_matches_tornado() -> None:
    seen: dict[str, list[Any]] = {}
    async with serving_both(_routes) as servers:
        for name, server in servers.items():
            out: list[Any] = []
            async with raw_connection(server) as conn:  # one kept-alive connection for all
                for method, path, headers, body in REQUESTS:
                    response = await conn.request(path, headers, method=method, body=body)
                    out.append([method, path, observed(response)])
                    server_header = response.headers.get("Server")
                    out.append(server_header if server_header == "gunicorn" else "ours/theirs")
            async with raw_websocket(server, "/ws") as conn:
                await conn.send_text("hi")
                out.append((await conn.read_frame()).payload)
            seen[name] = out
    assert seen["ours"] == seen["tornado"]
    first = json.loads(seen["ours"][0][2]["body"])
    assert first["PATH_INFO"] == "/a b/c" and first["HTTP_X_CUSTOM"] == "yes"


@pytest.mark.asyncio
async def test_a_failing_wsgi_application_gets_a_500_not_a_hang(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Tornado 6.6.1 logs the exception and never answers; here the client gets a 500."""

    def broken(environ: dict[str, Any], start_response: Any) -> Any:
        raise RuntimeError("the app fell over")

    app = tornado_ws_compat.web.Application(
        [
            (
                r".*",
                tornado_ws_compat.web.FallbackHandler,
                {"fallback": tornado_ws_compat.wsgi.WSGIContainer(broken)},
            )
        ]
    )
    async with running(app) as server, raw_connection(server) as conn:
        response = await conn.request("/anything")
    assert response.status == 500
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors][:1] == ["Exception in WSGI application /anything"]
