"""Sessions: ``handler.session``, a dict-like object with a stable ``id``, kept in a store.

The browser holds the id in a cookie (``sid`` by default) whose value is a Tornado signed value
(``set_signed_cookie`` with the ``cookie_secret`` setting), so that an id cannot be forged: a
tampered or expired cookie is ignored and a new id is minted. The cookie is sent with the 101
response of the upgrade (``HttpOnly``, ``Path=/``, ``Secure`` when the request came over https,
also through a proxy with ``xheaders``), never with a refused handshake.

A session enters the store only once something is written to it (a hook sets a key; it is
stored when that connection ends, or at the 101 when ``prepare`` wrote it): an anonymous
socket that never writes costs a cookie header, not a stored session (``store_anonymous=True``
stores every connection's session at its 101, as this module did before).
:meth:`SessionManager.rotate` gives a session a new id (after a login: RFC 6265's session
fixation advice) while its data stay.

Stores:

``memory``
    A dict in the server process: sessions survive across connections, not restarts. The
    session dict is shared by every connection with the same id.
``json``
    The same, written to a JSON file: at most once per ``flush_interval`` seconds after a
    connection changed something (a close only marks the store dirty, whatever its size), and
    at shutdown; each write replaces the file atomically (a temporary file, then a rename). The
    file is locked while a server uses it: a second server on the same file is refused with a
    clear error instead of overwriting the first one's sessions.

Limits: a session expires ``expiry`` days after it was created (the cookie's lifetime too);
the memory held is bounded by ``max_sessions``. Past it, sessions that were never used again
after their first connection are dropped first (oldest first), then the least recently used.
"""

from __future__ import annotations

import abc
import asyncio
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

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from tornado_ws_compat.log import app_log

if TYPE_CHECKING:
    from tornado_ws_compat.web import RequestHandler

__all__ = [
    "DEFAULT_FLUSH_INTERVAL",
    "DEFAULT_MAX_SESSIONS",
    "JSONStore",
    "MemoryStore",
    "Session",
    "SessionManager",
    "SessionStore",
]

#: Sessions a store keeps at most; past it never-reused, then least recently used, are dropped.
DEFAULT_MAX_SESSIONS = 100_000
#: Seconds between two writes of the json store's file (writes are coalesced).
DEFAULT_FLUSH_INTERVAL = 5.0
_SECONDS_PER_DAY = 86400.0
_PURGE_INTERVAL = 60.0
_SID = re.compile(r"[0-9a-f]{32}\Z")
_JSON_FORMAT = 1


class Session(MutableMapping[str, Any]):
    """``handler.session``: the data of one browser, with a read-only ``id``.

    ``session['id']`` is the id too (as in Gramex). Values must be JSON-serializable for the
    ``json`` store.
    """

    __slots__ = ("_data", "id", "new_cookie", "stored", "written")

    def __init__(self, sid: str, data: dict[str, Any], *, new_cookie: bool, stored: bool) -> None:
        self.id = sid
        self._data = data
        #: True until the cookie holding the id has been set.
        self.new_cookie = new_cookie
        #: True once the data are in the store (when first written, or at the 101 with
        #: ``store_anonymous``).
        self.stored = stored
        #: True once a key was set or deleted through this object.
        self.written = False

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
        self.written = True

    def __delitem__(self, key: str) -> None:
        if key == "id":
            raise TypeError("the session id is read-only")
        del self._data[key]
        self.written = True

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
        self.written = True

    def popitem(self) -> tuple[str, Any]:
        self.written = True
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

    @abc.abstractmethod
    def delete(self, sid: str) -> None:
        """Forget session ``sid`` (its id was rotated)."""

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
    #: Loaded again by a later connection (eviction keeps these longer).
    used: bool = False


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
        # Least recently used first; ``_unused`` (insertion order) holds the ids never
        # loaded again since they were stored, the first to go at the cap.
        self._entries: dict[str, _Entry] = {}
        self._unused: dict[str, None] = {}
        self._next_purge = clock() + _PURGE_INTERVAL

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, sid: str) -> dict[str, Any] | None:
        entry = self._entries.get(sid)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            self._drop(sid)
            return None
        if not entry.used:
            entry.used = True
            self._unused.pop(sid, None)
        self._entries[sid] = self._entries.pop(sid)  # most recently used
        return entry.data

    def put(self, sid: str, data: dict[str, Any]) -> None:
        now = self.clock()
        self._drop(sid)
        self._add(sid, _Entry(data, now + self.expiry))
        if now >= self._next_purge:
            self.purge()
        while len(self._entries) > self.max_sessions:
            # Never the session just added: the oldest never-reused one, else the least
            # recently used (the new one is the most recent).
            victim = next((other for other in self._unused if other != sid), None)
            self._drop(victim if victim is not None else next(iter(self._entries)))

    def delete(self, sid: str) -> None:
        self._drop(sid)

    def _add(self, sid: str, entry: _Entry) -> None:
        self._entries[sid] = entry
        if not entry.used:
            self._unused[sid] = None

    def _drop(self, sid: str) -> None:
        self._entries.pop(sid, None)
        self._unused.pop(sid, None)

    def purge(self) -> None:
        """Drop expired sessions."""
        now = self.clock()
        self._next_purge = now + _PURGE_INTERVAL
        for sid in [s for s, entry in self._entries.items() if entry.expires <= now]:
            self._drop(sid)


