"""Differential corpus: each template is rendered by Tornado 6.6.1's ``tornado.template`` and by
``tornado_ws_compat.template`` in the same run; output bytes, generated code, error class and
message, and the template line a traceback points at must all be identical."""

from __future__ import annotations

import datetime
import logging
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tornado.template as real

from tornado_ws_compat import template as ours


@dataclass
class Case:
    """One rendering: ``files`` go to a DictLoader (or a file Loader), ``entry`` is rendered."""

    files: dict[str, str]
    entry: str = "page.html"
    kwargs: dict[str, Any] = field(default_factory=dict)
    loader: dict[str, Any] = field(default_factory=dict)  # loader options
    direct: dict[str, Any] | None = None  # Template(files[entry], **direct), no loader


class Modules:
    """What RequestHandler passes as ``_tt_modules``: ``{% module Name(...) %}`` calls these."""

    def Greeting(self, who: str) -> str:
        return f"<b>hi {who}</b>"

    def Raw(self, value: Any) -> Any:
        return value


class Item:
    def __init__(self, name: str, price: float) -> None:
        self.name = name
        self.price = price

    def __str__(self) -> str:
        return f"Item<{self.name}>"


def boom() -> None:
    raise ValueError("boom from a helper")


def upper(data: bytes) -> str:
    return data.decode().upper()


def page(text: str, **kwargs: Any) -> Case:
    return Case({"page.html": text}, kwargs=kwargs)


def txt(text: str, **kwargs: Any) -> Case:
    return Case({"page.txt": text}, entry="page.txt", kwargs=kwargs)


def direct(text: str, kwargs: dict[str, Any] | None = None, **options: Any) -> Case:
    return Case({"<string>": text}, entry="<string>", kwargs=kwargs or {}, direct=options)


LAYOUT = """<html>
<head><title>{% block title %}Default title{% end %}</title></head>
<body>
  {% block body %}
    default body
  {% end %}
  <footer>{% block footer %}(c) {{ year }}{% end %}</footer>
</body>
</html>
"""

