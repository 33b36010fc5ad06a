"""Keepalive pings on the event loop's timers, for server and client connections alike.

The schedule (when to ping, when a missing pong counts) is ``lifecycle.PingSchedule``; this
class only arms the timers. No task per connection: two timer handles at most, one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tornado_ws_compat.lifecycle import PingSchedule

__all__ = ["NO_PINGS", "Pinger"]


def _never() -> bool:
    return False


def _nothing() -> None:
    pass


class Pinger:
    """Send a ping every interval; call ``on_timeout`` when its pong does not come in time.

    Tornado 6.5+ semantics: the first ping one interval after the start, then one per
    interval; with a timeout, a ping left unanswered for that long ends the connection.
    """

    __slots__ = ("_loop", "_on_timeout", "_schedule", "_send", "_timer")

    def __init__(
        self,
        interval: float,
        timeout: float | None,
        send: Callable[[], bool],
        on_timeout: Callable[[], None],
    ) -> None:
        self._schedule = PingSchedule(interval, timeout)
        self._send = send  # writes a ping; False when the connection is closing
        self._on_timeout = on_timeout
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        if self._schedule.enabled:
            deadline = self._schedule.first_deadline(self._loop.time())
            self._timer = self._loop.call_at(deadline, self._ping)

    def pong_received(self) -> None:
        self._schedule.pong_received()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop for good and drop the callbacks (they refer back to the connection)."""
        self.cancel()
        self._send = _never
        self._on_timeout = _nothing

    def _ping(self) -> None:
        self._timer = None
        if not self._send():
            return
        check_at = self._schedule.ping_sent(self._loop.time())
        self._timer = self._loop.call_at(check_at, self._check)

    def _check(self) -> None:
        self._timer = None
        timed_out, next_ping = self._schedule.check(self._loop.time())
        if timed_out:
            self._on_timeout()
            return
        self._timer = self._loop.call_at(next_ping, self._ping)


class _NoPings:
    """What a connection without keepalive pings holds instead of a Pinger."""

    __slots__ = ()

    def pong_received(self) -> None:
        pass

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


#: Shared by every connection whose ping interval is 0 (Tornado's default).
NO_PINGS = _NoPings()
