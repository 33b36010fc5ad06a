"""The request object a handler sees (``handler.request``), as ``tornado.httputil``.

Nothing here performs I/O: the engine builds an :class:`HTTPServerRequest` from what it parsed
and hands it a connection object that implements :class:`RequestConnection`.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import email.utils
import functools
import http.client
import http.cookies
import ipaddress
import re
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, overload

from tornado_ws_compat.errors import HTTPError
from tornado_ws_compat.escape import parse_qs_bytes
from tornado_ws_compat.util import ObjectDict

if TYPE_CHECKING:
    import asyncio

    from tornado_ws_compat.lifecycle import WebSocketParams

__all__ = [
    "AddressSet",
    "HTTPConnection",
    "HTTPFile",
    "HTTPHeaders",
    "HTTPInputError",
    "HTTPMessageDelegate",
    "HTTPOutputError",
    "HTTPServerConnectionDelegate",
    "HTTPServerRequest",
    "ParseBodyConfig",
    "ParseMultipartConfig",
    "ParseUrlEncodedConfig",
    "RequestConnection",
    "RequestStartLine",
    "ResponseStartLine",
    "WebSocketChannel",
    "format_timestamp",
    "parse_body_arguments",
    "parse_cookie",
    "parse_multipart_form_data",
    "parse_qs_bytes",
    "parse_request_start_line",
    "parse_response_start_line",
    "responses",
    "set_parse_body_config",
    "url_concat",
]


class HTTPFile(ObjectDict):
    """One uploaded file of a multipart form: ``filename``, ``body`` (bytes) and
    ``content_type``, as keys and as attributes (``tornado.httputil.HTTPFile``)."""


_PARAM = re.compile(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    """A ``Content-Disposition``-like value's first word and its parameters; RFC 2231's
    ``name*=charset''value`` forms decoded (Tornado 5.1), quotes removed."""
    head, _, rest = value.partition(";")
    pairs = [("", "")]  # email.utils.decode_params leaves the first pair alone
    pairs += [(m.group(1).lower(), m.group(2).strip()) for m in _PARAM.finditer(";" + rest)]
    params = {}
    for name, raw in email.utils.decode_params(pairs)[1:]:
        text = email.utils.collapse_rfc2231_value(raw)
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        params[name] = text
    return head.strip(), params


def parse_multipart_form_data(
    boundary: bytes,
    data: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    config: ParseMultipartConfig | None = None,
) -> None:
    """Add a ``multipart/form-data`` body's fields to ``arguments`` and its files to
    ``files`` (RFC 7578); HTTPInputError names what is wrong, as in Tornado 6.6.1."""
    config = config or _parse_body_config.multipart
    if not config.enabled:
        raise HTTPInputError("multipart/form-data parsing is disabled")
    if len(boundary) > 1 and boundary[:1] == boundary[-1:] == b'"':
        boundary = boundary[1:-1]
    end = data.rfind(b"--" + boundary + b"--")
    if end == -1:
        raise HTTPInputError("Invalid multipart/form-data: no final boundary found")
    parts = data[:end].split(b"--" + boundary + b"\r\n", config.max_parts + 1)
    if len(parts) > config.max_parts:
        raise HTTPInputError("multipart/form-data has too many parts")
    for part in parts:
        if not part:
            continue
        head_end = part.find(b"\r\n\r\n")
        if head_end == -1:
            raise HTTPInputError("multipart/form-data missing headers")
        if head_end > config.max_part_header_size:
            raise HTTPInputError("multipart/form-data part header too large")
        fields = (line.partition(":") for line in part[:head_end].decode().split("\r\n"))
        headers = headers_from_pairs((name, value.strip()) for name, _, value in fields)
        disposition, params = _header_params(headers.get("Content-Disposition", ""))
        if disposition != "form-data" or not part.endswith(b"\r\n"):
            raise HTTPInputError("Invalid multipart/form-data")
        name = params.get("name")
        if not name:
            raise HTTPInputError("multipart/form-data missing name")
        value = part[head_end + 4 : -2]
        if params.get("filename"):
            upload = HTTPFile(
                filename=params["filename"],
                body=value,
                content_type=headers.get("Content-Type", "application/unknown"),
            )
            files.setdefault(name, []).append(upload)
        else:
            arguments.setdefault(name, []).append(value)


def parse_body_arguments(
    content_type: str,
    body: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    headers: HTTPHeaders | None = None,
    *,
    config: ParseBodyConfig | None = None,
) -> None:
    """Add a form body's fields (``application/x-www-form-urlencoded`` or
    ``multipart/form-data``) to ``arguments`` and its files to ``files``; other types add
    nothing. HTTPInputError names what is wrong, as in Tornado 6.6.1 (upload handlers call
    it on ``self.request.body`` themselves); a form still encoded (``Content-Encoding`` in
    ``headers``) is refused."""
    config = config or _parse_body_config
    if headers and content_type.startswith(_FORM_TYPES) and "Content-Encoding" in headers:
        raise HTTPInputError(f"Unsupported Content-Encoding: {headers['Content-Encoding']}")
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            parsed = parse_qs_bytes(
                body, keep_blank_values=True, max_num_fields=config.urlencoded.max_arguments
            )
        except Exception as exc:
            raise HTTPInputError(f"Invalid x-www-form-urlencoded body: {exc}") from exc
        for name, values in parsed.items():
            arguments.setdefault(name, []).extend(values)
    elif content_type.startswith("multipart/form-data"):
        # The boundary parameter of an exact multipart/form-data type; any failure is one
        # HTTPInputError naming it.
        try:
            fields = content_type.split(";")
            if fields[0].strip() != "multipart/form-data":
                raise HTTPInputError("Invalid content type")
            for field in fields:
                key, _, value = field.strip().partition("=")
                if key == "boundary" and value:
                    parse_multipart_form_data(
                        value.encode(), body, arguments, files, config.multipart
                    )
                    return
            raise HTTPInputError("multipart boundary not found")
        except Exception as exc:
            raise HTTPInputError(f"Invalid multipart/form-data: {exc}") from exc


#: Reason phrases by status code (``tornado.httputil.responses`` is the standard library's).
responses = http.client.responses


class HTTPInputError(Exception):
    """A peer sent a malformed HTTP message (Tornado 4.0's name; programs catch it)."""


class HTTPOutputError(Exception):
    """The application wrote an invalid HTTP message (Tornado 4.0's name)."""


def url_concat(
    url: str,
    args: Mapping[str, str] | Sequence[tuple[str, str]] | None,
) -> str:
    """``url`` with ``args`` (a dict, or a list/tuple of pairs, repeats kept) added to its
    query, after the arguments already there, as Tornado 6.6.1 builds it."""
    if args is None:
        return url
    parts = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if isinstance(args, dict):
        query.extend(args.items())
    elif isinstance(args, (list, tuple)):
        query.extend(args)
    else:
        raise TypeError(f"'args' parameter should be dict, list or tuple. Not {type(args)}")
    return urllib.parse.urlunparse(parts._replace(query=urllib.parse.urlencode(query)))


def format_timestamp(
    ts: float | tuple[Any, ...] | time.struct_time | datetime.datetime,
) -> str:
    """An HTTP date (RFC 9110 section 5.6.7) from a POSIX time, a UTC time tuple or a
    datetime (naive means UTC); anything else is a TypeError, as in Tornado 6.6.1."""
    if isinstance(ts, (int, float)):
        stamp = float(ts)
    elif isinstance(ts, tuple):  # time.struct_time is a tuple too
        stamp = float(calendar.timegm(ts))
    elif isinstance(ts, datetime.datetime):
        stamp = float(calendar.timegm(ts.utctimetuple()))
    else:
        raise TypeError(f"unknown timestamp type: {ts!r}")
    return email.utils.formatdate(stamp, usegmt=True)


_T = TypeVar("_T")


@functools.lru_cache(maxsize=1024)
def _normalize_header(name: str) -> str:
    """Map a header name to ``Http-Header-Case``, as Tornado stores header names."""
    return "-".join(word.capitalize() for word in name.split("-"))


#: RFC 9110 section 5.1: a field name is a token (section 5.6.2).
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Section 5.5: visible characters and obs-text, with spaces and tabs only inside.
_FIELD_VALUE = re.compile(
    r"(?:[\x21-\x7e\x80-\xff](?:[\x21-\x7e\x80-\xff \t]*[\x21-\x7e\x80-\xff])?)?"
)
_CONTROL_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class HTTPHeaders(MutableMapping[str, str]):
    """A case-insensitive dict of headers that keeps every value of a repeated header.

    ``headers[name]`` joins repeated values with ``,``; ``get_list(name)`` returns them all.
    """

    __slots__ = ("_values",)

    def __init__(self, *args: Any, **kwargs: str) -> None:
        self._values: dict[str, list[str]] = {}
        if not args and not kwargs:
            return
        if len(args) == 1 and not kwargs and isinstance(args[0], HTTPHeaders):
            self._values = {name: list(values) for name, values in args[0]._values.items()}
        else:
            self.update(*args, **kwargs)

    @overload
    def get(self, name: str, /) -> str | None: ...

    @overload
    def get(self, name: str, /, default: str) -> str: ...

    @overload
    def get(self, name: str, /, default: _T) -> str | _T: ...

    def get(self, name: str, /, default: Any = None) -> Any:
        # Faster than MutableMapping's get, which goes through __getitem__ and KeyError.
        values = self._values.get(_normalize_header(name))
        return default if values is None else ",".join(values)

    def add(self, name: str, value: str) -> None:
        """Add a value for ``name`` without replacing earlier ones."""
        self._values.setdefault(_normalize_header(name), []).append(value)

    def parse_line(self, line: str, *, _chars_are_bytes: bool = True) -> None:
        """Add one ``Name: value`` line (its CRLF or LF optional), as Tornado 6.6.1 does: an
        empty line adds nothing; a folded line (RFC 9112 section 5.2: Tornado 6.6 dropped
        folding), a line without a colon, or a name or value outside RFC 9110 section 5's
        grammar raises HTTPInputError. ``_chars_are_bytes=False`` (multipart part headers)
        allows any character in a value but controls."""
        if line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        if not line:
            return
        if line[0] in " \t":
            raise HTTPInputError("header line cannot start with whitespace, folding not supported")
        name, colon, value = line.partition(":")
        if not colon:
            raise HTTPInputError("no colon in header line")
        if not _FIELD_NAME.fullmatch(name):
            raise HTTPInputError(f"Invalid header name {name!r}")
        value = value.strip(" \t")
        if _chars_are_bytes:
            valid = _FIELD_VALUE.fullmatch(value) is not None
        else:
            valid = _CONTROL_IN_VALUE.search(value) is None
        if not valid:
            raise HTTPInputError(f"Invalid header value {value!r}")
        self.add(name, value)

    @classmethod
    def parse(cls, headers: str, *, _chars_are_bytes: bool = True) -> HTTPHeaders:
        """Headers from a block of ``Name: value`` lines (`parse_line`'s rules for each);
        programs that parse multipart parts or raw requests themselves call it."""
        parsed = cls()
        start = 0
        while (end := headers.find("\n", start)) != -1:
            parsed.parse_line(headers[start : end + 1], _chars_are_bytes=_chars_are_bytes)
            start = end + 1
        parsed.parse_line(headers[start:], _chars_are_bytes=_chars_are_bytes)
        return parsed

    def get_list(self, name: str) -> list[str]:
        """All values of ``name``, in arrival order (an empty list when absent)."""
        return list(self._values.get(_normalize_header(name), []))

    def get_all(self) -> Iterator[tuple[str, str]]:
        """Every ``(name, value)`` pair, repeated headers once per value."""
        for name, values in self._values.items():
            for value in values:
                yield name, value

    def __getitem__(self, name: str) -> str:
        return ",".join(self._values[_normalize_header(name)])

    def __setitem__(self, name: str, value: str) -> None:
        self._values[_normalize_header(name)] = [value]

    def __delitem__(self, name: str) -> None:
        del self._values[_normalize_header(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize_header(name) in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def copy(self) -> HTTPHeaders:
        return HTTPHeaders(self)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({dict(self.get_all())!r})"

    def __str__(self) -> str:
        # Tornado 6.6.1: one "Name: value" line per value (programs log headers with it).
        return "".join(f"{name}: {value}\n" for name, value in self.get_all())


def _unquote_cookie(value: str) -> str:
    """Undo the double quotes and backslash escapes of a cookie value (RFC 6265 4.1.1)."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    body = value[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            octal = body[i + 1 : i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                out.append(chr(int(octal, 8)))
                i += 4
                continue
            out.append(body[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def parse_cookie(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the way browsers and Tornado 4.4.2+ do (not RFC-strict)."""
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        key, sep, val = chunk.partition("=")
        if not sep:
            key, val = "", chunk  # a value without a name, as browsers send it
        key, val = key.strip(), val.strip()
        if key or val:
            cookies[key] = _unquote_cookie(val)
    return cookies


@dataclasses.dataclass
class ParseUrlEncodedConfig:
    """Limits on ``application/x-www-form-urlencoded`` bodies and query strings
    (``tornado.httputil.ParseUrlEncodedConfig``, Tornado 6.5.8)."""

    #: Most ``name=value`` fields accepted; more is answered with 400. The fields are counted
    #: (one pass in C) before any is decoded, so a hostile body costs no more than its size.
    max_arguments: int = 1000


@dataclasses.dataclass
class ParseMultipartConfig:
    """Limits on ``multipart/form-data`` bodies (``tornado.httputil.ParseMultipartConfig``,
    Tornado 6.5.5): past them the body is refused with 400."""

    #: False refuses every multipart body (Tornado 6.5.5: for applications without uploads).
    enabled: bool = True
    #: Most parts (form fields and files) in one body.
    max_parts: int = 100
    #: Largest head of one part, in bytes.
    max_part_header_size: int = 10 * 1024


@dataclasses.dataclass
class ParseBodyConfig:
    """How request bodies are parsed (``tornado.httputil.ParseBodyConfig``, Tornado 6.5.5)."""

    urlencoded: ParseUrlEncodedConfig = dataclasses.field(default_factory=ParseUrlEncodedConfig)
    multipart: ParseMultipartConfig = dataclasses.field(default_factory=ParseMultipartConfig)


_parse_body_config = ParseBodyConfig()


def set_parse_body_config(config: ParseBodyConfig) -> None:
    """Replace the process-wide limits on form parsing (Tornado 6.5.5's global setter)."""
    global _parse_body_config
    _parse_body_config = config


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _parse_qs(query: str, error: str) -> dict[str, list[bytes]]:
    """Parse a query string into ``{name: [raw bytes values]}``, keeping blank values.

    More than ``max_arguments`` fields raise ``HTTPError(400)`` with ``error`` in the log
    message, as Tornado 6.5.8 refuses them.
    """
    result: dict[str, list[bytes]] = {}
    try:
        pairs = urllib.parse.parse_qsl(
            query,
            keep_blank_values=True,
            encoding="latin1",
            max_num_fields=_parse_body_config.urlencoded.max_arguments,
        )
    except ValueError as exc:
        raise HTTPError(400, f"{error}: {exc}") from None
    for name, value in pairs:
        result.setdefault(name, []).append(value.encode("latin1"))
    return result


def _is_valid_ip(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate.strip())
    except ValueError:
        return False
    return True


class AddressSet:
    """IP addresses and networks (``10.0.0.0/8``, ``::1``), or ``*`` for every address.

    ``ip in addresses`` is True when ``ip`` is one of them (an IPv4 address seen as IPv6,
    ``::ffff:127.0.0.1``, matches as IPv4). Raises ValueError for an entry that is neither.
    """

    __slots__ = ("_any", "_networks")

    def __init__(self, entries: Iterable[str]) -> None:
        items = [entries] if isinstance(entries, str) else list(entries)
        self._any = "*" in items
        self._networks = [
            ipaddress.ip_network(item.strip(), strict=False) for item in items if item != "*"
        ]

    def __contains__(self, ip: object) -> bool:
        if self._any:
            return True
        if not isinstance(ip, str):
            return False
        try:
            address = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)


class WebSocketChannel(Protocol):
    """What ``WebSocketHandler`` needs from an accepted connection (``handler.ws_connection``).

    The method names are those of Tornado's ``WebSocketProtocol`` so that code reaching into
    ``ws_connection`` keeps working.
    """

    close_code: int | None
    close_reason: str | None

    @property
    def selected_subprotocol(self) -> str | None: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def write_message(self, message: str | bytes | dict[str, Any], binary: bool = False) -> Any:
        """``WebSocketHandler.write_message``'s contract (the handler may call it directly):
        a dict as JSON, WebSocketClosedError when closing, a call from another thread
        handed to the loop with a ``concurrent.futures.Future`` returned."""

    def write_ping(self, data: bytes) -> None: ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...

    def is_closing(self) -> bool: ...

    def abort(self) -> None: ...

    def abandon(self) -> None: ...

    def set_nodelay(self, value: bool) -> None: ...

    def run(self) -> None: ...


@dataclasses.dataclass
class RequestContext:
    """``request.connection.context``: who is at the other end of the connection, as
    Tornado 6.6.1's HTTP server describes it to a handler (``address`` is the peer's socket
    address, ``remote_ip`` and ``protocol`` the connection's own, not ``xheaders``' (those are
    ``request.remote_ip``/``protocol``), and ``str()`` of it is the remote IP; a Unix socket's
    peer reads as ``0.0.0.0``)."""

    address: Any
    address_family: int | None
    remote_ip: str
    protocol: str
    trusted_downstream: set[str] = dataclasses.field(default_factory=set)
    # The connection's own, before xheaders (Tornado keeps them under these names, and
    # programs such as webssh read them to tell plain http from https).
    _orig_remote_ip: str = "0.0.0.0"
    _orig_protocol: str = "http"

    def __str__(self) -> str:
        if self.address_family in (socket.AF_INET, socket.AF_INET6):
            return self.remote_ip
        if isinstance(self.address, bytes):
            return self.address.decode("latin1")
        return str(self.address)


class RequestConnection(Protocol):
    """The engine's side of one request: where a handler's response goes."""

    def write(
        self,
        status: int,
        reason: str,
        headers: HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> Any:
        """Send headers (first call only) and a chunk; ``finishing`` ends the response."""

    def accept_websocket(
        self,
        handler: Any,
        headers: HTTPHeaders,
        params: WebSocketParams,
    ) -> Any:
        """Answer 101 with ``headers`` and return an awaitable of the `WebSocketChannel`."""

    def set_nodelay(self, value: bool) -> None:
        """Set TCP_NODELAY on the connection's socket."""

    def set_max_body_size(self, max_body_size: int) -> None:
        """This request's body limit (Tornado 4.0; a ``stream_request_body`` handler's)."""

    def set_body_timeout(self, timeout: float) -> None:
        """This request's body timeout (Tornado 4.0; a ``stream_request_body`` handler's)."""

    def websocket_opened(self) -> None:
        """Called in the context ``open`` ran in, once it is done: the context variables the
        handshake set are to be seen by the connection's later hooks."""


class RequestStartLine(NamedTuple):
    """An HTTP/1.x request line's parts."""

    method: str
    path: str
    version: str


class ResponseStartLine(NamedTuple):
    """An HTTP/1.x status line's parts."""

    version: str
    code: int
    reason: str


# RFC 9112 section 3 (request-line) and 4 (status-line): a token method, a target of visible
# characters, HTTP/d.d; a reason phrase of visible characters, spaces and tabs, or none.
_VISIBLE = r"[\x21-\x7e\x80-\xff]"
_REQUEST_LINE = re.compile(rf"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ({_VISIBLE}+) (HTTP/[0-9]\.[0-9])")
_STATUS_LINE = re.compile(rf"(HTTP/[0-9]\.[0-9]) ([0-9]{{3}}) ((?:[\t ]|{_VISIBLE})+)?")


def parse_request_start_line(line: str) -> RequestStartLine:
    """``"GET /foo HTTP/1.1"`` as a `RequestStartLine`; `HTTPInputError` if malformed or not
    HTTP/1.x (Tornado 6.6.1's messages)."""
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise HTTPInputError("Malformed HTTP request line")
    parsed = RequestStartLine(*match.groups())
    if not parsed.version.startswith("HTTP/1"):
        raise HTTPInputError(f"Unexpected HTTP version {parsed.version!r}")
    return parsed


def parse_response_start_line(line: str) -> ResponseStartLine:
    """``"HTTP/1.1 200 OK"`` as a `ResponseStartLine`; `HTTPInputError` if malformed or not
    HTTP/1.x."""
    match = _STATUS_LINE.fullmatch(line)
    if match is None:
        raise HTTPInputError("Error parsing response start line")
    version, code, reason = match.groups()
    if not version.startswith("HTTP/1"):
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return ResponseStartLine(version, int(code), reason)


class HTTPServerConnectionDelegate:
    """Tornado's interface of what serves a connection's requests (``Application`` is one).

    Defined so that programs' subclasses import and construct; this engine serves only an
    ``Application``: ``HTTPServer`` given another delegate raises ``NotSupportedError``.
    """

    def start_request(self, server_conn: object, request_conn: HTTPConnection) -> Any:
        """Return the `HTTPMessageDelegate` for a new request; subclasses implement it."""
        raise NotImplementedError()

    def on_close(self, server_conn: object) -> None:
        """The connection ``server_conn`` has closed."""


class HTTPMessageDelegate:
    """Tornado's interface of what receives one HTTP message; every method does nothing."""

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        """The start line and headers have arrived."""
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """A chunk of the body has arrived."""
        return None

    def finish(self) -> None:
        """The whole message has arrived."""

    def on_connection_close(self) -> None:
        """The connection closed before the message was complete."""


class HTTPConnection:
    """Tornado's interface of the side that writes a response; subclasses implement it."""

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Awaitable[None]:
        """Write the start line and headers (and a first chunk)."""
        raise NotImplementedError()

    def write(self, chunk: bytes) -> Awaitable[None]:
        """Write a chunk of the body."""
        raise NotImplementedError()

    def finish(self) -> None:
        """The message is complete."""
        raise NotImplementedError()


class HTTPServerRequest:
    """A single HTTP request, with Tornado's attribute names.

    ``remote_ip`` and ``protocol`` honour ``X-Real-Ip``/``X-Forwarded-For`` and
    ``X-Scheme``/``X-Forwarded-Proto`` only when the server runs with ``xheaders=True``
    (Tornado's ``HTTPServer`` rules, including ``trusted_downstream``).
    """

    path: str
    query: str
    server_connection: object | None = None

    def __init__(
        self,
        method: str = "GET",
        uri: str = "/",
        version: str = "HTTP/1.0",  # Tornado 6.6.1's default
        headers: HTTPHeaders | None = None,
        body: bytes = b"",
        host: str | None = None,
        connection: RequestConnection | None = None,
        remote_ip: str | None = None,
        protocol: str = "http",
        xheaders: bool = False,
        trusted_downstream: Iterable[str] = (),
        # Tornado 6.6.1's; not keyword-only: a keyword-only default costs a dict lookup per
        # call, and every request (each handshake too) builds one of these.
        files: dict[str, list[Any]] | None = None,
        start_line: RequestStartLine | None = None,
        server_connection: object | None = None,
    ) -> None:
        if start_line is not None:  # Tornado 6.6.1's form of method, uri and version
            method, uri, version = start_line
        self.method = method
        self.uri = uri
        self.version = version
        self.headers = headers if headers is not None else HTTPHeaders()
        self.body = body
        self.connection = connection
        self.remote_ip = remote_ip
        self.protocol = protocol
        if xheaders:
            self._apply_xheaders(set(trusted_downstream))
        if host is None:
            found = self.headers._values.get("Host")  # headers.get("Host"), without the call
            if found is not None:
                host = ",".join(found)  # repeated fields joined, as HTTPHeaders.get joins them
            elif version == "HTTP/1.0":  # RFC 9112 section 3.2: only HTTP/1.0 may omit it
                host = "127.0.0.1"
            else:
                raise HTTPError(400, "Missing Host header")
        self.host = host
        host_name = _HOST_NAMES.get(host)
        if host_name is None:
            host_name = _host_name(host)
            if len(_HOST_NAMES) < 256:  # a server answers to few names; junk does not grow it
                _HOST_NAMES[host] = host_name
        self.host_name = host_name
        self.path, _, self.query = uri.partition("?")
        # Tornado 6.6.1 refuses a query string of more than max_arguments fields outright
        # (counted as urllib counts them, without parsing); its parsing waits for first use.
        if self.query and self.query.count("&") >= _parse_body_config.urlencoded.max_arguments:
            raise HTTPError(400, "Invalid query string: Max number of fields exceeded")
        # Arguments are parsed on first use (get_argument, request.arguments, ...), never for
        # a WebSocket upgrade or a handler that does not read them: a form body costs nothing
        # until a handler asks for it.
        self._query_arguments: dict[str, list[bytes]] | None = None
        self._body_arguments: dict[str, list[bytes]] | None = None
        self._arguments: dict[str, list[bytes]] | None = None
        self._files: dict[str, list[Any]] = {} if files is None else files
        if server_connection is not None:  # Tornado's; a class attribute (None) otherwise
            self.server_connection = server_connection
        self._start_time = time.time()
        self._finish_time: float | None = None
        self._cookies: http.cookies.SimpleCookie | None = None

    @property
    def query_arguments(self) -> dict[str, list[bytes]]:
        """The query string's arguments, ``{name: [bytes values]}``, parsed on first use."""
        if self._query_arguments is None:
            self._query_arguments = _parse_qs(self.query, "Invalid query string")
        return self._query_arguments

    @query_arguments.setter
    def query_arguments(self, value: dict[str, list[bytes]]) -> None:
        self._query_arguments = value

    @property
    def body_arguments(self) -> dict[str, list[bytes]]:
        """A form body's arguments (urlencoded or multipart), parsed on first use (400 for a
        malformed body or past the limits)."""
        if self._body_arguments is None:
            arguments: dict[str, list[bytes]] = {}
            content_type = self.headers.get("Content-Type", "")
            try:
                parse_body_arguments(content_type, self.body, arguments, self._files, self.headers)
            except HTTPInputError as exc:
                self._body_arguments = {}  # refused once; the 400 is the answer
                raise HTTPError(400, f"Invalid body: {exc}") from exc
            self._body_arguments = arguments
        return self._body_arguments

    @body_arguments.setter
    def body_arguments(self, value: dict[str, list[bytes]]) -> None:
        self._body_arguments = value

    @property
    def files(self) -> dict[str, list[Any]]:
        """A multipart form's files, ``{name: [HTTPFile]}``, parsed with `body_arguments`."""
        if self._body_arguments is None:
            self.body_arguments  # noqa: B018  (parses the body, which fills the files)
        return self._files

    @files.setter
    def files(self, value: dict[str, list[Any]]) -> None:
        self._files = value

    @property
    def arguments(self) -> dict[str, list[bytes]]:
        """Query and body arguments together, query values first."""
        if self._arguments is None:
            self._arguments = merged_arguments(self.query_arguments, self.body_arguments)
        return self._arguments

    @arguments.setter
    def arguments(self, value: dict[str, list[bytes]]) -> None:
        self._arguments = value

    def _apply_xheaders(self, trusted_downstream: set[str]) -> None:
        # Same precedence as tornado.httpserver._HTTPRequestContext._apply_xheaders (6.x):
        # the last X-Forwarded-For hop that is not a trusted proxy, overridden by X-Real-Ip.
        ip = self.headers.get("X-Forwarded-For", self.remote_ip or "")
        for candidate in (part.strip() for part in reversed(ip.split(","))):
            ip = candidate
            if candidate not in trusted_downstream:
                break
        ip = self.headers.get("X-Real-Ip", ip)
        if _is_valid_ip(ip):
            self.remote_ip = ip.strip()
        scheme = self.headers.get("X-Scheme", self.headers.get("X-Forwarded-Proto", ""))
        scheme = scheme.split(",")[-1].strip()
        if scheme in ("http", "https"):
            self.protocol = scheme

    @property
    def cookies(self) -> http.cookies.SimpleCookie:
        """The request's cookies as ``http.cookies.Morsel`` objects; odd names are dropped."""
        if self._cookies is None:
            self._cookies = http.cookies.SimpleCookie()
            if "Cookie" in self.headers:
                for name, value in parse_cookie(self.headers["Cookie"]).items():
                    try:
                        self._cookies[name] = value
                    except http.cookies.CookieError:
                        pass
        return self._cookies

    def full_url(self) -> str:
        """The whole URL: ``protocol://host/uri``."""
        return f"{self.protocol}://{self.host}{self.uri}"

    def request_time(self) -> float:
        """Seconds since the request started, or its duration once it finished."""
        end = self._finish_time if self._finish_time is not None else time.time()
        return end - self._start_time

    def _finish(self) -> None:
        if self._finish_time is None:
            self._finish_time = time.time()

    def __repr__(self) -> str:
        attrs = ("protocol", "host", "method", "uri", "version", "remote_ip")
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in attrs)
        return f"{self.__class__.__name__}({args})"


# Host header values to their host names (``HTTPServerRequest.host_name``); only valid
# values are kept.
_HOST_NAMES: dict[str, str] = {}

# RFC 3986 section 3.2.2's host and 3.2.3's port, loosened as Tornado 6.6.1 loosens them:
# brackets and colons anywhere, so an IPv6 literal needs no grammar of its own.
_VALID_HOST = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=\[\]:]|%[0-9A-Fa-f]{2})*")
_HOST_AND_PORT = re.compile(r"(.+):(\d+)")