CASES: dict[str, Case] = {
    # Expressions and escaping
    "expr_plain": page("Hello {{ name }}!", name="world"),
    "expr_escaped": page("{{ s }}", s='<a href="x">&\'</a>'),
    "expr_int": page("{{ 1 + 2 }} {{ n }}", n=42),
    "expr_none": page("[{{ None }}]"),
    "expr_float": page("{{ 3.5 }} {{ 1/3 }}"),
    "expr_list": page("{{ [1, '<2>'] }}"),
    "expr_object_str": page("{{ item }}", item=Item("x", 1.0)),
    "expr_bytes": page("{{ b }}", b=b"<bytes>"),
    "expr_bytes_raw": page("{% raw b %}", b=b"\xff\xfe raw"),
    "expr_bytes_invalid_escaped": page("{{ b }}", b=b"\xff"),
    "expr_unicode": page("{{ s }} é ✓ 日本", s="ünïcødé <ok>"),
    "expr_emoji": page("{{ s }}", s="🎉 & 🚀"),
    "expr_attribute": page("{{ item.name }}: {{ '%.2f' % item.price }}", item=Item("<x>", 2.5)),
    "expr_method": page("{{ ', '.join(sorted(d)) }}", d={"b": 1, "a": 2}),
    "expr_chained_assignment": page("{{ x = 5 }}{{ x }}"),
    "expr_semicolon": page("{{ 1; 2 }}"),
    "expr_comment_inside": page("{{ 7 # a comment }}"),
    "expr_multiline": page("{{ (1 +\n 2) }}\nline"),
    "expr_str_subclass": page("{{ s }}", s=type("S", (str,), {})("<sub>")),
    "expr_surrogate": page("{{ s }}", s="a\ud800b"),
    "raw_html": page("{% raw html %}", html="<i>trusted</i>"),
    "raw_expression": page("{% raw '<%s>' % tag %}", tag="p"),
    "namespace_functions": page(
        "{{ url_escape('a b&c') }}|{% raw json_encode({'k': '</script>'}) %}|"
        "{{ squeeze('  a \\n\\t b  ') }}|{% raw linkify('see http://x.org/a?b=1&c=2') %}|"
        "{{ xhtml_escape('<') }}|{% raw escape('\"') %}|{{ datetime.date(2020, 1, 2) }}"
    ),
    "linkify_shorten": page(
        "{% raw linkify(t, shorten=True) %}",
        t="go to https://www.example.com/some/really/long/path/name.html?x=1&y=2 or www.a.io",
    ),
    "linkify_options": page(
        "{% raw linkify(t, require_protocol=True, extra_params='rel=\"nofollow\"') %}",
        t="www.a.com ftp://b.com http://c.com/(x)",
    ),
    "json_encode_autoescaped": page("{{ json_encode([1, '<b>']) }}"),
    "name_and_loader": page("{{ __name__ }}"),
    # Comments and escapes
    "comment": page("a{# ignored {{ x }} #}b"),
    "comment_multiline": page("a{# one\ntwo\n #}b {{ 1/0 if False else 3 }}"),
    "comment_directive": page("a{% comment anything at all %}b"),
    "escape_expression": page("{{! not an expression }}"),
    "escape_block": page("{%! if x %}"),
    "escape_comment": page("{#! not a comment #}"),
    "triple_braces": page("\\frac{{{ n }}}{2}", n=3),
    "lone_braces": page("function() { return {a: 1}; } {"),
    "brace_at_end": page("text {"),
    "jquery_style": page("<script>${{! name }}</script>{{ 1 }}"),
    # Control flow
    "if_true": page("{% if x %}yes{% end %}", x=True),
    "if_else": page("{% if x %}yes{% else %}no{% end %}", x=0),
    "if_elif": page(
        "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two"
        "{% else %}many{% end %},{% end %}"
    ),
    "if_empty_body": page("{% if x %}{% else %}empty-if{% end %}", x=False),
    "for_loop": page("{% for i, v in enumerate(items) %}{{ i }}={{ v }};{% end %}", items="abc"),
    "for_else": page("{% for v in [] %}{{ v }}{% else %}none{% end %}"),
    "for_break_continue": page(
        "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% end %}"
        "{% if i == 5 %}{% break %}{% end %}{{ i }}{% end %}"
    ),
    "for_nested": page(
        "{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% end %}</tr>\n{% end %}",
        rows=[[1, "<2>"], [3, 4]],
    ),
    "while_loop": page("{% set i = 0 %}{% while i < 3 %}{{ i }}{% set i += 1 %}{% end %}"),
    "while_else": page("{% while False %}x{% else %}done{% end %}"),
    "try_except": page("{% try %}{{ 1/0 }}{% except ZeroDivisionError %}div{% end %}"),
    "try_except_else_finally": page(
        "{% try %}ok{% except Exception %}bad{% else %}else{% finally %}fin{% end %}"
    ),
    "try_finally_output": page("{% try %}{{ a }}{% finally %}[f]{% end %}", a="<a>"),
    "set_statement": page("{% set x = [1, 2] %}{% set x.append(3) %}{{ x }}"),
    "import": page("{% import math %}{{ math.floor(2.7) }}"),
    "from_import": page("{% from os.path import join %}{{ join('a', 'b') }}"),
    "apply": page("{% apply upper %}hello {{ name }}{% end %}", name="<w>", upper=upper),
    "apply_nested": page(
        "{% apply upper %}a{% apply upper %}b{% end %}c{% end %}{% apply upper %}d{% end %}",
        upper=upper,
    ),
    "apply_in_loop": page(
        "{% for i in range(2) %}{% apply upper %}x{{ i }}{% end %}{% end %}", upper=upper
    ),
    "autoescape_none": page("{% autoescape None %}{{ s }}", s="<raw>"),
    "autoescape_after_expression": page("{{ s }}{% autoescape None %}{{ s }}", s="<both>"),
    "autoescape_function": page("{% autoescape upper %}{{ s }}", s="low", upper=upper),
    "autoescape_empty": page("{% autoescape %}{{ s }}", s="<x>"),
    "autoescape_url": page("{% autoescape url_escape %}{{ s }}", s="a b/c"),
    "autoescape_json_bytes": page("{% autoescape json_encode %}{{ s }}", s="x"),
    "module": page("{% module Greeting('<you>') %}", _tt_modules=Modules()),
    "module_raw_value": page("{% module Raw(5) %}{% module Raw(b'b') %}", _tt_modules=Modules()),
    "module_missing": page("{% module Greeting('x') %}"),
    # Whitespace
    "ws_html_single": page("a   b\t\tc\n\n\n   d  \n  e"),
    "ws_txt_all": txt("a   b\n\n\n   c"),
    "ws_js_single": Case({"x.js": "var a   =  1;\n\n\n  var b;"}, entry="x.js"),
    "ws_pre_kept": page("<pre>  keep   this  </pre>\n\n   x"),
    "ws_pre_split": page("<pre>{{ 1 }}   keep?</pre>   \n\n  z"),
    "ws_directive_oneline": page("a\n\n b{% whitespace oneline %}c\n\n  d\t e"),
    "ws_directive_all": page("{% whitespace all %}a\n\n   b"),
    "ws_directive_switch": txt(
        "x  \n\n y{% whitespace single %}  p  \n\n q{% whitespace all %}  r\n\n"
    ),
    "ws_unicode_spaces": page(
        "a\u00a0\u00a0b\u2003\n\u2003c",
    ),
    "ws_loader_oneline": Case(
        {"page.html": "a\n\n  b   c", "p.txt": "x\n\n  y"},
        loader={"whitespace": "oneline"},
    ),
    "ws_around_tags": page(
        "<ul>\n  {% for i in range(2) %}\n    <li>{{ i }}</li>\n  {% end %}\n</ul>\n"
    ),
    # Inheritance and includes
    "extends_basic": Case(
        {
            "base.html": LAYOUT,
            "page.html": '{% extends "base.html" %}{% block title %}Mine{% end %}'
            "{% block body %}<p>{{ msg }}</p>{% end %}",
        },
        kwargs={"msg": "<hi>", "year": 2024},
    ),
    "extends_three_levels": Case(
        {
            "base.html": LAYOUT,
            "mid.html": '{% extends "base.html" %}{% block body %}mid[{% block inner %}i{% end %}]'
            "{% end %}{% block footer %}mid-footer{% end %}",
            "page.html": "{% extends 'mid.html' %}{% block inner %}leaf {{ 1 }}{% end %}",
        },
        kwargs={"year": 1},
    ),
    "extends_ignores_outside": Case(
        {
            "base.html": "B[{% block a %}{% end %}]",
            "page.html": "{% extends base.html %}ignored {{ 1/0 }}{% block a %}A{% end %}tail",
        }
    ),
    "extends_autoescape_per_template": Case(
        {
            "base.html": "{% autoescape None %}{{ s }}|{% block b %}{{ s }}{% end %}",
            "page.html": '{% extends "base.html" %}{% block b %}{{ s }}{% end %}',
        },
        kwargs={"s": "<s>"},
    ),
    "extends_whitespace_per_file": Case(
        {
            "base.txt": "base  \n\n  {% block b %}{% end %}",
            "page.html": '{% extends "base.txt" %}{% block b %}child   \n\n x{% end %}',
        }
    ),
    "extends_relative_dirs": Case(
        {
            "layouts/base.html": "L:{% block x %}{% end %}:{% include 'part.html' %}",
            "layouts/part.html": "part",
            "pages/page.html": '{% extends "../layouts/base.html" %}{% block x %}X{% end %}',
        },
        entry="pages/page.html",
    ),
    "extends_block_in_include": Case(
        {
            "base.html": "[{% include 'inc.html' %}]",
            "inc.html": "inc:{% block slot %}default{% end %}",
            "page.html": '{% extends "base.html" %}{% block slot %}override{% end %}',
        }
    ),
    "extends_nested_blocks": Case(
        {
            "base.html": "{% block outer %}O[{% block inner %}I{% end %}]{% end %}",
            "page.html": '{% extends "base.html" %}{% block inner %}child{% end %}',
        }
    ),
    "extends_block_in_loop": Case(
        {
            "base.html": "{% for i in range(3) %}{% block row %}{{ i }}{% end %}{% end %}",
            "page.html": '{% extends "base.html" %}{% block row %}<{{ i * 10 }}>{% end %}',
        }
    ),
    "extends_twice": Case(
        {
            "a.html": "A{% block x %}a{% end %}",
            "b.html": "B{% block x %}b{% end %}",
            "page.html": "{% extends a.html %}{% extends b.html %}{% block x %}p{% end %}",
        }
    ),
    "extends_in_if": Case(
        {"base.html": "b", "page.html": "{% if True %}{% extends base.html %}{% end %}"}
    ),
    "extends_missing_path": page("{% extends '' %}"),
    "extends_no_loader": direct("{% extends 'base.html' %}"),
    "extends_missing_file": page("{% extends 'nope.html' %}"),
    "include_basic": Case(
        {"page.html": "a {% include 'inc.html' %} c", "inc.html": "[{{ v }}]"},
        kwargs={"v": "<b>"},
    ),
    "include_shares_namespace": Case(
        {
            "page.html": "{% set x = 1 %}{% include 'inc.html' %}{{ y }}",
            "inc.html": "{{ x }}{% set y = 2 %}",
        }
    ),
    "include_in_loop": Case(
        {
            "page.html": "{% for i in range(3) %}{% include 'row.html' %}{% end %}",
            "row.html": "<r>{{ i }}</r>\n",
        }
    ),
    "include_nested": Case(
        {
            "page.html": "1{% include 'a.html' %}",
            "a.html": "2{% include 'b.html' %}",
            "b.html": "3{{ z }}",
        },
        kwargs={"z": "!"},
    ),
    "include_autoescape_own": Case(
        {
            "page.html": "{{ s }}{% include 'inc.html' %}",
            "inc.html": "{% autoescape None %}{{ s }}",
        },
        kwargs={"s": "<&>"},
    ),
    "include_relative": Case(
        {"dir/page.html": "{% include 'sub/inc.html' %}", "dir/sub/inc.html": "deep"},
        entry="dir/page.html",
    ),
    "include_absolute": Case(
        {"dir/page.html": "{% include '/top.html' %}", "/top.html": "top"}, entry="dir/page.html"
    ),
    "include_missing_path": page("{% include %}"),
    "include_no_loader": direct("{% include 'x.html' %}"),
    "include_missing_file": page("{% include 'missing.html' %}"),
    "include_error_line": Case(
        {"page.html": "x\n{% include 'e.html' %}", "e.html": "a\nb\n{{ 1/0 }}"}
    ),
    "block_error_line": Case(
        {
            "base.html": "line1\n{% block b %}{% end %}",
            "page.html": '{% extends "base.html" %}\n\n{% block b %}\n{{ undefined }}{% end %}',
        }
    ),
    # Loader defaults and options
    "loader_autoescape_none": Case(
        {"page.html": "{{ s }}"}, kwargs={"s": "<x>"}, loader={"autoescape": None}
    ),
    "loader_autoescape_fn": Case(
        {"page.html": "{{ s }}"},
        kwargs={"s": "abc"},
        loader={"autoescape": "upper", "namespace": {"upper": upper}},
    ),
    "loader_namespace": Case(
        {"page.html": "{{ greet }} {{ n }}"},
        kwargs={"n": 2},
        loader={"namespace": {"greet": "ns"}},
    ),
    "loader_namespace_overridden": Case(
        {"page.html": "{{ greet }}"}, kwargs={"greet": "kw"}, loader={"namespace": {"greet": "ns"}}
    ),
    "kwargs_override_builtins": page("{{ escape }}", escape="shadowed"),
    "direct_autoescape_none": direct("{{ s }}", {"s": "<d>"}, autoescape=None),
    "direct_whitespace_oneline": direct("a\n\n   b", whitespace="oneline"),
    "direct_compress_true": direct("a\n\n   b", compress_whitespace=True),
    "direct_compress_false": direct("a\n\n   b", compress_whitespace=False),
    "direct_both_whitespace": direct("a", compress_whitespace=True, whitespace="all"),
    "direct_bad_whitespace": direct("a", whitespace="none"),
    "direct_named_html": Case({"t.html": "a   \n\n b"}, entry="t.html", direct={"name": "t.html"}),
    "direct_bytes_source": Case(
        {"<string>": "é {{ 'ü' }}"}, entry="<string>", direct={"encode": True}
    ),
    "direct_bytes_source_invalid": Case(
        {"<string>": ""}, entry="<string>", direct={"raw_bytes": b"\xff{{ 1 }}"}
    ),
    # Parse errors
    "err_missing_end": page("{% if x %}\nno end"),
    "err_missing_end_for": page("line\n{% for x in y %}"),
    "err_extra_end": page("a\n{% end %}"),
    "err_unknown_operator": page("{% bogus thing %}"),
    "err_unknown_operator_tab": page("{% if\tx %}{% end %}"),
    "err_empty_expression": page("a {{ }}"),
    "err_empty_expression_multiline": page("a {{ \n\n }}"),
    "err_empty_block": page("{%   %}"),
    "err_missing_end_expression": page("x\n{{ 1 + "),
    "err_missing_end_block": page("x\n\n{% if "),
    "err_missing_end_comment": page("{# forever"),
    "err_else_outside": page("{% else %}"),
    "err_elif_in_for": page("{% for x in y %}{% elif z %}{% end %}"),
    "err_except_in_if": page("{% if 1 %}{% except %}{% end %}"),
    "err_finally_outside": page("a{% finally %}"),
    "err_break_outside": page("{% break %}"),
    "err_continue_in_if": page("{% if 1 %}{% continue %}{% end %}"),
    "err_break_in_apply": page("{% for i in x %}{% apply f %}{% break %}{% end %}{% end %}"),
    "break_in_block_in_loop": page(
        "{% for i in range(3) %}{% block b %}{{ i }}{% break %}{% end %}{% end %}"
    ),
    "err_apply_no_name": page("{% apply %}x\n{% end %}"),
    "err_block_no_name": page("{% block %}x{% end %}"),
    "err_set_empty": page("{% set %}"),
    "err_import_empty": page("{% import %}"),
    "err_bad_whitespace_directive": page("{% whitespace nope %}"),
    "err_else_in_block": page("{% block a %}{% else %}{% end %}"),
    # Python-level errors (compile time and run time)
    "err_syntax_expression": page("a\n{{ 1 + }}"),
    "err_unclosed_paren": page("{{ f( }}\nmore"),
    "err_syntax_statement": page("{% set x = = 1 %}"),
    "err_syntax_if": page("{% if %}x{% end %}"),
    "err_double_else": page("{% if x %}{% else %}{% else %}{% end %}"),
    "err_raw_empty": page("{% raw %}"),
    "err_name_error": page("line1\nline2 {{ missing }}"),
    "err_zero_division": page("{% for i in [1, 0] %}\n{{ 1 / i }}\n{% end %}"),
    "err_helper_raises": page("\n\n{{ boom() }}", boom=boom),
    "err_type_in_set": page("{% set x = 1 + 'a' %}"),
    "err_apply_raises": page("{% apply boom2 %}x{% end %}", boom2=lambda b: 1 / 0),
    "err_escape_type": page("{{ escape(5) }}"),
    "include_with_extends": Case(
        {"page.html": "a{% include 'child.html' %}", "child.html": "{% extends 'page.html' %}x"}
    ),
    "block_defined_twice": page("{% block a %}one{% end %}|{% block a %}two{% end %}"),
    "apply_with_autoescape": page(
        "{% autoescape None %}{% apply upper %}{{ s }}{% end %}", s="<x>", upper=upper
    ),
    "ws_directive_in_include": Case(
        {
            "page.html": "a   b {% include 'inc.html' %} c    d",
            "inc.html": "{% whitespace all %}x    y",
        }
    ),
    "crlf_single": page("line one   \r\n\r\n   line two\r\n{{ 1 }}\r\n"),
    "crlf_txt": txt("a\r\n  b"),
    "braces_in_string": page('{{ "}}" }}'),
    "percent_in_expression": page("{{ '%d%%' % 5 }}"),
    "loader_none_then_directive": Case(
        {"page.html": "{% autoescape xhtml_escape %}{{ s }}"},
        kwargs={"s": "<on>"},
        loader={"autoescape": None},
    ),
    "set_in_child_block": Case(
        {
            "base.html": "{% set x = 'base' %}{% block b %}{% end %}{{ x }}",
            "page.html": "{% extends base.html %}{% block b %}{% set x = 'child' %}{% end %}",
        }
    ),
    "nested_control": page(
        "{% for i in range(4) %}{% if i % 2 %}{% try %}{{ 10 // (i - 1) }}"
        "{% except ZeroDivisionError %}z{% end %}{% else %}e{% end %}{% end %}"
    ),
    "module_attribute_error": page("{% module Missing() %}", _tt_modules=Modules()),
    "linkify_bytes": page("{% raw linkify(b) %}", b=b"x http://a.b/c"),
    "unicode_name": Case({"ünï.html": "{{ 'ok' }}{{ 1/0 }}"}, entry="ünï.html"),
    "deep_include_chain": Case(
        {
            "page.html": "{% include 'a/1.html' %}",
            "a/1.html": "1{% include '../b/2.html' %}",
            "b/2.html": "2{% include 'c/3.html' %}",
            "b/c/3.html": "3{{ 1/0 }}",
        }
    ),
    "err_url_escape_none": page("{{ url_escape(None) }}"),
}


