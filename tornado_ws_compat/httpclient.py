"""Tornado's ``tornado.httpclient``: `AsyncHTTPClient`, `HTTPClient`, `HTTPRequest`,
`HTTPResponse`, `HTTPClientError`, on aiohttp's client.

The rules are Tornado 6.6.1's ``simple_httpclient``: the default headers (``User-Agent``,
``Accept-Encoding: gzip``, a form ``Content-Type`` for POST), the body checks per method,
redirects (at most ``max_redirects``; 301/302 turn POST into GET, 303 anything but HEAD;
credentials dropped across origins), ``raise_error`` only for HTTP status errors, 599 for
timeouts and closed streams, and ``Content-Encoding: gzip`` moved to
``X-Consumed-Content-Encoding`` once decompressed. Differences: connections are kept alive and
reused (Tornado's client closes each one, so it sends ``Connection: close``); the default
``User-Agent`` names this project; proxies, client certificates, ``body_producer``,
``expect_100_continue``, digest auth and curl callbacks raise ``NotSupportedError``; a
body-less request with a method other than GET, HEAD, OPTIONS or TRACE carries
``Content-Length: 0`` (aiohttp always adds it).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import functools
import ssl
import time
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable
from io import BytesIO
from typing import TYPE_CHECKING, Any

from tornado_ws_compat import __version__
from tornado_ws_compat.errors import NotSupportedError, reason_phrase
from tornado_ws_compat.httputil import HTTPHeaders, format_timestamp
from tornado_ws_compat.ioloop import IOLoop

if TYPE_CHECKING:
    from tornado_ws_compat._engine.fetch import Exchange, FetchSession

__all__ = [
    "AsyncHTTPClient",
    "HTTPClient",
    "HTTPClientError",
    "HTTPError",
    "HTTPRequest",
    "HTTPResponse",
    "HTTPStreamClosedError",
    "HTTPTimeoutError",
]

#: Attributes a request leaves at ``None`` take these values (Tornado 6.6.1's defaults).
REQUEST_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 20.0,
    "request_timeout": 20.0,
    "follow_redirects": True,
    "max_redirects": 5,
    "decompress_response": True,
    "proxy_password": "",
    "allow_nonstandard_methods": False,
    "validate_cert": True,
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Request options Tornado's simple client refuses too, or that need curl.
_UNSUPPORTED = (
    "network_interface",
    "proxy_host",
    "proxy_port",
    "proxy_username",
    "proxy_auth_mode",
    "prepare_curl_callback",
    "client_key",
    "client_cert",
    "body_producer",
    "expect_100_continue",
)


class HTTPRequest:
    """One request for `AsyncHTTPClient.fetch`, with Tornado 6.6.1's arguments.

    Options left at ``None`` take the client's defaults (`REQUEST_DEFAULTS` and the
    ``defaults`` given to the client) when fetched.
    """

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: HTTPHeaders | dict[str, str] | None = None,
        body: bytes | str | None = None,
        auth_username: str | None = None,
        auth_password: str | None = None,
        auth_mode: str | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        if_modified_since: float | datetime.datetime | None = None,
        follow_redirects: bool | None = None,
        max_redirects: int | None = None,
        user_agent: str | None = None,
        use_gzip: bool | None = None,
        network_interface: str | None = None,
        streaming_callback: Callable[[bytes], Awaitable[None] | None] | None = None,
        header_callback: Callable[[str], None] | None = None,
        prepare_curl_callback: Callable[[Any], None] | None = None,
        proxy_host: str | None = None,
        proxy_port: int | None = None,
        proxy_username: str | None = None,
        proxy_password: str | None = None,
        proxy_auth_mode: str | None = None,
        allow_nonstandard_methods: bool | None = None,
        validate_cert: bool | None = None,
        ca_certs: str | None = None,
        allow_ipv6: bool | None = None,
        client_key: str | None = None,
        client_cert: str | None = None,
        body_producer: Callable[..., Any] | None = None,
        expect_100_continue: bool = False,
        decompress_response: bool | None = None,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
    ) -> None:
        self.headers = HTTPHeaders(headers or {})
        if if_modified_since:
            self.headers["If-Modified-Since"] = format_timestamp(if_modified_since)
        self.url = url
        self.method = method
        self.body = body
        self.auth_username = auth_username
        self.auth_password = auth_password
        self.auth_mode = auth_mode
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.decompress_response = use_gzip if decompress_response is None else decompress_response
        self.network_interface = network_interface
        self.streaming_callback = streaming_callback
        self.header_callback = header_callback
        self.prepare_curl_callback = prepare_curl_callback
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self.proxy_username = proxy_username
        self.proxy_password = proxy_password
        self.proxy_auth_mode = proxy_auth_mode
        self.allow_nonstandard_methods = allow_nonstandard_methods
        self.validate_cert = validate_cert
        self.ca_certs = ca_certs
        self.allow_ipv6 = allow_ipv6
        self.client_key = client_key
        self.client_cert = client_cert
        self.body_producer = body_producer
        self.expect_100_continue = expect_100_continue
        self.ssl_options = ssl_options
        self.start_time = time.time()

    @property
    def body(self) -> bytes | None:
        return self._body

    @body.setter
    def body(self, value: bytes | str | None) -> None:
        self._body = value.encode("utf-8") if isinstance(value, str) else value


class HTTPResponse:
    """What `AsyncHTTPClient.fetch` gives back (``tornado.httpclient.HTTPResponse``)."""

    def __init__(
        self,
        request: HTTPRequest,
        code: int,
        headers: HTTPHeaders | None = None,
        buffer: BytesIO | None = None,
        effective_url: str | None = None,
        error: BaseException | None = None,
        request_time: float | None = None,
        time_info: dict[str, float] | None = None,
        reason: str | None = None,
        start_time: float | None = None,
    ) -> None:
        self.request = request
        self.code = code
        self.reason = reason or reason_phrase(code)
        self.headers = headers if headers is not None else HTTPHeaders()
        self.buffer = buffer
        self._body: bytes | None = None
        self.effective_url = request.url if effective_url is None else effective_url
        # Tornado 6.0: raise_error=False only lets status errors through as responses.
        self._error_is_response_code = False
        if error is None and not 200 <= code < 300:
            self._error_is_response_code = True
            error = HTTPClientError(code, message=self.reason, response=self)
        self.error = error
        self.request_time = request_time
        self.start_time = start_time
        self.time_info = time_info or {}

    @property
    def body(self) -> bytes:
        if self.buffer is None:
            return b""
        if self._body is None:
            self._body = self.buffer.getvalue()
        return self._body

    def rethrow(self) -> None:
        """Raise the response's error, if it has one."""
        if self.error:
            raise self.error

    def __repr__(self) -> str:
        return f"HTTPResponse(code={self.code!r}, effective_url={self.effective_url!r})"


