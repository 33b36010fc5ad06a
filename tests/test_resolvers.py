"""``tornado.netutil``'s resolvers, configurable as on Tornado 6.6.1: programs of the Tornado
2-4 era call ``Resolver.configure("tornado.netutil.ThreadedResolver", num_threads=...)`` at
start-up (issue 8; a public dashboard program failed with AttributeError). Differential: the
same calls on both modules."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import tornado.netutil

import tornado_ws_compat.netutil

MODULES = {"tornado": tornado.netutil, "ours": tornado_ws_compat.netutil}


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    saved = {name: module.Resolver._save_configuration() for name, module in MODULES.items()}
    yield
    for name, module in MODULES.items():
        module.Resolver._restore_configuration(saved[name])


async def _outcome(resolver: Any, host: str, port: int) -> Any:
    try:
        found = await resolver.resolve(host, port, socket.AF_INET)
    except OSError as error:
        return ["raise", type(error).__name__]
    return sorted(found)


CONFIGURATIONS: list[tuple[str | None, dict[str, Any]]] = [
    (None, {}),
    ("tornado.netutil.ThreadedResolver", {"num_threads": 2}),
    ("tornado.netutil.BlockingResolver", {}),
    ("tornado.netutil.DefaultExecutorResolver", {}),
    ("tornado.netutil.ExecutorResolver", {}),
    ("tornado.netutil.DefaultLoopResolver", {}),
]


async def _observe(module: ModuleType, impl: str | None, kwargs: dict[str, Any]) -> Any:
    module.Resolver.configure(impl, **kwargs)
    resolver = module.Resolver()
    seen = [
        type(resolver).__name__,
        module.Resolver.configured_class().__name__,
        await _outcome(resolver, "localhost", 80),
        await _outcome(resolver, "127.0.0.1", 8080),
        await _outcome(resolver, "name.invalid", 80),
    ]
    override = module.OverrideResolver(
        resolver=resolver,
        mapping={"db.invalid": "127.0.0.1", ("web.invalid", 80): ("127.0.0.2", 8000)},
    )
    seen += [
        await _outcome(override, "db.invalid", 5432),
        await _outcome(override, "web.invalid", 80),
        await _outcome(override, "web.invalid", 81),
    ]
    override.close()
    return seen


@pytest.mark.asyncio
@pytest.mark.parametrize(("impl", "kwargs"), CONFIGURATIONS, ids=lambda v: str(v))
async def test_configured_resolvers_as_tornado(impl: str | None, kwargs: dict[str, Any]) -> None:
    seen = {name: await _observe(module, impl, kwargs) for name, module in MODULES.items()}
    assert seen["ours"] == seen["tornado"]
    assert seen["ours"][2] == [(socket.AF_INET, ("127.0.0.1", 80))]


def test_configure_refuses_what_is_not_a_resolver() -> None:
    outcomes = {}
    for name, module in MODULES.items():
        try:
            module.Resolver.configure(module.is_valid_ip)
        except (TypeError, ValueError) as error:
            outcomes[name] = type(error).__name__
    assert outcomes["ours"] == outcomes["tornado"]


def test_tornado_names_choose_this_package_without_the_alias() -> None:
    """With the import swap (no alias), Tornado's dotted names still choose these classes."""
    tornado_ws_compat.netutil.Resolver.configure("tornado.netutil.ThreadedResolver")
    configured = tornado_ws_compat.netutil.Resolver.configured_class()
    assert configured is tornado_ws_compat.netutil.ThreadedResolver
