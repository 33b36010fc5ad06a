"""Tornado's ``tornado.web`` surface: Application, routes, RequestHandler, HTTPError.

RequestHandler covers what a WebSocket handshake uses (arguments, cookies, signed cookies,
``current_user``, ``prepare``, headers sent with the 101) and what the plain pages beside a
socket need (``get``/``post``, ``write``, ``redirect``, errors, static files), and templates
(``render``, ``render_string``, UI modules; see ``_rendering`` and ``template``).
"""

from __future__ import annotations

import asyncio
import binascii
import datetime
import email.utils
import functools
import gzip
import hashlib
import hmac
import http.cookies
import importlib
import inspect
import io
import logging
import mimetypes
import os
import re
import stat
import string
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tornado_ws_compat import __version__, escape, httputil, ioloop, signing
from tornado_ws_compat._rendering import RenderingMixin, TemplateModule, UIModule, ui_registry
from tornado_ws_compat.errors import (
    ConfigurationError,
    HTTPError,
    NotSupportedError,
    WebSocketClosedError,
    reason_phrase,
)
from tornado_ws_compat.httputil import HTTPHeaders, HTTPServerRequest
from tornado_ws_compat.log import access_log, app_log, gen_log
from tornado_ws_compat.pubsub import PubSubHub
from tornado_ws_compat.settings import DEFAULTS, validate_settings
from tornado_ws_compat.signing import (  # tornado.web's names for them
    DEFAULT_SIGNED_VALUE_MIN_VERSION,
    DEFAULT_SIGNED_VALUE_VERSION,
    MAX_SUPPORTED_SIGNED_VALUE_VERSION,
    MIN_SUPPORTED_SIGNED_VALUE_VERSION,
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)
from tornado_ws_compat.util import ObjectDict as ObjectDict  # tornado.web's name for it

if TYPE_CHECKING:
    import ssl

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "Application",
    "ErrorHandler",
    "FallbackHandler",
    "Finish",
    "GZipContentEncoding",
    "HTTPError",
    "MissingArgumentError",
    "OutputTransform",
    "RedirectHandler",
    "RequestHandler",
    "StaticFileHandler",
    "TemplateModule",
    "UIModule",
    "URLSpec",
    "addslash",
    "asynchronous",
    "authenticated",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
    "removeslash",
    "stream_request_body",
    "url",
]

_ARG_DEFAULT: Any = object()
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_UNSAFE_HEADER_CHARS = re.compile(r"[\x00-\x1f]")  # header injection (Tornado 3.2+)
# What RedirectHandler refuses in a target (Tornado 6.6: a 400, not set_header's 500).
_UNSAFE_LOCATION_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SERVER_HEADER = f"tornado_ws_compat/{__version__}"
_REASON_PHRASE = re.compile(r"[\t \x21-\x7e\x80-\xff]+")

F = TypeVar("F", bound=Callable[..., Any])


class MissingArgumentError(HTTPError):
    """A required argument is missing: answered with 400 (Tornado 3.1+)."""

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, f"Missing argument {arg_name}")
        self.arg_name = arg_name


class Finish(Exception):
    """Raise to end the request with ``finish(*args)`` and no error (Tornado 3.1+)."""


_date_cache: tuple[int, str] = (0, "")


def _current_http_date() -> str:
    """The ``Date`` header value, formatted once per second (as aiohttp and nginx do)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


_XSRF_VERSIONED = re.compile(r"^([1-9][0-9]*)\|(.*)$")


def _xor_mask(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask`` (the masking Tornado reuses for XSRF)."""
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def _decode_xsrf_token(text: str) -> tuple[int | None, bytes | None, float | None]:
    """(version, raw token, timestamp) of an XSRF cookie or argument; Nones if unreadable.

    Version 2 is ``2|mask|masked|timestamp`` in hex; anything without a version prefix is
    version 1: the hex token, or the text itself if it is not hex (Tornado 3.2.2 rules).
    """
    match = _XSRF_VERSIONED.match(text)
    try:
        if match is None:
            try:
                token = binascii.a2b_hex(text.encode("utf-8"))
            except ValueError:  # binascii.Error
                token = text.encode("utf-8")
            return 1, token, float(int(time.time()))
        if match.group(1) != "2":
            raise ValueError("unknown xsrf token version")
        _, mask_hex, masked_hex, stamp = text.split("|")
        mask = binascii.a2b_hex(mask_hex.encode("utf-8"))
        token = _xor_mask(mask, binascii.a2b_hex(masked_hex.encode("utf-8")))
        return 2, token, float(int(stamp))
    except (ValueError, IndexError):
        gen_log.debug("Uncaught exception in _decode_xsrf_token", exc_info=True)
        return None, None, None


