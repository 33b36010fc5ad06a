"""Sessions: ``handler.session``, a dict-like object with a stable ``id``, kept in a store.

The browser holds the id in a cookie (``sid`` by default) whose value is a Tornado signed value
(``set_signed_cookie`` with the ``cookie_secret`` setting), so that an id cannot be forged: a
tampered or expired cookie is ignored and a new id is minted. The cookie is sent with the 101
response of the upgrade (``HttpOnly``, ``Path=/``, ``Secure`` when the request came over https,
also through a proxy with ``xheaders``), never with a refused handshake.

Stores:

``memory``
    A dict in the server process: sessions survive across connections, not restarts. The
    session dict is shared by every connection with the same id.
``json``
    The same, written to a JSON file (atomically: a temporary file, then a rename) whenever a
    connection closes and at shutdown, and read back when the server starts.

Limits: a session expires ``expiry`` days after it was created (the cookie's lifetime too);
the memory held is bounded by ``max_sessions`` (oldest sessions are dropped first).
"""

from __future__ import annotations

import abc
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tornado_ws_compat.errors import ConfigurationError
from tornado_ws_compat.log import app_log

if TYPE_CHECKING:
    from tornado_ws_compat.web import RequestHandler

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "JSONStore",
    "MemoryStore",
    "Session",
    "SessionManager",
    "SessionStore",
]

#: Sessions a store keeps at most; past it the oldest are dropped.
DEFAULT_MAX_SESSIONS = 100_000
_SECONDS_PER_DAY = 86400.0
_PURGE_INTERVAL = 60.0
_SID = re.compile(r"[0-9a-f]{32}\Z")
_JSON_FORMAT = 1


class Session(MutableMapping[str, Any]):
    """``handler.session``: the data of one browser, with a read-only ``id``.

    ``session['id']`` is the id too (as in Gramex). Values must be JSON-serializable for the
    ``json`` store.
    """

    __slots__ = ("_data", "id", "new_cookie", "stored")

    def __init__(self, sid: str, data: dict[str, Any], *, new_cookie: bool, stored: bool) -> None:
        self.id = sid
        self._data = data
        #: True until the cookie holding the id has been set on the 101.
        self.new_cookie = new_cookie
        #: True once the data are in the store (at the 101).
        self.stored = stored

    @property
    def data(self) -> dict[str, Any]:
        """The stored dict (without ``id``); shared by connections with the same id."""
        return self._data

    def __getitem__(self, key: str) -> Any:
        if key == "id":
            return self.id
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "id":
            raise TypeError("the session id is read-only")
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        if key == "id":
            raise TypeError("the session id is read-only")
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        yield "id"
        yield from self._data

    def __len__(self) -> int:
        return 1 + len(self._data)

    def __contains__(self, key: object) -> bool:
        return key == "id" or key in self._data

    def clear(self) -> None:
        """Remove every key but ``id``."""
        self._data.clear()

    def popitem(self) -> tuple[str, Any]:
        return self._data.popitem()

    def __repr__(self) -> str:
        return f"Session({self.id!r}, {self._data!r})"


class SessionStore(abc.ABC):
    """Where session data live. Subclasses persist them (``flush``)."""

    @abc.abstractmethod
    def get(self, sid: str) -> dict[str, Any] | None:
        """The live dict of session ``sid``, or None if unknown or expired."""

    @abc.abstractmethod
    def put(self, sid: str, data: dict[str, Any]) -> None:
        """Add a session (called at the 101 of its first connection)."""

    def save(self, sid: str) -> None:  # noqa: B027 - a no-op unless the store persists
        """A connection of session ``sid`` ended: persist what it changed."""

    def flush(self) -> None:  # noqa: B027 - a no-op unless the store persists
        """Persist everything now."""

    def close(self) -> None:
        """Persist and release (at shutdown)."""
        self.flush()


@dataclass
class _Entry:
    data: dict[str, Any]
    expires: float


