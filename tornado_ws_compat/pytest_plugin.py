"""A pytest plugin in the style of pytest-aiohttp: serve an Application, test it with aiohttp.

Installed with the package (entry point ``pytest11``), so its fixtures are there in every
pytest run; with a source checkout, add ``-p tornado_ws_compat.pytest_plugin``. Tests are
pytest-asyncio coroutines::

    @pytest.mark.asyncio
    async def test_echo(tornado_client):
        client = await tornado_client(make_app())
        async with client.ws_connect("/websocket") as ws:
            await ws.send_str("hi")
            assert await ws.receive_str() == "You said: hi"
        response = await client.get("/")
        assert response.status == 200

Fixtures:

- ``tornado_client``: ``await tornado_client(app, **listen_kwargs)`` serves ``app`` on a free
  loopback port and returns a client with ``get``/``post``/``put``/``patch``/``delete``/
  ``head``/``options``/``request(method, path)`` (aiohttp responses), ``ws_connect(path)``
  (an aiohttp WebSocket), ``url(path)``, ``ws_url(path)``, ``server`` and ``session``.
- ``tornado_server``: ``await tornado_server(app, **listen_kwargs)`` only serves, returning
  the `~tornado_ws_compat.httpserver.HTTPServer` (``server.url(path)``, ``server.port``).

``listen_kwargs`` are ``HTTPServer``'s (``xheaders``, ``max_body_size``, ``ssl_options``...).
At the end of the test the clients are closed (their sockets dropped), then the servers shut
down gracefully (sockets still open get 1001) and wait until every ``on_close`` has run, so a
handler's teardown is part of the test.

pytest rewrites the ``assert`` statements of every module of a distribution that provides a
plugin; this module takes this package back out of that set (and imports nothing else of it
until a fixture runs), so that the library behaves under pytest as Tornado's does (an assert
failing in the library gives the same bare ``AssertionError``).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # the plugin loads in every pytest run: never break one for this
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from tornado_ws_compat._engine.testclient import TestClient
    from tornado_ws_compat.server import HTTPServer
    from tornado_ws_compat.web import Application

__all__ = ["tornado_client", "tornado_server"]

#: Seconds the end-of-test shutdown waits for WebSockets to finish closing.
SHUTDOWN_TIMEOUT = 5.0


def _keep_library_asserts() -> None:
    # pytest marks the package for rewriting before it imports this plugin; the hook keeps
    # the marked names in a set (pytest 7-9). If that ever changes, this does nothing.
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        if type(finder).__name__ == "AssertionRewritingHook" and isinstance(marked, set):
            marked.discard(__name__.partition(".")[0])


_keep_library_asserts()


def _async_fixture(function: Callable[..., Any]) -> Any:
    """pytest-asyncio's fixture, or, without it, one that says what is missing."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function)

    def missing() -> None:
        raise pytest.UsageError(
            f"the {function.__name__} fixture (tornado_ws_compat) needs pytest-asyncio: "
            "pip install pytest-asyncio"
        )

    missing.__name__ = function.__name__
    return pytest.fixture(missing)


@_async_fixture
async def tornado_server() -> AsyncIterator[Callable[..., Awaitable[HTTPServer]]]:
    """Factory: ``await tornado_server(app, **listen_kwargs)`` -> a started ``HTTPServer``."""
    from tornado_ws_compat.server import listen

    servers: list[HTTPServer] = []

    async def serve(application: Application, **listen_kwargs: Any) -> HTTPServer:
        server = listen(application, 0, "127.0.0.1", **listen_kwargs)
        servers.append(server)
        if server.started is not None:
            await server.started
        return server

    yield serve
    for server in reversed(servers):
        await server.shutdown(SHUTDOWN_TIMEOUT)


@_async_fixture
async def tornado_client(
    tornado_server: Callable[..., Awaitable[HTTPServer]],
) -> AsyncIterator[Callable[..., Awaitable[TestClient]]]:
    """Factory: ``await tornado_client(app, **listen_kwargs)`` -> an aiohttp test client."""
    from tornado_ws_compat._engine.testclient import TestClient

    clients: list[TestClient] = []

    async def connect(application: Application, **listen_kwargs: Any) -> TestClient:
        client = TestClient(await tornado_server(application, **listen_kwargs))
        clients.append(client)
        return client

    yield connect
    for client in reversed(clients):
        await client.close()
