"""The ``tornado`` import alias and the lazy package, in this process (scoped alias)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import tornado_ws_compat
from tornado_ws_compat.alias import TORNADO_MODULES, tornado_alias, tornado_alias_installed


def test_every_module_file_is_a_lazy_attribute() -> None:
    names = [
        info.name
        for info in pkgutil.iter_modules(tornado_ws_compat.__path__)
        if not info.name.startswith("_")
    ]
    assert {"web", "websocket", "ioloop", "escape"} <= set(names)
    for name in names:
        module = getattr(tornado_ws_compat, name)
        assert module is importlib.import_module(f"tornado_ws_compat.{name}")
    assert set(names) <= set(dir(tornado_ws_compat))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_module'"):
        _ = tornado_ws_compat.no_such_module


def test_version_is_tornado_661() -> None:
    import tornado  # real Tornado, the test-only reference

    assert tornado_ws_compat.version == tornado.version == "6.6.1"
    assert tornado_ws_compat.version_info == tornado.version_info == (6, 6, 1, 0)


def test_scoped_alias_serves_the_same_objects_and_restores() -> None:
    import tornado as real_tornado

    real_web = sys.modules.get("tornado.web")
    assert not tornado_alias_installed()
    with tornado_alias():
        import tornado
        import tornado.websocket
        from tornado import web as aliased_web

        assert tornado is tornado_ws_compat
        assert tornado.websocket is tornado_ws_compat.websocket
        assert aliased_web is tornado_ws_compat.web
        assert sys.modules["tornado.websocket"] is tornado_ws_compat.websocket
        assert tornado.websocket.WebSocketHandler is tornado_ws_compat.websocket.WebSocketHandler
        with pytest.raises(ModuleNotFoundError, match="does not provide a Tornado module") as info:
            importlib.import_module("tornado.http1connection")
        assert info.value.name == "tornado.http1connection"
        with pytest.raises(ModuleNotFoundError, match="does not provide a module"):
            importlib.import_module("tornado.server")  # ours, but not a Tornado module
    assert sys.modules["tornado"] is real_tornado
    assert sys.modules.get("tornado.web") is real_web


def test_every_provided_tornado_module_is_reachable_lazily() -> None:
    provided = [
        name for name in TORNADO_MODULES if "." not in name and hasattr(tornado_ws_compat, name)
    ]
    assert {"web", "websocket"} <= set(provided)
    with tornado_alias():
        tornado = importlib.import_module("tornado")
        for name in provided:
            assert getattr(tornado, name) is importlib.import_module(f"tornado.{name}")


def test_install_refuses_when_real_tornado_is_imported() -> None:
    import tornado.web  # noqa: F401  (real Tornado, imported in this test process)

    with pytest.raises(RuntimeError, match=r"must run before Tornado is imported; .*tornado\.web"):
        tornado_ws_compat.install_tornado_alias()
    assert not tornado_alias_installed()


def test_install_and_uninstall_in_a_fresh_process() -> None:
    code = (
        "import sys, tornado_ws_compat as t\n"
        "t.install_tornado_alias(); t.install_tornado_alias()\n"
        "import tornado.websocket\n"
        "assert tornado.websocket is t.websocket\n"
        "t.uninstall_tornado_alias()\n"
        "assert 'tornado.websocket' not in sys.modules and 'tornado' not in sys.modules\n"
        "import tornado\n"
        "print(tornado.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tornado\n"  # real Tornado again, once the alias is gone
