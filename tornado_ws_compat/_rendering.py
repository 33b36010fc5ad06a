"""Templates in request handlers: ``render``, ``render_string``, the template namespace, UI
modules and methods, and the handler's locale, as ``tornado.web`` 6.6.1 has them.

`RenderingMixin` is a base of ``web.RequestHandler`` (and so of ``WebSocketHandler``, whose
``on_message`` may call ``render_string``); `UIModule` and its built-in subclasses are
re-exported by ``web``.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tornado_ws_compat import escape, template
from tornado_ws_compat import locale as _locale
from tornado_ws_compat.util import ObjectDict

if TYPE_CHECKING:
    from tornado_ws_compat.httputil import HTTPServerRequest
    from tornado_ws_compat.web import Application, RequestHandler

__all__ = ["RenderingMixin", "TemplateModule", "UIModule", "ui_registry"]


def _is_absolute(path: str) -> bool:
    """A resource path used as is, not passed to ``static_url`` (Tornado's rule)."""
    return path.startswith(("/", "http:", "https:"))


def _resource_paths(paths: Iterable[str], handler: RenderingMixin) -> list[str]:
    """Module resource paths in first-seen order, without repeats, relative ones made static."""
    seen: list[str] = []
    for path in paths:
        if not _is_absolute(path):
            path = handler.static_url(path)
        if path not in seen:
            seen.append(path)
    return seen


class RenderingMixin:
    """Template rendering for ``RequestHandler`` (Tornado 6.6.1's methods of the same names)."""

    # One loader per template directory, shared by every handler (and application) of the
    # process, as in Tornado; the setting compiled_template_cache=False resets them per request.
    _template_loaders: dict[str, template.BaseLoader] = {}
    _template_loader_lock = threading.RLock()

    if TYPE_CHECKING:
        application: Application
        request: HTTPServerRequest
        _finished: bool
        current_user: Any

        def static_url(
            self, path: str, include_host: bool | None = None, **kwargs: Any
        ) -> str: ...
        def xsrf_form_html(self) -> str: ...
        def reverse_url(self, name: str, *args: Any) -> str: ...
        def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Any: ...

    _active_modules: dict[str, UIModule]

    @property
    def ui(self) -> ObjectDict:
        """The application's UI methods bound to this handler, and its UI modules (as
        ``_tt_modules``, which ``{% module %}`` uses, and ``modules``). Tornado builds it in
        the handler's constructor; built on first use here (most requests never render)."""
        ui: ObjectDict | None = self.__dict__.get("_ui")
        if ui is None:
            app = self.application
            ui = ObjectDict((name, self._ui_method(fn)) for name, fn in app.ui_methods.items())
            ui["_tt_modules"] = ui["modules"] = _UIModuleNamespace(self, app.ui_modules)
            self.__dict__["_ui"] = ui
        return ui

    @ui.setter
    def ui(self, value: ObjectDict) -> None:
        self.__dict__["_ui"] = value

    def _reset_template_cache_if_disabled(self) -> None:
        """With ``compiled_template_cache=False`` (``debug``), templates reload every request."""
        if not self.application.settings.get("compiled_template_cache", True):
            with RenderingMixin._template_loader_lock:
                for loader in RenderingMixin._template_loaders.values():
                    loader.reset()

    def render(self, template_name: str, **kwargs: Any) -> Awaitable[None]:
        """Render ``template_name`` as the response and ``finish`` (returns finish's future).

        The resources the page's UI modules declare are inserted as Tornado does: script files
        then embedded JavaScript before the last ``</body>``; style sheets, embedded CSS and the
        modules' ``html_head`` before the first ``</head>``; their ``html_body`` before the first
        ``</body>``.
        """
        if self._finished:
            raise RuntimeError("Cannot render() after finish()")
        html = self.render_string(template_name, **kwargs)
        js_embed: list[bytes] = []
        js_files: list[str] = []
        css_embed: list[bytes] = []
        css_files: list[str] = []
        heads: list[bytes] = []
        bodies: list[bytes] = []
        for module in getattr(self, "_active_modules", {}).values():
            _gather_text(module.embedded_javascript(), js_embed)
            _gather_paths(module.javascript_files(), js_files)
            _gather_text(module.embedded_css(), css_embed)
            _gather_paths(module.css_files(), css_files)
            _gather_text(module.html_head(), heads)
            _gather_text(module.html_body(), bodies)
        if js_files:
            html = _insert(html, b"</body>", _utf8(self.render_linked_js(js_files)) + b"\n")
        if js_embed:
            html = _insert(html, b"</body>", self.render_embed_js(js_embed) + b"\n")
        if css_files:
            css = _utf8(self.render_linked_css(css_files))
            html = _insert(html, b"</head>", css + b"\n", last=False)
        if css_embed:
            html = _insert(html, b"</head>", self.render_embed_css(css_embed) + b"\n", last=False)
        if heads:
            html = _insert(html, b"</head>", b"".join(heads) + b"\n", last=False)
        if bodies:
            html = _insert(html, b"</body>", b"".join(bodies) + b"\n", last=False)
        return self.finish(html)  # type: ignore[no-any-return]

    def render_linked_js(self, js_files: Iterable[str]) -> str:
        """The ``<script src>`` tags of the modules' JavaScript files (override to change)."""
        return "".join(
            '<script src="' + escape.xhtml_escape(path) + '" type="text/javascript"></script>'
            for path in _resource_paths(js_files, self)
        )

    def render_embed_js(self, js_embed: Iterable[bytes]) -> bytes:
        """The ``<script>`` element holding the modules' embedded JavaScript."""
        return (
            b'<script type="text/javascript">\n//<![CDATA[\n'
            + b"\n".join(js_embed)
            + b"\n//]]>\n</script>"
        )

    def render_linked_css(self, css_files: Iterable[str]) -> str:
        """The ``<link rel=stylesheet>`` tags of the modules' style sheets."""
        return "".join(
            '<link href="' + escape.xhtml_escape(path) + '" type="text/css" rel="stylesheet"/>'
            for path in _resource_paths(css_files, self)
        )

    def render_embed_css(self, css_embed: Iterable[bytes]) -> bytes:
        """The ``<style>`` element holding the modules' embedded CSS."""
        return b'<style type="text/css">\n' + b"\n".join(css_embed) + b"\n</style>"

    def render_string(self, template_name: str, **kwargs: Any) -> bytes:
        """Render ``template_name`` with the template namespace and ``kwargs``; UTF-8 bytes.

        Templates are found under `get_template_path` (by default the directory of the
        module that called ``render``/``render_string``).
        """
        template_path = self.get_template_path()
        if not template_path:
            frame = sys._getframe(0)
            here = frame.f_code.co_filename
            while frame.f_code.co_filename == here and frame.f_back is not None:
                frame = frame.f_back
            template_path = os.path.dirname(frame.f_code.co_filename)
        with RenderingMixin._template_loader_lock:
            loader = RenderingMixin._template_loaders.get(template_path)
            if loader is None:
                loader = self.create_template_loader(template_path)
                RenderingMixin._template_loaders[template_path] = loader
        compiled = loader.load(template_name)
        namespace = self.get_template_namespace()
        namespace.update(kwargs)
        return compiled.generate(**namespace)

    def get_template_namespace(self) -> dict[str, Any]:
        """The names every template sees (override to add some); ``render``'s keyword
        arguments and tornado.template's own names complete it."""
        namespace = {
            "handler": self,
            "request": self.request,
            "current_user": self.current_user,
            "locale": self.locale,
            "_": self.locale.translate,
            "pgettext": self.locale.pgettext,
            "static_url": self.static_url,
            "xsrf_form_html": self.xsrf_form_html,
            "reverse_url": self.reverse_url,
        }
        namespace.update(self.ui)
        return namespace

    def create_template_loader(self, template_path: str) -> template.BaseLoader:
        """The loader for ``template_path``: the ``template_loader`` setting if given, else a
        file `~tornado_ws_compat.template.Loader` with the ``autoescape`` and
        ``template_whitespace`` settings (only those given: ``autoescape=None`` is a value)."""
        settings = self.application.settings
        if "template_loader" in settings:
            return settings["template_loader"]  # type: ignore[no-any-return]
        options: dict[str, Any] = {}
        if "autoescape" in settings:
            options["autoescape"] = settings["autoescape"]
        if "template_whitespace" in settings:
            options["whitespace"] = settings["template_whitespace"]
        return template.Loader(template_path, **options)

    def get_template_path(self) -> str | None:
        """The template directory: the ``template_path`` setting (override to change)."""
        return self.application.settings.get("template_path")

    @property
    def locale(self) -> _locale.Locale:
        """This request's locale: `get_user_locale`, else `get_browser_locale` (cached)."""
        current: _locale.Locale | None = getattr(self, "_locale", None)
        if current is None:
            current = self.get_user_locale()
            if current is None:
                current = self.get_browser_locale()
            self._locale = current
        return current

    @locale.setter
    def locale(self, value: _locale.Locale) -> None:
        self._locale = value

    def get_user_locale(self) -> _locale.Locale | None:
        """Override to choose the locale from the user (e.g. a stored preference)."""
        return None

    def get_browser_locale(self, default: str = "en_US") -> _locale.Locale:
        """The locale from ``Accept-Language`` (RFC 9110 section 12.5.4 q-values; a bad or
        negative q counts as 0 and drops the language), else ``default``."""
        header = self.request.headers.get("Accept-Language")
        if header is not None:
            ranked: list[tuple[str, float]] = []
            for entry in header.split(","):
                parts = entry.strip().split(";")
                score = 1.0
                if len(parts) > 1 and parts[1].strip().startswith("q="):
                    try:
                        score = float(parts[1].strip()[2:])
                    except ValueError:
                        score = 0.0
                    if score < 0:
                        score = 0.0
                if score > 0:
                    ranked.append((parts[0], score))
            if ranked:
                ranked.sort(key=lambda pair: pair[1], reverse=True)
                return _locale.get(*(code for code, _ in ranked))
        return _locale.get(default)

    def _ui_module(self, name: str, module: type[UIModule]) -> Callable[..., str]:
        def render(*args: Any, **kwargs: Any) -> str:
            active = self.__dict__.setdefault("_active_modules", {})
            instance = active.get(name)
            if instance is None:
                instance = active[name] = module(self)  # type: ignore[arg-type]
            return escape.to_unicode(instance.render(*args, **kwargs))  # type: ignore[no-any-return]

        return render

    def _ui_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *args, **kwargs: method(self, *args, **kwargs)


def _utf8(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else text


def _gather_text(part: str | bytes | None, into: list[bytes]) -> None:
    if part:
        into.append(_utf8(part))


def _gather_paths(part: Iterable[str] | str | bytes | None, into: list[str]) -> None:
    if not part:
        return
    if isinstance(part, str | bytes):
        into.append(escape.to_unicode(part))
    else:
        into.extend(part)


def _insert(html: bytes, marker: bytes, addition: bytes, last: bool = True) -> bytes:
    """``addition`` just before ``marker`` (its last occurrence, or its first).

    A page without the marker raises ValueError, as with Tornado.
    """
    at = html.rindex(marker) if last else html.index(marker)
    return html[:at] + addition + html[at:]


class UIModule:
    """A reusable piece of page: ``{% module Name(args) %}`` calls ``render(args)``.

    A module may declare the JavaScript and CSS it needs (files or inline) and HTML for the
    page's head and body end; ``RequestHandler.render`` puts each in place once per page.
    """

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler
        self.request = handler.request
        self.ui = handler.ui
        self.locale = handler.locale

    @property
    def current_user(self) -> Any:
        return self.handler.current_user

    def render(self, *args: Any, **kwargs: Any) -> str | bytes:
        """The module's HTML; subclasses must define it."""
        raise NotImplementedError(f"{type(self).__name__} must define render")

    def embedded_javascript(self) -> str | None:
        """JavaScript to run on the page (inlined once, before ``</body>``)."""
        return None

    def javascript_files(self) -> Iterable[str] | None:
        """Script URLs; relative ones go through ``static_url``."""
        return None

    def embedded_css(self) -> str | None:
        """CSS inlined once in the page's ``<head>``."""
        return None

    def css_files(self) -> Iterable[str] | None:
        """Style sheet URLs; relative ones go through ``static_url``."""
        return None

    def html_head(self) -> str | None:
        """HTML put at the end of ``<head>``."""
        return None

    def html_body(self) -> str | None:
        """HTML put at the end of ``<body>``."""
        return None

    def render_string(self, path: str, **kwargs: Any) -> bytes:
        """Render a template as the handler does (its namespace and template path)."""
        return self.handler.render_string(path, **kwargs)


class _linkify(UIModule):  # Tornado's name
    def render(self, text: str, **kwargs: Any) -> str:
        return escape.linkify(text, **kwargs)


class _xsrf_form_html(UIModule):  # Tornado's name
    def render(self) -> str:
        return self.handler.xsrf_form_html()


class TemplateModule(UIModule):
    """``{% module Template("x.html", **names) %}``: render a template with its own namespace.

    The template may call ``set_resources(javascript_files=..., embedded_css=..., ...)``
    (UIModule's hook names) to declare resources; they count once per template file and must
    be the same every time it is rendered.
    """

    def __init__(self, handler: RequestHandler) -> None:
        super().__init__(handler)
        self._resources: dict[str, dict[str, Any]] = {}  # by template path, in first-use order

    def render(self, path: str, **kwargs: Any) -> bytes:
        def set_resources(**resources: Any) -> str:
            known = self._resources.setdefault(path, resources)
            if known != resources:
                raise ValueError(
                    "set_resources called with different resources for the same template"
                )
            return ""

        return self.render_string(path, set_resources=set_resources, **kwargs)

    def _declared(self, key: str) -> list[Any]:
        return [r[key] for r in self._resources.values() if key in r]

    def _paths(self, key: str) -> list[str]:
        paths: list[str] = []
        for entry in self._declared(key):
            if isinstance(entry, str | bytes):
                paths.append(entry)  # type: ignore[arg-type]
            else:
                paths.extend(entry)
        return paths

    def embedded_javascript(self) -> str:
        return "\n".join(self._declared("embedded_javascript"))

    def javascript_files(self) -> list[str]:
        return self._paths("javascript_files")

    def embedded_css(self) -> str:
        return "\n".join(self._declared("embedded_css"))

    def css_files(self) -> list[str]:
        return self._paths("css_files")

    def html_head(self) -> str:
        return "".join(self._declared("html_head"))

    def html_body(self) -> str:
        return "".join(self._declared("html_body"))


class _UIModuleNamespace:
    """``_tt_modules``/``modules`` in templates: ``modules.Name(...)`` renders module Name."""

    def __init__(self, handler: RenderingMixin, ui_modules: Mapping[str, type[UIModule]]) -> None:
        self.handler = handler
        self.ui_modules = ui_modules

    def __getitem__(self, key: str) -> Callable[..., str]:
        return self.handler._ui_module(key, self.ui_modules[key])

    def __getattr__(self, key: str) -> Callable[..., str]:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(str(exc)) from None


def ui_registry(
    settings: Mapping[str, Any],
) -> tuple[dict[str, type[UIModule]], dict[str, Callable[..., Any]]]:
    """The application's UI modules (built-ins ``linkify``, ``xsrf_form_html``, ``Template``
    plus the ``ui_modules`` setting) and UI methods (the ``ui_methods`` setting). Each setting
    may be a module, a dict, or a list of those; from a module or dict, UI modules are the
    UIModule subclasses and UI methods the public callables whose names start in lower case.
    """
    modules: dict[str, type[UIModule]] = {
        "linkify": _linkify,
        "xsrf_form_html": _xsrf_form_html,
        "Template": TemplateModule,
    }
    methods: dict[str, Callable[..., Any]] = {}

    def items(source: Any) -> Iterable[tuple[str, Any]]:
        if isinstance(source, types.ModuleType):
            return [(name, getattr(source, name)) for name in dir(source)]
        if isinstance(source, list):
            return [pair for entry in source for pair in items(entry)]
        return list(source.items())

    for name, cls in items(settings.get("ui_modules", {})):
        if isinstance(cls, type) and issubclass(cls, UIModule):
            modules[name] = cls
    for name, fn in items(settings.get("ui_methods", {})):
        if not name.startswith("_") and callable(fn) and name[0].lower() == name[0]:
            methods[name] = fn
    return modules, methods
