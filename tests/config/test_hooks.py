"""Hook forms: a dotted name, an expression over the hook's variables, a name with args/kwargs."""

from __future__ import annotations

import builtins
import importlib
import os.path
import sys
from typing import Any

import pytest

from tornado_ws_compat.config.hooks import HOOK_VARIABLES, HookError, compile_hook, resolve_name

from .conftest import Project

MESSAGE_VARS = HOOK_VARIABLES["on_message"]

SOURCE = """
calls = []

def on_message(handler, message):
    calls.append((handler, message))
    return "ignored by the handler"

def tag(handler, message, suffix, sep=" "):
    calls.append((handler, message, suffix, sep))
    return message + sep + suffix

class Bot:
    @staticmethod
    def greet(handler):
        return "hello " + handler

not_callable = 42
"""


def test_hook_variables_are_those_of_the_issue() -> None:
    assert HOOK_VARIABLES == {
        "open": ("handler",),
        "on_message": ("handler", "message"),
        "on_close": ("handler",),
        "on_pong": ("handler", "data"),
    }


def test_bare_dotted_name_is_the_function_itself(project: Project) -> None:
    module = project.module(SOURCE)
    hook = compile_hook({"function": f"{module.__name__}.on_message"}, MESSAGE_VARS)
    assert hook is module.on_message  # no wrapper: f(handler, message) directly
    hook("h", "m")
    assert module.calls == [("h", "m")]


def test_dotted_name_through_a_class(project: Project) -> None:
    module = project.module(SOURCE)
    hook = compile_hook({"function": f"{module.__name__}.Bot.greet"}, ("handler",))
    assert hook("you") == "hello you"


def test_expression_over_handler_and_message(project: Project) -> None:
    module = project.module(SOURCE)
    hook = compile_hook(
        {"function": f"{module.__name__}.tag(handler, message, '!')"}, MESSAGE_VARS
    )
    assert hook("h", "hi") == "hi !"
    assert module.calls == [("h", "hi", "!", " ")]


def test_expression_may_use_builtins_stdlib_and_comprehensions(project: Project) -> None:
    hook = compile_hook(
        {"function": "os.path.join(*[m.upper() for m in message.split()]) + str(len(handler))"},
        MESSAGE_VARS,
    )
    assert hook("abc", "x y") == os.path.join("X", "Y") + "3"


def test_expression_is_compiled_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    module = project.module(SOURCE)
    hook = compile_hook(
        {"function": f"{module.__name__}.tag(handler, message, '?')"}, MESSAGE_VARS
    )
    call_hook = compile_hook(
        {"function": f"{module.__name__}.tag", "args": ["=handler", "=message.upper()", "!"]},
        MESSAGE_VARS,
    )

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled or imported at call time")

    monkeypatch.setattr(builtins, "compile", forbidden)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(importlib, "import_module", forbidden)
    monkeypatch.setattr(builtins, "__import__", forbidden)
    for index in range(3):
        assert hook("h", str(index)) == f"{index} ?"
        assert call_hook("h", f"m{index}") == f"M{index} !"


def test_name_with_args_and_kwargs(project: Project) -> None:
    module = project.module(SOURCE)
    hook = compile_hook(
        {
            "function": f"{module.__name__}.tag",
            "args": ["=handler", "=message", "plain string"],
            "kwargs": {"sep": "=handler"},
        },
        MESSAGE_VARS,
    )
    assert hook("H", "M") == "MHplain string"
    assert module.calls == [("H", "M", "plain string", "H")]


def test_args_keep_non_strings_and_the_same_object(project: Project) -> None:
    module = project.module(SOURCE)
    literal = {"a": [1, 2]}
    hook = compile_hook(
        {"function": f"{module.__name__}.tag", "args": ["=handler", 3, literal], "kwargs": {}},
        MESSAGE_VARS,
    )
    with pytest.raises(TypeError):
        hook("h", "m")  # 3 + " " + dict: the values were passed as they are
    assert module.calls == [("h", 3, literal, " ")]
    assert module.calls[0][2] is literal


def test_builtin_function_by_name() -> None:
    hook = compile_hook({"function": "len", "args": ["=message"]}, MESSAGE_VARS)
    assert hook(None, "four") == 4


@pytest.mark.parametrize(
    ("spec", "key", "fragment"),
    [
        ("pingbot.open", "", "must be a mapping with a 'function' key"),
        ({"args": []}, "", "must be a mapping with a 'function' key"),
        ({"function": 3}, "function", "dotted name or an expression"),
        ({"function": "  "}, "function", "dotted name or an expression"),
        ({"function": "x.y", "kw": 1}, "kw", "unknown key"),
        ({"function": "no_such_module_xyz.f"}, "function", "no module named 'no_such_module_xyz'"),
        ({"function": "os.path.no_such_fn"}, "function", "has no attribute 'no_such_fn'"),
        ({"function": "os.sep"}, "function", "is not callable"),
        ({"function": "handler.close"}, "function", "starts with the variable 'handler'"),
        ({"function": "len(message"}, "function", "invalid expression"),
        ({"function": "nosuchname_xyz(message)"}, "function", "unknown name 'nosuchname_xyz'"),
        ({"function": "os.nope(message)"}, "function", "'os' has no attribute 'nope'"),
        ({"function": "len(message)", "args": []}, "function", "need a function name"),
        ({"function": "len", "args": "=message"}, "args", "must be a list"),
        ({"function": "len", "kwargs": ["x"]}, "kwargs", "must be a mapping"),
        ({"function": "len", "args": ["=data"]}, "args[0]", "unknown name 'data'"),
        ({"function": "len", "args": ["=(("]}, "args[0]", "invalid expression"),
        ({"function": "len", "kwargs": {"not id": 1}}, "kwargs.not id", "identifier"),
        ({"function": "len", "args": ["=_hook_function_"]}, "args[0]", "reserved"),
    ],
)
def test_invalid_hooks_name_the_key(spec: Any, key: str, fragment: str) -> None:
    with pytest.raises(HookError) as info:
        compile_hook(spec, MESSAGE_VARS)
    assert info.value.key == key
    assert fragment in info.value.message


def test_module_that_fails_to_import_is_reported(project: Project) -> None:
    project.hooks("raise RuntimeError('broken at import')\n")
    sys.path.insert(0, str(project.root))  # removed by the fixture
    with pytest.raises(HookError) as info:
        compile_hook({"function": f"{project.module_name}.f"}, MESSAGE_VARS)
    assert "RuntimeError: broken at import" in info.value.message


def test_resolve_name_imports_submodules() -> None:
    assert resolve_name("email.mime.text.MIMEText").__name__ == "MIMEText"
    assert resolve_name("print") is print