def _host_name(host: str) -> str:
    """The host name of a ``Host`` value, or ``HTTPError(400)`` for a value Tornado 6.6.1
    refuses: outside the grammar, or with a comma (RFC 9112 section 3.2 asks for a 400 on
    more than one Host field, and a proxy may have joined several into one with commas)."""
    if not _VALID_HOST.fullmatch(host):
        raise HTTPError(400, f"Invalid Host header: {host!r}")
    if "," in host:
        raise HTTPError(400, f"Multiple host headers not allowed: {host!r}")
    return split_host_and_port(host.lower())[0]


def split_host_and_port(netloc: str) -> tuple[str, int | None]:
    """``(host, port)`` from ``host:port``, the port ``None`` when there is none. As in
    tornado.httputil.split_host_and_port, only a trailing ``:digits`` is taken as the port
    and IPv6 brackets stay on the host (``[::1]:8888`` gives ``("[::1]", 8888)``)."""
    match = _HOST_AND_PORT.fullmatch(netloc)
    if match is None:
        return netloc, None
    return match.group(1), int(match.group(2))


def headers_from_pairs(pairs: Iterable[tuple[str, str]]) -> HTTPHeaders:
    """Build :class:`HTTPHeaders` from ``(name, value)`` pairs, repeated names kept."""
    headers = HTTPHeaders()
    for name, value in pairs:
        headers.add(name, value)
    return headers


