"""The aiohttp client of the pytest plugin's ``tornado_client`` fixture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from aiohttp.client import _RequestContextManager, _WSRequestContextManager

    from tornado_ws_compat.server import HTTPServer

__all__ = ["TestClient"]


class TestClient:
    """An aiohttp ``ClientSession`` bound to one test server: paths instead of URLs.

    ``await client.get("/")`` (or ``async with client.get("/") as response``) gives an
    ``aiohttp.ClientResponse``; ``client.ws_connect("/ws")`` an
    ``aiohttp.ClientWebSocketResponse``. ``client.session`` is the session itself.
    """

    __test__ = False  # not a test class, whatever pytest's naming rules say

    def __init__(self, server: HTTPServer, **session_kwargs: Any) -> None:
        self.server = server
        self.session = aiohttp.ClientSession(**session_kwargs)

    def url(self, path: str = "/") -> str:
        """``http://127.0.0.1:PORT/path`` (https with ``ssl_options``)."""
        return self.server.url(path)

    def ws_url(self, path: str = "/") -> str:
        """The ``ws://`` (or ``wss://``) URL of ``path``."""
        return "ws" + self.url(path)[len("http") :]

    def request(self, method: str, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.request("DELETE", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.request("HEAD", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.request("OPTIONS", path, **kwargs)

    def ws_connect(self, path: str, **kwargs: Any) -> _WSRequestContextManager:
        """Open a WebSocket to ``path`` (aiohttp's ``ws_connect`` keywords)."""
        return self.session.ws_connect(self.ws_url(path), **kwargs)

    async def close(self) -> None:
        await self.session.close()
