"""Escaping and string helpers with Tornado's exact output (``tornado.escape`` of 6.6.1).

HTML (`xhtml_escape`, `xhtml_unescape`), URLs (`url_escape`, `url_unescape`,
`parse_qs_bytes`), JSON (`json_encode`, `json_decode`), text (`utf8`, `to_unicode`,
`recursive_unicode`, `squeeze`) and `linkify`, which turns URLs in plain text into links.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any, overload

__all__ = [
    "json_decode",
    "json_encode",
    "linkify",
    "native_str",
    "parse_qs_bytes",
    "recursive_unicode",
    "squeeze",
    "to_basestring",
    "to_unicode",
    "url_escape",
    "url_unescape",
    "utf8",
    "xhtml_escape",
    "xhtml_unescape",
]


def xhtml_escape(value: str | bytes) -> str:
    """Escape ``& < > " '`` for HTML or XML; ``'`` becomes ``&#x27;`` (Tornado 6.4)."""
    return html.escape(to_unicode(value))


def xhtml_unescape(value: str | bytes) -> str:
    """Replace HTML character references by their characters, by HTML5 rules (Tornado 6.4)."""
    return html.unescape(to_unicode(value))


def json_encode(value: Any) -> str:
    """JSON-encode ``value`` as Tornado does.

    ``</`` is escaped as ``<\\/`` so that the output can be embedded in a ``<script>`` tag
    (tornado.escape.json_encode, unchanged since Tornado 1.0).
    """
    return json.dumps(value).replace("</", "<\\/")


def json_decode(value: str | bytes) -> Any:
    """Parse a JSON document given as ``str`` or UTF-8 ``bytes``."""
    return json.loads(value)


def squeeze(value: str) -> str:
    """Collapse each run of whitespace and control characters (up to space) into one space."""
    return re.sub(r"[\x00-\x20]+", " ", value).strip()


def url_escape(value: str | bytes, plus: bool = True) -> str:
    """Percent-encode ``value`` (UTF-8); with ``plus`` (the default) spaces become ``+`` and
    ``/`` is encoded, as in a query string; without it spaces become ``%20`` and ``/`` stays.
    """
    quote = urllib.parse.quote_plus if plus else urllib.parse.quote
    return quote(value)


@overload
def url_unescape(value: str | bytes, encoding: None, plus: bool = True) -> bytes: ...


@overload
def url_unescape(value: str | bytes, encoding: str = "utf-8", plus: bool = True) -> str: ...


def url_unescape(
    value: str | bytes, encoding: str | None = "utf-8", plus: bool = True
) -> str | bytes:
    """Decode a percent-encoded ``value``; ``+`` means space unless ``plus`` is false.

    With ``encoding=None`` the result is the raw ``bytes``; otherwise the bytes are decoded
    with ``encoding`` (invalid sequences become U+FFFD).
    """
    if encoding is None:
        return urllib.parse.unquote_to_bytes(
            to_unicode(value).replace("+", " ") if plus else value
        )
    unquote = urllib.parse.unquote_plus if plus else urllib.parse.unquote
    return unquote(to_unicode(value), encoding=encoding)


def parse_qs_bytes(
    qs: str | bytes,
    keep_blank_values: bool = False,
    strict_parsing: bool = False,
    *,
    max_num_fields: int | None = None,
) -> dict[str, list[bytes]]:
    """Parse a query string into ``{name: [value, ...]}`` with ``bytes`` values.

    Names are decoded as Latin-1 (so any byte survives); a ``str`` query is first encoded as
    Latin-1. More than ``max_num_fields`` fields raise ValueError (Tornado 6.5.8).
    """
    raw = qs.encode("latin1") if isinstance(qs, str) else qs
    result: dict[str, list[bytes]] = {}
    if not raw:
        return result
    if max_num_fields is not None and raw.count(b"&") + 1 > max_num_fields:
        raise ValueError("Max number of fields exceeded")
    for field in raw.split(b"&"):
        if not field and not strict_parsing:
            continue
        name, equals, value = field.partition(b"=")
        if strict_parsing and not equals:
            raise ValueError(f"bad query field: {field!r}")
        if value or keep_blank_values:
            key = urllib.parse.unquote_to_bytes(name.replace(b"+", b" ")).decode("latin1")
            result.setdefault(key, []).append(
                urllib.parse.unquote_to_bytes(value.replace(b"+", b" "))
            )
    return result