def _make_loader(module: ModuleType, case: Case, tmp_path: Path | None) -> Any:
    if tmp_path is not None:
        for name, text in case.files.items():
            path = tmp_path / name.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return module.Loader(str(tmp_path), **case.loader)
    return module.DictLoader(case.files, **case.loader)


def _innermost_template_frame(exc: BaseException) -> tuple[str, int, str] | None:
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".generated.py")
    ]
    if not frames:
        return None
    last = frames[-1]
    return (last.filename, last.lineno or 0, last.line or "")


_SET_IN_MESSAGE = re.compile(r"\{('[a-z]+'(?:, '[a-z]+')*)\}")


def _sorted_sets(message: str) -> str:
    """Sort the members of a set shown in a message ("else outside {'if', 'for'} block").

    Tornado formats a set literal there; its order comes from the frozenset constant stored in
    tornado/template.py's .pyc, i.e. from the hash seed of the process that compiled it, so it
    differs from one installation to the next and cannot be reproduced; the members can.
    """
    return _SET_IN_MESSAGE.sub(
        lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message
    )


def render(module: ModuleType, case: Case, tmp_path: Path | None = None) -> dict[str, Any]:
    """What a user observes: output, or the error (class, message, template frame), and code."""
    seen: dict[str, Any] = {}
    try:
        if case.direct is not None:
            options = dict(case.direct)
            source: str | bytes = case.files[case.entry]
            if options.pop("encode", False):
                source = source.encode("utf-8")
            if "raw_bytes" in options:
                source = options.pop("raw_bytes")
            tmpl = module.Template(source, **options)
        else:
            tmpl = _make_loader(module, case, tmp_path).load(case.entry)
        seen["code"] = tmpl.code
        seen["autoescape"] = tmpl.autoescape
        seen["output"] = tmpl.generate(**case.kwargs)
    except Exception as exc:
        seen["error"] = (type(exc).__name__, _sorted_sets(str(exc)), _sorted_sets(repr(exc.args)))
        seen["frame"] = _innermost_template_frame(exc)
        if isinstance(exc, ParseErrors):
            seen["where"] = (exc.filename, exc.lineno)
    return seen