class HTTPClientError(Exception):
    """A fetch that failed with HTTP status ``code`` (599: no response at all).

    ``response`` is the `HTTPResponse` when there was one; with ``follow_redirects=False`` a
    3xx is such an error, and ``error.response.headers["Location"]`` is where it points.
    """

    def __init__(
        self, code: int, message: str | None = None, response: HTTPResponse | None = None
    ) -> None:
        self.code = code
        self.message = message or reason_phrase(code)
        self.response = response
        super().__init__(code, message, response)

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"


#: Tornado's name before 5.1, still an alias there.
HTTPError = HTTPClientError


class HTTPTimeoutError(HTTPClientError):
    """No response before ``connect_timeout`` / ``request_timeout`` (code 599)."""

    def __init__(self, message: str) -> None:
        super().__init__(599, message=message)

    def __str__(self) -> str:
        return self.message or "Timeout"


class HTTPStreamClosedError(HTTPClientError):
    """The server closed the connection before a whole response (code 599)."""

    def __init__(self, message: str) -> None:
        super().__init__(599, message=message)

    def __str__(self) -> str:
        return self.message or "Stream closed"


class _Options:
    """A request's attributes, with the client's defaults where the request says ``None``."""

    def __init__(self, request: HTTPRequest, defaults: dict[str, Any]) -> None:
        self.request = request
        self.defaults = defaults

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.request, name)
        return self.defaults.get(name) if value is None else value


