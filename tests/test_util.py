"""``util`` against real Tornado 6.6.1."""

from __future__ import annotations

import datetime
import errno
import re
import sys
from typing import Any

import pytest
import tornado.util
from differ import outcome

import tornado_ws_compat.util as ours

MODULES = (tornado.util, ours)


def same(call: Any) -> Any:
    results = [outcome(lambda module=module: call(module)) for module in MODULES]
    assert results[0] == results[1]
    return results[1]


def test_object_dict() -> None:
    for module in MODULES:
        d = module.ObjectDict(a=1)
        d.b = 2
        assert (d.a, d["b"], dict(d)) == (1, 2, {"a": 1, "b": 2})
    same(lambda module: module.ObjectDict().missing)


@pytest.mark.parametrize(
    "name",
    [
        "os",
        "os.path",
        "os.path.join",
        "tornado_ws_compat.escape.utf8",
        "os.nope",
        "no_such_mod",
        "no_such.module",
        "os.path.nope.deeper",
    ],
)
def test_import_object(name: str) -> None:
    same(lambda module: module.import_object(name))


@pytest.mark.parametrize(
    "text", [re.escape("a.b*c?[d]{e}(f)|g^h$ i/j-k"), r"\.\*", r"\d", r"\n", r"\\", "plain", "\\"]
)
def test_re_unescape(text: str) -> None:
    same(lambda module: module.re_unescape(text))


@pytest.mark.parametrize(
    "error",
    [OSError(errno.EPIPE, "pipe"), ValueError(5, "x"), ValueError(), KeyError("k"), OSError()],
    ids=repr,
)
def test_errno_from_exception(error: BaseException) -> None:
    same(lambda module: module.errno_from_exception(error))


def test_raise_exc_info_and_timedelta() -> None:
    try:
        raise KeyError("original")
    except KeyError:
        info = sys.exc_info()
    for module in MODULES:
        with pytest.raises(KeyError) as raised:
            module.raise_exc_info(info)
        assert raised.value is info[1] and raised.value.__traceback__ is not None
    same(lambda module: module.raise_exc_info((None, None, None)))
    same(lambda module: module.timedelta_to_seconds(datetime.timedelta(days=1, microseconds=5)))
    assert ours.TimeoutError is tornado.util.TimeoutError
    assert (ours.unicode_type, ours.basestring_type, ours.bytes_type) == (str, str, bytes)


def arg_cases(module: Any) -> Any:
    def func(a: Any, b: Any = None, *, c: Any = None) -> None: ...

    results = []
    for name in ("a", "b", "c", "missing"):
        replacer = module.ArgReplacer(func, name)
        results.append(
            (
                replacer.arg_pos,
                replacer.get_old_value((1, 2), {"c": 3}),
                replacer.get_old_value((1,), {}, "default"),
                replacer.replace("new", (1, 2), {"c": 3}),
                replacer.replace("new", (), {}),
            )
        )
    return results


def test_arg_replacer() -> None:
    assert same(arg_cases)[0] == "ok"


def configurable_cases(module: Any) -> Any:
    class Base(module.Configurable):
        @classmethod
        def configurable_base(cls) -> Any:
            return Base

        @classmethod
        def configurable_default(cls) -> Any:
            return Default

        def initialize(self, value: Any = None, **extra: Any) -> None:
            self.value = value
            self.extra = extra

    class Default(Base):
        pass

    class Other(Base):
        pass

    class Unrelated(module.Configurable):
        @classmethod
        def configurable_base(cls) -> Any:
            return Unrelated

    seen = []
    instance = Base(1)
    seen.append((type(instance).__name__, instance.value, instance.extra))
    Base.configure(Other, flag=True)
    instance = Base(2)
    seen.append((type(instance).__name__, instance.value, instance.extra))
    instance = Default(3)  # a subclass ignores the configured kwargs
    seen.append((type(instance).__name__, instance.value, instance.extra))
    saved = Base._save_configuration()
    Base.configure(None)
    seen.append(type(Base()).__name__)
    Base._restore_configuration(saved)
    seen.append(type(Base()).__name__)
    seen.append(outcome(lambda: Base.configure(Unrelated)))
    # Same type as Tornado; our message names the class that lacks the method.
    seen.append(outcome(lambda: Unrelated())[1].split(":")[0])
    seen.append(outcome(lambda: Base.configure("tornado_ws_compat.util.ObjectDict")))
    return seen


def test_configurable() -> None:
    results = same(configurable_cases)
    assert results[0] == "ok", results
    assert results[1][1] == ("Other", 2, {"flag": True})
