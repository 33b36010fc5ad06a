"""The handlers a YAML route can name: a configurable WebSocketHandler and a FileHandler.

:class:`WebSocketHandler` is Gramex's: its ``open``, ``on_message``, ``on_close`` and ``on_pong``
call the route's hooks; ``origins`` restricts cross-origin upgrades; ``auth`` requires a user
before the upgrade (401, or 403 when ``membership`` does not match; never a redirect); and
``handler.session`` is the browser's session. It is a ``tornado_ws_compat.websocket``
``WebSocketHandler`` underneath, so everything else (``write_message``, ``close``, pings,
``handler.request``) is Tornado's.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import urllib.parse
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from tornado_ws_compat import web, websocket
from tornado_ws_compat.config.hooks import Hook
from tornado_ws_compat.config.session import Session, SessionManager
from tornado_ws_compat.log import app_log

__all__ = [
    "AuthRule",
    "FileHandler",
    "OriginRule",
    "WebSocketHandler",
    "WebSocketRoute",
    "origin_allowed",
    "parse_origin_rule",
]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class OriginRule:
    """One ``origins`` entry: a host (matching its subdomains), optionally a port, a scheme."""

    host: str
    port: int | None = None
    scheme: str | None = None

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if self.scheme is not None and scheme != self.scheme:
            return False
        if self.port is not None and port != self.port:
            return False
        # A dot boundary: chat.gramener.com matches gramener.com, evilgramener.com does not
        # (Gramex 1.x used a plain suffix test, which accepted it).
        return host == self.host or host.endswith("." + self.host)


def parse_origin_rule(entry: str) -> OriginRule:
    """Parse ``gramener.com``, ``localhost:8080`` or ``https://gramener.com``.

    Raises ValueError for anything else (paths, wildcards, empty hosts).
    """
    text = entry.strip().lower()
    scheme = None
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme not in ("http", "https"):
            raise ValueError(f"the scheme must be http or https in {entry!r}")
    if not text or any(c in text for c in " */?#@\\"):
        raise ValueError(f"expected host, host:port or scheme://host[:port], got {entry!r}")
    try:
        parts = urllib.parse.urlsplit("//" + text)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"invalid origin {entry!r}: {exc}") from None
    host = (host or "").rstrip(".")  # a trailing dot names the same host
    if not host or host.startswith("."):
        raise ValueError(
            f"invalid host in {entry!r} (an entry such as example.com also matches its subdomains)"
        )
    return OriginRule(host, port, scheme)


def origin_allowed(origin: str, rules: Sequence[OriginRule]) -> bool:
    """True if the ``Origin`` header's host matches one of ``rules`` (case-insensitive)."""
    try:
        parts = urllib.parse.urlsplit(origin.strip().lower())
        host, explicit_port = parts.hostname, parts.port
    except ValueError:
        return False
    if not host or parts.scheme not in _DEFAULT_PORTS:
        return False  # "null" (sandboxed pages, file://) and other opaque origins
    host = host.rstrip(".")
    port = explicit_port if explicit_port is not None else _DEFAULT_PORTS[parts.scheme]
    return any(rule.matches(parts.scheme, host, port) for rule in rules)


@dataclass(frozen=True)
class AuthRule:
    """``auth``: a user is required; with ``membership``, one of the groups must match.

    A group maps attribute names to allowed values: every attribute must match (an attribute
    whose value is a list matches when any item is allowed). ``membership`` is one group or a
    list of groups, any of which may match (Gramex's rules).
    """

    membership: tuple[Mapping[str, frozenset[Any]], ...] = ()

    def allows(self, user: Mapping[str, Any]) -> bool:
        if not self.membership:
            return True
        return any(_group_matches(group, user) for group in self.membership)


def _group_matches(group: Mapping[str, frozenset[Any]], user: Mapping[str, Any]) -> bool:
    for name, allowed in group.items():
        value = user.get(name)
        values = value if isinstance(value, list | tuple | set | frozenset) else [value]
        try:
            if not any(item in allowed for item in values):
                return False
        except TypeError:  # an unhashable attribute value: never a member
            return False
    return True


@dataclass(frozen=True)
class WebSocketRoute:
    """A route's compiled options, shared by every connection of the route."""

    name: str
    open: Hook | None = None
    on_message: Hook | None = None
    on_close: Hook | None = None
    on_pong: Hook | None = None
    #: None: every origin is allowed.
    origins: tuple[OriginRule, ...] | None = None
    auth: AuthRule | None = None
    sessions: SessionManager | None = None


# Tasks of async on_close hooks, referenced until they finish.
_closing_tasks: set[asyncio.Task[None]] = set()