class JSONStore(MemoryStore):
    """Sessions in memory, written to ``path`` (coalesced, atomically) and at shutdown.

    The file is read when the store is created; a file that is not a store raises
    :class:`~tornado_ws_compat.errors.ConfigurationError`, and so does a file another live
    store (this process or another server) holds: ``path + ".lock"`` is locked
    (``flock``) until :meth:`close`. Values that JSON cannot encode are logged and that
    session is left out of the file.

    :meth:`save` only marks the store dirty; the file is written ``flush_interval`` seconds
    later on the running loop (once, however many connections closed meanwhile), or by
    :meth:`flush` / :meth:`close`. Each session's JSON is kept from one write to the next and
    encoded again only when the session was saved (or first loaded again) since: a write
    costs the sessions that changed plus one join, not an encoding of the whole store.
    """

    def __init__(
        self,
        path: str,
        expiry_days: float = 31,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Callable[[], float] = time.time,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> None:
        super().__init__(expiry_days, max_sessions, clock)
        self.path = os.path.abspath(path)
        self.flush_interval = flush_interval
        self._dirty = False
        self._timer: asyncio.TimerHandle | None = None
        # '"<sid>": {...}' of each session as last encoded, and the ids to encode again.
        self._pieces: dict[str, str] = {}
        self._stale: set[str] = set()
        self._lock_fd: int | None = None
        self._lock()
        try:
            self._load()
        except BaseException:
            self._unlock()
            raise

    def _lock(self) -> None:
        """One server per file: two would each write their own sessions over the other's."""
        if fcntl is None:  # pragma: no cover - Windows: no flock, documented
            return
        lock_path = self.path + ".lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigurationError(f"cannot lock session store {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ConfigurationError(
                f"session store {self.path} is in use by another server (pid {holder}); "
                "servers cannot share a json store: give each its own path"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
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
                    # Files written before "used" existed: count their sessions as used.
                    used = item.get("used", True) is not False
                    self._add(sid, _Entry(item["data"], float(item["expires"]), used))
        except ValueError as exc:
            raise ConfigurationError(f"{self.path} is not a session store: {exc}") from exc

    def get(self, sid: str) -> dict[str, Any] | None:
        entry = self._entries.get(sid)
        first_reuse = entry is not None and not entry.used
        data = super().get(sid)
        if first_reuse and data is not None:
            self._stale.add(sid)  # its "used" flag changed; written with the next change
        return data

    def put(self, sid: str, data: dict[str, Any]) -> None:
        super().put(sid, data)
        self.save(sid)

    def _add(self, sid: str, entry: _Entry) -> None:
        super()._add(sid, entry)
        self._stale.add(sid)

    def _drop(self, sid: str) -> None:
        super()._drop(sid)
        self._pieces.pop(sid, None)
        self._stale.discard(sid)

    def delete(self, sid: str) -> None:
        super().delete(sid)
        self.save(sid)

    def save(self, sid: str) -> None:
        """Mark the store changed; the file is written within ``flush_interval`` seconds."""
        self._stale.add(sid)
        self._dirty = True
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a script, a test): flush() or close() writes
        self._timer = loop.call_later(self.flush_interval, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        try:
            self.flush()
        except Exception:
            app_log.error("Cannot write session store %s", self.path, exc_info=True)

    def flush(self) -> None:
        """Write the file now if anything changed since the last write."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._dirty:
            return
        text = self._render()
        directory = os.path.dirname(self.path)
        fd, temporary = tempfile.mkstemp(prefix=".sessions-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise
        self._dirty = False

    def close(self) -> None:
        try:
            self._stale.update(self._entries)  # the last write encodes every session afresh
            self.flush()
        finally:
            self._unlock()

    def _render(self) -> str:
        self.purge()  # expired sessions leave the file
        pieces = self._pieces
        for sid in self._stale:
            entry = self._entries.get(sid)
            if entry is None:  # deleted (or never stored) since it was saved
                continue
            item = {"data": entry.data, "expires": entry.expires, "used": entry.used}
            try:
                pieces[sid] = f"{json.dumps(sid)}: {json.dumps(item)}"
            except (TypeError, ValueError) as exc:
                pieces.pop(sid, None)
                app_log.error("Session %s not saved: %s", sid[:8], exc)
        self._stale.clear()
        # Least recently used first, as the sessions are held (and loaded back).
        ordered = [piece for sid in self._entries if (piece := pieces.get(sid)) is not None]
        return f'{{"format": {_JSON_FORMAT}, "sessions": {{{", ".join(ordered)}}}}}'


class SessionManager:
    """Loads ``handler.session`` from the signed cookie, mints the cookie, stores on write.

    ``store_anonymous``: store every connection's session at its 101, written to or not
    (by default a session enters the store when first written).
    """

    def __init__(
        self,
        store: SessionStore,
        cookie: str = "sid",
        expiry_days: float = 31,
        store_anonymous: bool = False,
    ) -> None:
        self.store = store
        self.cookie = cookie
        self.expiry_days = expiry_days
        self.store_anonymous = store_anonymous

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
        """Before the response: set the cookie of a new id (and store it if asked to)."""
        if session.new_cookie:
            self._set_cookie(handler, session.id)
            session.new_cookie = False
        if self.store_anonymous or session.written:
            self._store(session)

    def _set_cookie(self, handler: RequestHandler, sid: str) -> None:
        handler.set_signed_cookie(
            self.cookie,
            sid,
            expires_days=self.expiry_days,
            path="/",
            httponly=True,
            secure=handler.request.protocol == "https",
        )

    def _store(self, session: Session) -> None:
        if session.stored:
            return
        existing = self.store.get(session.id)  # another connection of this browser stored it
        if existing is None:
            self.store.put(session.id, session.data)
        else:
            existing.update(session.data)
            session._data = existing
        session.stored = True

    def page_loaded(self, handler: RequestHandler, session: Session) -> None:
        """A browser loaded a page (``FileHandler``): its session is kept from now on.

        A page load is what a person's browser does before it opens the page's sockets, so
        the session is stored, and its cookie set, here; a script that only opens sockets
        gets no stored session until a hook writes to it (issue 10: no session per
        anonymous socket).
        """
        if session.new_cookie:
            self._set_cookie(handler, session.id)
            session.new_cookie = False
        try:
            self._store(session)
            self.store.save(session.id)
        except Exception:
            app_log.error("Cannot save session %s", session.id[:8], exc_info=True)

    def save(self, session: Session) -> None:
        """A connection ended: store a session written to, let the store persist it."""
        try:
            if not session.stored:
                if not session.written:
                    return  # anonymous and never written: nothing to keep
                self._store(session)
            self.store.save(session.id)
        except Exception:
            app_log.error("Cannot save session %s", session.id[:8], exc_info=True)

    def rotate(self, handler: RequestHandler, session: Session) -> None:
        """Give ``session`` a new id (keeping its data) and send the new cookie.

        Call it when the user's privileges change, after a login above all (RFC 6265 section
        8.6, OWASP: session fixation), before the response is sent: in ``prepare`` or an HTTP
        handler. After a WebSocket's 101 a browser can no longer receive the new cookie, so
        that raises RuntimeError.
        """
        if handler._headers_written:
            raise RuntimeError(
                "rotate_session() must run before the response is sent (prepare, or an HTTP "
                "handler): after a WebSocket's 101 the new cookie cannot reach the browser"
            )
        old = session.id
        session.id = secrets.token_hex(16)
        if session.stored:
            self.store.delete(old)
            session.stored = False
            self._store(session)
        self._set_cookie(handler, session.id)
        session.new_cookie = False

    def close(self) -> None:
        self.store.close()