_RAW_NAMES: dict[bytes, str] = {}
# The names of a whole request head, as sent, to their stored names: a client sends the same
# head (the same names in the same order) request after request.
_HEAD_NAMES: dict[tuple[bytes, ...], tuple[str, ...]] = {}


def _raw_name(name: bytes) -> str:
    key = _RAW_NAMES.get(name)
    if key is None:
        key = _normalize_header(name.decode("latin1"))
        if len(_RAW_NAMES) < 1024:  # the names clients send are few; do not grow on junk
            _RAW_NAMES[name] = key
    return key


def headers_from_raw(pairs: Iterable[tuple[bytes, bytes]]) -> HTTPHeaders:
    """Build :class:`HTTPHeaders` from a request head's ``(name, value)`` bytes, decoded as
    ISO-8859-1 as Tornado decodes them (RFC 9110 section 5.5), repeated names kept."""
    headers = HTTPHeaders()
    pairs = tuple(pairs)
    if not pairs:
        return headers
    names, raw_values = zip(*pairs, strict=True)
    keys = _HEAD_NAMES.get(names)
    if keys is None:
        keys = tuple(map(_raw_name, names))
        if len(set(keys)) < len(keys):  # a repeated field: its values are gathered below
            values = headers._values
            for key, value in zip(keys, raw_values, strict=True):
                values.setdefault(key, []).append(value.decode("latin1"))
            return headers
        if len(_HEAD_NAMES) < 256:  # bounded, as _RAW_NAMES
            _HEAD_NAMES[names] = keys
    # One field per name (the cache holds only such heads): each name gets a list of its
    # one value.
    headers._values = {
        key: [value.decode("latin1")] for key, value in zip(keys, raw_values, strict=True)
    }
    return headers


