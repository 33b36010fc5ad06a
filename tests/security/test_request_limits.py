"""Attacks on request heads, keep-alive connections and form bodies (issue 10, points 2, 3, 9).

- Point 2: a request head has a total size cap (``max_header_size``, 64 KiB as in Tornado) and
  a deadline for every request on a connection, not only the first; an idle keep-alive
  connection is closed after ``idle_connection_timeout``.
- Point 3: a form body is parsed only when a handler reads its arguments, and at most
  ``max_arguments`` fields (1000, Tornado 6.5.8's limit) are accepted.
- Point 9: after a stall of the event loop, the head deadline judges what has arrived.

Where Tornado 6.6.1 has the behaviour, both servers get the same bytes and the client's
observations are compared. Everything runs on loopback with small timeouts; memory is measured
with tracemalloc on a scaled-down attack.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import tracemalloc
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import aiohttp
import pytest
import tornado.web
import tornado.websocket

import tornado_ws_compat.web
import tornado_ws_compat.websocket
from tornado_ws_compat.server import HTTPServer
from tornado_ws_compat.testing import running

TIMEOUT = 5.0
IMPLEMENTATIONS = {
    "tornado": (tornado.web, tornado.websocket),
    "ours": (tornado_ws_compat.web, tornado_ws_compat.websocket),
}
CLOSED = "closed without an answer"
STILL_OPEN = "still open"
FORM = "application/x-www-form-urlencoded"


def routes(web: ModuleType, websocket: ModuleType) -> list[Any]:
    class Form(web.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.write("page")

        def post(self) -> None:
            self.write(str(len(self.get_arguments("a"))))

    class Silent(web.RequestHandler):  # type: ignore[name-defined,misc]
        def post(self) -> None:
            self.write("not read")

    class Socket(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message)

    return [("/", Form), ("/silent", Silent), ("/ws", Socket)]


def make_app(web: ModuleType, websocket: ModuleType) -> Any:
    return web.Application(routes(web, websocket))


@asynccontextmanager
async def serving(impl: str, **limits: Any) -> AsyncIterator[int]:
    """Serve the test application on ``impl`` with ``limits`` (Tornado's HTTPServer names)."""
    app = make_app(*IMPLEMENTATIONS[impl])
    if impl == "tornado":
        server = app.listen(0, "127.0.0.1", **limits)
        try:
            yield next(iter(server._sockets.values())).getsockname()[1]
        finally:
            server.stop()
            await server.close_all_connections()
    else:
        async with running(app, **limits) as ours:
            yield ours.port


async def observe(port: int, data: bytes) -> str:
    """Send ``data`` and read until the server closes: its status line, or how it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
    except (ConnectionResetError, BrokenPipeError):
        answer = b""
    except TimeoutError:
        return STILL_OPEN
    finally:
        writer.close()
    return answer.split(b"\r\n", 1)[0].decode() if answer else CLOSED


def head(*fields: tuple[str, str], end: bool = True, path: str = "/") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in fields]
    return ("\r\n".join(lines) + "\r\n" + ("\r\n" if end else "")).encode()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path}{extra} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def fields(count: int, size: int) -> list[tuple[str, str]]:
    return [(f"X-Field-{i}", "v" * size) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# Point 2: the size of a request head.
# ---------------------------------------------------------------------------------------------

HEADS = {
    # A 20 KB header line in a head under 64 KiB: accepted (Tornado has no per-line limit).
    "long line, small head": head(("X-Long", "v" * 20_000)),
    # Heads over 64 KiB: one line, complete fields, or fields that never end.
    "one 70 KB line": head(("X-Long", "v" * 70_000)),
    "72 KB of complete fields": head(*fields(9, 8000)),
    "1 MiB unfinished": head(*fields(127, 8000), end=False),
}


async def observe_both(
    requests: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Each request on its own connection to each server: what the client saw, and the lines
    each server wrote on ``tornado.general``."""
    caplog.set_level(logging.INFO, logger="tornado.general")
    observed: dict[str, dict[str, str]] = {}
    lines: dict[str, list[str]] = {}
    for impl in IMPLEMENTATIONS:
        async with serving(impl) as port:
            caplog.clear()
            observed[impl] = {name: await observe(port, data) for name, data in requests.items()}
            lines[impl] = [r.getMessage() for r in caplog.records if r.name == "tornado.general"]
    return observed, lines


@pytest.mark.asyncio
async def test_request_head_size_is_capped_as_tornado_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observed, lines = await observe_both(HEADS, caplog)
    assert observed["tornado"] == {
        "long line, small head": "HTTP/1.1 200 OK",
        "one 70 KB line": CLOSED,
        "72 KB of complete fields": CLOSED,
        "1 MiB unfinished": CLOSED,
    }
    assert observed["ours"] == observed["tornado"]
    # One line per refused connection, on Tornado's logger (Tornado's words are its
    # iostream's: "Unsatisfiable read, closing connection: delimiter ... not found").
    assert len(lines["ours"]) == len(lines["tornado"]) == 3
    assert all("request head larger than 65536 bytes" in line for line in lines["ours"])


@pytest.mark.asyncio
async def test_unfinished_heads_hold_bounded_memory() -> None:
    # Scaled down from 1,000 connections x 1 MiB (2 GB RSS before the fix): each connection
    # now holds at most max_header_size plus one read before it is closed.
    connections, per_connection = 24, head(*fields(127, 8000), end=False)
    async with running(make_app(*IMPLEMENTATIONS["ours"])) as server:

        def attack() -> list[bool]:
            socks = [
                socket.create_connection(("127.0.0.1", server.port)) for _ in range(connections)
            ]
            closed = []
            deadline = time.monotonic() + TIMEOUT
            for sock in socks:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    sock.sendall(per_connection)
                    closed.append(sock.recv(1) == b"")
                except (ConnectionResetError, BrokenPipeError):
                    closed.append(True)
                except TimeoutError:
                    closed.append(False)
            for sock in socks:
                sock.close()
            return closed

        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            closed = await asyncio.to_thread(attack)
            peak = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            tracemalloc.stop()
    assert all(closed), closed
    # 24 x 1 MiB were sent; before the fix the server held all of it (24 MiB and more).
    assert peak < connections * 320 * 1024, peak


# ---------------------------------------------------------------------------------------------
# Point 2: deadlines on keep-alive connections.
# ---------------------------------------------------------------------------------------------

KEEP_ALIVE_GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def after_one_request(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A keep-alive connection on which one request has been answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(KEEP_ALIVE_GET)
    head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head_bytes.startswith(b"HTTP/1.1 200"), head_bytes
    await asyncio.wait_for(reader.readexactly(len("page")), TIMEOUT)
    return reader, writer


@pytest.mark.asyncio
async def test_idle_keep_alive_connection_is_closed_as_tornado_does() -> None:
    observed = {}
    for impl in IMPLEMENTATIONS:
        async with serving(impl, idle_connection_timeout=0.2) as port:
            reader, writer = await after_one_request(port)
            try:
                rest = await asyncio.wait_for(reader.read(), TIMEOUT)
                observed[impl] = CLOSED if not rest else rest.decode()
            except TimeoutError:
                observed[impl] = STILL_OPEN
            writer.close()
    assert observed == {"tornado": CLOSED, "ours": CLOSED}


@pytest.mark.asyncio
async def test_slow_body_is_timed_out_as_tornado_does(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tornado.general")
    # 10 of the 100 bytes announced, then nothing.
    slow = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        + FORM.encode()
        + b"\r\nContent-Length: 100\r\n\r\na=1&b=2&c="
    )
    observed, lines = {}, {}
    for impl in IMPLEMENTATIONS:
        async with serving(impl, body_timeout=0.2) as port:
            caplog.clear()
            observed[impl] = await observe(port, slow)
            lines[impl] = [r.getMessage() for r in caplog.records if r.name == "tornado.general"]
    assert observed == {"tornado": CLOSED, "ours": CLOSED}
    assert lines["ours"] == lines["tornado"] == ["Timeout reading body from 127.0.0.1"]


@pytest.mark.asyncio
async def test_unfinished_head_after_a_keep_alive_request_gets_408() -> None:
    async with running(make_app(*IMPLEMENTATIONS["ours"]), request_head_timeout=0.2) as server:
        reader, writer = await after_one_request(server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer


@pytest.mark.asyncio
async def test_trickled_head_after_a_keep_alive_request_is_timed_out() -> None:
    # One byte every 50 ms of a head that would take 15 s to arrive; the head deadline
    # (0.3 s from its first byte) ends it. The sleeps pace the attack; they wait for nothing.
    trickle = KEEP_ALIVE_GET[:-2] + b"X-Slow: " + b"s" * 300 + b"\r\n\r\n"
    # The client reads the 408's head, not to EOF: a byte it sends after the server closed
    # (the 408 and the FIN can arrive while its next byte is on its way) is answered with a
    # reset (RFC 9293 section 3.6.1), which fails a read to EOF and loses what it had read.
    async with running(make_app(*IMPLEMENTATIONS["ours"]), request_head_timeout=0.3) as server:
        reader, writer = await after_one_request(server.port)
        answer = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
        sent = 0
        deadline = time.monotonic() + TIMEOUT
        while not answer.done() and sent < len(trickle) and time.monotonic() < deadline:
            writer.write(trickle[sent : sent + 1])
            sent += 1
            await asyncio.wait([answer], timeout=0.05)
        assert answer.done(), f"no answer after {sent} bytes"
        try:  # then the server has closed: an end of stream, or that reset
            rest = await asyncio.wait_for(reader.read(), TIMEOUT)
        except ConnectionResetError:
            rest = b""
        writer.close()
    assert answer.result().startswith(b"HTTP/1.1 408"), answer.result()
    assert rest == b""
    assert sent < len(trickle)


# ---------------------------------------------------------------------------------------------
# Point 3: form bodies.
# ---------------------------------------------------------------------------------------------


def form(count: int) -> bytes:
    return b"&".join([b"a"] * count)


FORMS = {
    "1000 fields": post("/", form(1000)),
    "1001 fields": post("/", form(1001)),
    "1001 query fields": head(path="/?" + "&".join(["q"] * 1001)),
}


@pytest.mark.asyncio
async def test_form_field_count_is_limited_as_tornado_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observed, lines = await observe_both(FORMS, caplog)
    assert observed["tornado"] == {
        "1000 fields": "HTTP/1.1 200 OK",
        "1001 fields": "HTTP/1.1 400 Bad Request",
        "1001 query fields": "HTTP/1.1 400 Bad Request",
    }
    assert observed["ours"] == observed["tornado"]
    # One line each, the same words as Tornado's.
    assert (
        lines["ours"]
        == lines["tornado"]
        == [
            "400 POST / (127.0.0.1): Invalid body: Invalid x-www-form-urlencoded body: "
            "Max number of fields exceeded",
            "Malformed HTTP message from 127.0.0.1: Invalid query string: "
            "Max number of fields exceeded",
        ]
    )


@pytest.mark.asyncio
async def test_a_flood_of_form_fields_is_refused_without_decoding_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2 MiB of "a&a&...": a million fields, which took seconds of loop time to parse. As on
    # Tornado 6.6.1 the form is parsed before prepare() on every route (a handler that never
    # reads arguments included, a WebSocket route too: before its 405 for a POST), and it is
    # refused on the field count, before a single field is decoded.
    decoded: list[int] = []
    unquote: Callable[..., Any] = urllib.parse.unquote_to_bytes

    def spy(value: Any) -> Any:
        decoded.append(len(value))
        return unquote(value)

    monkeypatch.setattr(urllib.parse, "unquote_to_bytes", spy)
    body = form(1024 * 1024)
    answers = {}
    for impl in IMPLEMENTATIONS:
        async with serving(impl) as port:
            answers[impl] = [
                await observe(port, post("/silent", body)),
                await observe(port, post("/ws", body)),
                await observe(port, post("/", body)),
            ]
    assert answers["ours"] == answers["tornado"] == ["HTTP/1.1 400 Bad Request"] * 3
    assert decoded == []


# ---------------------------------------------------------------------------------------------
# Point 9: a stalled event loop.
# ---------------------------------------------------------------------------------------------


class Stall:
    """A WebSocket route whose ``on_message`` blocks the loop (as blocking work in a handler
    would) after sending ``requests`` on raw client sockets: they arrive during the stall.

    ``on_message`` runs from the socket's read callback, so on uvloop, whose iteration runs
    timers before it polls sockets again, every deadline that expired during the stall fires
    before the loop has read what arrived meanwhile.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.requests: list[tuple[socket.socket, bytes]] = []

    def app(self) -> Any:
        stall = self

        class Blocking(tornado_ws_compat.websocket.WebSocketHandler):
            def on_message(self, message: str | bytes) -> None:
                for sock, request in stall.requests:
                    sock.sendall(request)
                time.sleep(stall.seconds)  # the stall under test, not a wait
                self.write_message("stalled")

        ours = routes(*IMPLEMENTATIONS["ours"])
        return tornado_ws_compat.web.Application([*ours, ("/stall", Blocking)])

    async def run(self, server: HTTPServer, requests: list[tuple[socket.socket, bytes]]) -> None:
        self.requests = requests
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(server.url("/stall")) as ws:
                await ws.send_str("stall")
                assert await asyncio.wait_for(ws.receive_str(), TIMEOUT) == "stalled"


async def accepted_sockets(server: HTTPServer, count: int) -> list[socket.socket]:
    """``count`` client sockets the server has accepted (its head deadline running)."""
    engine = server.engine
    started = asyncio.Event()
    calls = 0
    expect = engine.expect_request_head

    def counting(*args: Any) -> None:
        nonlocal calls
        expect(*args)
        calls += 1
        if calls == count:
            started.set()

    engine.expect_request_head = counting  # type: ignore[method-assign]
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
    await asyncio.wait_for(started.wait(), TIMEOUT)
    engine.expect_request_head = expect  # type: ignore[method-assign]
    return socks


def first_line(sock: socket.socket) -> str:
    """The status line of the next response on a blocking socket (run in a thread)."""
    sock.settimeout(TIMEOUT)
    line = b""
    while not line.endswith(b"\r\n"):
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
    return line.decode().strip()


def read_page(sock: socket.socket) -> None:
    """Read one whole response of the Form page (its body, "page", ends it)."""
    sock.settimeout(TIMEOUT)
    data = b""
    while not data.endswith(b"\r\n\r\npage"):
        chunk = sock.recv(1)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK"), data


async def answers(socks: list[socket.socket]) -> list[str]:
    return list(await asyncio.gather(*(asyncio.to_thread(first_line, s) for s in socks)))


@pytest.mark.asyncio
async def test_requests_that_arrived_during_a_stall_are_answered() -> None:
    # Before the fix, on uvloop: 20 of 20 got 408 (asyncio's loop reads sockets before it runs
    # the timers that became due, so it answered them).
    stall = Stall(seconds=0.6)
    async with running(stall.app(), request_head_timeout=0.2) as server:
        socks = await accepted_sockets(server, 20)
        await stall.run(server, [(sock, head()) for sock in socks])
        assert await answers(socks) == ["HTTP/1.1 200 OK"] * 20
    for sock in socks:
        sock.close()


@pytest.mark.asyncio
async def test_keep_alive_requests_that_arrived_during_a_stall_are_answered() -> None:
    # The idle timer of a keep-alive connection judges what has arrived, too.
    stall = Stall(seconds=0.6)
    async with running(stall.app(), idle_connection_timeout=0.2) as server:
        socks = await accepted_sockets(server, 10)
        for sock in socks:
            sock.sendall(KEEP_ALIVE_GET)
        await asyncio.gather(*(asyncio.to_thread(read_page, sock) for sock in socks))
        # Each connection is now idle, its keep-alive timer running.
        await stall.run(server, [(sock, head()) for sock in socks])
        assert await answers(socks) == ["HTTP/1.1 200 OK"] * 10
    for sock in socks:
        sock.close()
