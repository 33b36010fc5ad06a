"""Tornado's template language (``tornado.template``), compiled to Python here.

The language, defaults and error messages are those of Tornado 6.6.1, and so is the text of
the generated Python code: Tornado users see that code in tracebacks (each line ends with a
``# NAME:LINE`` comment naming the template line it came from), in ``SyntaxError`` messages
(which quote the generated line number) and in the log when a template does not compile. Keeping
it the same keeps all three identical.

Templates are trusted code. ``{{ ... }}`` and ``{% ... %}`` hold Python expressions and
statements that run in the server process with its full rights; load templates only from
where you load your source code, never from users. Only ``{{ }}`` output is autoescaped.

Syntax, in brief::

    {{ expression }}            output, autoescaped (xhtml_escape unless configured otherwise)
    {% raw expression %}        output, never escaped
    {# comment #}               nothing; {{! {%! {#! output the braces literally
    {% if %} {% elif %} {% else %} {% for %} {% while %} {% try %} {% except %}
    {% finally %} {% break %} {% continue %} {% end %}
    {% set x = 1 %} {% import m %} {% from m import n %}
    {% extends "base.html" %} {% block name %}...{% end %} {% include "part.html" %}
    {% apply function %}...{% end %}   filter the output of the body through function
    {% autoescape function_or_None %} {% whitespace all|single|oneline %}
    {% module Name(args) %}     a UI module (RequestHandler.render only)
    {% comment ... %}
"""

from __future__ import annotations

import datetime
import html
import linecache
import os.path
import posixpath
import re
import threading
from typing import Any

from . import escape
from .log import app_log

__all__ = ["BaseLoader", "DictLoader", "Loader", "ParseError", "Template", "filter_whitespace"]

_DEFAULT_AUTOESCAPE = "xhtml_escape"


class _Unset:
    """Marks a keyword argument that was not given (``None`` is a meaningful autoescape)."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()

_SPACES_AND_TABS = re.compile(r"[\t ]+")
_AROUND_NEWLINE = re.compile(r"\s*\n\s*")
_ANY_SPACE = re.compile(r"\s+")


def filter_whitespace(mode: str, text: str) -> str:
    """Apply a whitespace ``mode`` to ``text`` (Tornado 4.3).

    ``all`` keeps ``text`` as it is; ``single`` turns each run of spaces and tabs into one
    space and each run of whitespace that holds a newline into one newline; ``oneline`` turns
    every run of whitespace into one space.
    """
    if mode == "all":
        return text
    if mode == "single":
        return _AROUND_NEWLINE.sub("\n", _SPACES_AND_TABS.sub(" ", text))
    if mode == "oneline":
        return _ANY_SPACE.sub(" ", text)
    raise Exception(f"invalid whitespace mode {mode}")


class ParseError(Exception):
    """A template syntax error; ``filename`` and ``lineno`` say where (Tornado 4.3)."""

    # Exception.__new__ keeps the positional arguments as ``args``, as Tornado's class does.
    def __init__(self, message: str, filename: str | None = None, lineno: int = 0) -> None:
        self.message = message
        self.filename = filename
        self.lineno = lineno

    def __str__(self) -> str:
        return f"{self.message} at {self.filename}:{int(self.lineno)}"


class _SourceOfTemplate:
    """``__loader__`` of a running template: lets ``linecache`` show the generated code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def get_source(self, name: str) -> str:
        return self.code


def _xhtml_escape(value: Any) -> str:
    """``escape.xhtml_escape`` for templates: autoescaping passes UTF-8 bytes, tested first."""
    if value.__class__ is bytes:
        return html.escape(value.decode("utf-8"))
    return escape.xhtml_escape(value)


def _utf8(value: Any) -> Any:
    """``escape.utf8`` for the generated code, the common case (``str``) tested first."""
    if value.__class__ is str:
        return value.encode("utf-8")
    return escape.utf8(value)


