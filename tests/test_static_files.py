"""``StaticFileHandler`` against real Tornado 6.6.1: the same folder, the same requests.

Every request below goes to both servers and the two answers (status, headers but Date,
Server and Expires, body) must be equal: ranges, conditional requests, versioned URLs,
directories, HEAD. Streaming and memory are checked on ours alone (Tornado streams too).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from differential import request_both, serving_both
from helpers import raw_connection, serve, server_address, wait

from tornado_ws_compat import web

CONTENT = bytes(range(256)) * 40 + b"tail"  # 10,244 bytes: several chunks with CHUNK_SIZE=4096


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "static"
    (folder / "sub").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "data.bin").write_bytes(CONTENT)
    (folder / "hello.txt").write_text("hello static\n")
    (folder / "style.css.gz").write_bytes(b"\x1f\x8b not really gzip")
    (folder / "sub" / "index.html").write_text("<p>index</p>")
    old = time.time() - 3600
    for path in folder.rglob("*"):
        os.utime(path, (old, old))
    web.StaticFileHandler.reset()
    yield folder
    web.StaticFileHandler.reset()


def make_routes(root: Path) -> Any:
    def routes(w: ModuleType) -> list[Any]:
        return [
            (r"/files/(.*)", w.StaticFileHandler, {"path": str(root)}),
            (
                r"/site/(.*)",
                w.StaticFileHandler,
                {"path": str(root), "default_filename": "index.html"},
            ),
        ]

    return routes


def etag_of(content: bytes) -> str:
    return f'"{hashlib.sha512(content).hexdigest()}"'


async def same(servers: Any, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    results = await request_both(servers, path, headers, **kw)
    assert results["ours"] == results["tornado"], (path, headers)
    return results["ours"]


RANGES = [
    ("bytes=0-9", 206, CONTENT[0:10]),
    ("bytes=10-", 206, CONTENT[10:]),
    ("bytes=-4", 206, b"tail"),
    ("bytes=-999999", 200, CONTENT),  # a suffix longer than the file: all of it
    ("bytes=0-", 200, CONTENT),  # the whole file is a 200, not a 206
    ("bytes=5000-99999", 206, CONTENT[5000:]),  # last byte past the end: capped
    ("bytes=10244-", 416, b""),
    ("bytes=-0", 416, b""),
    ("bytes=5-4", 416, b""),
    ("bytes=1-2,5-6", 200, CONTENT),  # several ranges: ignored, as Tornado does
    ("items=0-5", 200, CONTENT),
    ("bytes=x-y", 200, CONTENT),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("header", "status", "body"), RANGES)
async def test_ranges_as_tornado(
    root: Path, header: str, status: int, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web.StaticFileHandler, "CHUNK_SIZE", 4096)
    async with serving_both(make_routes(root)) as servers:
        got = await same(servers, "/files/data.bin", {"Range": header})
    assert (got["status"], got["body"]) == (status, body)
    assert got["headers"]["accept-ranges"] == ["bytes"]
    assert got["headers"]["etag"] == [etag_of(CONTENT)]  # the whole file's, also for a part
    if status == 206:
        assert got["headers"]["content-range"][0].endswith(f"/{len(CONTENT)}")
    if status == 416:
        assert got["headers"]["content-range"] == [f"bytes */{len(CONTENT)}"]


@pytest.mark.asyncio
async def test_conditional_requests_as_tornado(root: Path) -> None:
    etag = etag_of(CONTENT)
    async with serving_both(make_routes(root)) as servers:
        plain = await same(servers, "/files/data.bin")
        modified = plain["headers"]["last-modified"][0]
        cases = [
            ({"If-None-Match": etag}, 304),
            ({"If-None-Match": f"W/{etag}"}, 304),
            ({"If-None-Match": f'"other", {etag}'}, 304),
            ({"If-None-Match": "*"}, 304),
            ({"If-None-Match": '"other"'}, 200),
            # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2).
            ({"If-None-Match": '"other"', "If-Modified-Since": modified}, 200),
            ({"If-Modified-Since": modified}, 304),
            ({"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200),
            ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304),
            # Malformed dates are ignored: a 200, never a 500.
            ({"If-Modified-Since": "garbage"}, 200),
            ({"If-Modified-Since": "Mon, 99 Foo 2020 99:99:99 GMT"}, 200),
            ({"If-Modified-Since": "Mon, 01 Jan 99999999999 00:00:00 GMT"}, 200),
            ({"If-Modified-Since": ""}, 200),
            ({"If-None-Match": etag, "Range": "bytes=0-1"}, 304),
        ]
        for headers, status in cases:
            got = await same(servers, "/files/data.bin", headers)
            assert got["status"] == status, headers


@pytest.mark.asyncio
async def test_head_types_and_versions_as_tornado(root: Path) -> None:
    async with serving_both(make_routes(root)) as servers:
        head = await same(servers, "/files/data.bin", method="HEAD")
        assert head["headers"]["content-length"] == [str(len(CONTENT))]
        assert head["body"] == b""
        await same(servers, "/files/data.bin", {"Range": "bytes=2-5"}, method="HEAD")
        got = await same(servers, "/files/hello.txt")
        assert got["headers"]["content-type"] == ["text/plain"]
        assert (await same(servers, "/files/style.css.gz"))["headers"]["content-type"] == [
            "application/gzip"
        ]
        # A versioned URL: cached for 10 years (Expires is compared below, by presence).
        got = await same(servers, "/files/hello.txt?v=abc")
        assert got["headers"]["cache-control"] == [f"max-age={86400 * 365 * 10}"]


@pytest.mark.asyncio
async def test_directories_and_errors_as_tornado(root: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    os.mkfifo(root / "pipe")
    async with serving_both(make_routes(root)) as servers:
        cases = [
            ("/files/missing.txt", 404),
            ("/files/sub", 403),  # a directory without default_filename
            ("/files/sub/", 403),
            ("/files/../outside.txt", 403),
            ("/files/%2E%2E/outside.txt", 403),
            ("/files/pipe", 403),  # never opened: a FIFO blocks until a writer comes
            ("/site/sub", 301),  # a directory: redirected to its slash form
            ("/site/sub/", 200),
            ("/site/empty/", 404),
            ("/site/", 404),
        ]
        for path, status in cases:
            got = await same(servers, path)
            assert got["status"] == status, path
            assert b"secret" not in got["body"]
        assert (await same(servers, "/site/sub"))["headers"]["location"] == ["/site/sub/"]


@pytest.mark.asyncio
async def test_versioned_urls_as_tornado(root: Path) -> None:
    import tornado.web

    settings = {"static_path": str(root)}
    ours = web.StaticFileHandler.make_static_url(settings, "hello.txt")
    theirs = tornado.web.StaticFileHandler.make_static_url(settings, "hello.txt")
    assert ours == theirs
    assert ours == "/static/hello.txt?v=" + hashlib.sha512(b"hello static\n").hexdigest()
    assert web.StaticFileHandler.make_static_url(settings, "hello.txt", False) == (
        "/static/hello.txt"
    )
    assert web.StaticFileHandler.get_version(settings, "missing") is None
    with pytest.raises(web.HTTPError) as raised:
        web.StaticFileHandler.get_version(settings, "../outside")
    assert raised.value.status_code == 403
    # Cached until reset(), as Tornado's.
    (root / "hello.txt").write_text("changed")
    assert web.StaticFileHandler.make_static_url(settings, "hello.txt") == ours
    web.StaticFileHandler.reset()
    assert web.StaticFileHandler.make_static_url(settings, "hello.txt") != ours

    class Small(web.StaticFileHandler):
        MAX_VERSION_CONTENT_SIZE = 4

        _static_hashes: dict[str, str | None] = {}

    assert Small.get_version(settings, "data.bin") is None  # too large to hash: no version
    absolute = Small.get_absolute_path(str(root), "data.bin")
    assert b"".join(Small.get_content(absolute, 10, 20)) == CONTENT[10:20]


@pytest.mark.asyncio
async def test_head_reads_no_content(root: Path) -> None:
    """HEAD answers from a stat: get_content (the file's bytes) is never called for it."""
    calls: list[tuple[Any, ...]] = []

    class Counting(web.StaticFileHandler):
        @classmethod
        def get_content(
            cls, abspath: str, start: int | None = None, end: int | None = None
        ) -> Any:
            calls.append((abspath, start, end))
            return super().get_content(abspath, start, end)

        def compute_etag(self) -> None:
            return None  # the version hash reads the file once; not what is measured here

    async with serve([(r"/f/(.*)", Counting, {"path": str(root)})]) as server:
        async with raw_connection(server) as connection:
            for _ in range(5):
                response = await connection.request("/f/data.bin", method="HEAD")
                assert response.status == 200
                assert response.headers["Content-Length"] == str(len(CONTENT))
            assert calls == []
            response = await connection.request("/f/data.bin")
            assert response.body == CONTENT
    assert len(calls) == 1


@pytest.mark.asyncio
async def test_downloads_stream_with_bounded_memory(tmp_path: Path) -> None:
    """8 concurrent slow downloads of a 6 MiB file never hold a file's worth of memory.

    Each client reads 16 KiB at a time from a small receive buffer; the server reads and
    flushes one 64 KiB chunk at a time: under 512 KiB per download (about 300 KiB measured).
    Before the fix every request read the whole file (48 MiB here; 3.2 GB for 8 x 200 MB).
    """
    size = 6 * 1024 * 1024
    (tmp_path / "big.bin").write_bytes(os.urandom(1024) * (size // 1024))
    web.StaticFileHandler.reset()

    class NoHash(web.StaticFileHandler):
        def compute_etag(self) -> None:
            return None

    async def download(server: Any) -> int:
        # A plain socket read into one reused buffer: the client itself holds no memory.
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.setblocking(False)
        buffer = bytearray(16384)
        try:
            await wait(loop.sock_connect(sock, server_address(server)))
            await wait(loop.sock_sendall(sock, b"GET /f/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"))
            received = head = 0
            first = b""
            while received - head < size:
                count = await wait(loop.sock_recv_into(sock, buffer))
                assert count, "the server closed the connection early"
                if not head:
                    first += bytes(buffer[:count])
                    if b"\r\n\r\n" in first:
                        assert first.startswith(b"HTTP/1.1 200 "), first[:40]
                        head = first.index(b"\r\n\r\n") + 4
                received += count
                await asyncio.sleep(0)  # slow: let the others (and the server) run
            return received - head
        finally:
            sock.close()

    async with serve([(r"/f/(.*)", NoHash, {"path": str(tmp_path)})]) as server:
        tracemalloc.start()
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(download(server) for _ in range(8))), 40
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert results == [size] * 8
    assert peak < 8 * 512 * 1024, f"peak {peak} bytes while streaming 8 x {size}"
