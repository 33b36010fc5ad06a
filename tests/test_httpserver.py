"""``httpserver.HTTPServer`` and ``netutil``: the same server code on Tornado 6.6.1 and here.

Each differential test builds the same application with each side's ``web`` module, serves it
with that side's ``HTTPServer`` (``listen``, ``bind`` + ``start``, ``add_sockets``), talks to it
over raw sockets and compares what the client read, minus the headers that name the server or
the clock.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from helpers import TIMEOUT

import tornado_ws_compat.httpserver
import tornado_ws_compat.netutil
import tornado_ws_compat.web
from tornado_ws_compat.errors import NotSupportedError

#: name -> (web, httpserver, netutil) of each implementation.
SIDES: dict[str, tuple[ModuleType, ModuleType, ModuleType]] = {
    "tornado": (tornado.web, tornado.httpserver, tornado.netutil),
    "ours": (tornado_ws_compat.web, tornado_ws_compat.httpserver, tornado_ws_compat.netutil),
}
IGNORED = {"server", "date", "etag"}


def make_app(web: ModuleType) -> Any:
    class Hang(web.RequestHandler):  # type: ignore[misc,name-defined]
        async def get(self) -> None:
            await asyncio.Event().wait()  # a long poll that never answers

    class Info(web.RequestHandler):  # type: ignore[misc,name-defined]
        def get(self) -> None:
            self.write({"ip": self.request.remote_ip, "protocol": self.request.protocol})

        def post(self) -> None:
            headers = self.request.headers
            self.write(
                {
                    "length": len(self.request.body),
                    "encoding": headers.get("Content-Encoding"),
                    "consumed": headers.get("X-Consumed-Content-Encoding"),
                    "arguments": sorted(self.request.arguments),
                }
            )

    return web.Application([(r"/", Info), (r"/hang", Hang)])


def port_of(server: Any) -> int:
    # As programs find a port 0 server's port on Tornado (TCPServer._sockets: fd -> socket).
    return int(next(iter(server._sockets.values())).getsockname()[1])


async def exchange(port: int, data: bytes, *, until_eof: bool = True) -> bytes:
    """Send ``data`` on a new connection; read everything until EOF (or one response)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
    try:
        writer.write(data)
        if until_eof:
            return await asyncio.wait_for(reader.read(), TIMEOUT)
        return await read_response(reader)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await asyncio.wait_for(reader.readexactly(length), TIMEOUT)


