"""``escape`` against real Tornado 6.6.1: every function on one corpus of hostile inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import tornado.escape
from differ import outcome
from hypothesis import given, settings
from hypothesis import strategies as st

import tornado_ws_compat.escape as ours

TEXTS = [
    "",
    " ",
    "plain",
    "<script>alert('x&y')</script>",
    "\"quoted\" & 'single'",
    "&amp; &lt; &gt; &quot; &#39; &#x27; &#X27;",
    "&notanentity; &amp &#0; &#x110000; &#128; &#xD800; &#65; &copy &copyx",
    "ünïcödé ☃ 𝄞 日本語",
    "\x00\x01\t\n\r\x1f \x7f\x80",
    "a  b\t\tc\n\nd  ",
    "a+b c%20d%2Fe%2B%zz%",
    "%E2%98%83 %C3 %ff+%2b",
    "/path/with spaces?q=a&b=c#frag",
    "key=value&key=other&empty=&=novalue&flag&&",
    "%3D%26=%3D%26&a%20b=c+d",
    "Hello http://tornadoweb.org!",
    "see www.example.com/a/b?c=d&e=f.",
    "(http://example.com/path_(wiki)) and http://example.com/).",
    "ftp://files.example.com/x mailto:me@example.com javascript:alert(1)",
    "http://" + "a" * 40 + ".example.com/very/long/path/segment?q=" + "x" * 40,
    "https://example.com/abcdefghijklmnop.html?x=1&y=2&z=3&w=4&v=5&u=6&t=7",
    "https://example.com/a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q&r&s",
    "http://x.co/ab",
    "www.x.co",
    "<a href='http://evil.com/\"onclick=x'>",
    "file:///etc/passwd custom-proto://host/p  http:/one-slash http:////four",
    "http://example.com/" + "é" * 30,
    "café://example.com",
]
BYTES = [
    b"",
    b"plain",
    b"\xc3\xa9t\xc3\xa9",
    b"\xff\xfe",
    b"a=%ff&b=%c3%a9&c=+&d",
    b"http://example.com/\xc3\xa9",
]
JSON_VALUES: list[Any] = [
    None,
    True,
    0,
    -1.5,
    "</script>",
    "ünï☃\u2028",
    {"a": [1, {"b": "</"}]},
    [],
    float("nan"),
    b"bytes",
    {1: "int key"},
]
JSON_DOCUMENTS: list[str | bytes] = [
    "{}",
    '{"a": [1, 2.5, null, true]}',
    '"<\\/script>"',
    b'{"\xc3\xa9": 1}',
    "{bad",
    "",
    "NaN",
    b"\xff",
]
NESTED: list[Any] = [
    {b"k": [b"v", (b"t", 1, None)], "s": {b"n": b"\xc3\xa9"}},
    [b"\xff"],
    (b"a", [b"b", {b"c": b"d"}]),
    b"x",
    3.5,
]
OTHERS: list[Any] = [None, 5, 1.5, ["list"], bytearray(b"ba"), object]

LINKIFY_OPTIONS: list[dict[str, Any]] = [
    {},
    {"shorten": True},
    {"extra_params": ' rel="nofollow" class="external" '},
    {"extra_params": lambda href: f'data-len="{len(href)}"'},
    {"require_protocol": True},
    {"permitted_protocols": ["http", "ftp", "mailto", "file", "custom-proto"]},
    {"permitted_protocols": set()},
    {"shorten": True, "require_protocol": True, "extra_params": "x"},
]


def same(call: Callable[[Any], Any]) -> None:
    """``call`` gives the same outcome with Tornado's module and with ours."""
    theirs = outcome(lambda: call(tornado.escape))
    mine = outcome(lambda: call(ours))
    assert theirs == mine


@pytest.mark.parametrize("value", TEXTS + BYTES + OTHERS)
@pytest.mark.parametrize(
    "name",
    [
        "xhtml_escape",
        "xhtml_unescape",
        "squeeze",
        "utf8",
        "to_unicode",
        "native_str",
        "to_basestring",
        "recursive_unicode",
        "json_encode",
    ],
)
def test_text_functions_match_tornado(name: str, value: Any) -> None:
    same(lambda module: getattr(module, name)(value))


