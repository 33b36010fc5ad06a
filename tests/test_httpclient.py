"""``httpclient``: the same fetches made with Tornado 6.6.1's client and with ours, against one
Tornado server, give the same responses and the same errors.

The server is real Tornado's, so that only the clients differ. What legitimately differs is
left out of the comparison: ``Date``, the ``User-Agent`` each client names itself with, and
``Connection: close`` (Tornado's client opens a connection per request; ours keeps them), and
the ``Content-Length: 0`` aiohttp adds to a body-less DELETE (documented in the module).
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import tornado.httpclient
import tornado.web
from helpers import TIMEOUT

import tornado_ws_compat.httpclient
from tornado_ws_compat.errors import NotSupportedError

CLIENTS = {"tornado": tornado.httpclient, "ours": tornado_ws_compat.httpclient}
IGNORED = {"date", "connection"}
SEEN_IGNORED = {"user-agent", "connection", "host"}


class Echo(tornado.web.RequestHandler):
    def _echo(self) -> None:
        seen = {
            k: v
            for k, v in self.request.headers.get_all()
            if k.lower() not in SEEN_IGNORED and (k, v) != ("Content-Length", "0")
        }
        self.write(
            {"method": self.request.method, "headers": seen, "body": self.request.body.decode()}
        )

    get = post = put = delete = patch = _echo

    def head(self) -> None:
        self.set_header("X-Head", "yes")


class Redirect(tornado.web.RequestHandler):
    def get(self, status: str, hops: str) -> None:
        target = f"/redirect/{status}/{int(hops) - 1}" if int(hops) > 1 else "/echo"
        self.redirect(target, status=int(status))

    post = get


class Status(tornado.web.RequestHandler):
    def get(self, code: str) -> None:
        self.set_status(int(code))
        self.write(f"status {code}")


class Big(tornado.web.RequestHandler):
    async def get(self) -> None:
        for i in range(3):
            self.write(f"chunk {i} " * 1000)
            await self.flush()


class Never(tornado.web.RequestHandler):
    async def get(self) -> None:
        await asyncio.Event().wait()


class Auth(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(self.request.headers.get("Authorization", "none"))


@pytest_asyncio.fixture
async def base() -> AsyncIterator[str]:
    app = tornado.web.Application(
        [
            (r"/echo", Echo),
            (r"/redirect/(\d+)/(\d+)", Redirect),
            (r"/status/(\d+)", Status),
            (r"/big", Big),
            (r"/never", Never),
            (r"/auth", Auth),
        ],
        compress_response=True,
    )
    server = app.listen(0, "127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.stop()
    await asyncio.wait_for(server.close_all_connections(), TIMEOUT)


def observe(response: Any) -> dict[str, Any]:
    return {
        "code": response.code,
        "reason": response.reason,
        "headers": sorted(
            (k, v) for k, v in response.headers.get_all() if k.lower() not in IGNORED
        ),
        "body": response.body,
        "effective_url": response.effective_url,
        "error": None if response.error is None else str(response.error),
        "request_time": response.request_time >= 0,
    }


async def fetch_both(url: str, **kwargs: Any) -> dict[str, Any]:
    """The observation of each client, or the error it raised (type name and text)."""
    results: dict[str, Any] = {}
    for name, module in CLIENTS.items():
        client = module.AsyncHTTPClient(force_instance=True)
        try:
            response = await asyncio.wait_for(client.fetch(url, **kwargs), TIMEOUT)
            results[name] = observe(response)
        except Exception as exc:
            code = getattr(exc, "code", None)
            response = getattr(exc, "response", None)
            results[name] = (
                type(exc).__name__,
                str(exc),
                code,
                None if response is None else observe(response),
            )
        finally:
            client.close()
    assert results["ours"] == results["tornado"]
    return results["ours"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path, kwargs",
    [
        ("/echo", {}),
        ("/echo?a=1&b=%20", {"headers": {"X-Custom": "1", "Cookie": "a=b"}}),
        ("/echo", {"method": "POST", "body": "x=1"}),
        (
            "/echo",
            {"method": "POST", "body": b"{}", "headers": {"Content-Type": "application/json"}},
        ),
        ("/echo", {"method": "PUT", "body": "put"}),
        ("/echo", {"method": "DELETE"}),
        ("/echo", {"method": "HEAD"}),
        ("/echo", {"method": "GET", "body": "x", "allow_nonstandard_methods": True}),
        ("/echo", {"decompress_response": False}),
        ("/echo", {"if_modified_since": 1700000000.0}),
        ("/big", {}),
        ("/big", {"decompress_response": False}),
        ("/status/404", {}),
        ("/status/404", {"raise_error": False}),
        ("/status/500", {"raise_error": False}),
        ("/status/204", {}),
        ("/redirect/302/1", {}),
        ("/redirect/302/1", {"method": "POST", "body": "x"}),
        ("/redirect/307/1", {"method": "POST", "body": "x"}),
        ("/redirect/303/1", {"method": "POST", "body": "x"}),
        ("/redirect/301/3", {}),
        ("/redirect/302/3", {"max_redirects": 2}),
        ("/redirect/302/3", {"max_redirects": 2, "raise_error": False}),
        ("/redirect/302/1", {"follow_redirects": False}),
        ("/auth", {"auth_username": "user", "auth_password": "pässword"}),
        ("/auth", {"auth_username": "user", "auth_mode": "digest"}),
        ("/echo", {"method": "POST"}),
        ("/echo", {"body": "x"}),
        ("/never", {"request_timeout": 0.2}),
        ("/echo", {"user_agent": "legacy-bot/1.0"}),
    ],
)
async def test_fetch_as_tornado(base: str, path: str, kwargs: dict[str, Any]) -> None:
    await fetch_both(base + path, **kwargs)


@pytest.mark.asyncio
async def test_credentials_in_the_url(base: str) -> None:
    result = await fetch_both(base.replace("http://", "http://me:secret@") + "/auth")
    assert result["body"] == b"Basic " + base64.b64encode(b"me:secret")


@pytest.mark.asyncio
async def test_connection_refused_and_bad_scheme() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    await fetch_both(f"http://127.0.0.1:{port}/")
    await fetch_both("ftp://example.com/")


@pytest.mark.asyncio
async def test_callbacks_as_tornado(base: str) -> None:
    seen: dict[str, list[Any]] = {}
    for name, module in CLIENTS.items():
        events: list[Any] = []
        client = module.AsyncHTTPClient(force_instance=True)
        response = await asyncio.wait_for(
            client.fetch(
                base + "/redirect/302/1",
                header_callback=lambda line, events=events: events.append(("header", line)),
                streaming_callback=lambda chunk, events=events: events.append(("chunk", chunk)),
            ),
            TIMEOUT,
        )
        client.close()
        header_lines = [
            e[1]
            for e in events
            if e[0] == "header" and not e[1].startswith(("Date", "Connection"))
        ]
        chunks = b"".join(e[1] for e in events if e[0] == "chunk")
        order = [e[0] for e in events]
        seen[name] = [
            header_lines,
            chunks,
            order.index("chunk") > order.index("header"),
            response.body,
        ]
    assert seen["ours"] == seen["tornado"]


@pytest.mark.asyncio
async def test_async_streaming_callback_is_awaited(base: str) -> None:
    received: list[bytes] = []

    async def slow(chunk: bytes) -> None:
        await asyncio.sleep(0)
        received.append(chunk)

    client = tornado_ws_compat.httpclient.AsyncHTTPClient()
    response = await client.fetch(
        base + "/big", streaming_callback=slow, decompress_response=False
    )
    assert response.body == b""
    assert b"".join(received) == b"".join(f"chunk {i} ".encode() * 1000 for i in range(3))


@pytest.mark.asyncio
async def test_tornado_5_callback_form(base: str) -> None:
    """``fetch(url, callback)`` (removed in Tornado 6): every outcome reaches the callback as a
    response, errors included, as in Tornado 5.1."""
    client = tornado_ws_compat.httpclient.AsyncHTTPClient()
    loop = asyncio.get_running_loop()
    for args, kwargs, expected in [
        ((base + "/echo",), {}, (200, None)),
        ((base + "/status/404",), {}, (404, "HTTP 404: Not Found")),
        ((base + "/never",), {"request_timeout": 0.1}, (599, "Timeout during request")),
    ]:
        got: asyncio.Future[Any] = loop.create_future()
        for style in ("positional", "keyword"):
            got = loop.create_future()
            if style == "positional":
                future = client.fetch(*args, got.set_result, **kwargs)
            else:
                future = client.fetch(*args, callback=got.set_result, **kwargs)
            response = await asyncio.wait_for(got, TIMEOUT)
            error = None if response.error is None else str(response.error)
            assert (response.code, error) == expected
            assert (await future) is response


@pytest.mark.asyncio
async def test_simple_httpclient_names(base: str) -> None:
    import tornado.simple_httpclient

    from tornado_ws_compat import simple_httpclient

    assert isinstance(
        simple_httpclient.SimpleAsyncHTTPClient(), tornado_ws_compat.httpclient.AsyncHTTPClient
    )
    for name in ("HTTPTimeoutError", "HTTPStreamClosedError"):
        ours, theirs = (
            getattr(simple_httpclient, name)("m"),
            getattr(tornado.simple_httpclient, name)("m"),
        )
        assert (ours.code, str(ours)) == (theirs.code, str(theirs))
        assert isinstance(ours, tornado_ws_compat.httpclient.HTTPClientError)
    with pytest.raises(simple_httpclient.HTTPTimeoutError):
        await simple_httpclient.SimpleAsyncHTTPClient().fetch(
            base + "/never", request_timeout=0.05
        )


@pytest.mark.asyncio
async def test_one_shared_client_per_loop(base: str) -> None:
    module = tornado_ws_compat.httpclient
    first = module.AsyncHTTPClient()
    assert module.AsyncHTTPClient() is first
    private = module.AsyncHTTPClient(force_instance=True)
    assert private is not first
    private.close()
    first.close()
    again = module.AsyncHTTPClient()
    assert again is not first
    with pytest.raises(RuntimeError, match="closed AsyncHTTPClient"):
        first.fetch(base + "/echo")
    request = module.HTTPRequest(base + "/echo")
    with pytest.raises(ValueError, match="kwargs can't be used"):
        again.fetch(request, method="POST")
    response = await again.fetch(request)
    assert response.request is request and response.code == 200
    again.close()


@pytest.mark.asyncio
async def test_defaults_and_configure(base: str) -> None:
    module = tornado_ws_compat.httpclient
    client = module.AsyncHTTPClient(force_instance=True, defaults={"user_agent": "from-defaults"})
    response = await client.fetch(base + "/echo")
    client.close()
    assert response.request.user_agent is None  # the caller's request is left alone
    module.AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient", max_clients=3)
    try:
        configured = module.AsyncHTTPClient(force_instance=True)
        assert configured._session.max_clients == 3
        configured.close()
    finally:
        module.AsyncHTTPClient.configure(None)


@pytest.mark.asyncio
async def test_unsupported_options_are_named(base: str) -> None:
    client = tornado_ws_compat.httpclient.AsyncHTTPClient()
    with pytest.raises(NotSupportedError, match="proxy_host"):
        await client.fetch(base + "/echo", proxy_host="proxy", proxy_port=3128)


def test_blocking_client(base_sync: str) -> None:
    for module in CLIENTS.values():
        client = module.HTTPClient()
        try:
            response = client.fetch(base_sync + "/hello")
            assert (response.code, response.body) == (200, b"hello")
            with pytest.raises(module.HTTPError) as info:
                client.fetch(base_sync + "/missing")
            assert info.value.code == 404
        finally:
            client.close()


@pytest.fixture
def base_sync() -> Any:
    """A Tornado server on a loop in another thread, for the blocking clients."""
    import threading

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    ports: list[int] = []

    class Hello(tornado.web.RequestHandler):
        def get(self) -> None:
            self.write("hello")

    def serve() -> None:
        async def start() -> Any:
            server = tornado.web.Application([(r"/hello", Hello)]).listen(0, "127.0.0.1")
            ports.append(next(iter(server._sockets.values())).getsockname()[1])
            ready.set()
            return server

        server = loop.run_until_complete(start())
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert ready.wait(TIMEOUT)
        yield f"http://127.0.0.1:{ports[0]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
