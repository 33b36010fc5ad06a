"""The WebSocket connection lifecycle as a state machine without I/O (RFC 6455 section 7).

The engine feeds events in (a frame arrived, we want to close, the socket went away, a timer
fired) and acts on what comes back (send this close frame, drop the socket, run ``on_close``).
Everything here is synchronous and deterministic; the clock is passed in.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "CloseAction",
    "Lifecycle",
    "PingSchedule",
    "State",
    "WebSocketParams",
    "close_payload",
    "is_valid_close_code",
]

#: Tornado's ``websocket_max_message_size`` default (4.5+): 10 MiB.
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024
#: How long a server that sent a close frame waits for the peer's (Tornado: 5 s).
DEFAULT_CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class WebSocketParams:
    """Per-connection limits and options, from the handler's settings at handshake time."""

    ping_interval: float = 0.0
    ping_timeout: float | None = None  # None: the interval (Tornado 6.5)
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    compression_options: dict[str, Any] | None = None
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT


class State(enum.Enum):
    """RFC 6455 section 4 and 7 connection states."""

    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


# The members once more as plain module names: on CPython 3.11 reading ``State.OPEN`` costs
# about 0.2 us (the enum's class-attribute lookup); a handshake reads them several times.
_CONNECTING = State.CONNECTING
_OPEN = State.OPEN
_CLOSING = State.CLOSING
_CLOSED = State.CLOSED


class CloseAction:
    """What the engine must do after a lifecycle event: bits of an ``int``, several may apply.

    Plain ints rather than ``enum.Flag``: combining Flag members costs microseconds, and
    this runs for every connection.
    """

    NONE = 0
    SEND_CLOSE = 1  # write the close frame returned alongside
    DROP = 2  # close the TCP connection once the close frame is flushed
    WAIT_FOR_PEER = 4  # arm the close timeout, then drop


def is_valid_close_code(code: int) -> bool:
    """True for a close code a peer may send (RFC 6455 section 7.4.1 and 7.4.2).

    1000-1003 and 1007-1014 are defined (1012-1014 by IANA registration); 1004, 1005, 1006
    and 1015 must never appear on the wire; 3000-4999 are for libraries and applications.
    """
    return (1000 <= code <= 1003) or (1007 <= code <= 1014) or (3000 <= code <= 4999)


def close_payload(code: int | None, reason: str | None) -> bytes:
    """Build a close frame's payload as Tornado does: a reason alone implies code 1000."""
    if code is None and reason is not None:
        code = 1000
    if code is None:
        return b""
    payload = struct.pack("!H", code)
    if reason is not None:
        payload += reason.encode("utf-8")
    return payload


class Lifecycle:
    """Close-handshake bookkeeping of one connection, with Tornado 6.6.1's semantics.

    ``client_terminated`` means the peer's close frame arrived (or the socket is gone);
    ``server_terminated`` means our close frame went out (or must never go out).
    ``close_code``/``close_reason`` are what the peer sent, as Tornado exposes them.

    Invariant: ``state`` is OPEN only while neither side has terminated, so ``state is OPEN``
    alone answers ``not is_closing()`` (the engine's write path reads only that).
    """

    __slots__ = (
        "_on_close_done",
        "client_terminated",
        "close_code",
        "close_reason",
        "server_terminated",
        "state",
    )

    def __init__(self) -> None:
        self.state = _CONNECTING
        self.client_terminated = False
        self.server_terminated = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._on_close_done = False

    def opened(self) -> None:
        """The 101 went out: frames may flow."""
        if self.state is _CONNECTING:
            self.state = _OPEN

    def is_closing(self) -> bool:
        """Tornado's ``is_closing``: either side started closing, or the socket is gone."""
        return self.state is not _OPEN or self.client_terminated or self.server_terminated

    def local_close(self, code: int | None, reason: str | None) -> tuple[int, bytes]:
        """We close (``handler.close``): send our close frame once, then wait for the peer's.

        A second call sends nothing more (RFC 6455 section 5.5.1: one close frame per side).
        """
        action = CloseAction.NONE
        payload = b""
        if self.state is _CLOSED:
            return action, payload
        if not self.server_terminated:
            self.server_terminated = True
            action |= CloseAction.SEND_CLOSE
            payload = close_payload(code, reason)
        self.state = _CLOSING
        if self.client_terminated:
            action |= CloseAction.DROP
        else:
            action |= CloseAction.WAIT_FOR_PEER
        return action, payload

    def peer_close(self, code: int | None, reason: str | None) -> tuple[int, bytes]:
        """The peer's close frame arrived: record it, echo its code, then drop the socket.

        RFC 6455 section 5.5.1: the answer echoes the status code received; Tornado sends the
        code without the reason and closes the TCP connection at once (server side, 7.1.1).
        """
        if self.client_terminated:
            return CloseAction.NONE, b""
        self.client_terminated = True
        self.close_code = code
        self.close_reason = reason
        return self.local_close(code, None)

    def abort(self) -> int:
        """Fail the connection: no (further) close frame, drop the socket now."""
        self.client_terminated = True
        self.server_terminated = True
        if self.state is _CLOSED:
            return CloseAction.NONE
        self.state = _CLOSING
        return CloseAction.DROP

    def forgo_on_close(self) -> None:
        """``open`` failed: the application never saw an open connection, so ``on_close``
        must not run for it (Tornado 6.6.1)."""
        self._on_close_done = True

    def connection_lost(self) -> bool:
        """The socket is gone. True exactly once: the caller then runs ``on_close``."""
        self.client_terminated = True
        self.server_terminated = True
        self.state = _CLOSED
        if self._on_close_done:
            return False
        self._on_close_done = True
        return True


class PingSchedule:
    """When to ping and when a missing pong ends the connection (Tornado 6.5+ rules).

    A ping goes out every ``interval`` seconds; if ``timeout`` is non-zero and no pong arrived
    within ``timeout`` seconds of a ping, the connection is closed with ``ping timed out``.
    The timeout is capped at the interval, as Tornado 6.5 does.
    """

    __slots__ = ("_last_ping", "_pong_seen", "interval", "timeout")

    def __init__(self, interval: float, timeout: float | None) -> None:
        self.interval = max(0.0, interval)
        if timeout is None:
            timeout = self.interval
        self.timeout = min(max(0.0, timeout), self.interval) if self.interval else 0.0
        self._last_ping: float | None = None
        self._pong_seen = True

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def first_deadline(self, now: float) -> float:
        """The first ping is due one interval after the connection opens."""
        return now + self.interval

    def ping_sent(self, now: float) -> float:
        """A ping went out now; returns when to check for its pong."""
        self._last_ping = now
        self._pong_seen = False
        return now + (self.timeout if self.timeout > 0 else self.interval)

    def pong_received(self) -> None:
        self._pong_seen = True

    def check(self, now: float) -> tuple[bool, float]:
        """At a timeout check: ``(timed_out, next_ping_time)``."""
        timed_out = self.timeout > 0 and not self._pong_seen
        last = self._last_ping if self._last_ping is not None else now
        return timed_out, max(now, last + self.interval)
