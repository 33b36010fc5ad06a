"""``multipart/form-data`` bodies (file uploads): ``request.files`` and the form's fields, as
Tornado 6.6.1 parses them, and its 400 for malformed bodies (issue 8: public WebSocket programs
take uploads beside their sockets). Differential: the same handler on both, the same bytes."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import aiohttp
import pytest
from differential import serving_both

from tornado_ws_compat import httputil

BOUNDARY = "XyZ123"


def part(head: str, body: bytes) -> bytes:
    return f"--{BOUNDARY}\r\n{head}\r\n\r\n".encode() + body + b"\r\n"


GOOD = (
    part('Content-Disposition: form-data; name="field"', b"v1")
    + part('Content-Disposition: form-data; name="field"', "é".encode())
    + part(
        'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        "Content-Type: text/plain",
        b"hello\r\nfile",
    )
    + part('Content-Disposition: form-data; name="file"; filename="b.bin"', b"\x00\xff")
    + part(
        "Content-Disposition: form-data; name=\"u\"; filename*=utf-8''T%C3%A4st.txt",
        b"umlaut",
    )
    + part('Content-Disposition: form-data; name="q"; filename="say \\"hi\\".txt"', b"q")
    + f"--{BOUNDARY}--\r\n".encode()
)

BODIES = {
    "good": (f"multipart/form-data; boundary={BOUNDARY}", GOOD),
    "quoted boundary": (f'multipart/form-data; boundary="{BOUNDARY}"', GOOD),
    "no final boundary": (f"multipart/form-data; boundary={BOUNDARY}", GOOD[:-12]),
    "no boundary": ("multipart/form-data", GOOD),
    "other type": (f"multipart/form-dataxyz; boundary={BOUNDARY}", GOOD),
    "no name": (
        f"multipart/form-data; boundary={BOUNDARY}",
        part("Content-Disposition: form-data", b"x") + f"--{BOUNDARY}--".encode(),
    ),
    "no head": (
        f"multipart/form-data; boundary={BOUNDARY}",
        f"--{BOUNDARY}\r\nnohead\r\n--{BOUNDARY}--".encode(),
    ),
    "not form-data": (
        f"multipart/form-data; boundary={BOUNDARY}",
        part('Content-Disposition: attachment; name="a"', b"x") + f"--{BOUNDARY}--".encode(),
    ),
    "empty": (f"multipart/form-data; boundary={BOUNDARY}", b""),
}


def routes(web: ModuleType) -> list[Any]:
    class Upload(web.RequestHandler):  # type: ignore[name-defined,misc]
        def post(self) -> None:
            files = {
                name: [[f.filename, f["body"].hex(), f.content_type] for f in uploads]
                for name, uploads in sorted(self.request.files.items())
            }
            self.write(
                {
                    "fields": self.get_arguments("field"),
                    "body_arguments": sorted(self.request.body_arguments),
                    "files": files,
                }
            )

    return [("/upload", Upload)]


@pytest.mark.asyncio
async def test_multipart_bodies_as_tornado() -> None:
    async with serving_both(routes) as servers, aiohttp.ClientSession() as session:
        for label, (content_type, body) in BODIES.items():
            seen = {}
            for name, server in servers.items():
                port = server.sockets[0].getsockname()[1]
                async with session.post(
                    f"http://127.0.0.1:{port}/upload",
                    data=body,
                    headers={"Content-Type": content_type},
                ) as response:
                    seen[name] = (response.status, await response.text())
            assert seen["ours"] == seen["tornado"], label
            if label == "good":
                assert seen["ours"][0] == 200


def test_limits_refuse_as_tornado() -> None:
    config = httputil.ParseMultipartConfig(max_parts=2)
    with pytest.raises(httputil.HTTPInputError, match="too many parts"):
        httputil.parse_multipart_form_data(BOUNDARY.encode(), GOOD, {}, {}, config)
    config = httputil.ParseMultipartConfig(max_part_header_size=20)
    with pytest.raises(httputil.HTTPInputError, match="part header too large"):
        httputil.parse_multipart_form_data(BOUNDARY.encode(), GOOD, {}, {}, config)
    config = httputil.ParseMultipartConfig(enabled=False)
    with pytest.raises(httputil.HTTPInputError, match="disabled"):
        httputil.parse_multipart_form_data(BOUNDARY.encode(), GOOD, {}, {}, config)


def test_parse_multipart_form_data_matches_tornado() -> None:
    import tornado.httputil

    results = []
    for module in (tornado.httputil, httputil):
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, Any] = {}
        module.parse_multipart_form_data(BOUNDARY.encode(), GOOD, arguments, files)
        results.append((arguments, {k: [dict(f) for f in v] for k, v in files.items()}))
    assert results[0] == results[1]


def unread_routes(web: ModuleType) -> list[Any]:
    class Unread(web.RequestHandler):  # type: ignore[name-defined,misc]
        def prepare(self) -> None:
            self.set_header("X-Prepared", "yes")

        def post(self) -> None:
            self.write("not read")

    return [("/unread", Unread)]


#: Form bodies a handler never reads. Tornado 6.6.1 parses them before prepare() all the same.
UNREAD = {
    **BODIES,
    "urlencoded": ("application/x-www-form-urlencoded", b"a=1&b=2"),
    "urlencoded, too many fields": ("application/x-www-form-urlencoded", b"a=1&" * 10_000),
    "json": ("application/json", b"{not json"),
}


@pytest.mark.asyncio
async def test_a_malformed_form_body_is_refused_unread_as_tornado() -> None:
    async with serving_both(unread_routes) as servers, aiohttp.ClientSession() as session:
        for label, (content_type, body) in UNREAD.items():
            for encoding in (None, "gzip"):
                headers = {"Content-Type": content_type}
                if encoding:
                    headers["Content-Encoding"] = encoding  # the body itself is not gzipped
                seen = {}
                for name, server in servers.items():
                    port = server.sockets[0].getsockname()[1]
                    async with session.post(
                        f"http://127.0.0.1:{port}/unread", data=body, headers=headers
                    ) as response:
                        text = await response.text()
                        seen[name] = (response.status, response.headers.get("X-Prepared"), text)
                assert seen["ours"] == seen["tornado"], (label, encoding)
                if label == "no final boundary" and encoding is None:
                    assert seen["ours"][0] == 400


def test_parse_body_arguments_as_tornado() -> None:
    """``httputil.parse_body_arguments``, which upload handlers call on the body themselves:
    the same arguments, files and error messages as Tornado 6.6.1's."""
    import tornado.httputil

    for label, (content_type, body) in UNREAD.items():
        for encoding in (None, "gzip"):
            outcomes = []
            for module in (tornado.httputil, httputil):
                headers = module.HTTPHeaders({"Content-Encoding": encoding} if encoding else {})
                arguments: dict[str, list[bytes]] = {"kept": [b"1"]}
                files: dict[str, Any] = {}
                try:
                    module.parse_body_arguments(content_type, body, arguments, files, headers)
                except module.HTTPInputError as error:
                    outcomes.append(["raise", str(error)])
                    continue
                uploads = {k: [dict(f) for f in v] for k, v in files.items()}
                outcomes.append([arguments, uploads])
            assert outcomes[1] == outcomes[0], (label, encoding)
