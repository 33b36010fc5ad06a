"""Configuration files: YAML in, a validated and compiled :class:`Config` out.

Everything is checked when the file loads, before any socket is bound: the YAML itself, every
key and type, route patterns, handler classes, and every hook (modules imported, functions
looked up, expressions compiled). An error is a :class:`ConfigError` whose message names the
file, the route and the key, e.g.::

    pingbot.yaml: route 'pingbot', key 'kwargs.on_message.function': cannot import
    'pingbot.on_mesage': 'pingbot' has no attribute 'on_mesage'

The file's folder is put on ``sys.path`` (first), so that ``function: pingbot.open`` imports
``pingbot.py`` beside it; relative paths (``FileHandler``'s ``path``, the json session store,
``static_path``) are relative to that folder too.
"""

from __future__ import annotations

import inspect
import ipaddress
import os
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from tornado_ws_compat import web
from tornado_ws_compat.alias import tornado_alias
from tornado_ws_compat.config.handlers import (
    AuthRule,
    FileHandler,
    WebSocketHandler,
    WebSocketRoute,
    parse_origin_rule,
)
from tornado_ws_compat.config.hooks import HOOK_VARIABLES, HookError, compile_hook, resolve_name
from tornado_ws_compat.config.session import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_SESSIONS,
    JSONStore,
    MemoryStore,
    SessionManager,
    SessionStore,
)
from tornado_ws_compat.errors import ConfigurationError
from tornado_ws_compat.httputil import AddressSet
from tornado_ws_compat.log import gen_log

__all__ = [
    "DEFAULT_FORWARDED_ALLOW_IPS",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PORT",
    "HANDLERS",
    "PUBLISHED_SECRETS",
    "Config",
    "ConfigError",
    "ListenOptions",
    "Route",
    "SessionOptions",
    "load_config",
    "parse_config",
    "published_secret_error",
    "shared_store_error",
]

#: ``app.listen.forwarded_allow_ips`` when absent: the proxies whose X-Real-Ip,
#: X-Forwarded-For and X-Scheme headers are believed (uvicorn's default, IPv6 too).
DEFAULT_FORWARDED_ALLOW_IPS = ("127.0.0.1", "::1")
#: Cookie secrets published in this project's examples: refused off loopback.
PUBLISHED_SECRETS = frozenset({"pingbot-example-secret-replace-me"})
#: ``app.listen.port`` when absent (Gramex's default port).
DEFAULT_PORT = 9988
#: ``websocket_ping_interval`` in this mode: under the 60 s idle timeout of common proxies
#: (nginx's ``proxy_read_timeout``), so that quiet sockets are not cut.
DEFAULT_PING_INTERVAL = 30.0

#: Handler names usable without a dotted path.
HANDLERS: dict[str, type[web.RequestHandler]] = {
    "WebSocketHandler": WebSocketHandler,
    "FileHandler": FileHandler,
    "StaticFileHandler": web.StaticFileHandler,
    "RedirectHandler": web.RedirectHandler,
}

_TOP_KEYS = ("app", "url")
_APP_KEYS = ("listen", "settings", "session", "pubsub")
_ROUTE_KEYS = ("pattern", "handler", "kwargs")
_SESSION_KEYS = (
    "cookie",
    "expiry",
    "store",
    "path",
    "max_sessions",
    "flush_interval",
    "store_anonymous",
)
_WEBSOCKET_KEYS = (*HOOK_VARIABLES, "origins", "auth")
_LISTEN_TYPES: dict[str, tuple[type, ...]] = {
    "port": (int,),
    "address": (str,),
    "xheaders": (bool,),
    "reuse_port": (bool,),
    "trusted_downstream": (list,),
    "forwarded_allow_ips": (list, str),
    "max_body_size": (int,),
    "max_header_size": (int,),
    "max_header_line_size": (int,),
    "max_write_buffer": (int,),
    "idle_connection_timeout": (int, float),
    "request_head_timeout": (int, float),
    "body_timeout": (int, float),
    "write_stall_timeout": (int, float),
    "shutdown_timeout": (int, float),
    "workers": (int,),
}
_COOKIE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+\Z")
_SETTING_NAME = re.compile(r"setting '([^']+)'")