@pytest.mark.parametrize("value", TEXTS + BYTES + OTHERS)
@pytest.mark.parametrize("plus", [True, False])
def test_url_functions_match_tornado(value: Any, plus: bool) -> None:
    same(lambda module: module.url_escape(value, plus=plus))
    same(lambda module: module.url_escape(value, plus))
    for encoding in (None, "utf-8", "latin1", "ascii"):
        same(lambda module, e=encoding: module.url_unescape(value, e, plus))
        same(lambda module, e=encoding: module.url_unescape(value, encoding=e, plus=plus))
    same(lambda module: module.url_unescape(value))


@pytest.mark.parametrize("value", TEXTS + BYTES + OTHERS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"keep_blank_values": True},
        {"strict_parsing": True},
        {"keep_blank_values": True, "strict_parsing": True},
        {"max_num_fields": 2},
        {"max_num_fields": 10},
    ],
)
def test_parse_qs_bytes_matches_tornado(value: Any, kwargs: dict[str, Any]) -> None:
    same(lambda module: module.parse_qs_bytes(value, **kwargs))


@pytest.mark.parametrize("value", TEXTS + BYTES)
@pytest.mark.parametrize("kwargs", LINKIFY_OPTIONS, ids=range(len(LINKIFY_OPTIONS)))
def test_linkify_matches_tornado(value: Any, kwargs: dict[str, Any]) -> None:
    same(lambda module: module.linkify(value, **kwargs))


@pytest.mark.parametrize("value", JSON_VALUES + NESTED)
def test_json_encode_and_recursive_unicode_match_tornado(value: Any) -> None:
    same(lambda module: module.json_encode(value))
    same(lambda module: module.recursive_unicode(value))


@pytest.mark.parametrize("document", JSON_DOCUMENTS)
def test_json_decode_matches_tornado(document: str | bytes) -> None:
    same(lambda module: module.json_decode(document))


def test_linkify_examples() -> None:
    assert (
        ours.linkify("Hello http://tornadoweb.org!")
        == 'Hello <a href="http://tornadoweb.org">http://tornadoweb.org</a>!'
    )
    shortened = ours.linkify("http://example.com/abcdefghijklmnop/qrstuvwxyz/0123456789", True)
    assert 'title="http://example.com/abcdefghijklmnop/qrstuvwxyz/0123456789"' in shortened
    assert ">http://example.com/abcdefgh...</a>" in shortened


def test_every_public_name_of_tornado_escape_exists() -> None:
    public = {name for name in dir(tornado.escape) if not name.startswith("_")}
    modules = {"binascii", "html", "json", "re", "typing", "urllib", "Any", "Callable"}
    missing = {name for name in public - modules if not hasattr(ours, name)}
    assert missing == {"unicode_type"}  # the Python 2 alias of str, imported from util


text_or_bytes = st.one_of(st.text(), st.binary())


@settings(max_examples=300, deadline=None)
@given(text_or_bytes, st.booleans(), st.booleans())
def test_random_inputs_match_tornado(value: str | bytes, plus: bool, flag: bool) -> None:
    same(lambda module: module.xhtml_escape(value))
    same(lambda module: module.xhtml_unescape(value))
    same(lambda module: module.url_escape(value, plus))
    same(lambda module: module.url_unescape(value, None, plus))
    same(lambda module: module.url_unescape(value, "utf-8", plus))
    same(lambda module: module.parse_qs_bytes(value, flag, not flag))
    same(lambda module: module.linkify(value, shorten=flag, require_protocol=plus))
    same(lambda module: module.squeeze(ours.to_unicode(value) if flag else value))


urlish = st.from_regex(r"(https?://|www\.)[a-z.&;()/?=é_-]{0,60}( |\.|$)", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(urlish, st.text(max_size=5)), max_size=4), st.booleans())
def test_random_urls_linkify_as_tornado(parts: list[str], shorten: bool) -> None:
    text = " ".join(parts)
    same(lambda module: module.linkify(text, shorten=shorten))