class MemoryStore(SessionStore):
    """Sessions in a dict of this process."""

    def __init__(
        self,
        expiry_days: float = 31,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.expiry = expiry_days * _SECONDS_PER_DAY
        self.max_sessions = max_sessions
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._next_purge = clock() + _PURGE_INTERVAL

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, sid: str) -> dict[str, Any] | None:
        entry = self._entries.get(sid)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            del self._entries[sid]
            return None
        return entry.data

    def put(self, sid: str, data: dict[str, Any]) -> None:
        now = self.clock()
        self._entries[sid] = _Entry(data, now + self.expiry)
        if now >= self._next_purge:
            self.purge()
        while len(self._entries) > self.max_sessions:
            del self._entries[next(iter(self._entries))]  # the oldest: dicts keep order

    def purge(self) -> None:
        """Drop expired sessions."""
        now = self.clock()
        self._next_purge = now + _PURGE_INTERVAL
        for sid in [s for s, entry in self._entries.items() if entry.expires <= now]:
            del self._entries[sid]


class JSONStore(MemoryStore):
    """Sessions in memory, written to ``path`` when a connection closes and at shutdown.

    The file is read when the store is created; a file that is not a store raises
    :class:`~tornado_ws_compat.errors.ConfigurationError`. Values that JSON cannot encode
    are logged and that session is left out of the file.
    """

    def __init__(
        self,
        path: str,
        expiry_days: float = 31,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(expiry_days, max_sessions, clock)
        self.path = os.path.abspath(path)
        self._written: str | None = None
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            self._written = self._render()  # nothing to write until a session exists
            return
        except OSError as exc:
            raise ConfigurationError(f"cannot read session store {self.path}: {exc}") from exc
        try:
            content = json.loads(text) if text.strip() else {"sessions": {}}
            if not isinstance(content, dict) or not isinstance(content.get("sessions"), dict):
                raise ValueError('expected {"format": 1, "sessions": {...}}')
            now = self.clock()
            for sid, item in content["sessions"].items():
                if not (
                    _SID.match(sid)
                    and isinstance(item, dict)
                    and isinstance(item.get("data"), dict)
                    and isinstance(item.get("expires"), int | float)
                ):
                    raise ValueError(f"invalid session {sid[:40]!r}")
                if item["expires"] > now:
                    self._entries[sid] = _Entry(item["data"], float(item["expires"]))
        except ValueError as exc:
            raise ConfigurationError(f"{self.path} is not a session store: {exc}") from exc
        self._written = text

    def save(self, sid: str) -> None:
        self.flush()

    def flush(self) -> None:
        text = self._render()
        if text == self._written:
            return
        directory = os.path.dirname(self.path)
        fd, temporary = tempfile.mkstemp(prefix=".sessions-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise
        self._written = text

    def _render(self) -> str:
        now = self.clock()
        sessions: dict[str, Any] = {}
        for sid, entry in self._entries.items():
            if entry.expires <= now:
                continue
            try:
                json.dumps(entry.data)
            except (TypeError, ValueError) as exc:
                app_log.error("Session %s not saved: %s", sid[:8], exc)
                continue
            sessions[sid] = {"expires": entry.expires, "data": entry.data}
        return json.dumps({"format": _JSON_FORMAT, "sessions": sessions}, sort_keys=True)


class SessionManager:
    """Loads ``handler.session`` from the signed cookie and mints the cookie on the 101."""

    def __init__(self, store: SessionStore, cookie: str = "sid", expiry_days: float = 31) -> None:
        self.store = store
        self.cookie = cookie
        self.expiry_days = expiry_days

    def load(self, handler: RequestHandler) -> Session:
        """The session of this request: the cookie's id if its signature verifies, else new."""
        raw = handler.get_signed_cookie(self.cookie, max_age_days=self.expiry_days)
        sid = raw.decode("ascii", "replace") if raw else None
        if sid is not None and _SID.match(sid):
            data = self.store.get(sid)
            if data is not None:
                return Session(sid, data, new_cookie=False, stored=True)
            return Session(sid, {}, new_cookie=False, stored=False)
        return Session(secrets.token_hex(16), {}, new_cookie=True, stored=False)

    def commit(self, handler: RequestHandler, session: Session) -> None:
        """At the 101: set the cookie of a new id and put a new session in the store."""
        if session.new_cookie:
            handler.set_signed_cookie(
                self.cookie,
                session.id,
                expires_days=self.expiry_days,
                path="/",
                httponly=True,
                secure=handler.request.protocol == "https",
            )
            session.new_cookie = False
        if not session.stored:
            self.store.put(session.id, session.data)
            session.stored = True

    def save(self, session: Session) -> None:
        """A connection ended: let the store persist the session."""
        if session.stored:
            try:
                self.store.save(session.id)
            except Exception:
                app_log.error("Cannot save session %s", session.id[:8], exc_info=True)

    def close(self) -> None:
        self.store.close()