class ConfigError(ConfigurationError):
    """An invalid configuration file; ``route`` and ``key`` say where (None when unknown)."""

    def __init__(
        self,
        detail: str,
        *,
        source: str | None = None,
        route: str | None = None,
        key: str | None = None,
    ) -> None:
        self.detail = detail
        self.source = source
        self.route = route
        self.key = key
        where = []
        if route is not None:
            where.append(f"route {route!r}")
        if key:
            where.append(f"key {key!r}")
        text = (", ".join(where) + ": " if where else "") + detail
        super().__init__(f"{source}: {text}" if source else text)


@dataclass(frozen=True)
class ListenOptions:
    """``app.listen``: where and how to serve. ``xheaders`` is on by default in this mode."""

    port: int = DEFAULT_PORT
    address: str = ""
    xheaders: bool = True
    shutdown_timeout: float = 10.0
    #: Worker processes (``process.fork_processes``): 1 serves in this process, 0 one per core.
    workers: int = 1
    #: Other ``server.listen`` keywords: reuse_port, trusted_downstream,
    #: forwarded_allow_ips (always set: loopback by default), max_* limits.
    options: Mapping[str, Any] = field(default_factory=dict)

    def server_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``server.listen``/``serve``/``testing.running``."""
        return {"xheaders": self.xheaders, **self.options}


@dataclass(frozen=True)
class SessionOptions:
    """``app.session``."""

    cookie: str = "sid"
    expiry: float = 31.0
    store: str = "memory"
    path: str | None = None
    max_sessions: int = DEFAULT_MAX_SESSIONS
    #: json store: seconds between two writes of the file.
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    #: Store every connection's session, even one no hook wrote to.
    store_anonymous: bool = False


@dataclass(frozen=True)
class Route:
    """One entry of ``url``, compiled."""

    name: str
    pattern: str
    handler_class: type[web.RequestHandler]
    kwargs: Mapping[str, Any]
    spec: web.URLSpec


@dataclass
class Config:
    """A loaded configuration: the application to serve and how to serve it."""

    source: str
    base_dir: str
    listen: ListenOptions
    settings: dict[str, Any]
    session: SessionOptions
    sessions: SessionManager
    routes: tuple[Route, ...]
    application: web.Application

    def close(self) -> None:
        """Persist the session store (call once the server has shut down)."""
        self.sessions.close()


def load_config(path: str | os.PathLike[str], *, add_to_path: bool = True) -> Config:
    """Read, validate and compile a YAML configuration file.

    With ``add_to_path`` (the default) the file's folder is inserted first on ``sys.path``
    before hooks are imported. Raises :class:`ConfigError`.
    """
    source = os.fspath(path)
    name = os.path.basename(source)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", source=source) from exc
    base_dir = os.path.dirname(os.path.abspath(source))
    data = parse_yaml(text, name)
    if add_to_path and base_dir not in sys.path:
        sys.path.insert(0, base_dir)
    return parse_config(data, base_dir=base_dir, source=name)


def parse_yaml(text: str, source: str = "<config>") -> Any:
    """Parse YAML (safe tags only); a duplicate key is an error, as is invalid syntax."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid"
        raise ConfigError(f"invalid YAML{where}: {problem}", source=source) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", source=source) from exc


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in mapping
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_config(data: Any, *, base_dir: str, source: str = "<config>") -> Config:
    """Validate and compile parsed YAML ``data``; relative paths are relative to ``base_dir``.

    Hook modules are imported from ``sys.path`` as it is (``load_config`` extends it), with
    ``tornado`` imports served by this package (:func:`~tornado_ws_compat.alias.tornado_alias`):
    a handler class written against ``tornado.websocket`` is one of ours.
    """
    with tornado_alias():
        return _parse_config(data, base_dir, source)