class AsyncHTTPClient:
    """A non-blocking HTTP client; ``AsyncHTTPClient()`` is one shared instance per IOLoop.

    ``force_instance=True`` makes a private one (close it when done); ``defaults`` sets
    request options for every fetch, ``max_clients`` the concurrent connections (10) and
    ``max_body_size`` the largest body read into memory (100 MiB, Tornado's
    ``max_buffer_size``).
    """

    _instances: weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient] = weakref.WeakKeyDictionary()
    _configured: dict[str, Any] = {}
    _cached: bool
    _closed: bool
    _session: FetchSession
    io_loop: IOLoop
    defaults: dict[str, Any]

    def __new__(cls, force_instance: bool | IOLoop = False, **kwargs: Any) -> AsyncHTTPClient:
        # Tornado 4's io_loop (a keyword, or the first argument then) is accepted and ignored:
        # the client is the current loop's (Tornado 5.0).
        kwargs.pop("io_loop", None)
        if isinstance(force_instance, IOLoop):
            force_instance = False
        io_loop = IOLoop.current()
        if not force_instance and io_loop in cls._instances:
            return cls._instances[io_loop]
        instance = super().__new__(cls)
        instance._initialize(io_loop, **{**cls._configured, **kwargs})
        instance._cached = not force_instance
        if not force_instance:
            cls._instances[io_loop] = instance
        return instance

    def _initialize(
        self,
        io_loop: IOLoop,
        defaults: dict[str, Any] | None = None,
        max_clients: int = 10,
        max_body_size: int | None = None,
        max_buffer_size: int = 104857600,
        hostname_mapping: dict[str, str] | None = None,
        resolver: Any = None,
        max_header_size: int | None = None,
    ) -> None:
        from tornado_ws_compat._engine.fetch import FetchSession

        self.io_loop = io_loop
        self.defaults = {**REQUEST_DEFAULTS, **(defaults or {})}
        self._session = FetchSession(max_clients, max_body_size or max_buffer_size)
        self._closed = False

    @classmethod
    def configure(cls, impl: str | type | None, **kwargs: Any) -> None:
        """Set the keywords later instances get (``defaults``, ``max_clients``, ...).

        ``impl`` (Tornado's ``curl_httpclient`` or ``simple_httpclient`` class) is accepted
        and ignored: there is one implementation here, on aiohttp.
        """
        cls._configured = dict(kwargs)

    def __init__(self, force_instance: bool | IOLoop = False, **kwargs: Any) -> None:
        pass  # set up once, in __new__ (a shared instance is returned again)

    def close(self) -> None:
        """Release the connections; the shared instance is made again on the next call."""
        if self._closed:
            return
        self._closed = True
        if self._cached and self._instances.get(self.io_loop) is self:
            del self._instances[self.io_loop]
        loop = self.io_loop.asyncio_loop
        closing = self._session.close()
        if loop.is_closed():
            closing.close()
        elif loop.is_running():
            task = loop.create_task(closing)
            _closing_tasks.add(task)
            task.add_done_callback(_closing_tasks.discard)
        else:
            loop.run_until_complete(closing)

    def fetch(
        self,
        request: str | HTTPRequest,
        raise_error: bool | Callable[[HTTPResponse], object] = True,
        callback: Callable[[HTTPResponse], object] | None = None,
        **kwargs: Any,
    ) -> asyncio.Future[HTTPResponse]:
        """Send ``request`` (a URL, with ``HTTPRequest`` keywords, or an ``HTTPRequest``).

        The future's result is the `HTTPResponse`; with ``raise_error`` (the default) a
        status outside 2xx raises `HTTPClientError` instead. Other failures (connection
        refused, timeouts as `HTTPTimeoutError`) always raise.

        The Tornado 2-5 form ``fetch(request, callback)`` (or ``callback=``), which Tornado 6
        removed, works too: ``callback(response)`` runs on the loop with every outcome as a
        response (failures as code 599 with ``error`` set), and the future never raises.
        """
        if callable(raise_error):  # fetch(request, callback): Tornado 5.1's positional order
            callback, raise_error = raise_error, True
        if self._closed:
            raise RuntimeError("fetch() called on closed AsyncHTTPClient")
        if not isinstance(request, HTTPRequest):
            request = HTTPRequest(url=request, **kwargs)
        elif kwargs:
            raise ValueError("kwargs can't be used if request is an HTTPRequest object")
        # A dict becomes HTTPHeaders; the response's ``request`` is the caller's object.
        request.headers = HTTPHeaders(request.headers)
        if callback is None:
            return asyncio.ensure_future(self._fetch(request, raise_error))
        return asyncio.ensure_future(self._fetch_with_callback(request, callback))

    async def _fetch_with_callback(
        self, request: HTTPRequest, callback: Callable[[HTTPResponse], object]
    ) -> HTTPResponse:
        started = time.time()
        try:
            response = await self._follow(request)
        except Exception as exc:
            response = HTTPResponse(
                request, 599, error=exc, request_time=time.time() - started, start_time=started
            )
        # Tornado 5: the callback runs from the loop, never inside fetch's own frame.
        self.io_loop.add_callback(callback, response)
        return response

    async def _fetch(self, request: HTTPRequest, raise_error: bool) -> HTTPResponse:
        response = await self._follow(request)
        if response.error is not None and (raise_error or not response._error_is_response_code):
            raise response.error
        return response

    async def _follow(self, original: HTTPRequest) -> HTTPResponse:
        request = original
        loop = asyncio.get_running_loop()
        started, wall = loop.time(), time.time()
        while True:
            options = _Options(request, self.defaults)
            headers = HTTPHeaders()
            redirect: list[str] = []

            on_head = functools.partial(_on_head, options, headers, redirect)
            exchange = await self._send(options, on_head)
            if redirect:
                request = _redirected(request, original, exchange.status, redirect[0], options)
                continue
            return HTTPResponse(
                original,
                exchange.status,
                reason=exchange.reason,
                headers=headers,
                buffer=BytesIO(exchange.body),
                effective_url=request.url,
                request_time=loop.time() - started,
                start_time=wall,
            )

    async def _send(
        self,
        options: _Options,
        on_head: Callable[[Exchange], Callable[[bytes], Awaitable[None] | None] | None],
    ) -> Exchange:
        from tornado_ws_compat._engine.fetch import StreamClosed, Timeout

        request = options.request
        parsed = urllib.parse.urlsplit(request.url)
        if parsed.scheme not in ("http", "https"):
            raise ValueError(f"Unsupported url scheme: {request.url}")
        for name in _UNSUPPORTED:
            if getattr(request, name, None):
                raise NotSupportedError(f"HTTPRequest({name}=...) is not supported")
        headers = request.headers.copy()
        username, password = parsed.username, parsed.password
        if username is None and options.auth_username is not None:
            username, password = options.auth_username, options.auth_password or ""
        if username is not None:
            if options.auth_mode not in (None, "basic"):
                raise ValueError(f"unsupported auth_mode {options.auth_mode}")
            credentials = f"{username}:{password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        if options.user_agent:
            headers["User-Agent"] = options.user_agent
        elif headers.get("User-Agent") is None:
            headers["User-Agent"] = f"tornado_ws_compat/{__version__}"
        body = request.body
        if not options.allow_nonstandard_methods:
            # As Tornado: these methods must have a body, the others must not.
            expected = request.method in ("POST", "PATCH", "PUT")
            if expected != (body is not None):
                raise ValueError(
                    f"Body must {'not ' if expected else ''}be None for method "
                    f"{request.method} (unless allow_nonstandard_methods is true)"
                )
        if body is not None:
            headers["Content-Length"] = str(len(body))
        if request.method == "POST" and "Content-Type" not in headers:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if options.decompress_response:
            headers["Accept-Encoding"] = "gzip"
        url = request.url
        if "@" in parsed.netloc:  # the credentials went into Authorization
            url = urllib.parse.urlunsplit(parsed._replace(netloc=parsed.netloc.rpartition("@")[2]))
        try:
            return await self._session.send(
                request.method,
                url,
                headers.get_all(),
                body,
                connect_timeout=options.connect_timeout,
                request_timeout=options.request_timeout,
                ssl_context=_client_ssl(options),
                decompress=bool(options.decompress_response),
                on_head=on_head,
            )
        except Timeout as exc:
            raise HTTPTimeoutError(str(exc)) from None
        except StreamClosed as exc:
            raise HTTPStreamClosedError(str(exc)) from None


