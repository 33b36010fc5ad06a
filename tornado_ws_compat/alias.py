"""Serve ``import tornado`` and ``import tornado.X`` from this package: zero-edit migration.

:func:`install_tornado_alias` puts an import finder first on :data:`sys.meta_path` that maps
``tornado`` to ``tornado_ws_compat`` and ``tornado.X`` to ``tornado_ws_compat.X``. The alias
and the target are the *same module object* (``sys.modules["tornado.web"] is
tornado_ws_compat.web``), so classes keep one identity whichever name imported them, and real
Tornado is never imported while the alias is installed, whether or not it is installed.

Only Tornado's own module names are aliased (``tornado.web``, ``tornado.platform.asyncio``...).
A Tornado module this project does not provide fails at import with a
:class:`ModuleNotFoundError` that names it and says so; one it provides only in part is
importable and raises :class:`~tornado_ws_compat.errors.NotSupportedError` when a missing
feature is used.

``python -m tornado_ws_compat run app.py`` installs the alias and runs the program (see
:mod:`tornado_ws_compat.cli`). From code, call :func:`install_tornado_alias` before anything
imports Tornado: at the top of a ``conftest.py``, in a launcher, in ``sitecustomize``.

The alias lives in one process. A child started with plain ``python`` (``subprocess``,
``multiprocessing``'s spawn, an ``os.execv`` restart) imports whatever ``tornado`` its
``sys.path`` holds; start children with :func:`run_command` (``python -m tornado_ws_compat run
...``) to keep it. ``tornado_ws_compat.autoreload`` restarts that way.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = [
    "ENV_MARKER",
    "TORNADO_MODULES",
    "install_tornado_alias",
    "run_command",
    "tornado_alias",
    "tornado_alias_installed",
    "uninstall_tornado_alias",
]

_PACKAGE = "tornado_ws_compat"
_ALIAS = "tornado"

#: Tornado 6.6.1's public modules (``tornado.speedups`` and ``tornado.test`` aside): the
#: names the alias answers for. Which of them this project provides is read from its files.
TORNADO_MODULES = frozenset(
    {
        "auth",
        "autoreload",
        "concurrent",
        "curl_httpclient",
        "escape",
        "gen",
        "http1connection",
        "httpclient",
        "httpserver",
        "httputil",
        "ioloop",
        "iostream",
        "locale",
        "locks",
        "log",
        "netutil",
        "options",
        "platform",
        "platform.asyncio",
        "platform.caresresolver",
        "platform.twisted",
        "process",
        "queues",
        "routing",
        "simple_httpclient",
        "tcpclient",
        "tcpserver",
        "template",
        "testing",
        "util",
        "web",
        "websocket",
        "wsgi",
    }
)

#: Set to ``"1"`` in the environment of a process whose alias is installed, so that a program
#: (or a restart helper) can tell that its children should be started with :func:`run_command`.
ENV_MARKER = "TORNADO_WS_COMPAT_ALIAS"


class _AliasLoader(importlib.abc.Loader):
    """Loads ``tornado.X`` by importing ``tornado_ws_compat.X`` and binding the same object.

    The import system returns whatever ``sys.modules[name]`` holds once ``exec_module``
    returns, so the placeholder module it created is dropped and never seen.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default placeholder; exec_module replaces it

    def exec_module(self, module: types.ModuleType) -> None:
        sys.modules[module.__name__] = importlib.import_module(self.target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    """The meta path finder for ``tornado`` and ``tornado.*`` (first on ``sys.meta_path``)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == _ALIAS:
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(_PACKAGE))
        if not fullname.startswith(_ALIAS + "."):
            return None
        name = fullname[len(_ALIAS) + 1 :]
        target_name = f"{_PACKAGE}.{name}"
        if name not in TORNADO_MODULES or not _provided(target_name):
            what = "a Tornado module" if name in TORNADO_MODULES else "a module"
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: tornado_ws_compat serves 'tornado' imports "
                f"and does not provide {what} of that name",
                name=fullname,
            )
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(target_name))


def _provided(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:  # a parent package (tornado_ws_compat.platform) is missing
        return False


_finder = _AliasFinder()


def tornado_alias_installed() -> bool:
    """True while :func:`install_tornado_alias` is in effect in this process."""
    return _finder in sys.meta_path


def _tornado_entries() -> dict[str, types.ModuleType]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name == _ALIAS or name.startswith(_ALIAS + ".")
    }


def install_tornado_alias() -> None:
    """Serve every later ``tornado`` / ``tornado.*`` import of this process from this package.

    Call it before anything imports Tornado. Calling it again does nothing. Raises
    :class:`RuntimeError` when real Tornado is already imported: two copies of its classes
    would live side by side and ``isinstance`` checks would fail between them.
    """
    if tornado_alias_installed():
        return
    loaded = [
        name
        for name, module in _tornado_entries().items()
        if not getattr(module, "__name__", "").startswith(_PACKAGE)
    ]
    if loaded:
        raise RuntimeError(
            "install_tornado_alias() must run before Tornado is imported; already imported: "
            + ", ".join(sorted(loaded))
        )
    sys.meta_path.insert(0, _finder)
    os.environ[ENV_MARKER] = "1"


def uninstall_tornado_alias() -> None:
    """Undo :func:`install_tornado_alias`: drop the finder and the ``tornado*`` entries."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name, module in _tornado_entries().items():
        if getattr(module, "__name__", "").startswith(_PACKAGE):
            del sys.modules[name]
    os.environ.pop(ENV_MARKER, None)


@contextmanager
def tornado_alias() -> Iterator[None]:
    """The alias for the body of a ``with`` only (what configuration mode imports handlers in).

    Inside it, ``tornado*`` imports are served from this package even when real Tornado is
    already imported (its ``sys.modules`` entries are set aside and put back on exit). Modules
    imported inside keep the objects they bound; an import of ``tornado`` made after the block
    gets whatever the process has then. When the alias is installed already this does nothing.
    """
    if tornado_alias_installed():
        yield
        return
    saved = _tornado_entries()
    for name in saved:
        del sys.modules[name]
    sys.meta_path.insert(0, _finder)
    try:
        yield
    finally:
        sys.meta_path.remove(_finder)
        for name in _tornado_entries():
            del sys.modules[name]
        sys.modules.update(saved)


def run_command(*args: str) -> list[str]:
    """The command line that runs ``args`` in a new Python with the alias installed.

    ``run_command("app.py", "--port=1")`` is
    ``[sys.executable, "-m", "tornado_ws_compat", "run", "app.py", "--port=1"]``; pass
    ``"-m", "module"`` to run a module.
    """
    return [sys.executable, "-m", _PACKAGE, "run", *args]