def _parse_config(data: Any, base_dir: str, source: str) -> Config:
    def fail(detail: str, key: str | None = None, route: str | None = None) -> ConfigError:
        return ConfigError(detail, source=source, route=route, key=key)

    if data is None:
        raise fail("the file is empty: it needs a 'url' section of routes")
    top = _mapping(data, None, fail)
    _known_keys(top, _TOP_KEYS, "", fail)
    app = _mapping(top.get("app", {}), "app", fail)
    _known_keys(app, _APP_KEYS, "app.", fail)
    listen = _listen_options(_mapping(app.get("listen", {}), "app.listen", fail), fail)
    session = _session_options(_mapping(app.get("session", {}), "app.session", fail), fail)
    settings = _settings(_mapping(app.get("settings", {}), "app.settings", fail), base_dir, fail)
    if "pubsub" in app:
        # ``app.pubsub: redis://...`` is the pubsub_url setting (tornado_ws_compat.pubsub).
        if not isinstance(app["pubsub"], str):
            raise fail(f"must be a URL string, got {_describe(app['pubsub'])}", "app.pubsub")
        if "pubsub_url" in settings:
            raise fail("given twice: here and as app.settings.pubsub_url", "app.pubsub")
        settings["pubsub_url"] = app["pubsub"]
    random_secret = not settings.get("cookie_secret")
    if random_secret:
        if session.store == "json":
            raise fail(
                "required with the json session store (session cookies must verify after a "
                "restart)",
                "app.settings.cookie_secret",
            )
        settings["cookie_secret"] = secrets.token_hex(32)
    shared = shared_store_error(session.store, listen.workers)
    if shared is not None:
        raise fail(shared, "app.session.store")
    published = published_secret_error(settings["cookie_secret"], listen.address)
    if published is not None:
        raise fail(published, "app.settings.cookie_secret")
    store = _session_store(session, base_dir, fail)
    sessions = SessionManager(
        store,
        cookie=session.cookie,
        expiry_days=session.expiry,
        store_anonymous=session.store_anonymous,
    )

    if "url" not in top:
        raise fail("missing: the routes of the application", "url")
    urls = _mapping(top["url"], "url", fail)
    if not urls:
        raise fail("no routes", "url")
    routes = []
    for name, spec in urls.items():
        routes.append(_route(str(name), spec, base_dir, sessions, fail))
    try:
        application = web.Application([route.spec for route in routes], **settings)
    except ConfigurationError as exc:
        match = _SETTING_NAME.search(str(exc))
        key = f"app.settings.{match.group(1)}" if match else "app.settings"
        raise fail(str(exc), key) from exc
    if random_secret:
        gen_log.warning(
            "%s: app.settings.cookie_secret is not set: using a random one, so sessions and "
            "signed cookies do not survive a restart",
            source,
        )
    return Config(
        source=source,
        base_dir=base_dir,
        listen=listen,
        settings=settings,
        session=session,
        sessions=sessions,
        routes=tuple(routes),
        application=application,
    )


def shared_store_error(store: str, workers: int) -> str | None:
    """Why the session ``store`` cannot serve ``workers`` processes, or None.

    Each worker would hold its own copy of the json store and overwrite the others' file.
    """
    if store == "json" and workers != 1:
        return (
            "the json store belongs to one process: with workers each would overwrite the "
            "others' sessions; use workers: 1 or the memory store"
        )
    return None


def published_secret_error(secret: Any, address: str | None) -> str | None:
    """Why ``secret`` must not sign cookies on ``address``, or None.

    A secret printed in this project's examples lets anyone forge session and user cookies
    (``auth`` passes with a forged ``user``). It is accepted on a loopback address, where the
    example runs, and refused on any other (``""`` is every interface).
    """
    values = secret.values() if isinstance(secret, dict) else [secret]
    if not any(value in PUBLISHED_SECRETS for value in values):
        return None
    try:
        if address and (address == "localhost" or ipaddress.ip_address(address).is_loopback):
            return None
    except ValueError:
        pass  # a host name: not known to be loopback
    where = repr(address) if address else "every interface"
    return (
        f"this is the published example secret: anyone can sign cookies with it, so it is "
        f"refused when listening on {where}; set your own, e.g. the output of "
        'python -c "import secrets; print(secrets.token_hex(32))"'
    )


class _Fail(Protocol):
    def __call__(
        self, detail: str, key: str | None = None, route: str | None = None
    ) -> ConfigError: ...


def _mapping(value: Any, key: str | None, fail: _Fail, route: str | None = None) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise fail(f"must be a mapping, got {_describe(value)}", key, route)
    return value


def _known_keys(
    mapping: Mapping[Any, Any],
    known: tuple[str, ...],
    prefix: str,
    fail: _Fail,
    route: str | None = None,
) -> None:
    for name in mapping:
        if name not in known:
            raise fail(
                f"unknown key (expected one of: {', '.join(known)})", f"{prefix}{name}", route
            )


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