class RequestHandler(RenderingMixin):
    """Base class for HTTP request handlers (``tornado.web.RequestHandler``)."""

    SUPPORTED_METHODS: tuple[str, ...] = (
        "GET",
        "HEAD",
        "POST",
        "DELETE",
        "PATCH",
        "PUT",
        "OPTIONS",
    )

    path_args: list[str]
    path_kwargs: dict[str, str]

    def __init__(
        self, application: Application, request: HTTPServerRequest, **kwargs: Any
    ) -> None:
        self.application = application
        self.request = request
        self._headers_written = False
        self._finished = False
        self._auto_finish = True
        self._transforms: list[OutputTransform] = []
        self.path_args = []
        self.path_kwargs = {}
        self.clear()
        self.initialize(**kwargs)

    def _initialize(self) -> None:
        pass

    initialize: Callable[..., None] = _initialize
    """Hook for subclass initialization; receives the route's kwargs."""

    @property
    def settings(self) -> dict[str, Any]:
        """An alias for ``self.application.settings``."""
        return self.application.settings

    # HTTP methods: the defaults answer 405, as Tornado's.
    def _unimplemented_method(self, *args: str, **kwargs: str) -> Awaitable[None] | None:
        raise HTTPError(405)

    head: Callable[..., Awaitable[None] | None] = _unimplemented_method
    get: Callable[..., Awaitable[None] | None] = _unimplemented_method
    post: Callable[..., Awaitable[None] | None] = _unimplemented_method
    delete: Callable[..., Awaitable[None] | None] = _unimplemented_method
    patch: Callable[..., Awaitable[None] | None] = _unimplemented_method
    put: Callable[..., Awaitable[None] | None] = _unimplemented_method
    options: Callable[..., Awaitable[None] | None] = _unimplemented_method

    def prepare(self) -> Awaitable[None] | None:
        """Called before ``get``/``post``/...; may be a coroutine; may ``finish`` early."""
        return None

    def on_finish(self) -> None:
        """Called after the response has been sent."""

    def on_connection_close(self) -> None:
        """Called when the client closes the connection (long-lived requests)."""

    # Response headers and status.
    def clear(self) -> None:
        """Reset headers and body to their defaults (status 200, ``text/html``)."""
        self._headers = HTTPHeaders()
        self._headers._values = {
            "Server": [_SERVER_HEADER],
            "Content-Type": ["text/html; charset=UTF-8"],
            "Date": [_current_http_date()],
        }
        self.set_default_headers()
        self._write_buffer: list[bytes] = []
        self._status_code = 200
        self._reason = "OK"

    def set_default_headers(self) -> None:
        """Override to set headers on every response, the 101 of a WebSocket included."""

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the status code; ``reason`` replaces the standard phrase if well-formed."""
        self._status_code = status_code
        if reason is not None:
            # Tornado 6.5: a reason that is not a valid reason-phrase (or holds '<') is
            # replaced rather than sent, as a guard against header and HTML injection.
            if "<" in reason or not _REASON_PHRASE.fullmatch(reason):
                reason = "Unknown"
            self._reason = reason
        else:
            self._reason = reason_phrase(status_code)

    def get_status(self) -> int:
        return self._status_code

    def set_header(self, name: str, value: Any) -> None:
        self._headers[name] = self._convert_header_value(value)

    def add_header(self, name: str, value: Any) -> None:
        self._headers.add(name, self._convert_header_value(value))

    def clear_header(self, name: str) -> None:
        if name in self._headers:
            del self._headers[name]

    def _convert_header_value(self, value: Any) -> str:
        if isinstance(value, bytes):
            text = value.decode("latin1")
        elif isinstance(value, str):
            text = value
        elif isinstance(value, int):
            return str(value)
        elif isinstance(value, datetime.datetime):
            return httputil.format_timestamp(value)
        else:
            raise TypeError(f"Unsupported header value {value!r}")
        if _UNSAFE_HEADER_CHARS.search(text):
            raise ValueError(f"Unsafe header value {text!r}")
        return text

    # Arguments.
    def get_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """The last value of argument ``name`` from the query or body; 400 if required."""
        return self._get_argument(name, default, self.request.arguments, strip)

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        assert isinstance(strip, bool)
        return self._get_arguments(name, self.request.arguments, strip)

    def get_query_argument(
        self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True
    ) -> Any:
        return self._get_argument(name, default, self.request.query_arguments, strip)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._get_arguments(name, self.request.query_arguments, strip)

    def get_body_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        return self._get_argument(name, default, self.request.body_arguments, strip)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._get_arguments(name, self.request.body_arguments, strip)

    def _get_argument(
        self, name: str, default: Any, source: dict[str, list[bytes]], strip: bool
    ) -> Any:
        values = self._get_arguments(name, source, strip)
        if not values:
            if default is _ARG_DEFAULT:
                raise MissingArgumentError(name)
            return default
        return values[-1]

    def _get_arguments(self, name: str, source: dict[str, list[bytes]], strip: bool) -> list[str]:
        values = []
        for raw in source.get(name, []):
            value = self.decode_argument(raw, name=name)
            if isinstance(value, str):
                value = _CONTROL_CHARS.sub(" ", value)
            if strip:
                value = value.strip()
            values.append(value)
        return values

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Decode an argument (already percent-decoded) from UTF-8; 400 if invalid.

        A URL group that did not match arrives as None and stays None, as in Tornado.
        """
        if value is None:
            return None
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(
                400, "Invalid unicode in {}: {!r}".format(name or "url", value[:40])
            ) from None

    # Cookies.
    @property
    def cookies(self) -> http.cookies.SimpleCookie:
        """An alias for ``self.request.cookies``."""
        return self.request.cookies

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        if name in self.request.cookies:
            return self.request.cookies[name].value
        return default

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | tuple[Any, ...] | datetime.datetime | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a ``Set-Cookie`` header; it goes out with the response (or the 101)."""
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        if re.search(r"[\x00-\x20]", text):
            raise ValueError(f"Invalid cookie {name!r}: {text!r}")
        for attr_name, attr_value in (
            ("name", name),
            ("domain", domain),
            ("path", path),
            ("samesite", samesite),
        ):
            if attr_value is not None and re.search(r"[\x00-\x20\x3b\x7f]", attr_value):
                raise http.cookies.CookieError(
                    f"Invalid cookie attribute {attr_name}={attr_value!r} for cookie {name!r}"
                )
        if not hasattr(self, "_new_cookie"):
            self._new_cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        if name in self._new_cookie:
            del self._new_cookie[name]
        self._new_cookie[name] = text
        morsel = self._new_cookie[name]
        if domain:
            morsel["domain"] = domain
        if expires_days is not None and not expires:
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=expires_days)
        if expires:
            morsel["expires"] = httputil.format_timestamp(expires)
        if path:
            morsel["path"] = path
        if max_age:
            morsel["max-age"] = str(int(max_age))
        if httponly:
            morsel["httponly"] = True
        if secure:
            morsel["secure"] = True
        if samesite:
            morsel["samesite"] = samesite
        for key, extra in kwargs.items():
            morsel[key] = extra

    def clear_cookie(self, name: str, **kwargs: Any) -> None:
        """Expire cookie ``name`` (same ``domain``/``path`` as when it was set)."""
        for excluded in ("expires", "max_age"):
            if excluded in kwargs:
                raise TypeError(f"clear_cookie() got an unexpected keyword argument '{excluded}'")
        expires = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=365)
        self.set_cookie(name, value="", expires=expires, **kwargs)

    def clear_all_cookies(self, **kwargs: Any) -> None:
        for name in self.request.cookies:
            self.clear_cookie(name, **kwargs)

    def require_setting(self, name: str, feature: str = "this feature") -> None:
        if not self.application.settings.get(name):
            raise Exception(
                f"You must define the '{name}' setting in your application to use {feature}"
            )

    def create_signed_value(
        self, name: str, value: str | bytes, version: int | None = None
    ) -> bytes:
        """Sign ``value`` with the ``cookie_secret`` setting (Tornado's formats v1/v2)."""
        self.require_setting("cookie_secret", "secure cookies")
        secret = self.application.settings["cookie_secret"]
        key_version = None
        if isinstance(secret, dict):
            if self.application.settings.get("key_version") is None:
                raise Exception("key_version setting must be used for secret_key dicts")
            key_version = self.application.settings["key_version"]
        return signing.create_signed_value(
            secret, name, value, version=version, key_version=key_version
        )

    def set_signed_cookie(
        self,
        name: str,
        value: str | bytes,
        expires_days: float | None = 30,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Sign and set a cookie that ``get_signed_cookie`` (ours or Tornado's) can read."""
        self.set_cookie(
            name,
            self.create_signed_value(name, value, version=version),
            expires_days=expires_days,
            **kwargs,
        )

    set_secure_cookie = set_signed_cookie

    def get_signed_cookie(
        self,
        name: str,
        value: str | None = None,
        max_age_days: float = 31,
        min_version: int | None = None,
    ) -> bytes | None:
        """The verified value of a signed cookie, or ``None`` if absent, forged or expired."""
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        return signing.decode_signed_value(
            self.application.settings["cookie_secret"],
            name,
            value,
            max_age_days=max_age_days,
            min_version=min_version,
        )

    get_secure_cookie = get_signed_cookie

    def get_signed_cookie_key_version(self, name: str, value: str | None = None) -> int | None:
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        if value is None:
            return None
        return signing.get_signature_key_version(value)

    get_secure_cookie_key_version = get_signed_cookie_key_version

    # Authentication.
    @property
    def current_user(self) -> Any:
        """The logged-in user, from ``get_current_user`` (computed once per request)."""
        if not hasattr(self, "_current_user"):
            self._current_user = self.get_current_user()
        return self._current_user

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self._current_user = value

    def get_current_user(self) -> Any:
        """Override to determine the current user, from a cookie for example."""
        return None

    def get_login_url(self) -> str:
        self.require_setting("login_url", "@tornado.web.authenticated")
        return str(self.application.settings["login_url"])

    def check_trusted_origin(self, origin: str) -> bool:
        """True if ``origin`` is in the ``trusted_origins`` setting (Tornado 6.6)."""
        return origin in self.application.settings.get("trusted_origins", [])

    def _check_cross_origin(self, check: Callable[[str], bool]) -> str | None:
        """Tornado 6.6's cross-origin algorithm: None if allowed, else the reason.

        ``Sec-Fetch-Site: same-origin|none`` is trusted; without it, an ``Origin`` equal to
        ``Host`` is same-origin, no ``Origin`` means a non-browser client; anything else is
        allowed only if ``check(origin)`` says so.
        """
        headers = self.request.headers
        if "Sec-Fetch-Site" not in headers._values and "Origin" not in headers._values:
            return None  # a non-browser client (the common case of a WebSocket upgrade)
        site = headers.get("Sec-Fetch-Site")
        if site in ("same-origin", "none"):
            return None
        origin = self.request.headers.get("Origin")
        if site is None:
            if origin is None:
                return None
            if self._origin_matches_host(origin) or check(origin):
                return None
            return f"Origin {origin!r} not allowed"
        if origin and check(origin):
            return None
        return f"Sec-Fetch-Site {site} & origin {origin!r} not allowed"

    def _origin_matches_host(self, origin: str) -> bool:
        netloc = urllib.parse.urlsplit(origin).netloc.lower()
        return netloc == self.request.headers.get("Host", "").lower()

    def _cross_origin_protection(self) -> None:
        # Safe methods are not checked; WebSocket upgrades are checked in
        # WebSocketHandler.get after prepare() (Tornado 6.6).
        if self.request.method in ("HEAD", "OPTIONS", "GET"):
            return
        if self.application.settings.get("xsrf_cookies"):
            self.check_xsrf_cookie()
        if self.application.settings.get("cross_origin_protection"):
            error = self._check_cross_origin(self.check_trusted_origin)
            if error is not None:
                raise HTTPError(403, error)

    # XSRF (form pages beside a socket): Tornado 3.2.2's token formats, so that a token or
    # cookie made by either server validates on the other.
    @property
    def xsrf_token(self) -> bytes:
        """This browser's XSRF token, to embed in forms; sets the XSRF cookie when new.

        Version 2 (the default, ``xsrf_cookie_version``) masks the token afresh on every
        request, ``2|mask|masked-token|timestamp`` in hex, so that it is safe to send in
        compressed pages (Tornado 3.2.2); version 1 is the bare hex token.
        ``xsrf_cookie_kwargs`` go to ``set_cookie`` (Tornado 4.3), ``xsrf_cookie_name``
        names the cookie.
        """
        if not hasattr(self, "_xsrf_token"):
            version, token, timestamp = self._get_raw_xsrf_token()
            output_version = self.settings.get("xsrf_cookie_version", 2)
            cookie_kwargs = dict(self.settings.get("xsrf_cookie_kwargs", {}))
            if output_version == 1:
                self._xsrf_token = token.hex().encode("ascii")
            elif output_version == 2:
                mask = os.urandom(4)
                fields = ("2", mask.hex(), _xor_mask(mask, token).hex(), str(int(timestamp)))
                self._xsrf_token = "|".join(fields).encode("ascii")
            else:
                raise ValueError(f"unknown xsrf cookie version {output_version}")
            if version is None:
                # A new token: a logged-in user's cookie outlives the browser session.
                if self.current_user and "expires_days" not in cookie_kwargs:
                    cookie_kwargs["expires_days"] = 30
                cookie_name = self.settings.get("xsrf_cookie_name", "_xsrf")
                self.set_cookie(cookie_name, self._xsrf_token, **cookie_kwargs)
        return self._xsrf_token

    def _get_raw_xsrf_token(self) -> tuple[int | None, bytes, float]:
        """(version of the cookie it came from or None if new, raw token, timestamp)."""
        if not hasattr(self, "_raw_xsrf_token"):
            cookie = self.get_cookie(self.settings.get("xsrf_cookie_name", "_xsrf"))
            version, token, timestamp = (
                _decode_xsrf_token(cookie) if cookie else (None, None, None)
            )
            if token is None or timestamp is None:
                version, token, timestamp = None, os.urandom(16), time.time()
            self._raw_xsrf_token = (version, token, timestamp)
        return self._raw_xsrf_token

    def check_xsrf_cookie(self) -> None:
        """403 unless the ``_xsrf`` argument (or ``X-XSRFToken``/``X-CSRFToken`` header)
        carries the same token as the XSRF cookie; either token version is accepted.
        """
        input_token = (
            self.get_argument("_xsrf", None)
            or self.request.headers.get("X-Xsrftoken")
            or self.request.headers.get("X-Csrftoken")
        )
        if not input_token:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        _, token, _ = _decode_xsrf_token(input_token)
        _, expected, _ = self._get_raw_xsrf_token()
        if not token:
            raise HTTPError(403, "'_xsrf' argument has invalid format")
        if not hmac.compare_digest(token, expected):
            raise HTTPError(403, "XSRF cookie does not match POST argument")

    def xsrf_form_html(self) -> str:
        token = escape.xhtml_escape(self.xsrf_token)
        return f'<input type="hidden" name="_xsrf" value="{token}"/>'

    # Output.
    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Buffer output; a dict is sent as JSON with ``application/json``."""
        if self._finished:
            raise RuntimeError("Cannot write() after finish()")
        if not isinstance(chunk, bytes | str | dict):
            message = "write() only accepts bytes, unicode, and dict objects"
            if isinstance(chunk, list):
                message += (
                    ". Lists not accepted for security reasons; see "
                    "http://www.tornadoweb.org/en/stable/web.html#tornado.web.RequestHandler.write"
                )
            raise TypeError(message)
        if isinstance(chunk, dict):
            chunk = escape.json_encode(chunk)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
        self._write_buffer.append(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        if self._headers_written:
            raise Exception("Cannot redirect after headers have been written")
        if status is None:
            status = 301 if permanent else 302
        else:
            assert isinstance(status, int) and 300 <= status <= 399
        self.set_status(status)
        self.set_header("Location", url)
        self.finish()

    def _add_cookie_headers(self) -> None:
        if hasattr(self, "_new_cookie"):
            for cookie in self._new_cookie.values():
                self.add_header("Set-Cookie", cookie.OutputString(None))

    def detach(self) -> Any:
        """Not provided: the engine (aiohttp) owns the connection; there is no IOStream."""
        raise NotSupportedError(
            "RequestHandler.detach() is not provided by tornado_ws_compat: the connection "
            "belongs to the aiohttp engine (use a WebSocketHandler for a long-lived channel)"
        )

    def flush(self, include_footers: bool = False) -> asyncio.Future[None]:
        """Send the buffered output; headers go out with the first flush."""
        assert self.request.connection is not None
        chunk = b"".join(self._write_buffer)
        self._write_buffer = []
        if not self._headers_written:
            self._headers_written = True
            if self.application.transforms:
                self._transforms = [t(self.request) for t in self.application.transforms]
                for transform in self._transforms:
                    self._status_code, self._headers, chunk = transform.transform_first_chunk(
                        self._status_code, self._headers, chunk, include_footers
                    )
            self._add_cookie_headers()
        elif self._transforms:
            for transform in self._transforms:
                chunk = transform.transform_chunk(chunk, include_footers)
        if self.request.method == "HEAD":
            chunk = b""
        return cast(
            "asyncio.Future[None]",
            self.request.connection.write(
                self._status_code, self._reason, self._headers, chunk, include_footers
            ),
        )

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> asyncio.Future[None]:
        """End the response; computes Content-Length and the Etag of a 200 GET."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        if not self._headers_written:
            if (
                self._status_code == 200
                and self.request.method in ("GET", "HEAD")
                and "Etag" not in self._headers
            ):
                self.set_etag_header()
                if self.check_etag_header():
                    self._write_buffer = []
                    self.set_status(304)
            if self._status_code in (204, 304) or 100 <= self._status_code < 200:
                self._write_buffer = []
                self._clear_representation_headers()
            elif "Content-Length" not in self._headers:
                self.set_header("Content-Length", sum(len(part) for part in self._write_buffer))
        future = self.flush(include_footers=True)
        self.request._finish()
        self._log()
        self._finished = True
        self.on_finish()
        return future

    def _clear_representation_headers(self) -> None:
        # RFC 7231 section 3.1: no representation for 1xx/204/304.
        for name in ("Content-Encoding", "Content-Language", "Content-Type"):
            self.clear_header(name)

    def compute_etag(self) -> str | None:
        hasher = hashlib.sha1()
        for part in self._write_buffer:
            hasher.update(part)
        return f'"{hasher.hexdigest()}"'

    def set_etag_header(self) -> None:
        etag = self.compute_etag()
        if etag is not None:
            self.set_header("Etag", etag)

    def check_etag_header(self) -> bool:
        computed = self._headers.get("Etag", "").encode("latin1")
        etags = re.findall(
            rb'\*|(?:W/)?"[^"]*"', self.request.headers.get("If-None-Match", "").encode("latin1")
        )
        if not computed or not etags:
            return False
        if etags[0] == b"*":
            return True

        def weak(tag: bytes) -> bytes:
            return tag[2:] if tag.startswith(b"W/") else tag

        return any(weak(tag) == weak(computed) for tag in etags)

    # Errors.
    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Answer with an error page from ``write_error`` (headers already sent: just end)."""
        if self._headers_written:
            gen_log.error("Cannot send error response after headers written")
            if not self._finished:
                try:
                    self.finish()
                except Exception:
                    gen_log.error("Failed to flush partial response", exc_info=True)
            return
        self.clear()
        reason = kwargs.get("reason")
        if "exc_info" in kwargs:
            exception = kwargs["exc_info"][1]
            if isinstance(exception, HTTPError) and exception.reason:
                reason = exception.reason
        self.set_status(status_code, reason=reason)
        try:
            self.write_error(status_code, **kwargs)
        except Exception:
            app_log.error("Uncaught exception in write_error", exc_info=True)
        if not self._finished:
            self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Override for custom error pages; the default is Tornado's minimal HTML page."""
        if self.settings.get("serve_traceback") and "exc_info" in kwargs:
            self.set_header("Content-Type", "text/plain")
            for line in traceback.format_exception(*kwargs["exc_info"]):
                self.write(line)
            self.finish()
        else:
            message = escape.xhtml_escape(self._reason)
            self.finish(
                f"<html><title>{status_code}: {message}</title>"
                f"<body>{status_code}: {message}</body></html>"
            )

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log an uncaught exception: HTTPError as a warning, anything else with traceback."""
        if isinstance(value, HTTPError):
            if value.log_message:
                gen_log.warning(
                    "%d %s: %s",
                    value.status_code,
                    self._request_summary(),
                    value.log_message % value.args,
                )
        else:
            app_log.error(
                "Uncaught exception %s\n%r",
                self._request_summary(),
                self.request,
                exc_info=(typ, value, tb),  # type: ignore[arg-type]
            )

    def _request_summary(self) -> str:
        return f"{self.request.method} {self.request.uri} ({self.request.remote_ip})"

    def _log(self) -> None:
        self.application.log_request(self)

    def async_callback(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Callable[..., Any]:
        """Wrap a callback so that its exception is this request's (Tornado 1.x-3.x).

        An exception before the headers are sent answers with the error page; after, it is
        logged ("Exception after headers written"). Obsolete since Tornado 1.1 for callbacks
        scheduled from an ``@asynchronous`` method (they get this anyway), but it also covers
        callbacks handed to other threads.
        """
        function = functools.partial(callback, *args, **kwargs) if args or kwargs else callback

        def wrapper(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                return function(*call_args, **call_kwargs)
            except Exception as exc:
                if self._headers_written:
                    app_log.error("Exception after headers written", exc_info=True)
                else:
                    self._handle_request_exception(exc)
                return None

        return wrapper

    def _stack_context_handle_exception(self) -> bool:
        # A callback of an @asynchronous method raised (sys.exc_info() is its exception).
        exc = sys.exc_info()[1]
        assert exc is not None
        self._handle_request_exception(exc)
        return True

    def _handle_request_exception(self, exc: BaseException) -> None:
        if isinstance(exc, Finish):
            if not self._finished:
                self.finish(*exc.args)
            return
        try:
            self.log_exception(*sys.exc_info())
        except Exception:
            app_log.error("Error in exception logger", exc_info=True)
        if self._finished:
            return
        if isinstance(exc, HTTPError):
            self.send_error(exc.status_code, exc_info=sys.exc_info())
        else:
            self.send_error(500, exc_info=sys.exc_info())

    async def _execute(self, *args: bytes | None, **kwargs: bytes | None) -> None:
        """Run the request: method check, arguments, prepare(), then the HTTP method."""
        settings = self.application.settings
        if not settings.get("compiled_template_cache", True):
            self._reset_template_cache_if_disabled()
        if not settings.get("static_hash_cache", True):
            # Tornado 3.2's debug mode: versions of static files are computed afresh.
            self.settings.get("static_handler_class", StaticFileHandler).reset()
        try:
            if self.request.method not in self.SUPPORTED_METHODS:
                raise HTTPError(405)
            if not self._stream_request_body and "Content-Type" in self.request.headers:
                # Tornado 6.6.1 parses a form body here, before prepare(): a malformed one
                # is a 400 whether or not the handler reads it.
                self.request.body_arguments  # noqa: B018
            if args:
                self.path_args = [self.decode_argument(arg) for arg in args]  # type: ignore[arg-type]
            if kwargs:
                self.path_kwargs = {
                    key: self.decode_argument(value, name=key)  # type: ignore[arg-type]
                    for key, value in kwargs.items()
                }
            if self._stream_request_body:
                # The body is this handler's to read: no body arguments, also for the XSRF
                # check (Tornado 4.0).
                request = self.request
                request.body_arguments = {}
                request.arguments = {k: list(v) for k, v in request.query_arguments.items()}
            self._cross_origin_protection()
            result = self.prepare()
            if result is not None:
                await result
            if self._finished:
                return
            if self._stream_request_body and self.request.body:
                result = self.data_received(self.request.body)
                if result is not None:
                    await result
            method = getattr(self, self.request.method.lower())
            result = method(*self.path_args, **self.path_kwargs)
            if result is not None:
                await result
            if self._auto_finish and not self._finished:
                self.finish()
        except Exception as exc:
            try:
                self._handle_request_exception(exc)
            except Exception:
                app_log.error("Exception in exception handler", exc_info=True)

    def reverse_url(self, name: str, *args: Any) -> str:
        """The path of a named route (`Application.reverse_url`)."""
        return self.application.reverse_url(name, *args)

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """The URL of ``path`` under ``static_path``, with ``?v=<hash>`` of its content.

        The URL comes from the ``static_handler_class`` setting's ``make_static_url``
        (``kwargs`` go to it, e.g. ``include_version=False``). ``include_host`` (default:
        the handler's ``include_host`` attribute) makes it absolute.
        """
        self.require_setting("static_path", "static_url")
        make_url = self.settings.get("static_handler_class", StaticFileHandler).make_static_url
        if include_host is None:
            include_host = getattr(self, "include_host", False)
        base = f"{self.request.protocol}://{self.request.host}" if include_host else ""
        return base + str(make_url(self.settings, path, **kwargs))

    _stream_request_body = False

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """The request body, for handlers decorated with `stream_request_body`."""
        raise NotImplementedError(
            f"{type(self).__name__} is a @stream_request_body handler without data_received"
        )


class OutputTransform:
    """Rewrites a response on its way out (``Application(transforms=[...])``)."""

    def __init__(self, request: HTTPServerRequest) -> None:
        pass

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        return chunk


class GZipContentEncoding(OutputTransform):
    """gzip for clients that accept it (the ``compress_response`` setting; RFC 9110
    section 8.4.1): text and a few other types, not bodies under ``MIN_LENGTH`` sent at once.
    """

    CONTENT_TYPES = frozenset(
        {
            "application/javascript",
            "application/x-javascript",
            "application/xml",
            "application/atom+xml",
            "application/json",
            "application/xhtml+xml",
            "image/svg+xml",
        }
    )
    GZIP_LEVEL = 6
    MIN_LENGTH = 1024

    def __init__(self, request: HTTPServerRequest) -> None:
        self._gzipping = "gzip" in request.headers.get("Accept-Encoding", "")

    def _compressible_type(self, ctype: str) -> bool:
        return ctype.startswith("text/") or ctype in self.CONTENT_TYPES

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        if "Vary" in headers:
            headers["Vary"] += ", Accept-Encoding"
        else:
            headers["Vary"] = "Accept-Encoding"
        if self._gzipping:
            ctype = headers.get("Content-Type", "").split(";")[0]
            self._gzipping = (
                self._compressible_type(ctype)
                and (not finishing or len(chunk) >= self.MIN_LENGTH)
                and "Content-Encoding" not in headers
            )
        if self._gzipping:
            headers["Content-Encoding"] = "gzip"
            self._buffer = io.BytesIO()
            self._file = gzip.GzipFile(
                mode="w", fileobj=self._buffer, compresslevel=self.GZIP_LEVEL
            )
            chunk = self.transform_chunk(chunk, finishing)
            if "Content-Length" in headers:
                if finishing:
                    headers["Content-Length"] = str(len(chunk))
                else:  # the length is unknown now: chunked encoding
                    del headers["Content-Length"]
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if self._gzipping:
            self._file.write(chunk)
            if finishing:
                self._file.close()
            else:
                self._file.flush()
            chunk = self._buffer.getvalue()
            self._buffer.seek(0)
            self._buffer.truncate()
        return chunk


def asynchronous(method: F) -> F:
    """Keep the request open after the method returns, until it calls ``finish()``.

    Tornado 1.x-5.x's decorator (removed in Tornado 6.0), with Tornado 5.1's semantics:

    - the response is finished by the handler, typically from a callback scheduled with
      ``IOLoop.add_callback``/``add_timeout`` or an HTTP client's callback;
    - an exception in any callback scheduled from the method (or from those callbacks) is
      handled as if the method had raised it: logged, and answered with the error page if
      the response is not finished (Tornado's ExceptionStackContext, here a context
      variable that asyncio carries into callbacks);
    - a method that returns a future or coroutine (``@asynchronous`` above
      ``@gen.coroutine``) finishes the request when it completes, if it has not already.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        self._auto_finish = False
        token = ioloop.stack_handler.set(self._stack_context_handle_exception)
        try:
            result = method(self, *args, **kwargs)
            if result is None or not inspect.isawaitable(result):
                return result
            future = asyncio.ensure_future(result)

            def complete(done: asyncio.Future[Any]) -> None:
                done.result()  # an exception goes to this request's error handling
                if not self._finished:
                    self.finish()

            ioloop.IOLoop.current().add_future(future, complete)
            return None  # the request's error handling is already attached
        finally:
            ioloop.stack_handler.reset(token)

    return cast(F, wrapper)


def _browser_view(url: str) -> str:
    """``url`` as a browser parses it (WHATWG URL: C0 controls and spaces stripped at both
    ends, tabs and newlines removed, ``\\`` read as ``/`` in http(s) URLs)."""
    url = url.strip("".join(chr(code) for code in range(0x21)))
    return re.sub(r"[\t\n\r]", "", url).replace("\\", "/")


def _is_protocol_relative(url: str) -> bool:
    """True if a browser reads ``url`` as ``//host/...``: another host, an open redirect."""
    return _browser_view(url).startswith("//")


def _slash_redirect(handler: RequestHandler, uri: str) -> None:
    """removeslash/addslash: 301 to ``uri`` (query kept) for GET/HEAD, else 404."""
    if handler.request.method not in ("GET", "HEAD"):
        raise HTTPError(404)
    if _is_protocol_relative(uri):
        raise HTTPError(403, "cannot redirect path with two initial slashes")
    if handler.request.query:
        uri += "?" + handler.request.query
    handler.redirect(uri, permanent=True)


def removeslash(method: F) -> F:
    """Redirect GET/HEAD ``/foo/`` to ``/foo`` (301, query kept); other methods get 404.

    Route it with a pattern such as ``r"/foo/*"``. ``/`` is left alone; a path that would
    become protocol-relative (``//host``) is refused with 403 (Tornado 6.6.1).
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        if self.request.path.endswith("/"):
            uri = self.request.path.rstrip("/")
            if uri or self.request.method not in ("GET", "HEAD"):
                _slash_redirect(self, uri)
                return None
        return method(self, *args, **kwargs)

    return cast(F, wrapper)


def addslash(method: F) -> F:
    """Redirect GET/HEAD ``/foo`` to ``/foo/`` (301, query kept); other methods get 404.

    Route it with a pattern such as ``r"/foo/?"``.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        if not self.request.path.endswith("/"):
            _slash_redirect(self, self.request.path + "/")
            return None
        return method(self, *args, **kwargs)

    return cast(F, wrapper)


_Handler = TypeVar("_Handler", bound="type[RequestHandler]")


def stream_request_body(cls: _Handler) -> _Handler:
    """Mark a handler as taking its body through ``data_received(chunk)``.

    As in Tornado, ``self.request.body`` is not parsed into arguments and the HTTP method
    runs after the whole body has arrived. Unlike Tornado, the engine reads the body (up to
    the server's ``max_body_size``) before ``prepare()`` and hands it to ``data_received``
    in one chunk, rather than streaming it as it arrives.
    """
    if not (inspect.isclass(cls) and issubclass(cls, RequestHandler)):
        raise TypeError(f"expected subclass of RequestHandler, got {cls!r}")
    cls._stream_request_body = True
    return cls


def authenticated(method: F) -> F:
    """Require a logged-in user: redirect GET/HEAD to ``login_url?next=...``, else 403."""

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        if not self.current_user:
            if self.request.method in ("GET", "HEAD"):
                login = self.get_login_url()
                if "?" not in login:
                    if urllib.parse.urlsplit(login).scheme:
                        next_url = self.request.full_url()
                    else:
                        next_url = self.request.uri
                    login += "?" + urllib.parse.urlencode({"next": next_url})
                self.redirect(login)
                return None
            raise HTTPError(403)
        return method(self, *args, **kwargs)

    return cast(F, wrapper)


class ErrorHandler(RequestHandler):
    """Answers every request with ``status_code`` (routes' 404 is built from it)."""

    def initialize(self, status_code: int = 404, **kwargs: Any) -> None:
        self.set_status(status_code)

    def prepare(self) -> None:
        raise HTTPError(self._status_code)

    def check_xsrf_cookie(self) -> None:
        # An unknown URL answers 404, not 403, whatever the method.
        pass


class RedirectHandler(RequestHandler):
    """Redirects every GET to ``url``; ``{0}``/``{name}`` take the route's URL groups.

    Query arguments are appended to the target (Tornado 5.0). As in Tornado 6.6, the scheme
    and host of the target come from ``url`` alone: a substitution that would change them
    (``/{0}`` with ``/go//evil.com``, ``%2F%2F`` or a backslash, which browsers read as a
    slash) answers 400 instead of redirecting to another host.
    """

    def initialize(self, url: str, permanent: bool = True, **kwargs: Any) -> None:
        self._url = url
        self._permanent = permanent

    def get(self, *args: Any, **kwargs: Any) -> None:
        target = self._url.format(*args, **kwargs)
        if self.request.query_arguments:
            query = urllib.parse.urlencode(
                [
                    (k, v.decode("utf-8"))
                    for k, vs in self.request.query_arguments.items()
                    for v in vs
                ]
            )
            target += ("&" if "?" in target else "?") + query
        # The literal text before the first substitution fixes the scheme and host.
        literal, substituted = "", False
        for text, field, _, _ in string.Formatter().parse(self._url):
            literal += text
            if field is not None:
                substituted = True
                break
        try:
            scheme, netloc = _browser_scheme_and_netloc(literal)
            same_origin = _browser_scheme_and_netloc(target) == (scheme, netloc)
            if substituted and scheme in ("http", "https") and not netloc:
                same_origin = False  # the host would come from the request alone
        except ValueError:
            same_origin = False
        if not same_origin:
            raise HTTPError(400, "Redirect URL cannot change the scheme or netloc")
        if _UNSAFE_LOCATION_CHARS.search(target):
            raise HTTPError(400, "Redirect URL contains invalid characters")
        self.redirect(target, permanent=self._permanent)


def _browser_scheme_and_netloc(url: str) -> tuple[str, str]:
    # Browsers skip any number of slashes before the host of an http(s) URL, where
    # urlsplit (RFC 3986) sees "///host" as an empty host. Raises ValueError when malformed.
    parts = urllib.parse.urlsplit(re.sub(r"^//+", "//", _browser_view(url)))
    return parts.scheme.lower(), parts.netloc.lower()


class StaticFileHandler(RequestHandler):
    """Serves the files below ``path`` (``tornado.web.StaticFileHandler``, 6.6.1's rules).

    - A path that leaves the folder, as written (``../``) or through a symlink whose target
      is outside ``allowed_symlink_directory`` (default: the folder), answers 403; so do
      directories (without ``default_filename``) and anything but a regular file.
    - Files are sent in 64 KiB chunks, each flushed (awaiting the socket) before the next is
      read: memory per download stays bounded whatever the file size. ``HEAD`` reads nothing.
    - ``Range: bytes=...`` gives 206 with ``Content-Range``, or 416 when unsatisfiable;
      ``Accept-Ranges: bytes`` is always sent.
    - ``Etag`` is the SHA-512 of the content (cached per path until :meth:`reset`);
      ``If-None-Match`` is checked first, then ``If-Modified-Since`` (a date that does not
      parse is ignored), either giving 304.
    - A request with ``?v=`` (a URL from :meth:`make_static_url`) is cached for 10 years.

    Subclasses override the classmethods (``get_absolute_path``, ``get_content``,
    ``get_content_version``, ``get_version``, ``make_static_url``) and the instance hooks
    (``validate_absolute_path``, ``parse_url_path``, ``get_cache_time``,
    ``set_extra_headers``, ``get_content_type``, ``get_modified_time``,
    ``get_content_size``) with Tornado's signatures.
    """

    #: Seconds a versioned URL may be cached (Tornado: 10 years).
    CACHE_MAX_AGE = 86400 * 365 * 10
    #: Files larger than this get no version hash (hashing runs on the loop; Tornado 6.6).
    MAX_VERSION_CONTENT_SIZE = 64 * 1024 * 1024
    #: Version hashes kept (least recently used dropped first; Tornado 6.6).
    MAX_CACHED_VERSIONS = 10000
    #: Bytes read and flushed at a time.
    CHUNK_SIZE = 64 * 1024

    _static_hashes: dict[str, str | None] = {}
    _lock = threading.Lock()
    #: Folders symlinks may point into (a path or a list); None: the served folder.
    allowed_symlink_directory: str | list[str] | None = None

    path: str
    absolute_path: str | None
    modified: datetime.datetime | None

    def initialize(
        self,
        path: str,
        default_filename: str | None = None,
        allowed_symlink_directory: str | list[str] | None = None,
    ) -> None:
        self.root = path
        self.default_filename = default_filename
        self.allowed_symlink_directory = allowed_symlink_directory

    @classmethod
    def reset(cls) -> None:
        """Forget the cached version hashes (files changed on disk)."""
        with cls._lock:
            cls._static_hashes = {}

    def head(self, path: str) -> Awaitable[None]:
        return self.get(path, include_body=False)

    async def get(self, path: str, include_body: bool = True) -> None:
        self.path = self.parse_url_path(path)
        absolute = self.get_absolute_path(self.root, self.path)
        self.absolute_path = self.validate_absolute_path(self.root, absolute)
        if self.absolute_path is None:
            return  # validate_absolute_path answered (a redirect)
        self.modified = self.get_modified_time()
        self.set_headers()
        if self.should_return_304():
            self.set_status(304)
            return
        size = self.get_content_size()
        start: int | None = None
        end: int | None = None
        header = self.request.headers.get("Range")
        # RFC 9110 section 14.2: a Range header that does not parse is ignored.
        requested = httputil.parse_byte_range(header) if header else None
        if requested is not None:
            start, end = requested
            if start is not None and start < 0:
                start = max(0, start + size)  # a suffix longer than the file: all of it
            if (start is not None and (start >= size or (end is not None and start >= end))) or (
                end == 0
            ):
                # RFC 9110 section 15.5.17: nothing of the file is in the range.
                self.set_status(416)
                self.set_header("Content-Type", "text/plain")
                self.set_header("Content-Range", f"bytes */{size}")
                return
            if end is not None and end > size:
                end = size  # a last byte past the end means "to the end"
            # Only a proper part of the file is a 206 (Tornado: browsers asking for
            # "bytes=0-" expect a plain 200).
            if size != (end or size) - (start or 0):
                self.set_status(206)
                self.set_header("Content-Range", httputil.content_range(start, end, size))
        self.set_header("Content-Length", (end or size) - (start or 0))
        if not include_body:
            return
        content = self.get_content(self.absolute_path, start, end)
        chunks: Iterable[bytes] = [content] if isinstance(content, bytes) else content
        try:
            for chunk in chunks:
                self.write(chunk)
                await self.flush()  # backpressure: the next chunk is read once this one left
        except WebSocketClosedError:
            return  # the client went away mid-download
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def compute_etag(self) -> str | None:
        """The version hash of the whole file, quoted (the same for a 206 part)."""
        assert self.absolute_path is not None
        version = self._get_cached_version(self.absolute_path)
        return f'"{version}"' if version else None

    def set_headers(self) -> None:
        """Set ``Accept-Ranges``, ``Etag``, ``Last-Modified``, ``Content-Type`` and caching."""
        self.set_header("Accept-Ranges", "bytes")
        self.set_etag_header()
        if self.modified is not None:
            self.set_header("Last-Modified", self.modified)
        content_type = self.get_content_type()
        if content_type:
            self.set_header("Content-Type", content_type)
        cache_time = self.get_cache_time(self.path, self.modified, content_type)
        if cache_time > 0:
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=cache_time)
            self.set_header("Expires", expires)
            self.set_header("Cache-Control", f"max-age={cache_time}")
        self.set_extra_headers(self.path)

    def should_return_304(self) -> bool:
        """RFC 9110 section 13.2.2: ``If-None-Match`` wins over ``If-Modified-Since``."""
        if self.request.headers.get("If-None-Match"):
            return self.check_etag_header()
        since = self.request.headers.get("If-Modified-Since")
        if since is None or self.modified is None:
            return False
        try:
            parsed = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False  # RFC 9110 section 13.1.3: an invalid date is ignored
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        modified = self.modified
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=datetime.UTC)
        return parsed >= modified

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        """``root/path`` made absolute; 403 if it leaves ``root`` as written (``../``)."""
        absolute = os.path.abspath(os.path.join(root, path))
        cls._check_in_root(root, absolute, path)
        return absolute

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """The file to serve, symlinks resolved; 403/404 errors; None after a redirect.

        A directory with ``default_filename`` set is redirected to its URL with a slash
        (unless that URL would start with ``//``: 403), then its default file is served.
        """
        root = self._check_in_root(root, absolute_path, self.path)
        allowed = self.allowed_symlink_directory or root
        allowed_list = [allowed] if isinstance(allowed, str) else list(allowed)
        # The as-written check above stops "../"; this one, on the resolved path, stops
        # symlinks. Both are needed: allowed_symlink_directory may be wider than root.
        absolute_path = self._resolve_in(absolute_path, allowed_list, self.path)
        if os.path.isdir(absolute_path) and self.default_filename is not None:
            if not self.request.path.endswith("/"):
                if _is_protocol_relative(self.request.path):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                self.redirect(self.request.path + "/", permanent=True)
                return None
            absolute_path = self._resolve_in(
                os.path.join(absolute_path, self.default_filename), allowed_list, self.path
            )
        # One stat of the resolved path serves every later header (size, mtime).
        self._stat_result = self._regular_file_stat(absolute_path, self.path)
        return absolute_path

    @staticmethod
    def _check_in_root(root: str, absolute_path: str, path: str) -> str:
        """``root`` with a trailing separator; 403 unless ``absolute_path`` is inside it."""
        root = os.path.abspath(root)
        if not root.endswith(os.sep):
            root += os.sep  # "/" keeps its single separator
        if not (absolute_path + os.sep).startswith(root):
            raise HTTPError(403, "%s is not in root static directory", path)
        if os.name == "nt" and ":" in absolute_path[len(root) :]:
            raise HTTPError(403, "%s is not a file", path)  # NTFS alternate data streams
        return root

    @staticmethod
    def _resolve_in(absolute_path: str, allowed: list[str], path: str) -> str:
        """``absolute_path`` with symlinks resolved; 403 unless it lands in ``allowed``."""
        resolved = os.path.realpath(absolute_path)
        for directory in allowed:
            directory = os.path.realpath(directory)
            if not directory.endswith(os.sep):
                directory += os.sep
            if (resolved + os.sep).startswith(directory):
                return resolved
        # The same message as for "../", so a client cannot tell the two apart.
        raise HTTPError(403, "%s is not in root static directory", path)

    @staticmethod
    def _regular_file_stat(absolute_path: str, path: str) -> os.stat_result:
        """404 if missing; 403 for anything but a regular file (FIFOs, devices never end)."""
        try:
            result = os.stat(absolute_path)
        except OSError:
            raise HTTPError(404) from None
        if not stat.S_ISREG(result.st_mode):
            raise HTTPError(403, "%s is not a file", path)
        return result

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        """The bytes ``start:end`` of the file, as an iterator of ``CHUNK_SIZE`` chunks."""
        cls._regular_file_stat(abspath, abspath)
        return cls._read_chunks(abspath, start, end)

    @classmethod
    def _read_chunks(cls, abspath: str, start: int | None, end: int | None) -> Iterator[bytes]:
        with open(abspath, "rb") as handle:
            if start is not None:
                handle.seek(start)
            remaining = None if end is None else end - (start or 0)
            while remaining is None or remaining > 0:
                size = cls.CHUNK_SIZE if remaining is None else min(cls.CHUNK_SIZE, remaining)
                chunk = handle.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        """SHA-512 of the file's content; ValueError past ``MAX_VERSION_CONTENT_SIZE``."""
        content = cls.get_content(abspath)
        chunks: Iterable[bytes] = [content] if isinstance(content, bytes) else content
        hasher = hashlib.sha512()
        size = 0
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > cls.MAX_VERSION_CONTENT_SIZE:
                    raise ValueError(
                        f"content is larger than MAX_VERSION_CONTENT_SIZE "
                        f"({cls.MAX_VERSION_CONTENT_SIZE} bytes)"
                    )
                hasher.update(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return hasher.hexdigest()

    def _stat(self) -> os.stat_result:
        assert self.absolute_path is not None
        if not hasattr(self, "_stat_result"):  # a validate_absolute_path that did not stat
            self._stat_result = os.stat(self.absolute_path)
        return self._stat_result

    def get_content_size(self) -> int:
        return self._stat().st_size

    def get_modified_time(self) -> datetime.datetime | None:
        """The file's mtime in whole seconds (HTTP dates have no fractions), aware UTC."""
        return datetime.datetime.fromtimestamp(int(self._stat().st_mtime), datetime.UTC)

    def get_content_type(self) -> str:
        """The guessed type without charset; ``application/gzip`` for ``.gz`` (RFC 6713)."""
        assert self.absolute_path is not None
        mime, encoding = mimetypes.guess_type(self.absolute_path)
        if encoding == "gzip":
            return "application/gzip"
        if encoding is not None:
            return "application/octet-stream"
        return mime or "application/octet-stream"

    def set_extra_headers(self, path: str) -> None:
        """Override to add headers to every file response."""

    def get_cache_time(self, path: str, modified: datetime.datetime | None, mime_type: str) -> int:
        """Seconds of ``Cache-Control: max-age``: ``CACHE_MAX_AGE`` for ``?v=`` URLs, else 0."""
        return self.CACHE_MAX_AGE if "v" in self.request.arguments else 0

    @classmethod
    def make_static_url(
        cls, settings: dict[str, Any], path: str, include_version: bool = True
    ) -> str:
        """``static_url_prefix`` + ``path``, with ``?v=<hash>`` when a version is known."""
        url = str(settings.get("static_url_prefix", "/static/")) + path
        if not include_version:
            return url
        version = cls.get_version(settings, path)
        return f"{url}?v={version}" if version else url

    def parse_url_path(self, url_path: str) -> str:
        """The URL path (prefix removed) as a path relative to the root."""
        return url_path.replace("/", os.sep) if os.sep != "/" else url_path

    @classmethod
    def get_version(cls, settings: dict[str, Any], path: str) -> str | None:
        """The version of ``path`` under ``settings['static_path']`` (cached), or None."""
        return cls._get_cached_version(cls.get_absolute_path(settings["static_path"], path))

    @classmethod
    def _get_cached_version(cls, abs_path: str) -> str | None:
        with cls._lock:
            hashes = cls._static_hashes
            if abs_path in hashes:
                version = hashes[abs_path] = hashes.pop(abs_path)  # now most recently used
            else:
                try:
                    version = cls.get_content_version(abs_path)
                except Exception as exc:
                    gen_log.error("Could not open static file %r: %s", abs_path, exc)
                    version = None
                while hashes and len(hashes) >= cls.MAX_CACHED_VERSIONS:
                    del hashes[next(iter(hashes))]
                hashes[abs_path] = version
            return version or None


def _import_object(name: str) -> Any:
    """The object a dotted ``module.attribute`` name refers to (Tornado's import_object)."""
    module_name, _, attribute = name.rpartition(".")
    if not module_name:
        return importlib.import_module(name)
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"No module named {attribute}") from None


_RE_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _re_unescape(text: str) -> str:
    """Undo ``re.escape``; ValueError for anything else (``\\d``), as Tornado 4.4's."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1).isascii() and match.group(1).isalnum():
            raise ValueError(f"cannot unescape '\\\\{match.group(1)}'")
        return match.group(1)

    return _RE_UNESCAPE.sub(replace, text)


class FallbackHandler(RequestHandler):
    """Hands the request to another server's callback, most often a ``wsgi.WSGIContainer``
    (``(r".*", FallbackHandler, dict(fallback=WSGIContainer(flask_app)))``), which writes the
    response itself through ``request.connection``.
    """

    def initialize(self, fallback: Callable[[HTTPServerRequest], None]) -> None:
        from tornado_ws_compat.wsgi import WSGIContainer

        if not isinstance(fallback, WSGIContainer):
            # Another callback would write through Tornado's HTTP1Connection, which does not
            # exist here: refused by name rather than left to never answer.
            raise NotSupportedError(
                "tornado.web.FallbackHandler with a fallback other than a WSGIContainer "
                f"({fallback!r}) is not provided by tornado_ws_compat"
            )
        self.fallback = fallback

    def prepare(self) -> None:
        self.fallback(self.request)
        self._finished = True
        self.on_finish()


class URLSpec:
    """A route: regex ``pattern`` (anchored at the end), handler class, kwargs and name.

    ``handler`` may be a class or its dotted name (imported when the route is built). Groups
    must be all named (passed as keyword arguments) or all positional.
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        handler: type[RequestHandler] | str,
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(pattern, str):
            if not pattern.endswith("$"):
                pattern += "$"
            try:
                self.regex = re.compile(pattern)
            except re.error as exc:
                raise ConfigurationError(f"invalid route pattern {pattern!r}: {exc}") from exc
        elif isinstance(pattern, re.Pattern):
            self.regex = pattern
        else:
            # Tornado 4.5's (Matcher, target) rules and nested rule lists.
            raise NotSupportedError(
                f"route {pattern!r}: rules with tornado.routing matchers are not provided by "
                "tornado_ws_compat; use path patterns, and add_handlers(host_pattern, ...) "
                "for hosts"
            )
        if len(self.regex.groupindex) not in (0, self.regex.groups):
            raise ConfigurationError(
                "groups in url regexes must either be all named or all positional: "
                f"{self.regex.pattern!r}"
            )
        if isinstance(handler, str):
            handler = _import_object(handler)
        if not (inspect.isclass(handler) and issubclass(handler, RequestHandler)):
            raise ConfigurationError(f"route {self.regex.pattern!r}: {handler!r} is not a handler")
        self.handler_class = handler
        self.kwargs = kwargs or {}
        self.name = name
        self._path, self._group_count = self._find_groups()

    @property
    def pattern(self) -> str:
        return self.regex.pattern

    def _find_groups(self) -> tuple[str | None, int]:
        """The ``%s`` template that ``reverse`` fills, or None if the regex is too complex.

        Tornado 4.4's rule: only patterns whose every ``(`` opens a group, and whose
        literal parts are ``re.escape``d text, can be reversed.
        """
        pattern = self.regex.pattern
        pattern = pattern.removeprefix("^").removesuffix("$")
        if self.regex.groups != pattern.count("("):
            return None, 0
        pieces = []
        try:
            for fragment in pattern.split("("):
                if ")" in fragment:
                    pieces.append("%s" + _re_unescape(fragment[fragment.index(")") + 1 :]))
                else:
                    pieces.append(_re_unescape(fragment))
        except ValueError:
            return None, 0
        return "".join(pieces), self.regex.groups

    def reverse(self, *args: Any) -> str:
        """The path with ``args`` (converted to str, UTF-8, URL-escaped) in the groups."""
        if self._path is None:
            raise ValueError("Cannot reverse url regex " + self.regex.pattern)
        if len(args) != self._group_count:
            raise ValueError(
                f"url {self.name!r} takes {self._group_count} arguments, {len(args)} given"
            )
        if not args:
            return self._path
        converted = tuple(
            escape.url_escape(arg if isinstance(arg, str | bytes) else str(arg), plus=False)
            for arg in args
        )
        return self._path % converted

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.regex.pattern!r}, {self.handler_class}, "
            f"kwargs={self.kwargs!r}, name={self.name!r})"
        )


