"""Request heads turned into Tornado's request objects: the engine's shortcuts (a cache of
whole heads' field names, of Host values' host names) give what Tornado 6.6.1 gives, on the
first request with a head and on every later one."""

from __future__ import annotations

import pytest
from tornado import httputil as tornado_httputil

from tornado_ws_compat.errors import HTTPError
from tornado_ws_compat.httputil import HTTPServerRequest, headers_from_raw, split_host_and_port

HEADS = [
    (),
    ((b"Host", b"example.com"), (b"Upgrade", b"websocket")),
    # Repeated names, in other cases too: values gathered in arrival order.
    ((b"Host", b"a"), (b"X-Tag", b"1"), (b"x-tag", b"2"), (b"X-TAG", b"3")),
    ((b"cookie", b"a=1"), (b"Cookie", b"b=2")),
    # ISO-8859-1 bytes in values (RFC 9110 section 5.5).
    ((b"X-Cafe", b"\xe9t\xe9"), (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ==")),
]


def _tornado_headers(head: tuple[tuple[bytes, bytes], ...]) -> tornado_httputil.HTTPHeaders:
    text = "".join(f"{n.decode('latin1')}: {v.decode('latin1')}\r\n" for n, v in head)
    return tornado_httputil.HTTPHeaders.parse(text)


@pytest.mark.parametrize("head", HEADS)
def test_headers_from_raw_match_tornado_every_time(head: tuple[tuple[bytes, bytes], ...]) -> None:
    expected = _tornado_headers(head)
    for _ in range(3):  # the first head of a kind, then the cached path
        headers = headers_from_raw(head)
        assert sorted(headers.get_all()) == sorted(expected.get_all())
        for name in expected:
            assert headers.get_list(name) == expected.get_list(name)
            assert headers[name] == expected[name]


def test_headers_from_raw_results_do_not_share_lists() -> None:
    head = ((b"Host", b"example.com"), (b"X-One", b"1"))
    first = headers_from_raw(head)
    first.add("X-One", "again")
    first["Host"] = "changed"
    second = headers_from_raw(head)
    assert second.get_list("X-One") == ["1"]
    assert second["Host"] == "example.com"


@pytest.mark.parametrize("host_header", ["Example.COM:8080", "example.com", "127.0.0.1:80"])
def test_host_and_host_name_match_tornado(host_header: str) -> None:
    raw = ((b"Host", host_header.encode()),)
    for _ in range(2):  # the host name is cached after the first request with that Host
        ours = HTTPServerRequest(uri="/x", headers=headers_from_raw(raw))
        theirs = tornado_httputil.HTTPServerRequest(
            start_line=tornado_httputil.RequestStartLine("GET", "/x", "HTTP/1.1"),
            headers=_tornado_headers(raw),
        )
        assert (ours.host, ours.host_name) == (theirs.host, theirs.host_name)


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize(
    "host_headers",
    [
        [],
        [""],
        ["[::1]:8888"],
        ["[::1]"],
        ["::1"],
        ["Example.ORG"],
        ["a:b:c"],
        ["example.com:abc"],
        ["example.com:"],
        ["ex%41mple.com"],
        ["a b"],
        ["a/b"],
        ["a,b"],
        ["a", "b"],
    ],
    ids=repr,
)
def test_host_rules_match_tornado(version: str, host_headers: list[str]) -> None:
    # What Tornado 6.6.1's HTTPServerRequest makes of the Host fields (none, empty, IPv6
    # literals, odd ports, refused values, repeated fields): the same host and host name, or
    # a refusal with the same message; the second round reads the cache.
    raw = tuple((b"Host", value.encode()) for value in host_headers)
    theirs: tuple[str, str] | str
    try:
        request = tornado_httputil.HTTPServerRequest(
            start_line=tornado_httputil.RequestStartLine("GET", "/x", version),
            headers=_tornado_headers(raw),
        )
        theirs = (request.host, request.host_name)
    except tornado_httputil.HTTPInputError as exc:
        theirs = str(exc)
    for _ in range(2):
        ours: tuple[str, str] | str
        try:
            mine = HTTPServerRequest(uri="/x", version=version, headers=headers_from_raw(raw))
            ours = (mine.host, mine.host_name)
        except HTTPError as exc:
            assert exc.status_code == 400
            ours = exc.log_message or ""
        assert ours == theirs


@pytest.mark.parametrize(
    "netloc", ["[::1]:8888", "[::1]", "::1", "a:b:c", "host:80", "host", "host:x", ":80", ""]
)
def test_split_host_and_port_matches_tornado(netloc: str) -> None:
    assert split_host_and_port(netloc) == tornado_httputil.split_host_and_port(netloc)