_closing_tasks: set[asyncio.Future[None]] = set()


def _on_head(
    options: _Options, headers: HTTPHeaders, redirect: list[str], head: Exchange
) -> Callable[[bytes], Awaitable[None] | None] | None:
    """Read a response head as Tornado's client does: note a redirect to follow, mark a
    decompressed body, feed ``header_callback``; return where the body goes."""
    for name, value in head.headers:
        headers.add(name, value)
    location = headers.get("Location")
    if (
        options.follow_redirects
        and options.max_redirects > 0
        and head.status in _REDIRECTS
        and location is not None
    ):
        redirect.append(location)
        return _discard  # a redirect's body is not the caller's (Tornado)
    encoding = headers.get("Content-Encoding", "")
    if options.decompress_response and encoding.lower() == "gzip":
        headers["X-Consumed-Content-Encoding"] = encoding
        del headers["Content-Encoding"]
    callback = options.header_callback
    if callback is not None:
        callback(f"{head.version} {head.status} {head.reason}\r\n")
        for name, value in headers.get_all():
            callback(f"{name}: {value}\r\n")
        callback("\r\n")
    return options.streaming_callback  # type: ignore[no-any-return]


def _discard(chunk: bytes) -> None:
    pass


def _redirected(
    request: HTTPRequest, original: HTTPRequest, status: int, location: str, options: _Options
) -> HTTPRequest:
    """The request Tornado 6.6.1 sends after a redirect (``simple_httpclient.finish``)."""
    new = copy.copy(request)
    new.url = urllib.parse.urljoin(request.url, location)
    new.headers = request.headers.copy()
    before, after = urllib.parse.urlsplit(original.url), urllib.parse.urlsplit(new.url)
    if (before.scheme, before.netloc) != (after.scheme, after.netloc):
        # Cross-origin: credentials stay behind (as libcurl).
        new.auth_username = new.auth_password = None
        if "@" in after.netloc:
            netloc = after.hostname or ""
            if after.port is not None:
                netloc += f":{after.port}"
            new.url = urllib.parse.urlunsplit(after._replace(netloc=netloc))
        for name in ("Authorization", "Cookie"):
            if name in new.headers:
                del new.headers[name]
    new.max_redirects = options.max_redirects - 1
    if "Host" in new.headers:
        del new.headers["Host"]
    # RFC 7231 section 6.4: browsers turn POST into GET on 301/302; 303 means GET for all.
    if (status == 303 and request.method != "HEAD") or (
        status in (301, 302) and request.method == "POST"
    ):
        new.method = "GET"
        new.body = None
        for name in ("Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding"):
            if name in new.headers:
                del new.headers[name]
    return new