class WebSocketHandler(websocket.WebSocketHandler):
    """The configurable WebSocketHandler (``handler: WebSocketHandler`` in YAML).

    Hooks receive the handler, and ``message`` (``on_message``) or ``data`` (``on_pong``).
    ``async def`` hooks are awaited: no message is delivered before ``open`` finishes and
    ``on_message`` calls never overlap. Return values are ignored.

    A hook that raises is logged on ``tornado.application`` and the connection is dropped as
    Tornado drops it; ``on_close`` still runs (also after a failed ``open``, where Tornado
    6.6.1 would skip it: here teardown always runs) and other connections are unaffected.

    Subclass it (``handler: mymodule.MyHandler``) to add methods; extra route ``kwargs`` go
    to your ``initialize`` (call ``super().initialize(route)``). A ``prepare`` or
    ``select_subprotocol`` of yours must call ``super()``'s: they load the session, check
    ``auth`` and mint the session cookie.
    """

    route: WebSocketRoute
    #: The browser's session (dict-like, with ``id``); set before ``open``.
    session: Session

    def initialize(self, route: WebSocketRoute) -> None:
        self.route = route

    def prepare(self) -> None:
        """Load the session; enforce ``auth`` before any upgrade check (401/403)."""
        sessions = self.route.sessions
        if sessions is not None:
            self.session = sessions.load(self)
        auth = self.route.auth
        if auth is not None:
            user = self.current_user
            if not user:
                raise web.HTTPError(401)  # never a redirect: a WebSocket cannot follow one
            if not auth.allows(user):
                raise web.HTTPError(403)

    def rotate_session(self) -> None:
        """A new session id for this browser, the data kept (call it after a login).

        Only before the 101 (in a ``prepare`` of yours, after ``super().prepare()``): the new
        cookie goes out with the 101. Raises RuntimeError once the socket is open.
        """
        sessions = self.route.sessions
        if sessions is None or not hasattr(self, "session"):
            raise RuntimeError("rotate_session(): this route has no session")
        sessions.rotate(self, self.session)

    def get_current_user(self) -> Any:
        """``session['user']``, else the ``user`` signed cookie: a JSON object with ``id``."""
        session = getattr(self, "session", None)
        if session is not None:
            user = session.get("user")
            if _is_user(user):
                return user
        if not self.settings.get("cookie_secret"):
            return None
        raw = self.get_signed_cookie("user")
        if raw is None:
            return None
        try:
            user = json.loads(raw)
        except ValueError:
            return None
        return user if _is_user(user) else None

    def check_origin(self, origin: str) -> bool:
        """Called for cross-origin upgrades only (Tornado 6.6): match ``origins``."""
        rules = self.route.origins
        return True if rules is None else origin_allowed(origin, rules)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        # The last hook before the 101 is written (Tornado's order too): the session cookie is
        # minted here, so that it goes out with the 101 and never with a refused handshake.
        sessions = self.route.sessions
        session = getattr(self, "session", None)
        if sessions is not None and session is not None:
            sessions.commit(self, session)
        return None

    def open(self, *args: str, **kwargs: str) -> Awaitable[None] | None:
        hook = self.route.open
        if hook is None:
            return None
        try:
            result = hook(self)
        except Exception:
            self._close_after_failed_open()
            raise
        if result is not None and inspect.isawaitable(result):
            return self._await_open(result)
        return None

    async def _await_open(self, awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except Exception:
            self._close_after_failed_open()
            raise

    def _close_after_failed_open(self) -> None:
        # The exception propagates to the engine, which logs it and drops the connection as
        # Tornado does; on_close runs first, once.
        try:
            self.on_connection_close()
        except Exception:
            app_log.error("Exception in on_close after a failed open", exc_info=True)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        hook = self.route.on_message
        if hook is None:
            return None
        result = hook(self, message)
        if result is None or not inspect.isawaitable(result):
            return None  # return values are ignored
        return cast("Awaitable[None]", result)

    def on_pong(self, data: bytes) -> Awaitable[None] | None:
        hook = self.route.on_pong
        if hook is None:
            return None
        result = hook(self, data)
        if result is None or not inspect.isawaitable(result):
            return None
        return cast("Awaitable[None]", result)

    def on_close(self) -> None:
        hook = self.route.on_close
        result: Any = None
        try:
            if hook is not None:
                result = hook(self)
        finally:
            if result is None or not inspect.isawaitable(result):
                self._save_session()
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await_close(result))
            _closing_tasks.add(task)
            task.add_done_callback(_closing_tasks.discard)

    async def _await_close(self, awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except Exception:
            self.log_exception(*sys.exc_info())
        finally:
            self._save_session()

    def _save_session(self) -> None:
        sessions = self.route.sessions
        session = getattr(self, "session", None)
        if sessions is not None and session is not None:
            sessions.save(session)


def _is_user(value: Any) -> bool:
    return isinstance(value, dict) and value.get("id") not in (None, "")


class FileHandler(web.StaticFileHandler):
    """Serves one file at its route (``handler: FileHandler``, ``kwargs: {path: index.html}``).

    A relative ``path`` is relative to the YAML file's folder. ``Last-Modified`` and
    ``If-Modified-Since`` work as in ``StaticFileHandler``; only this file is reachable.
    """

    def initialize(  # type: ignore[override]
        self, path: str, sessions: SessionManager | None = None, **kwargs: Any
    ) -> None:
        absolute = os.path.abspath(path)
        super().initialize(os.path.dirname(absolute))
        self.filename = os.path.basename(absolute)
        self.sessions = sessions

    def head(self, *args: Any, **kwargs: Any) -> Awaitable[None]:
        return super().get(self.filename, include_body=False)

    def get(self, *args: Any, **kwargs: Any) -> Awaitable[None]:  # type: ignore[override]
        if self.sessions is not None:
            # A page load starts (or refreshes) this browser's session: the page's sockets
            # then find it by the sid cookie set here.
            self.session = self.sessions.load(self)
            self.sessions.page_loaded(self, self.session)
        return super().get(self.filename, include_body=True)