def normalise(raw: bytes) -> tuple[str, list[str], bytes]:
    """Status line, headers but the ignored ones (sorted), body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin1").split("\r\n")
    headers = sorted(line for line in lines if line.split(":")[0].lower() not in IGNORED)
    return status, headers, body


@asynccontextmanager
async def serving(side: str, start: str = "listen", **options: Any) -> AsyncIterator[Any]:
    web, httpserver, netutil = SIDES[side]
    server = httpserver.HTTPServer(make_app(web), **options)
    if start == "listen":
        server.listen(0, "127.0.0.1")
    elif start == "bind":
        server.bind(0, "127.0.0.1")
        server.start()
    else:
        server.add_sockets(netutil.bind_sockets(0, "127.0.0.1"))
    if getattr(server, "started", None) is not None:
        await server.started
    try:
        yield server
    finally:
        server.stop()
        await asyncio.wait_for(server.close_all_connections(), TIMEOUT)


async def both(
    scenario: Callable[[str], Any],
) -> None:
    results = {side: await scenario(side) for side in SIDES}
    assert results["ours"] == results["tornado"]


GET_PROXIED = (
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.1.2.3\r\nX-Scheme: https\r\n"
    b"Connection: close\r\n\r\n"
)


@pytest.mark.asyncio
@pytest.mark.parametrize("start", ["listen", "bind", "add_sockets"])
@pytest.mark.parametrize("xheaders", [False, True])
async def test_start_styles_and_xheaders(start: str, xheaders: bool) -> None:
    async def scenario(side: str) -> Any:
        async with serving(side, start, xheaders=xheaders) as server:
            response = normalise(await exchange(port_of(server), GET_PROXIED))
            return response[0], json.loads(response[2])

    await both(scenario)


@pytest.mark.asyncio
@pytest.mark.parametrize("start", ["listen", "bind", "add_sockets"])
async def test_listening_sockets_by_file_descriptor(start: str) -> None:
    # Programs and their tests read the private TCPServer._sockets of Tornado 6.6.1 (fd ->
    # listening socket) for the bound port, or to close the sockets themselves.
    async def scenario(side: str) -> Any:
        async with serving(side, start) as server:
            sockets = server._sockets
            by_fd = all(fd == sock.fileno() for fd, sock in sockets.items())
            port = port_of(server)
            server.stop()
            return len(sockets), by_fd, port > 0, [sock.fileno() for sock in sockets.values()]

    await both(scenario)


@pytest.mark.asyncio
async def test_protocol_overrides_the_scheme() -> None:
    async def scenario(side: str) -> Any:
        async with serving(side, protocol="https") as server:
            return normalise(await exchange(port_of(server), GET_PROXIED))

    await both(scenario)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        b"Content-Length: 10\r\n\r\n" + b"x" * 10,
        b"Content-Length: 100\r\n\r\n" + b"x" * 100,
        b"Transfer-Encoding: chunked\r\n\r\n30\r\n" + b"x" * 48 + b"\r\n0\r\n\r\n",
    ],
    ids=["under", "content-length-over", "chunked-over"],
)
async def test_max_body_size(body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """Over ``max_body_size``: Tornado answers a bare 400 and closes, as here."""

    caplog.set_level(logging.INFO, "tornado.general")

    async def scenario(side: str) -> Any:
        caplog.clear()
        async with serving(side, max_body_size=40) as server:
            request = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + body
            answer = normalise(await exchange(port_of(server), request))
        logged = [r.getMessage() for r in caplog.records if r.name == "tornado.general"]
        return answer, logged

    await both(scenario)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100,
    ],
    ids=["host", "length-http10", "header-line", "no-host", "body-over"],
)
async def test_a_malformed_request_gets_tornados_exact_bytes(request_bytes: bytes) -> None:
    """Tornado 6.6.1 answers a malformed request with the status line alone (HTTP/1.1, no
    header, whatever the request's version) and closes: every byte the client reads."""

    async def scenario(side: str) -> Any:
        async with serving(side, max_body_size=40) as server:
            return await exchange(port_of(server), request_bytes)

    await both(scenario)


@pytest.mark.asyncio
@pytest.mark.parametrize("keep_alive", [False, True], ids=["close", "keep-alive"])
async def test_an_http10_request_gets_tornados_head(keep_alive: bool) -> None:
    """Tornado 6.6.1 answers HTTP/1.0 with an HTTP/1.1 status line, and a kept HTTP/1.0
    connection with ``Connection: Keep-Alive``; then serves the next request on it."""
    connection = b"Connection: keep-alive\r\n" if keep_alive else b""
    request = b"GET / HTTP/1.0\r\n" + connection + b"\r\n"
    post = b"POST / HTTP/1.0\r\nContent-Length: 2\r\n" + connection + b"\r\nab"

    async def scenario(side: str) -> Any:
        async with serving(side) as server:
            if not keep_alive:
                return [
                    normalise(await exchange(port_of(server), data)) for data in (request, post)
                ]
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            answers = []
            for data in (request, post):
                writer.write(data)
                answers.append(normalise(await read_response(reader)))
            writer.close()
            return answers

    await both(scenario)


@pytest.mark.asyncio
async def test_max_buffer_size_is_the_default_body_limit() -> None:
    async def scenario(side: str) -> Any:
        async with serving(side, max_buffer_size=200) as server:
            # The head alone: both judge the declared length before reading the body.
            request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 201\r\n\r\n"
            return normalise(await exchange(port_of(server), request))[0]

    await both(scenario)


@pytest.mark.asyncio
@pytest.mark.parametrize("decompress", [False, True])
@pytest.mark.parametrize("form", [False, True], ids=["plain", "form"])
async def test_decompress_request(decompress: bool, form: bool) -> None:
    """A gzip body, decompressed or not; a form's is refused unless decompressed (6.6.1)."""
    compressed = gzip.compress(b"a=1&b=2" if form else b"y" * 1000)
    content_type = b"Content-Type: application/x-www-form-urlencoded\r\n" if form else b""

    async def scenario(side: str) -> Any:
        async with serving(side, decompress_request=decompress) as server:
            request = (
                b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Encoding: gzip\r\n"
                b"%sContent-Length: %d\r\n\r\n" % (content_type, len(compressed))
            ) + compressed
            status, _headers, body = normalise(await exchange(port_of(server), request))
            return status, json.loads(body) if status == 200 else body

    await both(scenario)


@pytest.mark.asyncio
@pytest.mark.parametrize("no_keep_alive", [False, True])
async def test_no_keep_alive(no_keep_alive: bool) -> None:
    async def scenario(side: str) -> Any:
        async with serving(side, no_keep_alive=no_keep_alive) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            first = normalise(await read_response(reader))
            # After the response: EOF if the server closes, else a second answer.
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            rest = await asyncio.wait_for(reader.read(12), TIMEOUT)
            writer.close()
            return first[0], [h for h in first[1] if h.startswith("Connection")], rest

    await both(scenario)


@pytest.mark.asyncio
async def test_idle_connection_timeout_closes_an_idle_keep_alive_connection() -> None:
    async def scenario(side: str) -> Any:
        async with serving(side, idle_connection_timeout=0.2) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = normalise(await read_response(reader))[0]
            eof = await asyncio.wait_for(reader.read(), TIMEOUT)  # closed by the server
            writer.close()
            return answer, eof

    await both(scenario)


@pytest.mark.asyncio
async def test_stop_refuses_new_connections_and_keeps_open_ones() -> None:
    async def scenario(side: str) -> Any:
        async with serving(side) as server:
            port = port_of(server)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            before = normalise(await read_response(reader))[0]
            server.stop()
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            after = normalise(await read_response(reader))[0]
            await asyncio.wait_for(server.close_all_connections(), TIMEOUT)
            eof = await asyncio.wait_for(reader.read(), TIMEOUT)
            writer.close()
            return before, after, eof

    await both(scenario)


@pytest.mark.asyncio
async def test_close_all_connections_ends_requests_in_progress() -> None:
    async def scenario(side: str) -> Any:
        async with serving(side) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
            idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            idle_writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await read_response(idle_reader)  # now an idle keep-alive connection
            server.stop()
            await asyncio.wait_for(server.close_all_connections(), TIMEOUT)
            hung = await asyncio.wait_for(reader.read(), TIMEOUT)
            idle = await asyncio.wait_for(idle_reader.read(), TIMEOUT)
            writer.close()
            idle_writer.close()
            return hung, idle

    await both(scenario)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "forwarded",
    ["10.0.0.1, 192.168.1.1", "10.0.0.1, 192.168.1.1, 127.0.0.1", "bogus, 192.168.1.1"],
)
async def test_trusted_downstream(forwarded: str) -> None:
    async def scenario(side: str) -> Any:
        async with serving(side, xheaders=True, trusted_downstream=["192.168.1.1"]) as server:
            request = (
                f"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {forwarded}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            return json.loads(normalise(await exchange(port_of(server), request))[2])

    await both(scenario)


@pytest.mark.asyncio
async def test_bind_twice_before_start_serves_both() -> None:
    async def scenario(side: str) -> Any:
        web, httpserver, _netutil = SIDES[side]
        server = httpserver.HTTPServer(make_app(web))
        ports = []
        for _ in range(2):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
            sock.close()
            server.bind(ports[-1], "127.0.0.1")
        server.start()
        if getattr(server, "started", None) is not None:
            await server.started
        try:
            get = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            return [normalise(await exchange(port, get))[0] for port in ports]
        finally:
            server.stop()

    await both(scenario)


def test_listen_before_the_loop_runs() -> None:
    """The legacy ``HTTPServer(app).listen(port)`` then ``IOLoop.current().start()``."""
    from tornado_ws_compat.ioloop import IOLoop

    loop = IOLoop()
    try:
        server = tornado_ws_compat.httpserver.HTTPServer(make_app(tornado_ws_compat.web))
        server.listen(0, "127.0.0.1")
        assert server.started is None  # started synchronously

        async def client() -> bytes:
            return await exchange(server.port, GET_PROXIED)

        answer = loop.run_sync(client, timeout=TIMEOUT)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        server.stop()
    finally:
        loop.close()


@pytest.mark.asyncio
async def test_start_twice_is_an_error() -> None:
    # start(n > 1) forks: tests/scale/test_workers.py runs it in a child process.
    server = tornado_ws_compat.httpserver.HTTPServer(make_app(tornado_ws_compat.web))
    server.bind(0, "127.0.0.1")
    server.start()
    with pytest.raises(RuntimeError, match="already"):
        server.start()
    server.stop()


def test_unknown_keyword_is_named() -> None:
    with pytest.raises(NotSupportedError, match=r"HTTPServer\(max_bananas=\.\.\.\)"):
        tornado_ws_compat.httpserver.HTTPServer(
            make_app(tornado_ws_compat.web),
            max_bananas=3,  # type: ignore[arg-type]
        )


def test_plain_request_callback_is_declined() -> None:
    def callback(request: Any) -> None:
        pass

    with pytest.raises(NotSupportedError, match="HTTP1Connection"):
        tornado_ws_compat.httpserver.HTTPServer(callback)  # type: ignore[arg-type]


@pytest.mark.parametrize("side", list(SIDES))
def test_ssl_options_dict_is_checked_at_construction(side: str, tmp_path: Any) -> None:
    web, httpserver, _ = SIDES[side]
    app = make_app(web)
    with pytest.raises(KeyError, match="certfile"):
        httpserver.HTTPServer(app, ssl_options={"keyfile": "x"})
    with pytest.raises(ValueError, match="does not exist"):
        httpserver.HTTPServer(app, ssl_options={"certfile": str(tmp_path / "missing.pem")})


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.asyncio
@pytest.mark.parametrize("as_context", [False, True])
async def test_ssl_options_dict_or_context(as_context: bool, certificate: tuple[str, str]) -> None:
    cert, key = certificate
    options: Any = {"certfile": cert, "keyfile": key}
    if as_context:
        options = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        options.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=cert)
    client.check_hostname = False

    async def scenario(side: str) -> Any:
        async with serving(side, ssl_options=options) as server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port_of(server), ssl=client
            )
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = normalise(await read_response(reader))
            writer.close()
            return answer[0], json.loads(answer[2])

    await both(scenario)