class Template:
    """A template compiled to Python; ``generate(**names)`` renders it to bytes.

    ``name`` appears in error messages and tracebacks; ``loader`` resolves ``{% extends %}``
    and ``{% include %}`` and supplies defaults. ``autoescape`` is the name of a function in
    the template namespace, or ``None``; ``whitespace`` is a mode of `filter_whitespace`
    (default: the loader's, else ``single`` for ``.html`` and ``.js`` names and ``all`` for
    others). ``compress_whitespace`` is the pre-4.3 boolean form of ``whitespace``.
    """

    def __init__(
        self,
        template_string: str | bytes,
        name: str = "<string>",
        loader: BaseLoader | None = None,
        compress_whitespace: bool = _UNSET,
        autoescape: str | None = _UNSET,
        whitespace: str | None = None,
    ) -> None:
        self.name: str = escape.native_str(name)
        if compress_whitespace is not _UNSET:
            if whitespace is not None:
                raise Exception("cannot set both whitespace and compress_whitespace")
            whitespace = "single" if compress_whitespace else "all"
        if whitespace is None:
            if loader is not None and loader.whitespace:
                whitespace = loader.whitespace
            elif name.endswith((".html", ".js")):
                whitespace = "single"
            else:
                whitespace = "all"
        filter_whitespace(whitespace, "")  # rejects an unknown mode now, not at first use
        if autoescape is not _UNSET:
            self.autoescape: str | None = autoescape
        elif loader is not None:
            self.autoescape = loader.autoescape
        else:
            self.autoescape = _DEFAULT_AUTOESCAPE
        self.namespace: dict[str, Any] = loader.namespace if loader is not None else {}
        source = escape.native_str(template_string)
        assert source is not None
        self.file = _Root(self, _Parser(name, source, whitespace, self).parse_body(None, None))
        self.code = _compile_to_python(self, loader)
        self.loader = loader
        self._filename = self.name.replace(".", "_") + ".generated.py"
        try:
            self.compiled = compile(self.code, self._filename, "exec", dont_inherit=True)
        except Exception:
            app_log.error("%s code:\n%s", self.name, _numbered(self.code).rstrip())
            raise

    def generate(self, **kwargs: Any) -> bytes:
        """Render the template with ``kwargs`` (and the loader's namespace) as its globals."""
        namespace: dict[str, Any] = {
            "escape": _xhtml_escape,
            "xhtml_escape": _xhtml_escape,
            "url_escape": escape.url_escape,
            "json_encode": escape.json_encode,
            "squeeze": escape.squeeze,
            "linkify": escape.linkify,
            "datetime": datetime,
            "_tt_utf8": _utf8,
            "_tt_string_types": (str, bytes),
            # A module name and loader: how traceback finds the generated source.
            "__name__": self.name.replace(".", "_"),
            "__loader__": _SourceOfTemplate(self.code),
        }
        namespace.update(self.namespace)
        namespace.update(kwargs)
        exec(self.compiled, namespace)
        try:
            result: bytes = namespace["_tt_execute"]()
        except BaseException:
            # Tracebacks read the generated source through linecache, keyed by file name;
            # another template of the same name may have left its source there.
            lines = self.code.splitlines(keepends=True)
            linecache.cache[self._filename] = (len(self.code), None, lines, self._filename)
            raise
        return result


def _numbered(code: str) -> str:
    """The generated code with line numbers, as logged when it does not compile."""
    lines = code.splitlines()
    width = len(str(len(lines) + 1))
    return "".join(f"{number:{width}d}  {line}\n" for number, line in enumerate(lines, 1))


class BaseLoader:
    """Finds, compiles and caches templates by name; subclasses say where the text comes from.

    ``autoescape``, ``namespace`` (extra names for every template) and ``whitespace`` are the
    defaults of the templates it loads. Subclasses implement ``resolve_path`` (a name relative
    to the including template -> the cache key) and ``_create_template``.
    """

    def __init__(
        self,
        autoescape: str | None = _DEFAULT_AUTOESCAPE,
        namespace: dict[str, Any] | None = None,
        whitespace: str | None = None,
    ) -> None:
        self.autoescape = autoescape
        self.namespace = namespace or {}
        self.whitespace = whitespace
        self.templates: dict[str, Template] = {}
        # Reentrant: compiling a template loads its parents and includes.
        self.lock = threading.RLock()

    def reset(self) -> None:
        """Forget every compiled template (they are compiled again on next use)."""
        with self.lock:
            self.templates = {}

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """Turn ``name``, relative to the template ``parent_path``, into a loader key."""
        raise NotImplementedError(f"{type(self).__name__} must define resolve_path")

    def load(self, name: str, parent_path: str | None = None) -> Template:
        """The compiled template ``name`` (relative to ``parent_path``), cached."""
        name = self.resolve_path(name, parent_path=parent_path)
        with self.lock:
            template = self.templates.get(name)
            if template is None:
                template = self.templates[name] = self._create_template(name)
            return template

    def _create_template(self, name: str) -> Template:
        raise NotImplementedError(f"{type(self).__name__} must define _create_template")


