"""Tornado's ``tornado.curl_httpclient``: the names, on this project's one HTTP client.

Programs select the curl client with ``AsyncHTTPClient.configure(
"tornado.curl_httpclient.CurlAsyncHTTPClient")``; here every request runs on aiohttp's client
(:class:`~tornado_ws_compat.httpclient.AsyncHTTPClient`), pycurl is not used, and curl-only
request options (``prepare_curl_callback``) have no effect.
"""

from __future__ import annotations

from tornado_ws_compat.httpclient import AsyncHTTPClient, HTTPClientError

__all__ = ["CurlAsyncHTTPClient", "CurlError"]

#: The curl client's name for this project's client.
CurlAsyncHTTPClient = AsyncHTTPClient


class CurlError(HTTPClientError):
    """A curl failure (code 599) with curl's ``errno``: never raised here, kept for ``except``."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(599, message)
        self.errno = errno