ParseErrors = (real.ParseError, ours.ParseError)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_tornado(name: str, caplog: pytest.LogCaptureFixture) -> None:
    case = CASES[name]
    with caplog.at_level(logging.ERROR, logger="tornado.application"):
        expected = render(real, case)
        logged_by_tornado = [r.getMessage() for r in caplog.records]
        caplog.clear()
        actual = render(ours, case)
        logged_by_us = [r.getMessage() for r in caplog.records]
    assert actual == expected
    assert logged_by_us == logged_by_tornado
    assert "output" in expected or "error" in expected


@pytest.mark.parametrize(
    "name", sorted(n for n, c in CASES.items() if c.direct is None and "/top.html" not in c.files)
)
def test_same_as_tornado_from_files(name: str, tmp_path: Path) -> None:
    """The file Loader: same names relative to a root directory, same results."""
    case = CASES[name]
    (tmp_path / "real").mkdir()
    (tmp_path / "ours").mkdir()
    expected = render(real, case, tmp_path / "real")
    actual = render(ours, case, tmp_path / "ours")
    for seen, root in ((expected, "real"), (actual, "ours")):  # messages name the root
        if "error" in seen:
            seen["error"] = repr(seen["error"]).replace(str(tmp_path / root), "ROOT")
    assert actual == expected


