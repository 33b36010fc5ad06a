"""String and JSON helpers with Tornado's exact output (``tornado.escape``)."""

from __future__ import annotations

import html
import json
import urllib.parse
from typing import Any

__all__ = [
    "json_decode",
    "json_encode",
    "native_str",
    "to_unicode",
    "url_escape",
    "url_unescape",
    "utf8",
    "xhtml_escape",
]


def json_encode(value: Any) -> str:
    """JSON-encode ``value`` as Tornado does.

    ``</`` is escaped as ``<\\/`` so that the output can be embedded in a ``<script>`` tag
    (tornado.escape.json_encode, unchanged since Tornado 1.0).
    """
    return json.dumps(value).replace("</", "<\\/")


def json_decode(value: str | bytes) -> Any:
    """Parse a JSON document given as ``str`` or UTF-8 ``bytes``."""
    return json.loads(value)


def utf8(value: str | bytes | None) -> bytes | None:
    """Encode ``str`` as UTF-8; ``bytes`` and ``None`` pass through unchanged."""
    if value is None or isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")
    return value.encode("utf-8")


def to_unicode(value: str | bytes | None) -> str | None:
    """Decode UTF-8 ``bytes`` to ``str``; ``str`` and ``None`` pass through unchanged."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, bytes):
        raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")
    return value.decode("utf-8")


native_str = to_unicode


def url_escape(value: str | bytes, plus: bool = True) -> str:
    """Percent-encode ``value``; spaces become ``+`` unless ``plus`` is false."""
    quote = urllib.parse.quote_plus if plus else urllib.parse.quote
    return quote(value if isinstance(value, bytes) else value.encode("utf-8"))


def url_unescape(value: str | bytes, encoding: str = "utf-8", plus: bool = True) -> str:
    """Decode a percent-encoded value to ``str``; ``+`` means space unless ``plus`` is false."""
    text = value.decode("latin1") if isinstance(value, bytes) else value
    if plus:
        text = text.replace("+", " ")
    return urllib.parse.unquote(text, encoding=encoding)


def xhtml_escape(value: str | bytes) -> str:
    """Escape a string for HTML or XML, as tornado.escape.xhtml_escape."""
    text = value.decode("utf-8") if isinstance(value, bytes) else value
    return html.escape(text, quote=True)