# ---- netutil ----------------------------------------------------------------------------


@pytest.mark.parametrize("side", list(SIDES))
def test_bind_sockets_port_zero_shares_one_port(side: str) -> None:
    netutil = SIDES[side][2]
    sockets = netutil.bind_sockets(0, "localhost")
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 1
        families = sorted(sock.family for sock in sockets)
        assert families == sorted(
            sock.family for sock in sockets
        )  # one per address family of "localhost"
        assert all(not sock.getblocking() for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def test_bind_sockets_families_as_tornado() -> None:
    def shape(netutil: ModuleType, **kwargs: Any) -> list[tuple[int, str]]:
        sockets = netutil.bind_sockets(0, **kwargs)
        try:
            return sorted((sock.family, sock.getsockname()[0]) for sock in sockets)
        finally:
            for sock in sockets:
                sock.close()

    for kwargs in ({"address": "localhost"}, {"address": ""}, {"family": socket.AF_INET}):
        assert shape(tornado_ws_compat.netutil, **kwargs) == shape(tornado.netutil, **kwargs)


@pytest.mark.parametrize("side", list(SIDES))
def test_bind_unix_socket(side: str, tmp_path: Any) -> None:
    netutil = SIDES[side][2]
    path = str(tmp_path / "s.sock")
    first = netutil.bind_unix_socket(path)
    first.close()
    second = netutil.bind_unix_socket(path, mode=0o640)  # the stale file is replaced
    assert os.stat(path).st_mode & 0o777 == 0o640
    second.close()
    if side == "ours":  # Tornado 6.6.1 raises the same error but leaks the socket it made
        regular = tmp_path / "file"
        regular.write_text("x")
        with pytest.raises(ValueError, match="is not a socket"):
            netutil.bind_unix_socket(str(regular))


def test_is_valid_ip_as_tornado() -> None:
    corpus = [
        "127.0.0.1",
        "::1",
        "fe80::1%lo",
        "1.2.3",
        "",
        "localhost",
        "a\x00b",
        " 1.2.3.4",
        "256.1.1.1",
        "::ffff:1.2.3.4",
        "2001:db8::",
        "1.2.3.4 ",
    ]
    assert [tornado_ws_compat.netutil.is_valid_ip(ip) for ip in corpus] == [
        tornado.netutil.is_valid_ip(ip) for ip in corpus
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["Resolver", "DefaultExecutorResolver", "DefaultLoopResolver"])
async def test_resolver(name: str) -> None:
    ours = await getattr(tornado_ws_compat.netutil, name)().resolve("localhost", 80)
    theirs = await getattr(tornado.netutil, name)().resolve("localhost", 80)
    assert sorted(ours) == sorted(theirs)


def test_ssl_options_to_context(certificate: tuple[str, str]) -> None:
    cert, key = certificate
    options = {"certfile": cert, "keyfile": key, "cert_reqs": ssl.CERT_NONE}
    ours = tornado_ws_compat.netutil.ssl_options_to_context(options, server_side=True)
    theirs = tornado.netutil.ssl_options_to_context(options, server_side=True)
    assert (ours.protocol, ours.verify_mode, ours.options) == (
        theirs.protocol,
        theirs.verify_mode,
        theirs.options,
    )
    assert tornado_ws_compat.netutil.ssl_options_to_context(ours) is ours
    with pytest.raises(ValueError, match="unknown ssl_options keys"):
        tornado_ws_compat.netutil.ssl_options_to_context({"certfil": cert})


@pytest.mark.asyncio
async def test_add_accept_handler() -> None:
    listener = tornado_ws_compat.netutil.bind_sockets(0, "127.0.0.1")[0]
    accepted: asyncio.Queue[Any] = asyncio.Queue()

    def on_connection(connection: socket.socket, address: Any) -> None:
        accepted.put_nowait(address)
        connection.close()

    remove = tornado_ws_compat.netutil.add_accept_handler(listener, on_connection)
    _reader, writer = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
    address = await asyncio.wait_for(accepted.get(), TIMEOUT)
    assert address == writer.get_extra_info("sockname")
    writer.close()
    remove()
    remove()  # idempotent
    listener.close()