def _listen_options(raw: dict[Any, Any], fail: _Fail) -> ListenOptions:
    _known_keys(raw, tuple(_LISTEN_TYPES), "app.listen.", fail)
    for name, expected in _LISTEN_TYPES.items():
        if name not in raw:
            continue
        value = raw[name]
        if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            kinds = " or ".join(t.__name__ for t in expected)
            raise fail(f"must be {kinds}, got {_describe(value)}", f"app.listen.{name}")
    port = raw.get("port", DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise fail(f"must be between 0 and 65535, got {port}", "app.listen.port")
    positive = (
        "max_body_size",
        "max_header_size",
        "max_header_line_size",
        "max_write_buffer",
        "write_stall_timeout",
        "idle_connection_timeout",
        "request_head_timeout",
        "body_timeout",
    )
    for name in positive:
        if name in raw and raw[name] <= 0:
            raise fail(f"must be positive, got {raw[name]}", f"app.listen.{name}")
    if raw.get("shutdown_timeout", 0) < 0:
        raise fail("must not be negative", "app.listen.shutdown_timeout")
    if raw.get("workers", 1) < 0:
        raise fail("must be 0 (one per core) or more", "app.listen.workers")
    downstream = raw.get("trusted_downstream", [])
    if not all(isinstance(item, str) for item in downstream):
        raise fail("must be a list of IP addresses", "app.listen.trusted_downstream")
    allowed = raw.get("forwarded_allow_ips", list(DEFAULT_FORWARDED_ALLOW_IPS))
    entries = [allowed] if isinstance(allowed, str) else allowed
    if not entries or not all(isinstance(item, str) for item in entries):
        raise fail(
            "must be a list of proxy IP addresses or networks, or '*'",
            "app.listen.forwarded_allow_ips",
        )
    try:
        AddressSet(entries)
    except ValueError as exc:
        raise fail(str(exc), "app.listen.forwarded_allow_ips") from exc
    own = ("port", "address", "xheaders", "shutdown_timeout", "workers")
    options = {name: value for name, value in raw.items() if name not in own}
    options["forwarded_allow_ips"] = entries
    return ListenOptions(
        port=port,
        address=raw.get("address", ""),
        xheaders=raw.get("xheaders", True),
        shutdown_timeout=float(raw.get("shutdown_timeout", 10.0)),
        workers=raw.get("workers", 1),
        options=options,
    )


def _session_options(raw: dict[Any, Any], fail: _Fail) -> SessionOptions:
    _known_keys(raw, _SESSION_KEYS, "app.session.", fail)
    cookie = raw.get("cookie", "sid")
    if not isinstance(cookie, str) or not _COOKIE_NAME.match(cookie):
        raise fail(f"must be a cookie name, got {_describe(cookie)}", "app.session.cookie")
    expiry = raw.get("expiry", 31)
    if isinstance(expiry, bool) or not isinstance(expiry, int | float) or expiry <= 0:
        raise fail(
            f"must be a positive number of days, got {_describe(expiry)}", "app.session.expiry"
        )
    store = raw.get("store", "memory")
    if store not in ("memory", "json"):
        raise fail(f"must be memory or json, got {_describe(store)}", "app.session.store")
    path = raw.get("path")
    if store == "json" and (not isinstance(path, str) or not path):
        raise fail("the json store needs a file path", "app.session.path")
    if store == "memory" and path is not None:
        raise fail("only the json store has a path", "app.session.path")
    max_sessions = raw.get("max_sessions", DEFAULT_MAX_SESSIONS)
    if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions <= 0:
        raise fail(
            f"must be a positive integer, got {_describe(max_sessions)}",
            "app.session.max_sessions",
        )
    flush_interval = raw.get("flush_interval", DEFAULT_FLUSH_INTERVAL)
    if (
        isinstance(flush_interval, bool)
        or not isinstance(flush_interval, int | float)
        or flush_interval < 0
    ):
        raise fail(
            f"must be a number of seconds >= 0, got {_describe(flush_interval)}",
            "app.session.flush_interval",
        )
    store_anonymous = raw.get("store_anonymous", False)
    if not isinstance(store_anonymous, bool):
        raise fail(
            f"must be true or false, got {_describe(store_anonymous)}",
            "app.session.store_anonymous",
        )
    return SessionOptions(
        cookie, float(expiry), store, path, max_sessions, float(flush_interval), store_anonymous
    )


def _session_store(options: SessionOptions, base_dir: str, fail: _Fail) -> SessionStore:
    if options.store == "json":
        assert options.path is not None
        path = os.path.join(base_dir, options.path)
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise fail(f"the folder of {path} does not exist", "app.session.path")
        try:
            return JSONStore(
                path, options.expiry, options.max_sessions, flush_interval=options.flush_interval
            )
        except ConfigurationError as exc:
            raise fail(str(exc), "app.session.path") from exc
    return MemoryStore(options.expiry, options.max_sessions)


def _settings(raw: dict[Any, Any], base_dir: str, fail: _Fail) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name, value in raw.items():
        if not isinstance(name, str):
            raise fail("setting names are strings", f"app.settings.{name}")
        settings[name] = value
    settings.setdefault("websocket_ping_interval", DEFAULT_PING_INTERVAL)
    for name in ("static_path", "template_path"):  # relative to the YAML file's folder
        path = settings.get(name)
        if isinstance(path, str):
            settings[name] = os.path.join(base_dir, path)
    return settings


def _route(name: str, raw: Any, base_dir: str, sessions: SessionManager, fail: _Fail) -> Route:
    spec = _mapping(raw, None, fail, name)
    _known_keys(spec, _ROUTE_KEYS, "", fail, name)
    for required in ("pattern", "handler"):
        if required not in spec:
            raise fail("missing", required, name)
    pattern = spec["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise fail(f"must be a regular expression, got {_describe(pattern)}", "pattern", name)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise fail(f"invalid regular expression {pattern!r}: {exc}", "pattern", name) from exc
    handler_class = _handler_class(spec["handler"], name, fail)
    kwargs = dict(_mapping(spec.get("kwargs", {}), "kwargs", fail, name))
    for key in kwargs:
        if not isinstance(key, str):
            raise fail("keys must be strings", f"kwargs.{key}", name)
    if issubclass(handler_class, WebSocketHandler):
        kwargs = _websocket_kwargs(name, kwargs, sessions, fail)
    else:
        for key in _WEBSOCKET_KEYS:
            if key in kwargs:
                raise fail(
                    f"only for a WebSocketHandler, not {handler_class.__name__}",
                    f"kwargs.{key}",
                    name,
                )
        if issubclass(handler_class, web.StaticFileHandler):
            kwargs = _file_kwargs(handler_class, kwargs, base_dir, name, fail)
            if issubclass(handler_class, FileHandler):
                kwargs["sessions"] = sessions  # a page load starts the browser's session
    _check_initialize(handler_class, kwargs, name, fail)
    try:
        url_spec = web.URLSpec(pattern, handler_class, kwargs, name=name)
    except ConfigurationError as exc:
        raise fail(str(exc), "pattern", name) from exc
    return Route(name, pattern, handler_class, kwargs, url_spec)


def _handler_class(value: Any, route: str, fail: _Fail) -> type[web.RequestHandler]:
    if not isinstance(value, str) or not value:
        raise fail(f"must be a handler name, got {_describe(value)}", "handler", route)
    if value in HANDLERS:
        return HANDLERS[value]
    if "." not in value:
        raise fail(
            f"unknown handler {value!r}: use {', '.join(HANDLERS)} or a dotted path to a "
            "RequestHandler subclass",
            "handler",
            route,
        )
    try:
        target = resolve_name(value)
    except HookError as exc:
        raise fail(exc.message, "handler", route) from exc
    if not (inspect.isclass(target) and issubclass(target, web.RequestHandler)):
        if inspect.isclass(target) and any(
            base.__module__.split(".")[0] == "tornado" for base in target.__mro__
        ):
            raise fail(
                f"{value!r} subclasses real Tornado's classes: its module was imported with "
                "real Tornado before the configuration loaded; import it first under "
                "tornado_ws_compat.install_tornado_alias() (or not at all)",
                "handler",
                route,
            )
        raise fail(f"{value!r} is not a tornado_ws_compat RequestHandler class", "handler", route)
    return target


def _websocket_kwargs(
    route: str, kwargs: dict[str, Any], sessions: SessionManager, fail: _Fail
) -> dict[str, Any]:
    if "route" in kwargs:
        raise fail(
            "reserved: the handler receives its compiled route under this name",
            "kwargs.route",
            route,
        )
    hooks = {}
    for hook_name, variables in HOOK_VARIABLES.items():
        if hook_name not in kwargs:
            continue
        try:
            hooks[hook_name] = compile_hook(
                kwargs.pop(hook_name), variables, f"url:{route}.{hook_name}"
            )
        except HookError as exc:
            key = f"kwargs.{hook_name}" + (f".{exc.key}" if exc.key else "")
            raise fail(exc.message, key, route) from exc
    origins = None
    if "origins" in kwargs:
        raw = kwargs.pop("origins")
        entries = [raw] if isinstance(raw, str) else raw
        if not isinstance(entries, list) or not entries:
            raise fail(
                f"must be a host or a list of hosts, got {_describe(raw)}", "kwargs.origins", route
            )
        rules = []
        for index, entry in enumerate(entries):
            key = "kwargs.origins" if isinstance(raw, str) else f"kwargs.origins[{index}]"
            if not isinstance(entry, str):
                raise fail(f"must be a host, got {_describe(entry)}", key, route)
            try:
                rules.append(parse_origin_rule(entry))
            except ValueError as exc:
                raise fail(str(exc), key, route) from exc
        origins = tuple(rules)
    auth = _auth_rule(kwargs.pop("auth", None), route, fail)
    compiled = WebSocketRoute(
        name=route,
        open=hooks.get("open"),
        on_message=hooks.get("on_message"),
        on_close=hooks.get("on_close"),
        on_pong=hooks.get("on_pong"),
        origins=origins,
        auth=auth,
        sessions=sessions,
    )
    return {"route": compiled, **kwargs}


def _auth_rule(raw: Any, route: str, fail: _Fail) -> AuthRule | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        return AuthRule()
    if not isinstance(raw, dict):
        raise fail(
            f"must be true, false or {{membership: ...}}, got {_describe(raw)}",
            "kwargs.auth",
            route,
        )
    _known_keys(raw, ("membership",), "kwargs.auth.", fail, route)
    membership = raw.get("membership")
    if membership is None:
        return AuthRule()
    groups_raw = membership if isinstance(membership, list) else [membership]
    groups = []
    for index, group in enumerate(groups_raw):
        key = "kwargs.auth.membership" + (f"[{index}]" if isinstance(membership, list) else "")
        if not isinstance(group, dict) or not group:
            raise fail(
                f"must map user attributes to allowed values, got {_describe(group)}", key, route
            )
        compiled: dict[str, frozenset[Any]] = {}
        for attribute, allowed in group.items():
            values = allowed if isinstance(allowed, list) else [allowed]
            if not values or not all(isinstance(v, str | int | float | bool) for v in values):
                raise fail(
                    f"must be a value or a list of values, got {_describe(allowed)}",
                    f"{key}.{attribute}",
                    route,
                )
            compiled[str(attribute)] = frozenset(values)
        groups.append(compiled)
    return AuthRule(tuple(groups))


def _file_kwargs(
    handler_class: type[web.RequestHandler],
    kwargs: dict[str, Any],
    base_dir: str,
    route: str,
    fail: _Fail,
) -> dict[str, Any]:
    path = kwargs.get("path")
    if not isinstance(path, str) or not path:
        raise fail(f"must be a path, got {_describe(path)}", "kwargs.path", route)
    absolute = os.path.join(base_dir, path)
    if issubclass(handler_class, FileHandler):
        if not os.path.isfile(absolute):
            raise fail(f"no such file: {absolute}", "kwargs.path", route)
    elif not os.path.isdir(absolute):
        raise fail(f"no such folder: {absolute}", "kwargs.path", route)
    return {**kwargs, "path": absolute}


def _check_initialize(
    handler_class: type[web.RequestHandler], kwargs: Mapping[str, Any], route: str, fail: _Fail
) -> None:
    """Refuse kwargs the handler's ``initialize`` would reject when the first request comes."""
    try:
        signature = inspect.signature(handler_class.initialize)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return
    parameters = list(signature.parameters.values())[1:]  # self
    named = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        for key in kwargs:
            if key not in named:
                if issubclass(handler_class, WebSocketHandler):
                    known = ", ".join(_WEBSOCKET_KEYS)
                    detail = f"unknown key ({handler_class.__name__} takes {known})"
                else:
                    detail = f"unknown key: {handler_class.__name__}.initialize does not take it"
                raise fail(detail, f"kwargs.{key}", route)
    for parameter in parameters:
        if (
            parameter.name in named
            and parameter.default is inspect.Parameter.empty
            and parameter.name not in kwargs
        ):
            raise fail(
                f"missing: {handler_class.__name__} needs it", f"kwargs.{parameter.name}", route
            )
