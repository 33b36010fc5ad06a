"""Handler-level templates, differentially: one Application (template_path, ui_modules,
ui_methods, xsrf_cookies, static_url, locale) built on real Tornado 6.6.1 and on this project,
served side by side; every page's status and bytes must be identical, and so must the frames a
chat handler sends with ``render_string`` from ``on_message``."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tornado.locale
import tornado.web
import tornado.websocket
from helpers import wait

import tornado_ws_compat.locale
import tornado_ws_compat.web
import tornado_ws_compat.websocket
from tornado_ws_compat.testing import running

TEMPLATES = {
    "base.html": """<!DOCTYPE html>
<html>
<head><title>{% block title %}{% end %}</title></head>
<body>
{% block body %}{% end %}
</body>
</html>
""",
    "page.html": """{% extends "base.html" %}
{% block title %}{{ title }}{% end %}
{% block body %}
  <h1>{{ shout(title) }} {{ _("Hello") }} [{{ locale.code }}] {{ locale.name }}</h1>
  <ul>
  {% for item in items %}<li>{% include "item.html" %}</li>
  {% end %}
  </ul>
  <form method="post">{% raw xsrf_form_html() %}</form>
  <img src="{{ static_url('logo.png') }}">
  <a href="{{ reverse_url('page') }}">{{ request.path }}</a> {{ handler.__class__.__name__ }}
  {{ current_user }} {% raw linkify("see http://example.com/x") %} {{ squeeze("  a  b ") }}
  {{ locale.friendly_number(1234567) }} {{ locale.list(["a", "b", "c"]) }}
{% end %}
""",
    "item.html": "{{ item }} &amp; {{ len(item) }}",
    "modules.html": """<html><head><title>m</title></head><body>
{% module Entry("first <1>") %}
{% module Entry("second") %}
{% module Template("snippet.html", n=3) %}
{% module linkify("http://example.org/a?b=1&c=2") %}
{% module xsrf_form_html() %}
{{ modules.Entry("via modules") }}
</body></html>
""",
    "snippet.html": """{{ set_resources(embedded_javascript="var s = 1;", css_files=["/abs.css"],
 html_body="<i>snippet body</i>") }}snippet {{ n }} {{ shout("x") }}""",
    "entry.html": '<div class="entry">{{ text }}</div>',
    "message.html": '<div class="msg"><b>{{ user }}</b>: {{ text }} ({{ len(text) }})</div>',
    "broken.html": "{% if %}",
    "nobody.html": "no closing body tag {% module Entry('x') %}",
    "es_page.html": "{{ _('Hello') }} {{ _('%(n)d item', '%(n)d items', 2) % {'n': 2} }}",
}

TRANSLATIONS = {"es.csv": '"Hello","Hola"\n"%(n)d items","%(n)d artículos","plural"\n'}


def shout(handler: Any, text: str) -> str:
    """A UI method: receives the handler first."""
    return text.upper() + "!"


def _private_helper(handler: Any) -> str:  # not a UI method: starts with "_"
    return "private"


def make_app(impl: str, root: Path, variant: str = "default") -> Any:
    """The same application on ``tornado`` or ``ours``."""
    web = tornado.web if impl == "tornado" else tornado_ws_compat.web
    websocket = tornado.websocket if impl == "tornado" else tornado_ws_compat.websocket

    class Entry(web.UIModule):  # type: ignore[name-defined, misc]
        def render(self, text: str) -> bytes:
            return self.render_string("entry.html", text=text)  # type: ignore[no-any-return]

        def embedded_javascript(self) -> str:
            return "console.log('entry');"

        def javascript_files(self) -> list[str]:
            return ["entry.js", "/abs/entry.js", "entry.js"]

        def embedded_css(self) -> str:
            return ".entry { color: red; }"

        def css_files(self) -> str:
            return "entry.css"

        def html_head(self) -> str:
            return "<meta name=entry>"

        def html_body(self) -> str:
            return "<footer>entry</footer>"

    modules_as_module = types.ModuleType("ui_mods")
    modules_as_module.Entry = Entry  # type: ignore[attr-defined]
    methods_as_module = types.ModuleType("ui_meths")
    methods_as_module.shout = shout  # type: ignore[attr-defined]
    methods_as_module._private_helper = _private_helper  # type: ignore[attr-defined]

    class Page(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get_current_user(self) -> str:
            return "<user>"

        def get(self) -> None:
            self.render("page.html", title="Tom & <Jerry>", items=["x<y", "ü"])

        def post(self) -> None:
            self.write("posted")

    class Modules(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get(self) -> None:
            self.render("modules.html")

    class RenderString(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get(self) -> None:
            body = self.render_string("message.html", user="<me>", text="héllo")
            self.write(type(body).__name__.encode() + b":" + body)

    class Broken(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get(self) -> None:
            self.render("broken.html")

    class NoBody(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get(self) -> None:
            self.render("nobody.html")

    class Twice(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get(self) -> None:
            self.finish("done")
            try:
                self.render("entry.html", text="late")
            except RuntimeError as exc:
                self.application.settings["seen"].append(str(exc))

    class Spanish(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get(self) -> None:
            self.render("es_page.html")

    class LocaleProbe(web.RequestHandler):  # type: ignore[name-defined, misc]
        def get(self) -> None:
            self.write(f"{self.locale.code}|{self.get_browser_locale('es').code}")

    class Chat(websocket.WebSocketHandler):  # type: ignore[name-defined, misc]
        def on_message(self, message: str | bytes) -> None:
            self.write_message(self.render_string("message.html", user="<bot>", text=message))

    routes = [
        web.url(r"/page", Page, name="page"),
        (r"/modules", Modules),
        (r"/string", RenderString),
        (r"/broken", Broken),
        (r"/nobody", NoBody),
        (r"/twice", Twice),
        (r"/es", Spanish),
        (r"/chat", Chat),
        (r"/locale", LocaleProbe),
    ]
    settings: dict[str, Any] = {
        "template_path": str(root / "templates"),
        "static_path": str(root / "static"),
        "ui_modules": [modules_as_module, {"Other": Entry, "not_a_module": 3}],
        "ui_methods": methods_as_module,
        "xsrf_cookies": True,
        "cookie_secret": "secret",
        "seen": [],
    }
    if variant == "settings":
        # The other forms and the loader settings: no autoescape, one-line whitespace, dicts.
        settings.update(
            autoescape=None,
            template_whitespace="oneline",
            ui_modules={"Entry": Entry},
            ui_methods={"shout": shout, "_private_helper": _private_helper, "Upper": shout},
            static_url_prefix="/assets/",
        )
    return web.Application(routes, **settings)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    for name, text in TEMPLATES.items():
        (tmp_path / "templates" / name).write_text(text, encoding="utf-8")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "logo.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "locale").mkdir()
    for name, text in TRANSLATIONS.items():
        (tmp_path / "locale" / name).write_text(text, encoding="utf-8")
    return tmp_path


@asynccontextmanager
async def serving(impl: str, root: Path, variant: str) -> AsyncIterator[tuple[int, Any]]:
    app = make_app(impl, root, variant)
    if impl == "tornado":
        server = app.listen(0, "127.0.0.1")
        try:
            yield next(iter(server._sockets.values())).getsockname()[1], app
        finally:
            server.stop()
            await server.close_all_connections()
    else:
        async with running(app) as ours:
            yield ours.port, app


_XSRF_INPUT = re.compile(rb'name="_xsrf" value="[^"]*"')


def normalise(body: bytes) -> bytes:
    """Mask what is random by design: the masked XSRF token differs on every render."""
    return _XSRF_INPUT.sub(b'name="_xsrf" value="TOKEN"', body)


ACCEPT_LANGUAGES = [
    None,
    "",
    "es",
    "fr-FR, es;q=0.9",
    "en;q=0.1, es-MX;q=0.5",
    "es;q=0, de",
    "es;q=-1, fr",
    "es;q=abc",
    "es;level=1;q=0.7, de;q=0.8",
    "de_DE, pt-BR",
    "*",
    "ES-es",
]

PATHS = ["/page", "/modules", "/string", "/broken", "/nobody", "/twice", "/es"]


async def observe(impl: str, root: Path, variant: str = "default") -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with serving(impl, root, variant) as (port, app):
        cookies = {"_xsrf": "2|abcd1234|0123456789abcdef0123456789abcdef|1700000000"}
        async with aiohttp.ClientSession(cookies=cookies) as session:
            for path in PATHS:
                headers = {"Accept-Language": "es-ES,es;q=0.8,en;q=0.5" if path == "/es" else "fr"}
                async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
                    body = await r.read()
                    seen[path] = (r.status, r.headers.get("Content-Type"), normalise(body))
            seen["locales"] = []
            for language in ACCEPT_LANGUAGES:
                headers = {} if language is None else {"Accept-Language": language}
                async with session.get(f"http://127.0.0.1:{port}/locale", headers=headers) as r:
                    seen["locales"].append((language, await r.text()))
            async with session.ws_connect(f"ws://127.0.0.1:{port}/chat") as ws:
                frames = []
                for text in ("hi <there>", "ünïcode & more"):
                    await ws.send_str(text)
                    message = await wait(ws.receive())
                    frames.append((message.type, message.data))
                seen["chat"] = frames
        seen["runtime errors"] = app.settings["seen"]
    return seen


@pytest.mark.asyncio
async def test_pages_identical_to_tornado(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    tornado.locale.load_translations(str(root / "locale"))
    tornado_ws_compat.locale.load_translations(str(root / "locale"))
    try:
        expected = await observe("tornado", root)
        actual = await observe("ours", root)
    finally:
        for module in (tornado.locale, tornado_ws_compat.locale):
            module._translations = {}
            module._supported_locales = frozenset([module._default_locale])
            module.Locale._cache.clear()
    assert actual == expected
    # The comparison is not vacuous: rendered pages, modules' resources, errors, frames.
    status, _, page = actual["/page"]
    assert status == 200 and b"TOM &amp; &lt;JERRY&gt;!" in page and b"Hello [en_US]" in page
    assert b'<script src="/static/entry.js' in actual["/modules"][2]
    assert b"var s = 1;" in actual["/modules"][2]
    assert actual["/broken"][0] == actual["/nobody"][0] == 500
    assert actual["/es"][2] == "Hola 2 artículos".encode()
    assert actual["chat"][0][1].startswith('<div class="msg"><b>&lt;bot&gt;</b>: hi &lt;there&gt;')
    assert actual["runtime errors"] == ["Cannot render() after finish()"]
    assert ("fr-FR, es;q=0.9", "es|es") in actual["locales"]


@pytest.mark.asyncio
async def test_pages_identical_with_loader_settings(root: Path) -> None:
    """autoescape=None, template_whitespace, ui_modules/ui_methods as dicts, a static prefix."""
    expected = await observe("tornado", root, "settings")
    actual = await observe("ours", root, "settings")
    assert actual == expected
    page = actual["/page"][2]
    assert b"<title>Tom & <Jerry></title>" in page and b"\n\n" not in page
    assert b'src="/assets/logo.png?v=' in page


@pytest.mark.asyncio
async def test_template_path_defaults_to_caller_directory(tmp_path: Path) -> None:
    """Without template_path, templates are looked up beside the module that renders."""
    source = tmp_path / "caller_app.py"
    source.write_text(
        "from tornado_ws_compat import web\n"
        "class H(web.RequestHandler):\n"
        "    def get(self):\n"
        "        self.render('here.html', x='<x>')\n"
    )
    (tmp_path / "here.html").write_text("found {{ x }}")
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__("caller_app")
        app = tornado_ws_compat.web.Application([("/", module.H)])
        async with running(app) as server, aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/") as response:
                assert await response.read() == b"found &lt;x&gt;"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("caller_app", None)


@pytest.mark.asyncio
async def test_compiled_template_cache_off_reloads(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text("one")

    class H(tornado_ws_compat.web.RequestHandler):
        def get(self) -> None:
            self.render("t.html")

    for cache, second in ((True, b"one"), (False, b"two")):
        (tmp_path / "t.html").write_text("one")
        tornado_ws_compat.web.RequestHandler._template_loaders.clear()
        app = tornado_ws_compat.web.Application(
            [("/", H)], template_path=str(tmp_path), compiled_template_cache=cache
        )
        async with running(app) as server, aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{server.port}/"
            async with session.get(url) as response:
                assert await response.read() == b"one"
            (tmp_path / "t.html").write_text("two")
            async with session.get(url) as response:
                assert await response.read() == second
