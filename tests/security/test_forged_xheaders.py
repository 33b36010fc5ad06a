"""Attack: a direct client forging X-Real-IP / X-Forwarded-For / X-Scheme (issue 10, point 8).

Configuration mode turns ``xheaders`` on (it is meant to sit behind nginx). Before the fix any
client could set ``handler.request.remote_ip`` and make ``protocol`` https; now the headers are
believed only from ``app.listen.forwarded_allow_ips`` (default: 127.0.0.1 and ::1, as
uvicorn's). The "direct client" connects from 127.0.0.2, another loopback address, so the test
stays on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from config.conftest import TIMEOUT, Project

from tornado_ws_compat.config import ConfigError
from tornado_ws_compat.testing import running


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    instance = Project(tmp_path)
    yield instance
    instance.cleanup()


HOOKS = """
import json

def open(handler):
    request = handler.request
    handler.write_message(json.dumps([request.remote_ip, request.protocol]))
"""

YAML = """
app:
  settings: {cookie_secret: xheaders-test-secret}
  listen: {xheaders: true%s}
url:
  whoami:
    pattern: /whoami
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.open}
"""

FORGED = {"X-Real-Ip": "203.0.113.9", "X-Forwarded-For": "203.0.113.9", "X-Scheme": "https"}


async def whoami(server: Any, source: str, headers: dict[str, str]) -> list[str]:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.ws_connect(
            server.url("/whoami"),
            headers=headers,
            timeout=aiohttp.ClientWSTimeout(ws_close=TIMEOUT),
        ) as ws:
            seen: list[str] = json.loads(await ws.receive_str(timeout=TIMEOUT))
            return seen


@pytest.mark.asyncio
async def test_direct_client_cannot_forge_its_address_or_https(project: Project) -> None:
    config = project.load(YAML % "", HOOKS)
    async with running(config.application, **config.listen.server_kwargs()) as server:
        assert await whoami(server, "127.0.0.2", FORGED) == ["127.0.0.2", "http"]
        # The proxy on loopback (nginx beside the server) is still believed.
        assert await whoami(server, "127.0.0.1", FORGED) == ["203.0.113.9", "https"]


@pytest.mark.asyncio
async def test_configured_proxies_are_believed(project: Project) -> None:
    config = project.load(YAML % ", forwarded_allow_ips: [127.0.0.0/29]", HOOKS)
    async with running(config.application, **config.listen.server_kwargs()) as server:
        assert await whoami(server, "127.0.0.2", FORGED) == ["203.0.113.9", "https"]
        assert await whoami(server, "127.0.0.9", FORGED) == ["127.0.0.9", "http"]
    config = project.load(YAML % ", forwarded_allow_ips: '*'", HOOKS, name="any.yaml")
    async with running(config.application, **config.listen.server_kwargs()) as server:
        assert await whoami(server, "127.0.0.3", FORGED) == ["203.0.113.9", "https"]


@pytest.mark.parametrize("value", ["[not-an-ip]", "[]", "[1]", "'10.0.0.0/33'"])
def test_invalid_proxy_list_is_a_config_error(project: Project, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        project.load(YAML % f", forwarded_allow_ips: {value}", HOOKS)
    assert "app.listen.forwarded_allow_ips" in str(raised.value)