def _relative_to_parent(name: str, parent_path: str | None) -> bool:
    """Whether ``name`` is to be read relative to the directory of ``parent_path``."""
    return bool(
        parent_path and not parent_path.startswith(("<", "/")) and not name.startswith("/")
    )


class Loader(BaseLoader):
    """Loads templates from files under ``root_directory``.

    Names in ``{% include %}`` and ``{% extends %}`` are relative to the directory of the
    template that holds them, as long as the result stays under the root.
    """

    def __init__(self, root_directory: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = os.path.abspath(root_directory)

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if _relative_to_parent(name, parent_path):
            assert parent_path is not None
            directory = os.path.dirname(os.path.abspath(os.path.join(self.root, parent_path)))
            candidate = os.path.abspath(os.path.join(directory, name))
            if candidate.startswith(self.root):
                name = candidate[len(self.root) + 1 :]
        return name

    def _create_template(self, name: str) -> Template:
        with open(os.path.join(self.root, name), "rb") as source:
            return Template(source.read(), name=name, loader=self)


class DictLoader(BaseLoader):
    """Loads templates from a dictionary of name -> template text."""

    def __init__(self, dict: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dict = dict

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if _relative_to_parent(name, parent_path):
            assert parent_path is not None
            name = posixpath.normpath(posixpath.join(posixpath.dirname(parent_path), name))
        return name

    def _create_template(self, name: str) -> Template:
        return Template(self.dict[name], name=name, loader=self)


# ---------------------------------------------------------------------------------------------
# Syntax tree. Each node writes its Python lines through a _Writer; ``children`` lets the
# compiler find every {% block %} (including those inside includes) before writing anything.


class _Node:
    line = 0

    def children(self) -> tuple[_Node, ...]:
        return ()

    def write(self, out: _Writer) -> None:
        pass

    def collect_blocks(self, loader: BaseLoader | None, blocks: dict[str, _Block]) -> None:
        for child in self.children():
            child.collect_blocks(loader, blocks)


class _Body(_Node):
    def __init__(self, nodes: list[_Node]) -> None:
        self.nodes = nodes

    def children(self) -> tuple[_Node, ...]:
        return tuple(self.nodes)

    def write(self, out: _Writer) -> None:
        for node in self.nodes:
            node.write(out)


class _Root(_Node):
    """A whole template: the ``_tt_execute`` function that returns the page's bytes."""

    def __init__(self, template: Template, body: _Body) -> None:
        self.template = template
        self.body = body

    def children(self) -> tuple[_Node, ...]:
        return (self.body,)

    def write(self, out: _Writer) -> None:
        out.line("def _tt_execute():", 0)
        out.depth += 1
        out.collecting_function(self.body, 0)
        out.depth -= 1


class _Text(_Node):
    def __init__(self, text: str, line: int, whitespace: str) -> None:
        self.text = text
        self.line = line
        self.whitespace = whitespace

    def write(self, out: _Writer) -> None:
        text = self.text
        if "<pre>" not in text:  # Tornado's rough guard for preformatted text
            text = filter_whitespace(self.whitespace, text)
        if text:
            out.line(f"_tt_append({text.encode()!r})", self.line)


class _Output(_Node):
    """``{{ expr }}``, ``{% raw expr %}`` and ``{% module expr %}``."""

    def __init__(self, expression: str, line: int, raw: bool = False) -> None:
        self.expression = expression
        self.line = line
        self.raw = raw

    def write(self, out: _Writer) -> None:
        line = self.line
        out.line("_tt_tmp = " + self.expression, line)
        out.line("if isinstance(_tt_tmp, _tt_string_types): _tt_tmp = _tt_utf8(_tt_tmp)", line)
        out.line("else: _tt_tmp = _tt_utf8(str(_tt_tmp))", line)
        autoescape = out.template.autoescape
        if not self.raw and autoescape is not None:
            out.line("_tt_tmp = _tt_utf8(" + autoescape + "(_tt_tmp))", line)
        out.line("_tt_append(_tt_tmp)", line)


class _Statement(_Node):
    """``{% set %}``, ``{% import %}``, ``{% from %}``, ``{% break %}``, ``{% continue %}``."""

    def __init__(self, statement: str, line: int) -> None:
        self.statement = statement
        self.line = line

    def write(self, out: _Writer) -> None:
        out.line(self.statement, self.line)


class _Compound(_Node):
    """``{% if/for/while/try ... %}`` with its body (which may hold ``_Clause`` nodes)."""

    def __init__(self, header: str, line: int, body: _Body) -> None:
        self.header = header
        self.line = line
        self.body = body

    def children(self) -> tuple[_Node, ...]:
        return (self.body,)

    def write(self, out: _Writer) -> None:
        out.line(self.header + ":", self.line)
        out.depth += 1
        self.body.write(out)
        out.line("pass", self.line)  # the body may be empty
        out.depth -= 1


class _Clause(_Node):
    """``{% elif %}``, ``{% else %}``, ``{% except %}``, ``{% finally %}``."""

    def __init__(self, header: str, line: int) -> None:
        self.header = header
        self.line = line

    def write(self, out: _Writer) -> None:
        out.line("pass", self.line)  # the part before may be empty
        out.line(self.header + ":", self.line, out.depth - 1)


class _Apply(_Node):
    """``{% apply f %}body{% end %}``: the body's bytes, passed through ``f``."""

    def __init__(self, function: str, line: int, body: _Body) -> None:
        self.function = function
        self.line = line
        self.body = body

    def children(self) -> tuple[_Node, ...]:
        return (self.body,)

    def write(self, out: _Writer) -> None:
        helper = f"_tt_apply{out.applies}"
        out.applies += 1
        out.line(f"def {helper}():", self.line)
        out.depth += 1
        out.collecting_function(self.body, self.line)
        out.depth -= 1
        out.line(f"_tt_append(_tt_utf8({self.function}({helper}())))", self.line)


class _Block(_Node):
    """``{% block name %}``: written with the body of the most derived template's override."""

    def __init__(self, name: str, body: _Body, template: Template, line: int) -> None:
        self.name = name
        self.body = body
        self.template = template
        self.line = line

    def children(self) -> tuple[_Node, ...]:
        return (self.body,)

    def collect_blocks(self, loader: BaseLoader | None, blocks: dict[str, _Block]) -> None:
        blocks[self.name] = self
        super().collect_blocks(loader, blocks)

    def write(self, out: _Writer) -> None:
        chosen = out.blocks[self.name]
        with out.inside(chosen.template, self.line):
            chosen.body.write(out)


class _Extends(_Node):
    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, out: _Writer) -> None:
        # Tornado 6.6.1 can only honour {% extends %} at the top level of the template being
        # compiled; anywhere else (in a control block, in an included file) it fails with a
        # bare NotImplementedError at compile time. Same here, so such templates fail alike.
        raise NotImplementedError()


class _Include(_Node):
    """``{% include name %}``: the included template's body, written in place."""

    def __init__(self, name: str, parent: str, line: int) -> None:
        self.name = name
        self.parent = parent
        self.line = line

    def _load(self, loader: BaseLoader | None) -> Template:
        if loader is None:
            raise AssertionError()  # Tornado 6.6.1 asserts a loader here
        return loader.load(self.name, self.parent)

    def collect_blocks(self, loader: BaseLoader | None, blocks: dict[str, _Block]) -> None:
        self._load(loader).file.collect_blocks(loader, blocks)

    def write(self, out: _Writer) -> None:
        included = self._load(out.loader)
        with out.inside(included, self.line):
            included.file.body.write(out)


class _Writer:
    """Accumulates the generated lines, each tagged with the template line it comes from."""

    def __init__(
        self, blocks: dict[str, _Block], loader: BaseLoader | None, template: Template
    ) -> None:
        self.blocks = blocks
        self.loader = loader
        self.template = template  # whose autoescape applies and whose name tags the lines
        self.trail: list[tuple[Template, int]] = []  # where includes and blocks came from
        self.depth = 0
        self.applies = 0
        self.lines: list[str] = []

    def line(self, code: str, line: int, depth: int | None = None) -> None:
        tag = f"  # {self.template.name}:{line}"
        if self.trail:
            tag += " (via " + ", ".join(f"{t.name}:{n}" for t, n in reversed(self.trail)) + ")"
        self.lines.append("    " * (self.depth if depth is None else depth) + code + tag + "\n")

    def collecting_function(self, body: _Body, line: int) -> None:
        """The inside of a function that gathers ``body``'s output and returns it as bytes."""
        self.line("_tt_buffer = []", line)
        self.line("_tt_append = _tt_buffer.append", line)
        body.write(self)
        self.line("return _tt_utf8('').join(_tt_buffer)", line)

    def inside(self, template: Template, line: int) -> _Inside:
        return _Inside(self, template, line)


class _Inside:
    """While writing an included template or a block override: tag lines with its name."""

    def __init__(self, writer: _Writer, template: Template, line: int) -> None:
        self.writer = writer
        writer.trail.append((writer.template, line))
        writer.template = template

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self.writer.template = self.writer.trail.pop()[0]


def _ancestry(template: Template, loader: BaseLoader | None) -> list[_Root]:
    """The template, then what its top-level ``{% extends %}`` name, transitively."""
    chain = [template.file]
    for node in template.file.body.nodes:
        if isinstance(node, _Extends):
            if loader is None:
                raise ParseError("{% extends %} block found, but no template loader")
            chain.extend(_ancestry(loader.load(node.name, template.name), loader))
    return chain


def _compile_to_python(template: Template, loader: BaseLoader | None) -> str:
    """The Python source of ``template``: its root ancestor's body, blocks overridden."""
    chain = _ancestry(template, loader)
    chain.reverse()  # from the root layout down to this template: the last override wins
    blocks: dict[str, _Block] = {}
    for root in chain:
        root.collect_blocks(loader, blocks)
    writer = _Writer(blocks, loader, chain[0].template)
    chain[0].write(writer)
    return "".join(writer.lines)


# ---------------------------------------------------------------------------------------------
# Parser.

# Which compound statements each clause may continue. Messages show these as Python sets;
# Tornado 6.6.1 prints its set literal, whose member order comes from the hash seed of the
# process that compiled its .pyc, so any order is Tornado's: here, sorted (reproducible).
_CLAUSE_PARENTS = {
    "else": {"if", "for", "while", "try"},
    "elif": {"if"},
    "except": {"try"},
    "finally": {"try"},
}
_LOOPS = {"for", "while"}


def _set_text(names: set[str]) -> str:
    """``names`` as Python prints a set of strings, members sorted."""
    return "{" + ", ".join(repr(name) for name in sorted(names)) + "}"


_COMPOUND = ("apply", "block", "try", "if", "for", "while")
_SIMPLE = (
    "extends",
    "include",
    "set",
    "import",
    "from",
    "comment",
    "autoescape",
    "whitespace",
    "raw",
    "module",
)


class _Parser:
    """Reads one template's text into nodes, tracking the current line for messages."""

    def __init__(self, name: str, text: str, whitespace: str, template: Template) -> None:
        self.name = name
        self.text = text
        self.whitespace = whitespace
        self.template = template
        self.pos = 0
        self.lineno = 1

    def fail(self, message: str) -> None:
        raise ParseError(message, self.name, self.lineno)

    def take(self, end: int) -> str:
        """Consume the text up to the absolute position ``end``."""
        chunk = self.text[self.pos : end]
        self.lineno += chunk.count("\n")
        self.pos = end
        return chunk

    def next_tag(self) -> int:
        """Absolute position of the next ``{{``, ``{%`` or ``{#``, or -1.

        In a run of three or more braces the innermost pair opens the tag (useful for LaTeX);
        a brace that is the last character of the text is plain text.
        """
        text, last = self.text, len(self.text) - 1
        at = self.pos
        while True:
            at = text.find("{", at)
            if at == -1 or at == last:
                return -1
            follower = text[at + 1]
            if follower not in "{%#":
                at += 1
            elif follower == "{" and at + 2 <= last and text[at + 2] == "{":
                at += 1
            else:
                return at

    def closing(self, marker: str, missing: str) -> str:
        """Consume through ``marker``; returns the stripped contents before it."""
        end = self.text.find(marker, self.pos)
        if end == -1:
            self.fail(missing)
        contents = self.take(end).strip()
        self.take(end + 2)
        return contents

    def parse_body(self, enclosing: str | None, loop: str | None) -> _Body:
        nodes: list[_Node] = []
        while True:
            start = self.next_tag()
            if start == -1:
                if enclosing:
                    self.fail("Missing {% end %} block for " + enclosing)
                rest = self.take(len(self.text))
                nodes.append(_Text(rest, self.lineno, self.whitespace))
                return _Body(nodes)
            if start > self.pos:
                before = self.take(start)
                nodes.append(_Text(before, self.lineno, self.whitespace))
            opener = self.take(self.pos + 2)
            line = self.lineno
            if self.text.startswith("!", self.pos):  # {{! {%! {#!: the braces, literally
                self.take(self.pos + 1)
                nodes.append(_Text(opener, line, self.whitespace))
                continue
            if opener == "{#":
                self.closing("#}", "Missing end comment #}")
                continue
            if opener == "{{":
                expression = self.closing("}}", "Missing end expression }}")
                if not expression:
                    self.fail("Empty expression")
                nodes.append(_Output(expression, line))
                continue
            contents = self.closing("%}", "Missing end block %}")
            if not contents:
                self.fail("Empty block tag ({% %})")
            if self._directive(contents, line, nodes, enclosing, loop):
                return _Body(nodes)

    def _directive(
        self, contents: str, line: int, nodes: list[_Node], enclosing: str | None, loop: str | None
    ) -> bool:
        """Handle one ``{% ... %}``; true when it is the ``{% end %}`` of ``enclosing``."""
        operator, _, argument = contents.partition(" ")
        argument = argument.strip()
        parents = _CLAUSE_PARENTS.get(operator)
        if parents is not None:
            if not enclosing:
                self.fail(f"{operator} outside {_set_text(parents)} block")
            if enclosing not in parents:
                self.fail(f"{operator} block cannot be attached to {enclosing} block")
            nodes.append(_Clause(contents, line))
        elif operator == "end":
            if not enclosing:
                self.fail("Extra {% end %} block")
            return True
        elif operator in _SIMPLE:
            node = self._simple(operator, argument, contents, line)
            if node is not None:
                nodes.append(node)
        elif operator in _COMPOUND:
            inner_loop = operator if operator in _LOOPS else None if operator == "apply" else loop
            body = self.parse_body(operator, inner_loop)
            if operator == "apply":
                if not argument:
                    self.fail("apply missing method name")
                nodes.append(_Apply(argument, line, body))
            elif operator == "block":
                if not argument:
                    self.fail("block missing name")
                nodes.append(_Block(argument, body, self.template, line))
            else:
                nodes.append(_Compound(contents, line, body))
        elif operator in ("break", "continue"):
            if not loop:
                self.fail(f"{operator} outside {_set_text(_LOOPS)} block")
            nodes.append(_Statement(contents, line))
        else:
            self.fail(f"unknown operator: {operator!r}")
        return False

    def _simple(self, operator: str, argument: str, contents: str, line: int) -> _Node | None:
        """A directive without a body; ``None`` for those that only change parser state."""
        if operator in ("extends", "include"):
            path = argument.strip('"').strip("'")
            if not path:
                self.fail(f"{operator} missing file path")
            if operator == "extends":
                return _Extends(path)
            return _Include(path, self.name, line)
        if operator in ("import", "from"):
            if not argument:
                self.fail("import missing statement")
            return _Statement(contents, line)
        if operator == "set":
            if not argument:
                self.fail("set missing statement")
            return _Statement(argument, line)
        if operator == "autoescape":
            # For the whole template, wherever the directive stands (Tornado applies it when
            # the code is written, after parsing).
            self.template.autoescape = None if argument == "None" else argument
            return None
        if operator == "whitespace":
            filter_whitespace(argument, "")
            self.whitespace = argument
            return None
        if operator == "raw":
            return _Output(argument, line, raw=True)
        if operator == "module":
            return _Output("_tt_modules." + argument, line, raw=True)
        return None  # comment