url = URLSpec

RouteSpec = (
    URLSpec
    | tuple[str, type[RequestHandler] | str]
    | tuple[str, type[RequestHandler] | str, dict[str, Any]]
    | tuple[str, type[RequestHandler] | str, dict[str, Any], str]
)


def _unquote_group(group: str | None) -> bytes | None:
    # Tornado decodes URL groups with url_unescape(..., encoding=None, plus=False).
    if group is None:
        return None
    return urllib.parse.unquote_to_bytes(group)


_Found = tuple[type[RequestHandler], dict[str, Any], list[bytes | None], dict[str, bytes | None]]


class _Routes:
    """An ordered list of routes (and nested host groups) with their names.

    Tornado 4.5's routers, reduced to what ``Application`` builds: a rule is a URLSpec, or a
    host condition with a nested ``_Routes``; the first rule that yields a handler wins.
    """

    def __init__(self, specs: Iterable[RouteSpec] = ()) -> None:
        self.rules: list[URLSpec | tuple[Callable[[HTTPServerRequest], bool], _Routes]] = []
        self.named: dict[str, URLSpec] = {}
        self.add_rules(specs)

    def add_rules(self, specs: Iterable[RouteSpec]) -> None:
        """Append routes, tried after those already here (Tornado 4.5's
        ``app.wildcard_router.add_rules``, which programs use to register routes late)."""
        for spec in specs:
            rule = spec if isinstance(spec, URLSpec) else URLSpec(*spec)
            self.rules.append(rule)
            if rule.name:
                if rule.name in self.named:
                    app_log.warning(
                        "Multiple handlers named %s; replacing previous value", rule.name
                    )
                self.named[rule.name] = rule

    def find(self, request: HTTPServerRequest) -> _Found | None:
        for rule in self.rules:
            if isinstance(rule, URLSpec):
                match = rule.regex.match(request.path)
                if match is None:
                    continue
                # Tornado passes a group that did not take part in the match as None.
                if rule.regex.groupindex:
                    kwargs = {k: _unquote_group(v) for k, v in match.groupdict().items()}
                    return rule.handler_class, rule.kwargs, [], kwargs
                groups = match.groups()
                args = [_unquote_group(group) for group in groups] if groups else []
                return rule.handler_class, rule.kwargs, args, {}
            condition, nested = rule
            if condition(request):
                found = nested.find(request)
                if found is not None:
                    return found
        return None

    def reverse(self, name: str, *args: Any) -> str | None:
        if name in self.named:
            return self.named[name].reverse(*args)
        for rule in self.rules:
            if not isinstance(rule, URLSpec):
                found = rule[1].reverse(name, *args)
                if found is not None:
                    return found
        return None