@overload
def utf8(value: str | bytes) -> bytes: ...


@overload
def utf8(value: None) -> None: ...


def utf8(value: str | bytes | None) -> bytes | None:
    """Encode ``str`` as UTF-8; ``bytes`` and ``None`` pass through unchanged."""
    if value is None or isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")
    return value.encode("utf-8")


@overload
def to_unicode(value: str | bytes) -> str: ...


@overload
def to_unicode(value: None) -> None: ...


def to_unicode(value: str | bytes | None) -> str | None:
    """Decode UTF-8 ``bytes`` to ``str``; ``str`` and ``None`` pass through unchanged."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, bytes):
        raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")
    return value.decode("utf-8")


# Python 2 names, kept by Tornado 6 as aliases of to_unicode.
native_str = to_unicode
to_basestring = to_unicode


def recursive_unicode(obj: Any) -> Any:
    """Decode every ``bytes`` in nested dicts, lists and tuples (keys included)."""
    if isinstance(obj, dict):
        return {recursive_unicode(key): recursive_unicode(item) for key, item in obj.items()}
    if isinstance(obj, list):
        return [recursive_unicode(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(recursive_unicode(item) for item in obj)
    if isinstance(obj, bytes):
        return to_unicode(obj)
    return obj


# A URL as linkify sees it, in already-escaped text: a scheme and 1-3 slashes, or "www.",
# then characters other than space and parentheses (``&amp;``/``&quot;`` count as one), ending
# on a character that is not punctuation, or a balanced parenthesised part (Tornado 2.0).
_ESCAPED_CHAR = r"(?:[^\s&()]|&amp;|&quot;)"
_URL_RE = re.compile(
    r"\b((?:([\w-]+):(/{1,3})|www[.])"
    rf"(?:(?:{_ESCAPED_CHAR}*(?:[^!\"#$%&'()*+,.:;<=>?@\[\]^`{{|}}~\s]))"
    rf"|(?:\({_ESCAPED_CHAR}*\)))+)"
)
_SHORT_LINK = 30  # characters of a shortened link text


def linkify(
    text: str | bytes,
    shorten: bool = False,
    extra_params: str | Callable[[str], str] = "",
    require_protocol: bool = False,
    permitted_protocols: Iterable[str] = ("http", "https"),
) -> str:
    """Escape ``text`` for HTML and turn the URLs in it into ``<a href>`` links.

    ``shorten`` abbreviates long link texts (the full URL then goes in ``title``);
    ``extra_params`` is added to each tag, or computed from the href when callable;
    ``require_protocol`` skips ``www.`` URLs without a scheme (which otherwise get
    ``http://``); only schemes in ``permitted_protocols`` are linked (never allow
    ``javascript``).
    """
    fixed_params = ""
    if extra_params and not callable(extra_params):
        fixed_params = " " + extra_params.strip()
    protocols = permitted_protocols

    def make_link(match: re.Match[str]) -> str:
        url = match.group(1)
        protocol = match.group(2)
        if (require_protocol and not protocol) or (protocol and protocol not in protocols):
            return url
        href = url if protocol else "http://" + url
        params = " " + extra_params(href).strip() if callable(extra_params) else fixed_params
        if shorten and len(url) > _SHORT_LINK:
            url, shortened = _shorten(url, protocol, match.group(3))
            if shortened:
                params += f' title="{href}"'
        return f'<a href="{href}"{params}>{url}</a>'

    return _URL_RE.sub(make_link, xhtml_escape(text))


def _shorten(url: str, protocol: str | None, slashes: str | None) -> tuple[str, bool]:
    """linkify's abbreviated link text, and whether it is shorter than ``url``."""
    original = url
    prefix = len(protocol) + 1 + len(slashes or "") if protocol else 0
    parts = url[prefix:].split("/")
    if len(parts) > 1:
        # Host, then the first path segment cut at 8 characters, a "?" or a ".".
        url = url[:prefix] + parts[0] + "/" + parts[1][:8].split("?")[0].split(".")[0]
    if len(url) > _SHORT_LINK * 1.5:
        url = url[:_SHORT_LINK]
    if url == original:
        return url, False
    ampersand = url.rfind("&")
    if ampersand > _SHORT_LINK - 5:  # do not end inside an "&amp;"
        url = url[:ampersand]
    url += "..."
    if len(url) >= len(original):
        return original, False
    return url, True
