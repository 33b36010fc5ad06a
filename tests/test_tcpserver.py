"""``tcpserver.TCPServer`` and ``iostream.IOStream`` over sockets (issue 8): the device side of
IoT bridges, a line protocol over raw TCP. The same server class runs on Tornado 6.6.1 and
here, on the same loop; the same client talks to both; the transcripts (what the client got,
what the server saw) must be equal."""

from __future__ import annotations

import asyncio
import socket
import types
from typing import Any

import pytest
import tornado.gen
import tornado.iostream
import tornado.tcpclient
import tornado.tcpserver

from tornado_ws_compat import gen, iostream, tcpclient, tcpserver
from tornado_ws_compat.errors import NotSupportedError

SIDES = {
    "tornado": types.SimpleNamespace(
        tcpserver=tornado.tcpserver,
        tcpclient=tornado.tcpclient,
        iostream=tornado.iostream,
        gen=tornado.gen,
    ),
    "ours": types.SimpleNamespace(
        tcpserver=tcpserver, tcpclient=tcpclient, iostream=iostream, gen=gen
    ),
}


def _device_server(side: Any, seen: list[Any], done: asyncio.Event) -> Any:
    StreamClosedError = side.iostream.StreamClosedError

    class DeviceServer(side.tcpserver.TCPServer):  # type: ignore[misc,name-defined]
        async def handle_stream(self, stream: Any, address: Any) -> None:
            stream.set_close_callback(lambda: seen.append("close callback"))
            await stream.write(b"HELLO\n")
            try:
                while True:
                    line = await stream.read_until(b"\n", max_bytes=64)
                    seen.append(line)
                    if line == b"BIN\n":
                        size = int(await stream.read_bytes(2))
                        payload = await stream.read_bytes(size)
                        await stream.write(b"GOT %d %s\n" % (size, payload))
                    elif line == b"REST\n":
                        seen.append(await stream.read_until_close())
                    else:
                        stream.write(line.upper())
            except StreamClosedError as closed:
                real = closed.real_error
                seen.append(["closed", type(real).__name__ if real else None, stream.closed()])
            finally:
                done.set()

    return DeviceServer()


async def _talk(port: int, lines: list[bytes]) -> list[Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got: list[Any] = [await reader.readline()]
    for line in lines:
        writer.write(line)
        await writer.drain()
        if line.endswith(b"\n") and not line.startswith((b"BIN", b"REST")):
            got.append(await asyncio.wait_for(reader.readline(), 10))
    if b"BIN\n" in lines:  # the answer to the length-prefixed payload
        got.append(await asyncio.wait_for(reader.readline(), 10))
    writer.close()
    await writer.wait_closed()
    return got


async def _session(side: Any, lines: list[bytes]) -> list[Any]:
    seen: list[Any] = []
    done = asyncio.Event()
    server = _device_server(side, seen, done)
    server.listen(0, "127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    try:
        got = await _talk(port, lines)
        await asyncio.wait_for(done.wait(), 10)
        for _ in range(5):  # the close callback runs on a later iteration
            await asyncio.sleep(0)
    finally:
        server.stop()
    return [got, seen]


SESSIONS = {
    "lines": [b"temp 21.5\n", b"hum 40\n"],
    "binary": [b"ping\n", b"BIN\n", b"04", b"abcd"],
    "rest": [b"one\n", b"REST\n", b"tail without end"],
    "too long": [b"x" * 100 + b"\n"],
    "split": [b"par", b"tial\n"],
}


@pytest.mark.asyncio
@pytest.mark.parametrize("lines", SESSIONS.values(), ids=list(SESSIONS))
async def test_tcp_device_server_matches_tornado(lines: list[bytes]) -> None:
    transcripts = {name: await _session(side, lines) for name, side in SIDES.items()}
    assert transcripts["ours"] == transcripts["tornado"]


async def _client(side: Any) -> list[Any]:
    """``IOStream(socket).connect`` as a device simulator uses it, against a plain server."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(b"ack " + line)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    out: list[Any] = []
    async with server:
        stream = side.iostream.IOStream(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        out.append((await stream.connect(("127.0.0.1", port))) is stream)
        stream.set_nodelay(True)
        await stream.write(b"reading 7\n")
        out.append(await stream.read_until(b"\n"))
        out.append(await stream.read_until_close())
        out.append(stream.closed())
        refused = side.iostream.IOStream(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        try:
            await refused.connect(("127.0.0.1", _closed_port()))
        except side.iostream.StreamClosedError as error:
            out.append(["refused", type(error.real_error).__name__, refused.closed()])
    return out


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _tcp_client(side: Any) -> list[Any]:
    """``TCPClient().connect(host, port)`` against this side's own device server."""
    seen: list[Any] = []
    done = asyncio.Event()
    server = _device_server(side, seen, done)
    server.listen(0, "127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    client = side.tcpclient.TCPClient()
    out: list[Any] = []
    try:
        stream = await client.connect("localhost", port, af=socket.AF_INET)
        out.append(type(stream).__name__)
        out.append(await stream.read_until(b"\n"))
        await stream.write(b"status?\n")
        out.append(await stream.read_until(b"\n"))
        stream.close()
        await asyncio.wait_for(done.wait(), 10)
        try:
            await client.connect("127.0.0.1", _closed_port())
        except side.iostream.StreamClosedError as error:
            out.append(["refused", type(error.real_error).__name__])
    finally:
        client.close()
        server.stop()
    return [out, seen[:2]]


@pytest.mark.asyncio
async def test_tcp_client_matches_tornado() -> None:
    transcripts = {name: await _tcp_client(side) for name, side in SIDES.items()}
    assert transcripts["ours"] == transcripts["tornado"]


@pytest.mark.asyncio
async def test_iostream_client_matches_tornado() -> None:
    transcripts = {name: await _client(side) for name, side in SIDES.items()}
    assert transcripts["ours"] == transcripts["tornado"]


def test_tls_on_a_raw_server_is_declined_by_name() -> None:
    server = tcpserver.TCPServer(ssl_options=None)
    server.ssl_options = {"certfile": "x"}
    with pytest.raises(NotSupportedError, match="TCPServer with ssl_options"):
        server.add_sockets([])
    with socket.socket() as sock, pytest.raises(NotSupportedError, match="SSLIOStream"):
        iostream.SSLIOStream(sock)


def test_http_server_is_a_tcp_server_as_on_tornado() -> None:
    from tornado.httpserver import HTTPServer as TheirHTTPServer
    from tornado.web import Application as TheirApplication

    from tornado_ws_compat.httpserver import HTTPServer
    from tornado_ws_compat.web import Application

    assert isinstance(TheirHTTPServer(TheirApplication()), tornado.tcpserver.TCPServer)
    assert isinstance(HTTPServer(Application()), tcpserver.TCPServer)