def _host_regex(host_pattern: str) -> re.Pattern[str]:
    return re.compile(host_pattern if host_pattern.endswith("$") else host_pattern + "$")


class Application(httputil.HTTPServerConnectionDelegate):
    """A collection of routes and settings (``tornado.web.Application``).

    ``Application(handlers, default_host=None, transforms=None, **settings)``;
    ``listen(port)`` serves it on the running (or soon running) asyncio loop through the
    aiohttp engine. An ``HTTPServerConnectionDelegate``, as in Tornado, for ``isinstance``;
    the engine, not ``start_request``, feeds it requests.
    """

    def __init__(
        self,
        handlers: Iterable[RouteSpec] | None = None,
        default_host: str | None = None,
        transforms: Sequence[type[OutputTransform]] | None = None,
        **settings: Any,
    ) -> None:
        self.settings: dict[str, Any] = validate_settings(settings)
        self._pubsub: PubSubHub | None = None
        if transforms is None:
            self.transforms: list[type[OutputTransform]] = []
            if self.settings.get("compress_response") or self.settings.get("gzip"):
                self.transforms.append(GZipContentEncoding)
        else:
            self.transforms = list(transforms)
        self.default_host = default_host
        self.ui_modules, self.ui_methods = ui_registry(self.settings)
        handlers = list(handlers or [])
        static_path = self.settings.get("static_path")
        if static_path:
            prefix = self.settings.get("static_url_prefix", DEFAULTS["static_url_prefix"])
            static_class = self.settings.get("static_handler_class", StaticFileHandler)
            static_args = dict(self.settings.get("static_handler_args", {}), path=static_path)
            # Tornado puts these three in front of the application's own routes.
            handlers[:0] = [
                (r"/(robots\.txt)", static_class, static_args),
                (r"/(favicon\.ico)", static_class, static_args),
                (re.escape(prefix) + r"(.*)", static_class, static_args),
            ]
        if self.settings.get("debug"):
            # Tornado 3.2: debug is shorthand for these four.
            for name in ("autoreload", "serve_traceback"):
                self.settings.setdefault(name, True)
            for name in ("compiled_template_cache", "static_hash_cache"):
                self.settings.setdefault(name, False)
        # Tornado 4.5's routing: the host groups of add_handlers in order, then the
        # routes given here (any host), then, with default_host, the host groups again
        # for requests whose host matched nothing.
        self._wildcard = _Routes(handlers)
        self._host_groups: list[tuple[Callable[[HTTPServerRequest], bool], _Routes]] = []
        if self.settings.get("autoreload"):
            from tornado_ws_compat import autoreload

            autoreload.start()

    @property
    def wildcard_router(self) -> _Routes:
        """The routes for any host (the constructor's); ``add_rules([...])`` appends to them,
        as on Tornado 4.5+."""
        return self._wildcard

    @property
    def rules(self) -> list[URLSpec]:
        """The routes given to the constructor (any host), in order."""
        return [rule for rule in self._wildcard.rules if isinstance(rule, URLSpec)]

    def add_handlers(self, host_pattern: str, host_handlers: Iterable[RouteSpec]) -> None:
        """Add routes for requests whose host (without port) matches ``host_pattern``.

        Host groups are tried in the order they were added, before the constructor's routes;
        a group whose routes do not match the path lets the next one try.
        """
        regex = _host_regex(host_pattern)
        host_handlers = list(host_handlers)
        self._host_groups.append(
            (lambda request: regex.match(request.host_name) is not None, _Routes(host_handlers))
        )
        if self.default_host is not None:
            default_host = self.default_host

            # A request from an unknown host is served as if it came to default_host,
            # unless it came through a proxy (X-Real-Ip), as in Tornado.
            def by_default(request: HTTPServerRequest) -> bool:
                return "X-Real-Ip" not in request.headers and bool(regex.match(default_host))

            self._wildcard.rules.append((by_default, _Routes(host_handlers)))

    def add_transform(self, transform_class: type[OutputTransform]) -> None:
        self.transforms.append(transform_class)

    @property
    def pubsub(self) -> PubSubHub:
        """This process's pub/sub hub (``pubsub_url`` setting), made on first use.

        A worker forked after the Application was built gets its own hub and connection.
        """
        hub = self._pubsub
        if hub is None or hub.pid != os.getpid():
            hub = self._pubsub = PubSubHub(self.settings.get("pubsub_url", DEFAULTS["pubsub_url"]))
        return hub

    def publish(self, channel: str, message: str | bytes | dict[str, Any]) -> asyncio.Future[bool]:
        """Send ``message`` to every WebSocket subscribed to ``channel``, in every process
        that shares this ``pubsub_url``; see :mod:`tornado_ws_compat.pubsub`. Need not be
        awaited; never raises because the broker is down."""
        return self.pubsub.publish(channel, message)

    def find_route(self, request: HTTPServerRequest) -> _Found | None:
        """The route that matches ``request`` (host groups, then any host), or None."""
        for condition, routes in self._host_groups:
            if condition(request):
                found = routes.find(request)
                if found is not None:
                    return found
        return self._wildcard.find(request)

    def find_handler(self, request: HTTPServerRequest) -> _Found:
        """The handler for ``request``: its class, kwargs and decoded URL groups."""
        found = self.find_route(request)
        if found is not None:
            return found
        default_class = self.settings.get("default_handler_class")
        if default_class is not None:
            return default_class, self.settings.get("default_handler_args", {}), [], {}
        return ErrorHandler, {"status_code": 404}, [], {}

    def reverse_url(self, name: str, *args: Any) -> str:
        """The path of the route named ``name`` with ``args`` URL-escaped into its groups."""
        for _, routes in self._host_groups:
            found = routes.reverse(name, *args)
            if found is not None:
                return found
        found = self._wildcard.reverse(name, *args)
        if found is not None:
            return found
        raise KeyError(f"{name} not found in named urls")

    def log_request(self, handler: RequestHandler) -> None:
        """One ``tornado.access`` line per request, at Tornado's levels and format."""
        if "log_function" in self.settings:
            self.settings["log_function"](handler)
            return
        status = handler.get_status()
        level = (
            logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        )
        if access_log.isEnabledFor(level):  # the line costs nothing when nobody logs it
            access_log.log(
                level,
                "%d %s %.2fms",
                status,
                handler._request_summary(),
                1000.0 * handler.request.request_time(),
            )

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> Any:
        """Tornado's entry for an ``HTTP1Connection``; the engine serves requests itself."""
        raise NotSupportedError(
            "tornado.web.Application.start_request is not provided by tornado_ws_compat: "
            "the engine (aiohttp) parses HTTP and serves the application"
        )

    def listen(
        self,
        port: int,
        address: str | None = None,
        *,
        ssl_options: ssl.SSLContext | dict[str, Any] | None = None,
        xheaders: bool = False,
        reuse_port: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Serve this application on ``port`` and return the server object.

        Works before the loop runs (the legacy ``app.listen(8888)`` then
        ``IOLoop.current().start()``) and inside a coroutine. The socket is bound before this
        returns, so ``port=0`` can be read back from ``server.port``.
        """
        # Layer 2 reaching up to the server, lazily and only here (design: layers).
        from tornado_ws_compat.server import listen

        return listen(
            self,
            port,
            address,
            ssl_options=ssl_options,
            xheaders=xheaders,
            reuse_port=reuse_port,
            **kwargs,
        )
