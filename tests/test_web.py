"""``tornado_ws_compat.web``: routes and the plain pages a legacy app keeps beside its socket.

Expected statuses, bodies and headers are Tornado 6.6.1's (the handlers below are built by
``make_routes(web_module, ...)`` so that the same classes could be served by real Tornado).
"""

from __future__ import annotations

import email.utils
import http.cookies
import logging
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from helpers import raw_connection, serve
from tornado import web as tornado_web

from tornado_ws_compat import web

SECRET = "cookie secret shared with real tornado"


def error_page(code: int, reason: str) -> str:
    return f"<html><title>{code}: {reason}</title><body>{code}: {reason}</body></html>"


def make_routes(w: ModuleType, static_root: str) -> list[Any]:
    """Handlers written against ``w`` (our ``web`` or ``tornado.web``)."""

    class Index(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.write("<h1>index</h1>")

    class Echo(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self, *args: str, **kwargs: str) -> None:
            self.write({"args": list(args), "kwargs": kwargs, "option": self.option})

        def initialize(self, option: str = "default") -> None:
            self.option = option

    class Writes(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self, kind: str) -> None:
            if kind == "str":
                self.write("caf\u00e9")
            elif kind == "bytes":
                self.set_header("Content-Type", "application/octet-stream")
                self.write(b"\x00\xff")
            elif kind == "dict":
                self.write({"b": [1, 2], "html": "</script>"})
            elif kind == "several":
                self.write("a")
                self.write(b"b")
                self.finish("c")
            elif kind == "list":
                try:
                    self.write([1, 2])  # type: ignore[arg-type]
                except TypeError:
                    self.write("TypeError")

    class Form(w.RequestHandler):  # type: ignore[name-defined,misc]
        def post(self) -> None:
            self.write(
                {
                    "name": self.get_argument("name"),
                    "body": self.get_body_argument("name"),
                    "tags": self.get_arguments("tag"),
                    "query": self.get_query_argument("q", None),
                }
            )

        def get(self) -> None:
            self.write(self.get_argument("name", "nobody"))

    class Status(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.set_status(201)
            self.set_header("X-One", "1")
            self.set_header("X-One", "replaced")
            self.add_header("X-Many", "a")
            self.add_header("X-Many", "b")
            self.set_header("X-Number", 42)
            self.write("created")

        def post(self) -> None:
            self.set_status(299, "Custom Reason")
            self.finish("custom")

    class Cookies(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.set_cookie("plain", "value")
            self.set_cookie("flags", "x", domain="example.com", path="/p", httponly=True,
                            secure=True, samesite="Lax", max_age=60)  # fmt: skip
            self.clear_cookie("gone")
            self.set_signed_cookie("user", "alice")
            self.write("ok")

    class Redirects(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self, kind: str) -> None:
            if kind == "temporary":
                self.redirect("/target")
            elif kind == "permanent":
                self.redirect("/target", permanent=True)
            else:
                self.redirect("/target", status=303)

    class Errors(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self, kind: str) -> None:
            if kind == "http":
                raise w.HTTPError(403, "log only: %s", "secret")
            if kind == "reason":
                raise w.HTTPError(418, reason="Short And Stout")
            if kind == "send":
                self.send_error(503)
                return
            if kind == "crash":
                raise ZeroDivisionError("crash")

    class CustomError(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            raise w.HTTPError(409)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            self.finish({"error": status_code, "has_exc_info": "exc_info" in kwargs})

    class DefaultHeaders(w.RequestHandler):  # type: ignore[name-defined,misc]
        def set_default_headers(self) -> None:
            self.set_header("X-Frame-Options", "DENY")
            self.set_header("Server", "legacy")

        def get(self) -> None:
            raise w.HTTPError(404)

        def post(self) -> None:
            self.write("posted")

    class Renderer(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.render("index.html", title="x")

    class Head(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.write("body for get")

        def head(self) -> None:
            self.set_header("X-Head", "yes")

    return [
        (r"/", Index),
        (r"/echo/(\d+)/(\w+)", Echo),
        w.url(r"/named/(?P<first>[^/]+)/(?P<second>[^/]+)", Echo, {"option": "kw"}, name="named"),
        w.URLSpec(r"/spec/([^/]+)", Echo, dict(option="spec"), name="spec"),
        (r"/three/(.*)", Echo, {"option": "three"}),
        (r"/four/(.*)", Echo, {"option": "four"}, "four"),
        (r"/write/(\w+)", Writes),
        (r"/form", Form),
        (r"/status", Status),
        (r"/cookies", Cookies),
        (r"/redirect/(\w+)", Redirects),
        (r"/error/(\w+)", Errors),
        (r"/custom_error", CustomError),
        (r"/default_headers", DefaultHeaders),
        (r"/render", Renderer),
        (r"/head", Head),
        (r"/first/.*", Index),
        (r"/first/second", Echo),
        (r"/static_custom/(.*)", w.StaticFileHandler, {"path": static_root}),
    ]


@pytest.fixture
def static_root(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_text("hello static\n")
    (root / "app.js").write_text("console.log(1);\n")
    (root / "sub" / "page.html").write_text("<p>sub</p>")
    (tmp_path / "secret.txt").write_text("do not serve")
    old = time.time() - 3600
    for path in (root / "hello.txt", root / "app.js"):
        os.utime(path, (old, old))
    return root


def app_settings(static_root: Path) -> dict[str, Any]:
    return {"static_path": str(static_root), "cookie_secret": SECRET}


async def fetch(
    server: Any, path: str, method: str = "GET", **kwargs: Any
) -> tuple[int, str, Any, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method, server.url(path), allow_redirects=False, **kwargs
        ) as response:
            body = await response.read()
            return response.status, response.reason or "", response.headers, body


# ---------------------------------------------------------------------------------------------
# Routes


@pytest.mark.asyncio
async def test_routes_tuples_url_and_urlspec(static_root: Path) -> None:
    routes = make_routes(web, str(static_root))
    async with serve(routes, **app_settings(static_root)) as server:
        _, _, _, body = await fetch(server, "/echo/12/ab")
        assert body == b'{"args": ["12", "ab"], "kwargs": {}, "option": "default"}'
        _, _, _, body = await fetch(server, "/named/x%20y/z")
        assert body == b'{"args": [], "kwargs": {"first": "x y", "second": "z"}, "option": "kw"}'
        _, _, _, body = await fetch(server, "/spec/s")
        assert body == b'{"args": ["s"], "kwargs": {}, "option": "spec"}'
        _, _, _, body = await fetch(server, "/three/t")
        assert body == b'{"args": ["t"], "kwargs": {}, "option": "three"}'
        _, _, _, body = await fetch(server, "/four/f")
        assert body == b'{"args": ["f"], "kwargs": {}, "option": "four"}'
        # Patterns are anchored at both ends.
        assert (await fetch(server, "/echo/12/ab/extra"))[0] == 404
        assert (await fetch(server, "/prefix/echo/12/ab"))[0] == 404
        # The first matching route wins.
        assert (await fetch(server, "/first/second"))[3] == b"<h1>index</h1>"


@pytest.mark.asyncio
async def test_reverse_url(static_root: Path) -> None:
    app = web.Application(make_routes(web, str(static_root)), **app_settings(static_root))
    assert app.reverse_url("named", "a", "b") == "/named/a/b"
    assert app.reverse_url("spec", "x y/z") == "/spec/x%20y/z"
    assert app.reverse_url("four", 7) == "/four/7"
    with pytest.raises(KeyError):
        app.reverse_url("nope")
    # The same answers as real Tornado for the same routes.
    theirs = tornado_web.Application(make_routes(tornado_web, str(static_root)))
    for name, args in (("named", ("a", "b")), ("spec", ("x y/z",)), ("four", (7,))):
        assert app.reverse_url(name, *args) == theirs.reverse_url(name, *args)


@pytest.mark.asyncio
async def test_unknown_path_is_404(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        status, reason, headers, body = await fetch(server, "/no/such/page")
        assert (status, reason) == (404, "Not Found")
        assert body.decode() == error_page(404, "Not Found")
        assert headers["Content-Type"] == "text/html; charset=UTF-8"
        status, _, _, body = await fetch(server, "/no/such/page", method="POST")
        assert status == 404


# ---------------------------------------------------------------------------------------------
# Plain pages


@pytest.mark.asyncio
async def test_write_str_bytes_dict(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        status, _, headers, body = await fetch(server, "/write/str")
        assert (status, body) == (200, "caf\u00e9".encode())
        assert headers["Content-Type"] == "text/html; charset=UTF-8"
        assert headers["Content-Length"] == str(len(body))
        _, _, headers, body = await fetch(server, "/write/bytes")
        assert (headers["Content-Type"], body) == ("application/octet-stream", b"\x00\xff")
        _, _, headers, body = await fetch(server, "/write/dict")
        assert headers["Content-Type"] == "application/json; charset=UTF-8"
        assert body == b'{"b": [1, 2], "html": "<\\/script>"}'
        assert (await fetch(server, "/write/several"))[3] == b"abc"
        assert (await fetch(server, "/write/list"))[3] == b"TypeError"


@pytest.mark.asyncio
async def test_get_post_and_arguments(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        assert (await fetch(server, "/form?name=q%20s"))[3] == b"q s"
        assert (await fetch(server, "/form"))[3] == b"nobody"
        status, _, _, body = await fetch(
            server, "/form?q=1", method="POST", data={"name": "ann", "tag": "x"}
        )
        assert status == 200
        assert body == b'{"name": "ann", "body": "ann", "tags": ["x"], "query": "1"}'
        status, _, _, body = await fetch(server, "/form", method="POST", data={"other": "1"})
        assert (status, body.decode()) == (400, error_page(400, "Bad Request"))


@pytest.mark.asyncio
async def test_head(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        status, _, headers, body = await fetch(server, "/head", method="HEAD")
        assert (status, body, headers["X-Head"]) == (200, b"", "yes")
        # A handler without head() answers 405, as Tornado.
        assert (await fetch(server, "/", method="HEAD"))[0] == 405


@pytest.mark.asyncio
async def test_unimplemented_methods_are_405(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            status, reason, _, body = await fetch(server, "/", method=method)
            assert (status, reason) == (405, "Method Not Allowed"), method
            assert body.decode() == error_page(405, "Method Not Allowed")


@pytest.mark.asyncio
async def test_unknown_method_is_405(static_root: Path) -> None:
    # Tornado answers any method outside SUPPORTED_METHODS with its 405 page. aiohttp's HTTP
    # parser (llhttp) knows the registered methods only, so a made-up one such as "BREW" is a
    # 400 from the parser; a registered one that handlers do not support is Tornado's 405.
    async with serve(make_routes(web, str(static_root))) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/", method="PROPFIND")
            assert (response.status, response.text) == (405, error_page(405, "Method Not Allowed"))
        async with raw_connection(server) as conn:
            response = await conn.request("/", method="BREW")
            assert response.status == 400


@pytest.mark.asyncio
async def test_set_status_and_headers(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        status, reason, headers, body = await fetch(server, "/status")
        assert (status, reason, body) == (201, "Created", b"created")
        assert headers["X-One"] == "replaced"
        assert headers.getall("X-Many") == ["a", "b"]
        assert headers["X-Number"] == "42"
        status, reason, _, body = await fetch(server, "/status", method="POST")
        assert (status, reason, body) == (299, "Custom Reason", b"custom")


@pytest.mark.asyncio
async def test_cookies_readable_by_tornado(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root)), cookie_secret=SECRET) as server:
        _, _, headers, _ = await fetch(server, "/cookies")
    cookies = {value.split("=", 1)[0]: value for value in headers.getall("Set-Cookie")}
    assert cookies["plain"] == "plain=value; Path=/"
    flags = cookies["flags"]
    assert flags.startswith("flags=x; Domain=example.com; ")
    for part in ("Path=/p", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=60"):
        assert part in flags.split("; "), part
    gone = cookies["gone"]
    assert gone.startswith('gone=""; expires=')
    expires = email.utils.parsedate_to_datetime(gone.split("expires=")[1].split(";")[0])
    assert expires.timestamp() < time.time() - 300 * 86400
    # The value holds "|", so it is sent quoted; a browser returns it as is and Tornado's
    # cookie parser unquotes it. Parse it the same way here.
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    jar.load(cookies["user"])
    signed = jar["user"].value
    assert tornado_web.decode_signed_value(SECRET, "user", signed) == b"alice"
    assert tornado_web.decode_signed_value(SECRET, "other", signed) is None
    assert "expires=" in cookies["user"]  # expires_days=30 by default


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "status"), [("temporary", 302), ("permanent", 301), ("other", 303)]
)
async def test_redirect(kind: str, status: int, static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        got, _, headers, body = await fetch(server, f"/redirect/{kind}")
        assert (got, headers["Location"], body) == (status, "/target", b"")


@pytest.mark.asyncio
async def test_errors_default_page_and_logging(
    static_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tornado")
    async with serve(make_routes(web, str(static_root))) as server:
        status, reason, _, body = await fetch(server, "/error/http")
        assert (status, reason, body.decode()) == (403, "Forbidden", error_page(403, "Forbidden"))
        assert b"secret" not in body
        status, reason, _, body = await fetch(server, "/error/reason")
        assert (status, reason) == (418, "Short And Stout")
        assert body.decode() == error_page(418, "Short And Stout")
        status, reason, _, body = await fetch(server, "/error/send")
        assert (status, body.decode()) == (503, error_page(503, "Service Unavailable"))
        status, reason, _, body = await fetch(server, "/error/crash")
        assert (status, body.decode()) == (500, error_page(500, "Internal Server Error"))
        # Still serving.
        assert (await fetch(server, "/"))[0] == 200
    general = [r.getMessage() for r in caplog.records if r.name == "tornado.general"]
    assert general == ["403 GET /error/http (127.0.0.1): log only: secret"]
    crashes = [r for r in caplog.records if r.name == "tornado.application"]
    assert len(crashes) == 1
    assert crashes[0].getMessage().startswith("Uncaught exception GET /error/crash (127.0.0.1)")
    access = [r for r in caplog.records if r.name == "tornado.access"]
    assert [r.getMessage().split(" (")[0] for r in access] == [
        "403 GET /error/http",
        "418 GET /error/reason",
        "503 GET /error/send",
        "500 GET /error/crash",
        "200 GET /",
    ]
    warning, error, info = logging.WARNING, logging.ERROR, logging.INFO
    assert [r.levelno for r in access] == [warning, warning, error, error, info]


@pytest.mark.asyncio
async def test_custom_write_error(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root))) as server:
        status, _, _, body = await fetch(server, "/custom_error")
        assert (status, body) == (409, b'{"error": 409, "has_exc_info": true}')


@pytest.mark.asyncio
async def test_set_default_headers(static_root: Path) -> None:
    # Default headers are set on every response, error pages included (send_error clears
    # and sets them again).
    async with serve(make_routes(web, str(static_root))) as server:
        status, _, headers, body = await fetch(server, "/default_headers", method="POST")
        assert (status, body) == (200, b"posted")
        assert (headers["X-Frame-Options"], headers["Server"]) == ("DENY", "legacy")
        status, _, headers, _ = await fetch(server, "/default_headers")
        assert status == 404
        assert (headers["X-Frame-Options"], headers["Server"]) == ("DENY", "legacy")


@pytest.mark.asyncio
async def test_render_missing_template_is_a_500(
    static_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No template_path: templates are looked up beside the calling module (this file), as in
    # Tornado; index.html is not there, so the page is a 500 and the error is logged.
    async with serve(make_routes(web, str(static_root))) as server:
        status, _, _, body = await fetch(server, "/render")
        assert (status, body.decode()) == (500, error_page(500, "Internal Server Error"))
    [record] = [r for r in caplog.records if r.name == "tornado.application"]
    assert record.exc_info is not None
    error = record.exc_info[1]
    assert isinstance(error, FileNotFoundError)
    assert str(Path(__file__).parent / "index.html") in str(error)


# ---------------------------------------------------------------------------------------------
# Static files


@pytest.mark.asyncio
async def test_static_path_setting(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root)), **app_settings(static_root)) as server:
        status, _, headers, body = await fetch(server, "/static/hello.txt")
        assert (status, body) == (200, b"hello static\n")
        assert headers["Content-Type"] == "text/plain"  # Tornado adds no charset here
        assert "Last-Modified" in headers
        _, _, headers, body = await fetch(server, "/static/app.js")
        assert body == b"console.log(1);\n"
        assert headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
        assert (await fetch(server, "/static/sub/page.html"))[3] == b"<p>sub</p>"
        assert (await fetch(server, "/static_custom/hello.txt"))[3] == b"hello static\n"


@pytest.mark.asyncio
async def test_static_missing_is_404(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root)), **app_settings(static_root)) as server:
        status, _, _, body = await fetch(server, "/static/missing.txt")
        assert (status, body.decode()) == (404, error_page(404, "Not Found"))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path", ["/static/../secret.txt", "/static/sub/../../secret.txt", "/static//etc/passwd"]
)
async def test_static_traversal_is_403(path: str, static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root)), **app_settings(static_root)) as server:
        async with raw_connection(server) as conn:
            response = await conn.request(path)
            assert response.status == 403
            assert b"do not serve" not in response.body
            assert b"root:" not in response.body


@pytest.mark.asyncio
async def test_static_directory_is_403(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root)), **app_settings(static_root)) as server:
        assert (await fetch(server, "/static/sub"))[0] == 403


@pytest.mark.asyncio
async def test_static_if_modified_since_304(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root)), **app_settings(static_root)) as server:
        _, _, headers, _ = await fetch(server, "/static/hello.txt")
        modified = headers["Last-Modified"]
        status, _, _, body = await fetch(
            server, "/static/hello.txt", headers={"If-Modified-Since": modified}
        )
        assert (status, body) == (304, b"")
        earlier = email.utils.formatdate(time.time() - 7200, usegmt=True)
        status, _, _, body = await fetch(
            server, "/static/hello.txt", headers={"If-Modified-Since": earlier}
        )
        assert (status, body) == (200, b"hello static\n")


@pytest.mark.asyncio
async def test_static_head(static_root: Path) -> None:
    async with serve(make_routes(web, str(static_root)), **app_settings(static_root)) as server:
        async with raw_connection(server) as conn:
            response = await conn.request("/static/hello.txt", method="HEAD")
            assert response.status == 200
            assert response.headers["Content-Length"] == str(len(b"hello static\n"))
            assert response.headers["Content-Type"] == "text/plain"
            assert response.body == b""
            # The connection is still usable: no stray body bytes were sent.
            response = await conn.request("/static/hello.txt")
            assert response.body == b"hello static\n"
