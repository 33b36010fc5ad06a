"""Small utilities legacy Tornado programs import (``tornado.util`` of Tornado 6.6.1)."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import re
import types
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

__all__ = [
    "ArgReplacer",
    "Configurable",
    "ObjectDict",
    "TimeoutError",
    "basestring_type",
    "bytes_type",
    "errno_from_exception",
    "import_object",
    "raise_exc_info",
    "re_unescape",
    "timedelta_to_seconds",
    "unicode_type",
]

# Python 2 names Tornado 6 still exports.
bytes_type = bytes
unicode_type = str
basestring_type = str

#: What `gen.with_timeout` and `IOLoop.run_sync` raise: asyncio's (the builtin since 3.11),
#: as in Tornado 6.
TimeoutError = asyncio.TimeoutError


class ObjectDict(dict[str, Any]):
    """A dict whose keys are also attributes: ``d.name`` is ``d["name"]``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def import_object(name: str) -> Any:
    """Import ``"package.module.attribute"`` (or a bare module name) and return it.

    A missing last part raises ImportError ``No module named <part>``, as Tornado.
    """
    if "." not in name:
        return __import__(name)
    module_name, _, attribute = name.rpartition(".")
    module = __import__(module_name, fromlist=[attribute])
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"No module named {attribute}") from None


def raise_exc_info(
    exc_info: tuple[type | None, BaseException | None, types.TracebackType | None],
) -> NoReturn:
    """Re-raise a ``sys.exc_info()`` triple with its traceback."""
    error = exc_info[1]
    if error is None:
        raise TypeError("raise_exc_info called with no exception")
    raise error.with_traceback(exc_info[2])


def errno_from_exception(e: BaseException) -> int | None:
    """The ``errno`` of an OSError-like exception, else its first argument, else None."""
    if hasattr(e, "errno"):
        return cast(int | None, e.errno)
    if e.args:
        return cast(int | None, e.args[0])
    return None


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def re_unescape(s: str) -> str:
    """Undo `re.escape`; escapes of letters and digits (``\\d``) raise ValueError (4.4)."""

    def literal(match: re.Match[str]) -> str:
        character = match.group(1)
        if character.isascii() and character.isalnum():
            raise ValueError(f"cannot unescape '\\\\{character}'")
        return character

    return _ESCAPED.sub(literal, s)


def timedelta_to_seconds(td: datetime.timedelta) -> float:
    """``td.total_seconds()`` (kept from the Python 2.6 days)."""
    return td.total_seconds()


class Configurable:
    """A base class whose constructor builds an instance of a configurable implementation.

    A subclass hierarchy defines `configurable_base` (the root, whose ``configure`` choice
    applies to all) and `configurable_default` (the class used when none is configured), and
    takes its constructor arguments in ``initialize`` instead of ``__init__``. ``Base()`` then
    returns an instance of the configured class, with the keyword arguments given to
    `configure` added.
    """

    __impl_class: type[Configurable] | None = None
    __impl_kwargs: dict[str, Any] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        base = cls.configurable_base()
        init_kwargs: dict[str, Any] = {}
        if cls is base:
            impl = cls.configured_class()
            init_kwargs.update(base.__impl_kwargs or {})
        else:
            impl = cls
        init_kwargs.update(kwargs)
        if impl.configurable_base() is not base:
            # The implementation is itself the root of another configurable hierarchy.
            return impl(*args, **init_kwargs)
        instance = super().__new__(impl)
        instance.initialize(*args, **init_kwargs)
        return instance

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """The root of the hierarchy; subclasses must define it."""
        raise NotImplementedError(f"{cls.__name__} does not define configurable_base()")

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """The class built when none is configured; subclasses must define it."""
        raise NotImplementedError(f"{cls.__name__} does not define configurable_default()")

    def _initialize(self) -> None:
        pass

    #: Takes the constructor's arguments (``__init__`` is not called with them).
    initialize: Callable[..., None] = _initialize

    @classmethod
    def configure(cls, impl: str | type[Configurable] | None, **kwargs: Any) -> None:
        """Choose the class (or its dotted name) that ``Base()`` builds, and extra kwargs."""
        base = cls.configurable_base()
        if isinstance(impl, str):
            if impl.startswith("tornado."):
                # Tornado's own implementations are named by Tornado's module names
                # ("tornado.netutil.ThreadedResolver"): they are this package's modules, with
                # or without the import alias.
                impl = "tornado_ws_compat." + impl.removeprefix("tornado.")
            impl = cast(type[Configurable], import_object(impl))
        if impl is not None and not issubclass(impl, cls):
            raise ValueError(f"Invalid subclass of {cls}")
        base.__impl_class = impl
        base.__impl_kwargs = kwargs

    @classmethod
    def configured_class(cls) -> type[Configurable]:
        """The class ``Base()`` builds now."""
        base = cls.configurable_base()
        # Look in the base's own __dict__ so a configured parent does not leak to a child.
        if base.__dict__.get("_Configurable__impl_class") is None:
            base.__impl_class = cls.configurable_default()
        if base.__impl_class is None:
            raise ValueError("configured class not found")
        return base.__impl_class

    @classmethod
    def _save_configuration(cls) -> tuple[type[Configurable] | None, dict[str, Any] | None]:
        base = cls.configurable_base()
        return (base.__impl_class, base.__impl_kwargs)

    @classmethod
    def _restore_configuration(
        cls, saved: tuple[type[Configurable] | None, dict[str, Any] | None]
    ) -> None:
        base = cls.configurable_base()
        base.__impl_class, base.__impl_kwargs = saved


class ArgReplacer:
    """Reads and replaces one named argument of calls to ``func``, positional or keyword."""

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        self.name = name
        try:
            self.arg_pos: int | None = inspect.getfullargspec(func).args.index(name)
        except ValueError:
            self.arg_pos = None

    def get_old_value(
        self, args: Sequence[Any], kwargs: dict[str, Any], default: Any = None
    ) -> Any:
        """The argument's value in this call, or ``default``."""
        if self.arg_pos is not None and len(args) > self.arg_pos:
            return args[self.arg_pos]
        return kwargs.get(self.name, default)

    def replace(
        self, new_value: Any, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[Any, Sequence[Any], dict[str, Any]]:
        """``(old_value, args, kwargs)`` with the argument set to ``new_value``."""
        if self.arg_pos is not None and len(args) > self.arg_pos:
            old_value = args[self.arg_pos]
            args = list(args)
            args[self.arg_pos] = new_value
        else:
            old_value = kwargs.get(self.name)
            kwargs[self.name] = new_value
        return old_value, args, kwargs
