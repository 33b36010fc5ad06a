"""Tornado's HTTP interfaces and start-line helpers that programs and their tests import
(issue 8): the names exist, and what they compute is what Tornado 6.6.1 computes."""

from __future__ import annotations

import types
import warnings
from typing import Any

import pytest
import tornado.httputil
import tornado.ioloop
import tornado.web

from tornado_ws_compat import httputil, ioloop, web

SIDES = {
    "tornado": types.SimpleNamespace(
        httputil=tornado.httputil, web=tornado.web, ioloop=tornado.ioloop
    ),
    "ours": types.SimpleNamespace(httputil=httputil, web=web, ioloop=ioloop),
}

LINES = [
    "GET /foo?a=1 HTTP/1.1",
    "OPTIONS * HTTP/1.0",
    "GET /foo HTTP/2.0",
    "GET  /foo HTTP/1.1",
    "G@T /foo HTTP/1.1",
    "GET /foo",
    "HTTP/1.1 200 OK",
    "HTTP/1.0 404 Not\tFound",
    "HTTP/1.1 204 ",
    "HTTP/1.1 2000 OK",
    "HTTP/3.0 200 OK",
]


def _call(function: Any, *args: Any) -> Any:
    try:
        return ["ok", tuple(function(*args))]
    except Exception as error:
        return [type(error).__name__, str(error)]


def _transcript(side: Any) -> list[Any]:
    util = side.httputil
    out: list[Any] = []
    for line in LINES:
        out.append(_call(util.parse_request_start_line, line))
        out.append(_call(util.parse_response_start_line, line))
    headers = util.HTTPHeaders({"Content-Type": "text/plain"})
    headers.add("Set-Cookie", "a=1")
    headers.add("Set-Cookie", "b=2")
    out.append(str(headers))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        request = util.HTTPServerRequest(
            start_line=util.RequestStartLine("POST", "/x?y=1", "HTTP/1.1"),
            headers=util.HTTPHeaders({"Host": "example.com"}),
            files={"f": []},
        )
    out.append([request.method, request.uri, request.version, request.path, request.query])
    out.append([request.files, request.host, request.server_connection])

    class Recorder(util.HTTPMessageDelegate):
        pass

    delegate = Recorder()
    out.append([delegate.headers_received(None, headers), delegate.data_received(b"x")])
    out.append([delegate.finish(), delegate.on_connection_close()])
    app = side.web.Application([])
    out.append(isinstance(app, util.HTTPServerConnectionDelegate))
    out.append(util.HTTPServerConnectionDelegate().on_close(None))
    out.append(_call(util.HTTPServerConnectionDelegate().start_request, None, None))
    out.append(_call(util.HTTPConnection().write, b"x"))
    out.append(side.ioloop.IOLoop.configured_class().__name__)
    out.append(side.ioloop.IOLoop.configurable_base().__name__)
    out.append(side.ioloop.IOLoop.configurable_default().__name__)
    return out


def test_interfaces_and_start_lines_match_tornado() -> None:
    assert _transcript(SIDES["ours"]) == _transcript(SIDES["tornado"])


def test_application_start_request_names_itself() -> None:
    with pytest.raises(NotImplementedError, match=r"Application\.start_request"):
        web.Application([]).start_request(None, httputil.HTTPConnection())