def merged_arguments(*sources: Mapping[str, list[bytes]]) -> dict[str, list[bytes]]:
    """Merge argument dicts, values of the same name concatenated in order."""
    merged: dict[str, list[bytes]] = {}
    for source in sources:
        for name, values in source.items():
            merged.setdefault(name, []).extend(values)
    return merged


def parse_byte_range(header: str) -> tuple[int | None, int | None] | None:
    """One ``Range: bytes=...`` spec as slice bounds ``(start, end)``, or None if unusable.

    RFC 9110 section 14.1.2: ``first-last`` is inclusive, so ``end`` is ``last + 1``; a suffix
    ``-N`` becomes ``(-N, None)`` and ``-0`` ``(None, 0)`` (unsatisfiable). As in Tornado
    6.6.1, a header with another unit, several ranges or non-numbers is ignored (the whole
    content is sent, RFC 9110 section 14.2 allows it).
    """
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes":
        return None
    first, _, last = spec.strip().partition("-")
    try:
        start = int(first) if first.strip() else None
        end = int(last) if last.strip() else None
    except ValueError:
        return None
    if end is None:
        return start, None
    if start is None:
        return (-end, None) if end else (None, 0)
    return start, end + 1


def content_range(start: int | None, end: int | None, total: int) -> str:
    """The ``Content-Range`` value for slice bounds of ``total`` bytes (RFC 9110 14.4)."""
    first = start or 0
    last = (end or total) - 1
    return f"bytes {first}-{last}/{total}"
