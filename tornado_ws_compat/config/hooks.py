"""Hooks: the plain functions a YAML route names, compiled once when the configuration loads.

A hook is a mapping with a ``function`` key, in one of three forms (Gramex's forms):

``{function: pingbot.on_message}``
    A dotted name: the module part is imported and the function is called with the hook's
    variables in order, ``f(handler)`` or ``f(handler, message)``.
``{function: "pingbot.tag(handler, message, '!')"}``
    A Python expression over the hook's variables (``handler``, and ``message`` or ``data``).
    Other names are builtins or modules, imported when the configuration loads.
``{function: pingbot.tag, args: ['=handler', '=message'], kwargs: {suffix: '!'}}``
    A dotted name called with these arguments. A string that starts with ``=`` is an
    expression (usually just a variable: ``'=handler'``); any other value is passed as is.

Every form compiles to one Python function taking the hook's variables positionally, so that
calling a hook costs one call (two for the expression forms), never a compile or a lookup.
Whatever cannot be imported or parsed is reported when the configuration loads, with the key
that holds it; nothing is resolved lazily.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import keyword
import re
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["HOOK_VARIABLES", "Hook", "HookError", "compile_hook", "resolve_name"]

#: A compiled hook: called with the hook's variables, positionally, in this order.
Hook = Callable[..., Any]

#: The variables each WebSocket hook receives, in the order a bare function gets them.
HOOK_VARIABLES: dict[str, tuple[str, ...]] = {
    "open": ("handler",),
    "on_message": ("handler", "message"),
    "on_close": ("handler",),
    "on_pong": ("handler", "data"),
}

_HOOK_KEYS = frozenset({"function", "args", "kwargs"})
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
# Names the generated code binds; an expression cannot reach them (they are not identifiers a
# YAML author would write, and any clash is refused below).
_FUNCTION_NAME = "_hook_function_"
_VALUE_PREFIX = "_hook_value_"


class HookError(ValueError):
    """A hook that cannot be compiled. ``key`` is where, inside the hook (``function``,
    ``args[1]``, ``kwargs.sep``), or ``""`` for the hook itself."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def resolve_name(dotted: str, key: str = "function") -> Any:
    """Import the object a dotted name refers to: ``pkg.module.attr.attr``.

    The longest importable module prefix is imported, then attributes are looked up; a single
    name may also be a builtin (``print``). Raises :class:`HookError` naming ``key``.
    """
    parts = dotted.split(".")
    try:
        obj: Any = importlib.import_module(parts[0])
    except ModuleNotFoundError as exc:
        if exc.name != parts[0]:
            raise HookError(key, f"cannot import {parts[0]!r}: {exc}") from exc
        if len(parts) == 1 and hasattr(builtins, parts[0]):
            return getattr(builtins, parts[0])
        raise HookError(key, f"cannot import {dotted!r}: no module named {parts[0]!r}") from exc
    except Exception as exc:  # the module itself failed: a SyntaxError, an ImportError...
        raise HookError(key, f"cannot import {parts[0]!r}: {type(exc).__name__}: {exc}") from exc
    for index in range(1, len(parts)):
        part = parts[index]
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if isinstance(obj, types.ModuleType):
            module_name = ".".join(parts[: index + 1])
            try:
                obj = importlib.import_module(module_name)
                continue
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise HookError(key, f"cannot import {module_name!r}: {exc}") from exc
            except Exception as exc:
                raise HookError(
                    key, f"cannot import {module_name!r}: {type(exc).__name__}: {exc}"
                ) from exc
        owner = ".".join(parts[:index])
        raise HookError(key, f"cannot import {dotted!r}: {owner!r} has no attribute {part!r}")
    return obj