def test_every_corpus_case_exercises_something() -> None:
    """Not all errors: most of the corpus renders, and errors are of several kinds."""
    results = [render(ours, c) for c in CASES.values()]
    rendered = sum("output" in r for r in results)
    kinds = {r["error"][0] for r in results if "error" in r}
    assert rendered >= 70
    assert {"ParseError", "SyntaxError", "NameError", "ZeroDivisionError", "KeyError"} <= kinds


def test_traceback_points_at_template_line() -> None:
    """A runtime error's traceback shows the generated line tagged with the template line."""
    for module in (real, ours):
        loader = module.DictLoader(
            {"page.html": "x\n{% include 'e.html' %}", "e.html": "a\nb\n{{ 1/0 }}"}
        )
        with pytest.raises(ZeroDivisionError) as info:
            loader.load("page.html").generate()
        text = "".join(traceback.format_exception(info.value))
        assert 'File "page_html.generated.py"' in text
        assert "_tt_tmp = 1/0  # e.html:3 (via page.html:2)" in text


def test_same_name_templates_show_their_own_source() -> None:
    """Two templates with one name: each traceback quotes its own code."""
    first = ours.Template("{{ 1/0 }}")
    second = ours.Template("\n\n{{ [][1] }}")
    for tmpl, quoted in ((first, "_tt_tmp = 1/0"), (second, "_tt_tmp = [][1]")):
        with pytest.raises(Exception) as info:
            tmpl.generate()
        assert quoted in "".join(traceback.format_exception(info.value))


