"""Shared fixtures: every async test runs once on asyncio's default loop and once on uvloop
(unless marked ``client_loop_uvloop_only``: its server is a subprocess with a loop of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a hard dependency on Linux
    uvloop = None  # type: ignore[assignment]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {}
    if item.get_closest_marker("client_loop_uvloop_only") is None or uvloop is None:
        factories["asyncio"] = asyncio.new_event_loop
    if uvloop is not None:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture(autouse=True)
def _fresh_template_loaders() -> None:
    """Template loaders are cached per directory for the whole process (as in Tornado): a test
    with a ``template_loader`` setting would otherwise serve the next test's templates."""
    from tornado_ws_compat._rendering import RenderingMixin

    RenderingMixin._template_loaders.clear()