def compile_hook(spec: Any, variables: Sequence[str], filename: str = "<hook>") -> Hook:
    """Compile one hook mapping into a function of ``variables`` (see the module docstring).

    ``filename`` appears in tracebacks of expression hooks (``url:pingbot.on_message``).
    """
    if not isinstance(spec, Mapping) or "function" not in spec:
        raise HookError(
            "",
            f"must be a mapping with a 'function' key, like {{function: module.name}}; "
            f"got {spec!r}",
        )
    for name in spec:
        if name not in _HOOK_KEYS:
            raise HookError(str(name), "unknown key (a hook has function, args, kwargs)")
    function = spec["function"]
    if not isinstance(function, str) or not function.strip():
        raise HookError("function", f"must be a dotted name or an expression, got {function!r}")
    text = function.strip()
    with_arguments = "args" in spec or "kwargs" in spec
    if _DOTTED_NAME.match(text) and not any(keyword.iskeyword(p) for p in text.split(".")):
        root = text.split(".", 1)[0]
        if root in variables:
            raise HookError(
                "function",
                f"{text!r} starts with the variable {root!r}: write a call, e.g. {text}(...)",
            )
        target = resolve_name(text)
        if not callable(target):
            raise HookError("function", f"{text!r} is not callable")
        if not with_arguments:
            return target  # type: ignore[no-any-return]
        return _compile_call(
            target, spec.get("args", []), spec.get("kwargs", {}), variables, filename
        )
    if with_arguments:
        raise HookError("function", "args and kwargs need a function name, not an expression")
    namespace: dict[str, Any] = {"__builtins__": builtins}
    body = _parse_expression(text, variables, namespace, "function")
    return _make_function(body, variables, namespace, filename)


def _compile_call(
    target: Any, args: Any, kwargs: Any, variables: Sequence[str], filename: str
) -> Hook:
    if not isinstance(args, list):
        raise HookError("args", f"must be a list, got {args!r}")
    if not isinstance(kwargs, Mapping):
        raise HookError("kwargs", f"must be a mapping, got {kwargs!r}")
    namespace: dict[str, Any] = {"__builtins__": builtins, _FUNCTION_NAME: target}
    counter = iter(range(len(args) + len(kwargs)))

    def argument(value: Any, key: str) -> ast.expr:
        if isinstance(value, str) and value.startswith("="):
            return _parse_expression(value[1:], variables, namespace, key)
        name = f"{_VALUE_PREFIX}{next(counter)}"
        namespace[name] = value
        return ast.Name(id=name, ctx=ast.Load())

    positional = [argument(value, f"args[{i}]") for i, value in enumerate(args)]
    keywords = []
    for name, value in kwargs.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise HookError(f"kwargs.{name}", "must be a Python identifier")
        keywords.append(ast.keyword(arg=name, value=argument(value, f"kwargs.{name}")))
    call = ast.Call(
        func=ast.Name(id=_FUNCTION_NAME, ctx=ast.Load()), args=positional, keywords=keywords
    )
    return _make_function(call, variables, namespace, filename)


def _parse_expression(
    text: str, variables: Sequence[str], namespace: dict[str, Any], key: str
) -> ast.expr:
    """Parse ``text``; import the modules its free names refer to into ``namespace``."""
    if not text.strip():
        raise HookError(key, "empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise HookError(key, f"invalid expression {text!r}: {exc.msg}") from exc
    bound = set(variables)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)  # comprehension targets, :=
        elif isinstance(node, ast.arg):
            bound.add(node.arg)  # lambda parameters
    modules: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or node.id in bound:
            continue
        name = node.id
        if name.startswith((_FUNCTION_NAME, _VALUE_PREFIX)):
            raise HookError(key, f"the name {name!r} is reserved")
        if name in modules:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise HookError(key, f"cannot import {name!r}: {exc}") from exc
            if hasattr(builtins, name):
                continue
            known = ", ".join(variables)
            raise HookError(
                key,
                f"unknown name {name!r} in {text!r}: not a variable ({known}), "
                "a builtin or an importable module",
            ) from exc
        except Exception as exc:
            raise HookError(key, f"cannot import {name!r}: {type(exc).__name__}: {exc}") from exc
        namespace[name] = module
        modules.add(name)
    # Check every dotted chain rooted at a module now (importing submodules it names), so that
    # a misspelt function is a configuration error and not a failure at the first message.
    for node in ast.walk(tree):
        chain = _attribute_chain(node)
        if chain is not None and chain[0] in modules:
            resolve_name(".".join(chain), key)
    return tree.body


def _attribute_chain(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not parts or not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    return parts


def _make_function(
    body: ast.expr, variables: Sequence[str], namespace: dict[str, Any], filename: str
) -> Hook:
    """``lambda <variables>: <body>``, compiled once in ``namespace``."""
    arguments = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=name) for name in variables],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    tree = ast.Expression(body=ast.Lambda(args=arguments, body=body))
    ast.fix_missing_locations(tree)
    code = compile(tree, filename, "eval")
    function: Hook = eval(code, namespace)
    return function