def _client_ssl(options: _Options) -> ssl.SSLContext | bool:
    if isinstance(options.ssl_options, ssl.SSLContext):
        return options.ssl_options
    if not options.validate_cert:
        return False
    if options.ca_certs is not None:
        return ssl.create_default_context(cafile=options.ca_certs)
    return True


class HTTPClient:
    """A blocking client: each `fetch` runs a private IOLoop until the response is in.

    Not for code running inside an IOLoop (use `AsyncHTTPClient` there), as in Tornado.
    """

    def __init__(
        self, async_client_class: type[AsyncHTTPClient] | None = None, **kwargs: Any
    ) -> None:
        self._closed = True
        self._io_loop = IOLoop(make_current=False)
        client_class = async_client_class or AsyncHTTPClient

        async def make_client() -> AsyncHTTPClient:
            return client_class(**kwargs)

        self._async_client: AsyncHTTPClient = self._io_loop.run_sync(make_client)
        self._closed = False

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections and the private loop."""
        if not self._closed:
            self._closed = True
            self._async_client.close()
            self._io_loop.close()

    def fetch(self, request: str | HTTPRequest, **kwargs: Any) -> HTTPResponse:
        """Send ``request`` and return the response (`AsyncHTTPClient.fetch`'s rules)."""
        response: HTTPResponse = self._io_loop.run_sync(
            lambda: self._async_client.fetch(request, **kwargs)
        )
        return response
