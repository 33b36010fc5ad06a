"""Helpers for testing applications (yours and ours) with pytest-asyncio and aiohttp.

Example::

    @pytest.mark.asyncio
    async def test_echo() -> None:
        async with running(make_app()) as server:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(server.url("/websocket")) as ws:
                    await ws.send_str("hi")
                    assert (await ws.receive_str()) == "You said: hi"
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from tornado_ws_compat.server import HTTPServer, listen

if TYPE_CHECKING:
    from tornado_ws_compat.web import Application

__all__ = ["running"]


@asynccontextmanager
async def running(
    application: Application,
    address: str = "127.0.0.1",
    shutdown_timeout: float = 5.0,
    **listen_kwargs: Any,
) -> AsyncIterator[HTTPServer]:
    """Serve ``application`` on a free loopback port for the body of an ``async with``.

    On exit the server shuts down gracefully (WebSockets closed with 1001, ``on_close`` run).
    """
    server = listen(application, 0, address, **listen_kwargs)
    if server.started is not None:
        await server.started
    try:
        yield server
    finally:
        await server.shutdown(shutdown_timeout)
