"""A ``stream_request_body`` handler that sets its connection's body limits in ``prepare``
(``request.connection.set_max_body_size`` / ``set_body_timeout``, as Tornado's docs advise and
public upload programs do) gets its body as on Tornado 6.6.1 (issue 8). Differential."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import aiohttp
import pytest
from differential import serving_both


def routes(web: ModuleType) -> list[Any]:
    @web.stream_request_body
    class Upload(web.RequestHandler):  # type: ignore[name-defined,misc]
        def prepare(self) -> None:
            self.size = 0
            self.request.connection.set_max_body_size(10 * 1024 * 1024)
            self.request.connection.set_body_timeout(60)

        def data_received(self, chunk: bytes) -> None:
            self.size += len(chunk)

        def post(self) -> None:
            self.write({"size": self.size, "length": self.request.headers["Content-Length"]})

    return [("/upload", Upload)]


@pytest.mark.asyncio
async def test_limits_set_in_prepare_deliver_the_body() -> None:
    async with serving_both(routes) as servers, aiohttp.ClientSession() as session:
        for size in (0, 1, 300_000):
            seen = {}
            for name, server in servers.items():
                port = server.sockets[0].getsockname()[1]
                url = f"http://127.0.0.1:{port}/upload"
                async with session.post(url, data=b"x" * size) as response:
                    seen[name] = (response.status, await response.json())
            assert seen["ours"] == seen["tornado"] == (200, {"size": size, "length": str(size)})
