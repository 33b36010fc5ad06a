"""Tornado's ``tornado.simple_httpclient``: the names, on this project's one HTTP client.

``SimpleAsyncHTTPClient`` is :class:`~tornado_ws_compat.httpclient.AsyncHTTPClient` (which
runs on aiohttp's client), so ``AsyncHTTPClient.configure(
"tornado.simple_httpclient.SimpleAsyncHTTPClient", max_clients=...)`` and
``isinstance(client, SimpleAsyncHTTPClient)`` keep working.
"""

from __future__ import annotations

from tornado_ws_compat.httpclient import AsyncHTTPClient, HTTPStreamClosedError, HTTPTimeoutError

__all__ = ["HTTPStreamClosedError", "HTTPTimeoutError", "SimpleAsyncHTTPClient"]

#: Tornado's default client class; here the one client there is.
SimpleAsyncHTTPClient = AsyncHTTPClient
