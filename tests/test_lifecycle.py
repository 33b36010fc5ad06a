"""The connection state machine and ping schedule, without sockets (RFC 6455 section 7)."""

from __future__ import annotations

import itertools
import struct

import pytest

from tornado_ws_compat.lifecycle import (
    CloseAction,
    Lifecycle,
    PingSchedule,
    State,
    close_payload,
    is_valid_close_code,
)


def test_local_close_sends_once_then_waits_for_peer() -> None:
    life = Lifecycle()
    life.opened()
    action, payload = life.local_close(4000, "bye")
    assert action == CloseAction.SEND_CLOSE | CloseAction.WAIT_FOR_PEER
    assert payload == struct.pack("!H", 4000) + b"bye"
    assert life.is_closing() and life.state is State.CLOSING
    again, payload = life.local_close(1000, None)
    assert again == CloseAction.WAIT_FOR_PEER and payload == b""


def test_peer_close_is_echoed_without_reason_then_dropped() -> None:
    life = Lifecycle()
    life.opened()
    action, payload = life.peer_close(1001, "away")
    assert action == CloseAction.SEND_CLOSE | CloseAction.DROP
    assert payload == struct.pack("!H", 1001)
    assert (life.close_code, life.close_reason) == (1001, "away")
    assert life.peer_close(1000, None) == (CloseAction.NONE, b"")


def test_peer_answer_after_local_close_drops_without_second_frame() -> None:
    life = Lifecycle()
    life.opened()
    life.local_close(None, None)
    action, payload = life.peer_close(1000, "")
    assert action == CloseAction.DROP and payload == b""


def test_empty_peer_close_echoes_empty_payload() -> None:
    life = Lifecycle()
    life.opened()
    action, payload = life.peer_close(None, None)
    assert action & CloseAction.SEND_CLOSE and payload == b""


def test_connection_lost_reports_on_close_exactly_once() -> None:
    life = Lifecycle()
    life.opened()
    assert life.abort() == CloseAction.DROP
    assert life.connection_lost() is True
    assert life.connection_lost() is False
    assert life.state is State.CLOSED
    assert life.local_close(1000, None) == (CloseAction.NONE, b"")
    assert life.abort() == CloseAction.NONE


def test_close_payload_reason_alone_implies_1000() -> None:
    assert close_payload(None, None) == b""
    assert close_payload(None, "x") == struct.pack("!H", 1000) + b"x"
    assert close_payload(1011, None) == struct.pack("!H", 1011)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        (999, False),
        (1000, True),
        (1003, True),
        (1004, False),
        (1005, False),
        (1006, False),
        (1007, True),
        (1014, True),
        (1015, False),
        (1016, False),
        (2999, False),
        (3000, True),
        (4999, True),
        (5000, False),
    ],
)
def test_close_codes_rfc6455_section_7_4(code: int, valid: bool) -> None:
    assert is_valid_close_code(code) is valid


def test_ping_schedule_timeout_capped_at_interval_and_defaults_to_it() -> None:
    assert PingSchedule(10, None).timeout == 10
    assert PingSchedule(10, 30).timeout == 10
    assert PingSchedule(10, 2).timeout == 2
    assert not PingSchedule(0, 5).enabled


def test_ping_schedule_detects_missing_pong() -> None:
    schedule = PingSchedule(10, 2)
    assert schedule.first_deadline(100.0) == 110.0
    check_at = schedule.ping_sent(110.0)
    assert check_at == 112.0
    timed_out, _ = schedule.check(112.0)
    assert timed_out


def test_ping_schedule_pong_keeps_connection_and_next_ping_is_one_interval_later() -> None:
    schedule = PingSchedule(10, 2)
    schedule.ping_sent(110.0)
    schedule.pong_received()
    timed_out, next_ping = schedule.check(112.0)
    assert not timed_out and next_ping == 120.0


def test_ping_schedule_without_timeout_never_times_out() -> None:
    schedule = PingSchedule(5, 0)
    check_at = schedule.ping_sent(0.0)
    assert check_at == 5.0
    assert schedule.check(5.0) == (False, 5.0)


def test_state_is_open_exactly_while_neither_side_terminated() -> None:
    """The engine's write path checks ``state is OPEN`` alone: after every sequence of up to
    four events, that must agree with ``is_closing()``."""
    events = {
        "opened": lambda lc: lc.opened(),
        "local_close": lambda lc: lc.local_close(1000, "bye"),
        "peer_close": lambda lc: lc.peer_close(1001, None),
        "abort": lambda lc: lc.abort(),
        "connection_lost": lambda lc: lc.connection_lost(),
        "forgo_on_close": lambda lc: lc.forgo_on_close(),
    }
    for length in range(5):
        for sequence in itertools.product(events, repeat=length):
            lifecycle = Lifecycle()
            for name in ("opened", *sequence):
                events[name](lifecycle)
                open_ = lifecycle.state is State.OPEN
                assert open_ is not lifecycle.is_closing(), sequence
                if open_:
                    assert not lifecycle.client_terminated and not lifecycle.server_terminated
