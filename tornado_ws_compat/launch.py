"""``python -m tornado_ws_compat run SCRIPT [ARGS...]`` and ``run -m MODULE [ARGS...]``.

Runs an unmodified Tornado program as ``__main__``, as ``python SCRIPT ARGS`` (or ``python -m
MODULE ARGS``) would, with :func:`~tornado_ws_compat.alias.install_tornado_alias` in effect:
every ``tornado`` / ``tornado.*`` import of the process is served by this package.

What the program sees is what Python gives it: ``sys.argv`` (``[SCRIPT, *ARGS]``, or the
module's file then ``ARGS``), ``__file__`` (absolute), the script's folder first on
``sys.path`` (the current folder for ``-m``; nothing with ``-P``), its sibling modules,
``__name__ == "__main__"``. Everything after SCRIPT (or MODULE) belongs to the program, so
``run app.py --port=9000 --help`` hands both flags to the app. The exit status is the
program's; an uncaught exception prints the traceback Python prints (this launcher's own
frames left out) and exits 1; Ctrl-C ends it as it ends Python.
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import pkgutil
import runpy
import sys
import types
from collections.abc import Callable, Sequence

from tornado_ws_compat.alias import install_tornado_alias

__all__ = ["USAGE", "main", "run_module", "run_script"]

USAGE = "usage: python -m tornado_ws_compat run [-h] (SCRIPT | -m MODULE) [ARGS...]"

_HELP = f"""{USAGE}

Run a Tornado program unchanged, every 'tornado' import served by tornado_ws_compat.

  SCRIPT [ARGS...]     run a file, as 'python SCRIPT ARGS...'
  -m MODULE [ARGS...]  run a module, as 'python -m MODULE ARGS...'
  -h, --help           show this help (only before SCRIPT or -m: later flags are the program's)
"""

# Frames of these files sit between Python and the program; tracebacks leave them out.
_LAUNCHER_FILES = frozenset(
    os.path.normcase(os.path.abspath(path))
    for path in (
        __file__,
        runpy.__file__ or "",
        os.path.join(os.path.dirname(__file__), "cli.py"),
        os.path.join(os.path.dirname(__file__), "__main__.py"),
    )
)


def main(argv: Sequence[str]) -> int:
    """Parse the arguments that follow ``run`` and run the program; returns the exit status."""
    args = list(argv)
    if args[:1] == ["--"]:
        args = args[1:]
    elif args[:1] in (["-h"], ["--help"]):
        print(_HELP, end="")
        return 0
    if args[:1] == ["-m"]:
        if len(args) < 2:
            print(f"{USAGE}\nerror: -m needs a MODULE", file=sys.stderr)
            return 2
        return run_module(args[1], args[2:])
    if not args or args[0].startswith("-"):
        detail = f"unknown option {args[0]!r}" if args else "SCRIPT or -m MODULE is required"
        print(f"{USAGE}\nerror: {detail}", file=sys.stderr)
        return 2
    return run_script(args[0], args[1:])


def run_script(path: str, args: Sequence[str] = ()) -> int:
    """Run the file (or directory / zip with ``__main__.py``) ``path`` as ``__main__``.

    The alias is installed first. Returns 0 when the program ends normally; ``SystemExit`` and
    other exceptions propagate as they would out of ``python SCRIPT``.
    """
    absolute = os.path.abspath(path)
    if not os.path.exists(absolute):
        print(
            f"{sys.executable}: can't open file {absolute!r}: [Errno 2] No such file or directory",
            file=sys.stderr,
        )
        return 2
    install_tornado_alias()
    _trim_tracebacks()
    sys.argv[:] = [path, *args]
    if os.path.isdir(absolute) or (not absolute.endswith(".py") and _is_zip(absolute)):
        # A folder or zip archive with __main__.py: Python puts it first on sys.path and runs
        # its __main__ module (argv unchanged).
        _set_path0(absolute)
        importer = pkgutil.get_importer(absolute)
        spec = importer.find_spec("__main__") if importer is not None else None
        if spec is None or spec.loader is None:
            print(
                f"{sys.executable}: can't find '__main__' module in {absolute!r}", file=sys.stderr
            )
            return 1
        code = spec.loader.get_code("__main__")  # type: ignore[attr-defined]
        module = _main_module(spec.origin or absolute, spec.loader)
        module.__spec__ = spec
        module.__package__ = spec.parent
        module.__cached__ = spec.cached  # type: ignore[attr-defined]
    else:
        # Python puts the script's folder, symbolic links resolved, first on sys.path.
        _set_path0(os.path.dirname(os.path.realpath(absolute)))
        module = _main_module(absolute, importlib.machinery.SourceFileLoader("__main__", absolute))
        with io.open_code(absolute) as source_file:
            source = source_file.read()
        code = compile(source, absolute, "exec", dont_inherit=True)
    sys.modules["__main__"] = module
    exec(code, module.__dict__)
    return 0


def run_module(name: str, args: Sequence[str] = ()) -> int:
    """Run module ``name`` as ``__main__`` (``python -m name``), the alias installed first."""
    install_tornado_alias()
    _trim_tracebacks()
    try:
        found = importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a missing parent package
        found = False
    if not found:
        print(f"{sys.executable}: No module named {name}", file=sys.stderr)
        return 1
    # runpy sets sys.argv[0] to the module's file while it runs, as ``python -m`` does.
    sys.argv[:] = ["-m", *args]
    runpy.run_module(name, run_name="__main__", alter_sys=True)
    return 0


def _set_path0(folder: str) -> None:
    # Under ``python -m tornado_ws_compat`` sys.path[0] holds the current folder; Python
    # would have put the program's folder there instead (nothing with -P / PYTHONSAFEPATH).
    if sys.flags.safe_path:
        return
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.insert(0, folder)


def _main_module(filename: str, loader: importlib.abc.Loader) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__file__ = filename
    module.__cached__ = None  # type: ignore[attr-defined]
    module.__loader__ = loader
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    return module


def _is_zip(path: str) -> bool:
    import zipfile

    return zipfile.is_zipfile(path)


def _trim_tracebacks() -> None:
    """Make the default ``sys.excepthook`` print tracebacks without the launcher's frames."""
    if getattr(sys.excepthook, "_tornado_ws_compat_trims", False):
        return
    previous: Callable[..., object] = sys.excepthook

    def excepthook(
        kind: type[BaseException],
        value: BaseException,
        traceback: types.TracebackType | None,
    ) -> None:
        while traceback is not None and _is_launcher_frame(traceback):
            traceback = traceback.tb_next
        # The default hook prints the exception's own __traceback__, not its argument.
        previous(kind, value.with_traceback(traceback), traceback)

    excepthook._tornado_ws_compat_trims = True  # type: ignore[attr-defined]
    sys.excepthook = excepthook


def _is_launcher_frame(traceback: types.TracebackType) -> bool:
    filename = traceback.tb_frame.f_code.co_filename
    return filename.startswith("<frozen ") or (
        os.path.normcase(os.path.abspath(filename)) in _LAUNCHER_FILES
    )
