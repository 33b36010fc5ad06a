"""Tornado's minor modules (issue 8): importable, Tornado's values where provided, and a named
NotSupportedError when what is not provided is used (never at import)."""

from __future__ import annotations

import asyncio
import importlib
import types
from typing import Any

import pytest
import tornado.auth
import tornado.iostream
import tornado.routing
import tornado.wsgi

from tornado_ws_compat import auth, iostream, routing, web, wsgi
from tornado_ws_compat.alias import tornado_alias
from tornado_ws_compat.errors import NotSupportedError
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.platform.asyncio import (
    AsyncIOLoop,
    AsyncIOMainLoop,
    to_asyncio_future,
    to_tornado_future,
)

MINOR = [
    "auth",
    "iostream",
    "routing",
    "wsgi",
    "platform.asyncio",
    "simple_httpclient",
    "curl_httpclient",
]


@pytest.mark.parametrize("name", MINOR)
def test_importable_under_tornado_names(name: str) -> None:
    with tornado_alias():
        module = importlib.import_module(f"tornado.{name}")
        assert module is importlib.import_module(f"tornado_ws_compat.{name}")
        # Every name in the module's __all__ exists.
        assert set(module.__all__) <= set(dir(module))


@pytest.mark.parametrize("name", ["auth", "iostream", "routing", "wsgi"])
def test_public_names_cover_tornados(name: str) -> None:
    ours = importlib.import_module(f"tornado_ws_compat.{name}")
    theirs = importlib.import_module(f"tornado.{name}")
    wanted = {
        "auth": {"AuthError", "OAuth2Mixin", "GoogleOAuth2Mixin", "FacebookGraphMixin"},
        "iostream": {"StreamClosedError", "IOStream", "UnsatisfiableReadError"},
        "routing": {"Router", "RuleRouter", "Rule", "PathMatches", "HostMatches", "URLSpec"},
        "wsgi": {"WSGIContainer"},
    }[name]
    assert all(hasattr(theirs, attr) for attr in wanted)  # the names are Tornado's
    assert all(hasattr(ours, attr) for attr in wanted)


def test_stream_closed_error_is_tornados() -> None:
    cause = ConnectionResetError("reset")
    ours, theirs = iostream.StreamClosedError(cause), tornado.iostream.StreamClosedError(cause)
    assert (str(ours), ours.args, ours.real_error) == (str(theirs), theirs.args, cause)
    assert isinstance(ours, IOError)
    assert str(iostream.StreamClosedError()) == "Stream is closed"


def test_wsgi_to_wsgi_str_is_tornados() -> None:
    assert wsgi.to_wsgi_str(b"caf\xe9") == tornado.wsgi.to_wsgi_str(b"caf\xe9") == "café"


class _Login(web.RequestHandler, auth.GoogleOAuth2Mixin):
    """A handler of the Tornado 3-6 era: defining it must work, using the mixin must not."""


@pytest.mark.parametrize(
    ("use", "named"),
    [
        (lambda: routing.RuleRouter([]), "tornado.routing.RuleRouter"),
        (
            lambda: _Login.get_authenticated_user(_Login.__new__(_Login), "code"),
            "tornado.auth._Login.get_authenticated_user (GoogleOAuth2Mixin)",
        ),
        (
            lambda: auth.OAuth2Mixin().authorize_redirect("/"),
            "tornado.auth.OAuth2Mixin.authorize_redirect (OAuth2Mixin)",
        ),
    ],
)
def test_what_is_not_provided_says_so_when_used(use: Any, named: str) -> None:
    with pytest.raises(NotSupportedError, match="not provided by tornado_ws_compat") as info:
        use()
    assert str(info.value).startswith(named)
    assert isinstance(info.value, NotImplementedError)  # what Tornado-era code may catch


def _request(path: str, host: str = "example.com:8080") -> Any:
    return types.SimpleNamespace(path=path, host=host, host_name=host.split(":")[0])


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        (r"/static", "/static"),
        (r"/static", "/static/x"),
        (r"/user/([^/]+)", "/user/a%20b"),
        (r"/user/([^/]+)/(\d+)", "/user/z/42"),
        (r"/(?P<name>[^/]+)/(?P<id>\d+)", "/x%2Fy/7"),
        (r"/opt/(\d+)?", "/opt/"),
        (r"/nomatch", "/other"),
    ],
)
def test_path_matches_as_tornado(pattern: str, path: str) -> None:
    ours = routing.PathMatches(pattern).match(_request(path))
    theirs = tornado.routing.PathMatches(pattern).match(_request(path))
    assert ours == theirs


@pytest.mark.parametrize("host", ["example.com:8080", "www.example.com", "other.org"])
def test_host_and_any_matches_as_tornado(host: str) -> None:
    for pattern in (r"example\.com", r".*\.example\.com", r"other\.org"):
        request = _request("/", host)
        ours = routing.HostMatches(pattern).match(request)
        assert ours == tornado.routing.HostMatches(pattern).match(request)
    assert routing.AnyMatches().match(_request("/")) == {}
    rule = routing.Rule(routing.PathMatches("/a"), web.RequestHandler, {"k": 1}, "a")
    assert (rule.target_kwargs, rule.name, rule.reverse()) == ({"k": 1}, "a", None)


@pytest.mark.asyncio
async def test_platform_asyncio_bridge() -> None:
    loop = asyncio.get_running_loop()
    main = AsyncIOMainLoop()
    assert main is IOLoop.current()
    assert main.asyncio_loop is loop
    future = loop.create_future()
    assert to_tornado_future(future) is future
    assert to_asyncio_future(future) is future

    async def seven() -> int:
        return 7

    assert await to_asyncio_future(seven()) == 7
    assert issubclass(AsyncIOLoop, IOLoop)


def test_http_client_modules_name_the_one_client() -> None:
    import tornado.simple_httpclient

    from tornado_ws_compat import curl_httpclient, httpclient, simple_httpclient

    assert simple_httpclient.SimpleAsyncHTTPClient is httpclient.AsyncHTTPClient
    assert curl_httpclient.CurlAsyncHTTPClient is httpclient.AsyncHTTPClient
    timeout = simple_httpclient.HTTPTimeoutError("Timeout during request")
    theirs = tornado.simple_httpclient.HTTPTimeoutError("Timeout during request")
    assert (timeout.code, str(timeout)) == (theirs.code, str(theirs))
    error = curl_httpclient.CurlError(28, "Operation timed out")
    assert (error.code, error.errno, error.message) == (599, 28, "Operation timed out")
    with tornado_alias():
        client_module = importlib.import_module("tornado.httpclient")
        client_module.AsyncHTTPClient.configure(
            "tornado.simple_httpclient.SimpleAsyncHTTPClient", max_clients=20
        )
        client_module.AsyncHTTPClient.configure(None)
