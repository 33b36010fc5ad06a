"""The parts of ``tornado.httpclient`` that ``websocket_connect`` takes and raises."""

from __future__ import annotations

from typing import Any

from tornado_ws_compat.httputil import HTTPHeaders

__all__ = ["HTTPClientError", "HTTPRequest"]


class HTTPRequest:
    """A request to open: ``url`` and extra ``headers`` (a subset of Tornado's)."""

    def __init__(
        self,
        url: str,
        headers: HTTPHeaders | dict[str, str] | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        validate_cert: bool = True,
        **kwargs: Any,
    ) -> None:
        self.url = url
        self.headers = HTTPHeaders(headers or {})
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.validate_cert = validate_cert


class HTTPClientError(Exception):
    """The server answered the handshake with something other than 101 (``code``).

    As ``tornado.httpclient.HTTPClientError``: ``code`` is the HTTP status; 599 means the
    connection failed or timed out before any answer.
    """

    def __init__(self, code: int, message: str | None = None, response: Any = None) -> None:
        self.code = code
        self.message = message or f"HTTP {code}"
        self.response = response
        super().__init__(code, message, response)

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"
