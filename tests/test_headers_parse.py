"""``HTTPHeaders.parse`` / ``parse_line``, which programs that parse multipart parts or raw
requests themselves call (public streaming-upload handlers do): the same headers, or the same
HTTPInputError message, as Tornado 6.6.1's (issue 8)."""

from __future__ import annotations

from typing import Any

import pytest
import tornado.httputil

from tornado_ws_compat import httputil

TEXTS = [
    "Content-Type: text/html\r\nContent-Length: 42\r\n",
    "Content-Type: text/html\r\nContent-Length: 42\r\n\r\n",
    "A: 1\nB:2\n",
    "Set-Cookie: a=1\r\nset-cookie: b=2\r\n",
    "X-Empty:\r\nX-Spaces:   padded \t \r\n",
    "No-Newline: at the end",
    "Trailing-CR: value\r",
    "",
    "\r\n",
    "Folded: a\r\n  continued\r\n",
    "no colon here\r\n",
    "Bad Name: x\r\n",
    ": empty name\r\n",
    "Control: a\x01b\r\n",
    "Latin: caf\xe9\r\n",
    'Content-Disposition: form-data; name="f"; filename="\u00e9t\u00e9.txt"\r\n',
    "Inner: a\tb c\r\n",
]


def _outcome(module: Any, text: str, chars_are_bytes: bool) -> Any:
    try:
        headers = module.HTTPHeaders.parse(text, _chars_are_bytes=chars_are_bytes)
    except module.HTTPInputError as error:
        return ["raise", str(error)]
    return sorted(headers.get_all())


@pytest.mark.parametrize("chars_are_bytes", [True, False])
@pytest.mark.parametrize("text", TEXTS)
def test_parse_as_tornado(text: str, chars_are_bytes: bool) -> None:
    assert _outcome(httputil, text, chars_are_bytes) == _outcome(
        tornado.httputil, text, chars_are_bytes
    )


def test_parse_line_adds_to_existing_headers() -> None:
    results = []
    for module in (tornado.httputil, httputil):
        headers = module.HTTPHeaders({"A": "1"})
        headers.parse_line("A: 2\r\n")
        headers.parse_line("B: 3")
        headers.parse_line("\r\n")
        results.append([headers.get_list("A"), headers["B"], len(list(headers.get_all()))])
    assert results[0] == results[1] == [["1", "2"], "3", 3]