def test_loader_caches_and_resets(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("one")
    for module in (real, ours):
        loader = module.Loader(str(tmp_path))
        first = loader.load("a.html")
        assert loader.load("a.html") is first
        (tmp_path / "a.html").write_text("two")
        assert loader.load("a.html").generate() == b"one"
        loader.reset()
        assert loader.load("a.html").generate() == b"two"
        (tmp_path / "a.html").write_text("one")


def test_loader_extension_points() -> None:
    """A custom loader (resolve_path + _create_template) works as with Tornado."""

    def make(module: ModuleType) -> Any:
        class Upper(module.BaseLoader):  # type: ignore[name-defined, misc]
            def resolve_path(self, name: str, parent_path: str | None = None) -> str:
                return name.upper()

            def _create_template(self, name: str) -> Any:
                return module.Template(
                    "{{ n }}:" + name + "{% include 'x' %}" * (name != "X"), name=name, loader=self
                )

        return Upper(namespace={"n": 7})

    assert make(real).load("page").generate() == make(ours).load("page").generate() == b"7:PAGE7:X"


def test_base_loader_requires_resolve_path() -> None:
    with pytest.raises(NotImplementedError):
        ours.BaseLoader().load("x")


def test_filter_whitespace_modes() -> None:
    text = " a \t b\n\n  c \u00a0\n"
    for mode in ("all", "single", "oneline"):
        assert ours.filter_whitespace(mode, text) == real.filter_whitespace(mode, text)
    with pytest.raises(Exception, match="invalid whitespace mode x"):
        ours.filter_whitespace("x", text)


def test_parse_error_attributes() -> None:
    for module in (real, ours):
        with pytest.raises(module.ParseError) as info:
            module.Template("a\n\n{% end %}", name="n.html")
        assert (info.value.filename, info.value.lineno, info.value.message) == (
            "n.html",
            3,
            "Extra {% end %} block",
        )


def test_template_attributes_match() -> None:
    theirs = real.Template("{{ x }}", name="a.b.html", autoescape=None)
    mine = ours.Template("{{ x }}", name="a.b.html", autoescape=None)
    assert (mine.name, mine.autoescape, mine.namespace, mine.loader) == (
        theirs.name,
        theirs.autoescape,
        theirs.namespace,
        theirs.loader,
    )
    assert mine.code == theirs.code
    assert mine.compiled.co_filename == theirs.compiled.co_filename == "a_b_html.generated.py"


def test_datetime_and_repeated_generate() -> None:
    tmpl = ours.Template("{{ datetime.datetime(2000, 1, 1).isoformat() }}{{ n }}")
    assert tmpl.generate(n=1) == b"2000-01-01T00:00:001"
    assert tmpl.generate(n=2) == b"2000-01-01T00:00:002"
    assert ours.Template("{{ datetime is dt }}").generate(dt=datetime) == b"True"
