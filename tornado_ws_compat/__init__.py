"""Run Tornado WebSocket programs unchanged on asyncio, with aiohttp as the engine.

Zero edits: ``python -m tornado_ws_compat run app.py`` serves every ``tornado.*`` import of the
program from this package (:func:`install_tornado_alias` does the same from code). Or change
``from tornado import websocket, web, ioloop`` to
``from tornado_ws_compat import websocket, web, ioloop``; the handler classes stay as they are.

Submodules load on first attribute access (``import tornado_ws_compat`` then
``tornado_ws_compat.web``), for every module of the package, as ``import tornado`` then
``tornado.web`` does in Tornado 6.
"""

from __future__ import annotations

import importlib as _importlib
import importlib.util as _importlib_util
import pkgutil as _pkgutil
from typing import Any as _Any

from tornado_ws_compat.alias import install_tornado_alias, uninstall_tornado_alias

__version__ = "0.1.0"

#: The Tornado release whose behaviour this project follows; under the alias these are
#: ``tornado.version`` and ``tornado.version_info``, which programs compare against.
version = "6.6.1"
version_info = (6, 6, 1, 0)

__all__ = [
    "__version__",
    "install_tornado_alias",
    "uninstall_tornado_alias",
    "version",
    "version_info",
]


def _submodules() -> list[str]:
    return [info.name for info in _pkgutil.iter_modules(__path__) if not info.name.startswith("_")]


def __getattr__(name: str) -> _Any:
    # PEP 562. The candidates are the package's own files, so no module is forgotten (Tornado
    # 6.6.1's hand-kept list misses websocket and wsgi).
    if not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_submodules()))
