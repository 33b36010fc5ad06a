"""Fixtures of the scale-out suite: a real Redis on a free loopback port."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from .redis_server import RedisServer


def need_redis_server() -> None:
    """Skip (with the reason) where redis-server is not installed; CI installs it, so
    there a missing server fails instead of skipping."""
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    need_redis_server()
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
