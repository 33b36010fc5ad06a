"""IOLoop and PeriodicCallback over asyncio, with Tornado 6.6.1 semantics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop
from tornado import ioloop as tornado_ioloop

from tornado_ws_compat.ioloop import IOLoop, PeriodicCallback

ROOT = Path(__file__).resolve().parent.parent
WAIT = 5.0  # upper bound for anything awaited; tests normally finish in milliseconds


class LogWaiter(logging.Handler):
    """Collects ``tornado.application`` records and wakes a waiter after ``count`` of them."""

    def __init__(self, count: int) -> None:
        super().__init__(logging.ERROR)
        self.count = count
        self.records: list[logging.LogRecord] = []
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if len(self.records) >= self.count:
            self.event.set()


@pytest.fixture
def log_waiter() -> Iterator[Callable[[int], LogWaiter]]:
    logger = logging.getLogger("tornado.application")
    handlers: list[LogWaiter] = []

    def make(count: int) -> LogWaiter:
        handler = LogWaiter(count)
        handlers.append(handler)
        logger.addHandler(handler)
        return handler

    yield make
    for handler in handlers:
        logger.removeHandler(handler)


@pytest.fixture(params=[asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def stopped_ioloop(request: pytest.FixtureRequest) -> Iterator[IOLoop]:
    """An IOLoop over a new, not running asyncio loop, for the blocking API."""
    loop: asyncio.AbstractEventLoop = request.param()
    io_loop = IOLoop(loop, make_current=False)
    yield io_loop
    if not loop.is_closed():
        io_loop.close()


def run_python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "TORNADO_WS_COMPAT_NO_UVLOOP"}
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- current() -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_current_is_one_object_per_running_loop() -> None:
    io_loop = IOLoop.current()
    assert io_loop is IOLoop.current()
    assert IOLoop.instance() is io_loop
    assert IOLoop.current(instance=False) is io_loop
    assert io_loop.asyncio_loop is asyncio.get_running_loop()

    async def in_task() -> IOLoop:
        return IOLoop.current()

    assert await asyncio.create_task(in_task()) is io_loop


def test_current_instance_false_does_not_wrap_a_running_loop() -> None:
    loop = asyncio.new_event_loop()

    async def check() -> None:
        assert IOLoop.current(instance=False) is None  # as Tornado 6.6.1
        created = IOLoop.current()
        assert created.asyncio_loop is loop
        assert IOLoop.current(instance=False) is created

    try:
        loop.run_until_complete(check())
    finally:
        loop.close()


def test_one_ioloop_per_asyncio_loop(stopped_ioloop: IOLoop) -> None:
    with pytest.raises(RuntimeError, match="already wraps"):
        IOLoop(stopped_ioloop.asyncio_loop, make_current=False)

    async def current() -> IOLoop:
        return IOLoop.current()

    assert stopped_ioloop.run_sync(current) is stopped_ioloop


def test_current_make_current_clear_current_in_a_thread() -> None:
    # A new thread has no asyncio loop of its own, so this does not disturb the test runner.
    errors: list[BaseException] = []

    def body() -> None:
        assert IOLoop.current(instance=False) is None
        created = IOLoop.current()
        assert IOLoop.current() is created
        assert IOLoop.instance() is created
        assert asyncio.get_event_loop() is created.asyncio_loop
        IOLoop.clear_current()
        assert IOLoop.current(instance=False) is None
        other = IOLoop(make_current=False)
        assert IOLoop.current(instance=False) is None
        other.make_current()
        assert IOLoop.current() is other
        other.close()
        # A closed loop counts as none: a new one is created.
        fresh = IOLoop.current()
        assert fresh is not other and fresh is not created
        created.close()
        fresh.close()
        asyncio.set_event_loop(None)

    def run() -> None:
        try:
            body()
        except BaseException as error:
            errors.append(error)

    with pytest.deprecated_call():
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(WAIT)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


LEGACY_PROGRAM = """
    import asyncio, sys, time
    from datetime import timedelta
    from tornado_ws_compat.ioloop import IOLoop

    io_loop = IOLoop.current()
    assert IOLoop.current() is io_loop and IOLoop.instance() is io_loop
    assert asyncio.get_event_loop() is io_loop.asyncio_loop
    events = []

    def finish():
        events.append("timedelta")
        io_loop.stop()

    io_loop.call_later(0.01, events.append, "call_later")
    io_loop.add_timeout(time.time() + 0.02, events.append, "float")
    io_loop.add_timeout(timedelta(seconds=0.05), finish)
    io_loop.start()
    assert "tornado" not in sys.modules, "the package must not import tornado"
    print(",".join(events))
    print(type(io_loop.asyncio_loop).__module__)
    io_loop.close()
"""


def test_legacy_program_uses_uvloop_by_default() -> None:
    events, module = run_python(LEGACY_PROGRAM).split()
    assert events == "call_later,float,timedelta"
    assert module.startswith("uvloop")


def test_legacy_program_without_uvloop() -> None:
    events, module = run_python(LEGACY_PROGRAM, TORNADO_WS_COMPAT_NO_UVLOOP="1").split()
    assert events == "call_later,float,timedelta"
    assert module.startswith("asyncio")


# -- start / stop / run_sync -----------------------------------------------------------------


def test_stop_from_a_callback(stopped_ioloop: IOLoop) -> None:
    stopped_ioloop.add_callback(stopped_ioloop.stop)
    stopped_ioloop.start()


def test_stop_before_start_returns_at_once(stopped_ioloop: IOLoop) -> None:
    stopped_ioloop.stop()
    stopped_ioloop.start()


def test_add_callback_and_stop_from_another_thread(stopped_ioloop: IOLoop) -> None:
    seen: list[tuple[int, tuple[Any, ...]]] = []
    threads: list[threading.Thread] = []

    def in_thread(target: Callable[[], None]) -> None:
        threads.append(threading.Thread(target=target))
        threads[-1].start()

    def record(*args: Any, **kwargs: Any) -> None:
        seen.append((threading.get_ident(), (*args, kwargs)))
        in_thread(stopped_ioloop.stop)

    stopped_ioloop.add_callback(in_thread, lambda: stopped_ioloop.add_callback(record, 1, key="v"))
    stopped_ioloop.start()
    for thread in threads:
        thread.join(WAIT)
    assert seen == [(threading.get_ident(), (1, {"key": "v"}))]


def test_run_sync_with_coroutine_value_and_none(stopped_ioloop: IOLoop) -> None:
    async def compute() -> int:
        await asyncio.sleep(0)
        assert IOLoop.current() is stopped_ioloop
        return 42

    assert stopped_ioloop.run_sync(compute) == 42
    assert stopped_ioloop.run_sync(lambda: "plain") == "plain"
    assert stopped_ioloop.run_sync(lambda: None) is None
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        assert stopped_ioloop.run_sync(lambda: executor.submit(int, "5")) == 5


def test_run_sync_raises_what_func_raises(stopped_ioloop: IOLoop) -> None:
    async def fail() -> None:
        raise ValueError("async")

    def fail_now() -> None:
        raise KeyError("sync")

    with pytest.raises(ValueError, match="async"):
        stopped_ioloop.run_sync(fail)
    with pytest.raises(KeyError, match="sync"):
        stopped_ioloop.run_sync(fail_now)


def test_run_sync_timeout_cancels(stopped_ioloop: IOLoop) -> None:
    cancelled = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(TimeoutError, match=r"timed out after 0\.01 seconds"):
        stopped_ioloop.run_sync(forever, timeout=0.01)
    assert cancelled == [True]

    async def own_timeout() -> None:
        raise TimeoutError("inner")

    with pytest.raises(TimeoutError, match="inner"):
        stopped_ioloop.run_sync(own_timeout, timeout=WAIT)
    assert stopped_ioloop.run_sync(lambda: asyncio.sleep(0, "ok"), timeout=WAIT) == "ok"


def test_run_sync_stopped_early_or_on_closed_loop(stopped_ioloop: IOLoop) -> None:
    async def stops() -> None:
        stopped_ioloop.stop()
        await asyncio.Event().wait()

    with pytest.raises(RuntimeError, match="stopped before Future completed"):
        stopped_ioloop.run_sync(stops)
    stopped_ioloop.close()

    async def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(RuntimeError, match="closed"):
        stopped_ioloop.run_sync(never)


@pytest.mark.asyncio
async def test_run_sync_and_close_refuse_a_running_loop() -> None:
    io_loop = IOLoop.current()
    with pytest.raises(RuntimeError):
        io_loop.run_sync(lambda: asyncio.sleep(0))
    with pytest.raises(RuntimeError, match="running"):
        io_loop.close()
    assert IOLoop.current() is io_loop


# -- timeouts --------------------------------------------------------------------------------


def test_time_is_wall_clock_like_tornado() -> None:
    io_loop = IOLoop(asyncio.new_event_loop(), make_current=False)
    try:
        # Tornado 6.6.1's IOLoop.time() is time.time(), so legacy absolute deadlines work.
        assert abs(io_loop.time() - time.time()) < 1.0
        assert abs(io_loop.time() - io_loop.asyncio_loop.time()) > 1000.0
    finally:
        io_loop.close()


@pytest.mark.asyncio
async def test_add_timeout_forms_and_arguments() -> None:
    io_loop = IOLoop.current()
    done = asyncio.Event()
    calls: list[tuple[str, Any]] = []

    def record(name: str, value: Any = None) -> None:
        calls.append((name, value))
        if len(calls) == 4:
            done.set()

    io_loop.add_timeout(io_loop.time() + 0.001, record, "float", value=1)
    io_loop.add_timeout(datetime.timedelta(milliseconds=2), record, "timedelta")
    io_loop.call_later(0.003, record, "call_later", 3)
    io_loop.call_at(io_loop.time() + 0.004, record, "call_at")
    await asyncio.wait_for(done.wait(), WAIT)
    assert [name for name, _ in calls] == ["float", "timedelta", "call_later", "call_at"]
    assert calls[0] == ("float", 1) and calls[2] == ("call_later", 3)
    with pytest.raises(TypeError, match="Unsupported deadline"):
        io_loop.add_timeout("soon", record)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_remove_timeout_cancels() -> None:
    io_loop = IOLoop.current()
    fired: list[str] = []
    done = asyncio.Event()
    for handle in (
        io_loop.add_timeout(datetime.timedelta(0), fired.append, "timedelta"),
        io_loop.call_later(0, fired.append, "call_later"),
        io_loop.call_at(io_loop.time(), fired.append, "call_at"),
    ):
        io_loop.remove_timeout(handle)
    # Timers run in deadline order: once this one fired, the removed ones would have too.
    ran = io_loop.call_later(0.01, done.set)
    await asyncio.wait_for(done.wait(), WAIT)
    assert fired == []
    io_loop.remove_timeout(ran)  # harmless after it ran


# -- callbacks -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_add_callback_from_another_thread() -> None:
    io_loop = IOLoop.current()
    done = asyncio.Event()
    seen: list[tuple[int, Any, Any]] = []

    def record(value: Any, *, key: Any) -> None:
        seen.append((threading.get_ident(), value, key))
        done.set()

    thread = threading.Thread(target=io_loop.add_callback, args=(record, 1), kwargs={"key": 2})
    thread.start()
    await asyncio.wait_for(done.wait(), WAIT)
    thread.join(WAIT)
    assert seen == [(threading.get_ident(), 1, 2)]


@pytest.mark.asyncio
async def test_failing_callback_is_logged_and_loop_continues(
    caplog: pytest.LogCaptureFixture, log_waiter: Callable[[int], LogWaiter]
) -> None:
    io_loop = IOLoop.current()
    waiter = log_waiter(3)
    done = asyncio.Event()

    def boom() -> None:
        raise ValueError("sync boom")

    async def async_boom() -> None:
        await asyncio.sleep(0)
        raise ValueError("async boom")

    def cancelled() -> None:
        raise asyncio.CancelledError

    with caplog.at_level(logging.ERROR, logger="tornado.application"):
        io_loop.add_callback(boom)
        io_loop.add_callback(cancelled)  # not logged, as Tornado 6.0+
        io_loop.spawn_callback(async_boom)
        io_loop.add_timeout(datetime.timedelta(0), boom)
        io_loop.add_callback(done.set)
        await asyncio.wait_for(done.wait(), WAIT)
        await asyncio.wait_for(waiter.event.wait(), WAIT)
    records = [r for r in caplog.records if r.name == "tornado.application"]
    assert len(records) == 3
    for record in records:
        assert record.getMessage().startswith("Exception in callback ")
        assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert sorted(str(r.exc_info[1]) for r in records if r.exc_info) == [
        "async boom",
        "sync boom",
        "sync boom",
    ]


@pytest.mark.asyncio
async def test_coroutine_callback_runs() -> None:
    io_loop = IOLoop.current()
    done = asyncio.Event()

    async def work(value: int) -> None:
        await asyncio.sleep(0)
        if value == 7:
            done.set()

    io_loop.add_callback(work, 7)
    await asyncio.wait_for(done.wait(), WAIT)


@pytest.mark.asyncio
async def test_add_callback_from_signal_is_deprecated() -> None:
    io_loop = IOLoop.current()
    done = asyncio.Event()
    with pytest.deprecated_call():
        io_loop.add_callback_from_signal(done.set)
    await asyncio.wait_for(done.wait(), WAIT)


@pytest.mark.asyncio
async def test_add_future_passes_the_future() -> None:
    io_loop = IOLoop.current()
    done = asyncio.Event()
    seen: list[tuple[object, int]] = []

    def record(future: object) -> None:
        seen.append((future, threading.get_ident()))
        if len(seen) == 2:
            done.set()

    aio_future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    io_loop.add_future(aio_future, record)
    aio_future.set_result(1)
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        c_future = executor.submit(int, "2")
        io_loop.add_future(c_future, record)
        await asyncio.wait_for(done.wait(), WAIT)
    assert {id(f) for f, _ in seen} == {id(aio_future), id(c_future)}
    assert {ident for _, ident in seen} == {threading.get_ident()}


@pytest.mark.asyncio
async def test_run_in_executor_and_default_executor() -> None:
    io_loop = IOLoop.current()
    assert await asyncio.wait_for(io_loop.run_in_executor(None, sum, [1, 2]), WAIT) == 3
    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="compat-test")
    try:
        io_loop.set_default_executor(executor)
        name = await asyncio.wait_for(
            io_loop.run_in_executor(None, lambda: threading.current_thread().name), WAIT
        )
        assert name.startswith("compat-test")
    finally:
        executor.shutdown(wait=True)


# -- PeriodicCallback ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_periodic_callback_runs_repeatedly_and_stops() -> None:
    done = asyncio.Event()
    calls = 0

    def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            periodic.stop()
            done.set()

    periodic = PeriodicCallback(tick, 2)
    assert not periodic.is_running()
    periodic.start()
    assert periodic.is_running()
    await asyncio.wait_for(done.wait(), WAIT)
    assert not periodic.is_running()
    # Nothing after stop(): wait well past the next due times.
    later = asyncio.Event()
    asyncio.get_running_loop().call_later(0.02, later.set)
    await asyncio.wait_for(later.wait(), WAIT)
    assert calls == 3


@pytest.mark.asyncio
async def test_periodic_callback_logs_errors_and_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = asyncio.Event()
    calls = 0

    def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            periodic.stop()
            done.set()
        raise RuntimeError(f"tick {calls}")

    periodic = PeriodicCallback(tick, datetime.timedelta(milliseconds=1))
    with caplog.at_level(logging.ERROR, logger="tornado.application"):
        periodic.start()
        try:
            await asyncio.wait_for(done.wait(), WAIT)
        finally:
            periodic.stop()
    records = [r for r in caplog.records if r.name == "tornado.application"]
    assert [str(r.exc_info[1]) for r in records if r.exc_info] == ["tick 1", "tick 2", "tick 3"]
    assert all(r.getMessage().startswith("Exception in callback ") for r in records)


@pytest.mark.asyncio
async def test_periodic_coroutine_is_awaited_before_next_run(
    log_waiter: Callable[[int], LogWaiter],
) -> None:
    waiter = log_waiter(2)
    done = asyncio.Event()
    active = 0
    overlaps = 0
    calls = 0

    async def tick() -> None:
        nonlocal active, overlaps, calls
        calls += 1
        active += 1
        overlaps += active > 1
        try:
            # Outlast the 1 ms period: the next call must wait for this one.
            for _ in range(20):
                await asyncio.sleep(0)
            await asyncio.sleep(0.003)
        finally:
            active -= 1
        if calls >= 4:
            done.set()
        if calls in (1, 2):
            raise ValueError("async failure")

    periodic = PeriodicCallback(tick, 1)
    periodic.start()
    try:
        await asyncio.wait_for(done.wait(), WAIT)
        await asyncio.wait_for(waiter.event.wait(), WAIT)
    finally:
        periodic.stop()
    assert overlaps == 0
    assert [str(r.exc_info[1]) for r in waiter.records if r.exc_info] == ["async failure"] * 2


@pytest.mark.asyncio
async def test_periodic_callback_start_twice_keeps_one_timer() -> None:
    periodic = PeriodicCallback(lambda: None, 1000)
    periodic.start()
    try:
        timer = periodic._timeout
        periodic.start()
        assert periodic._timeout is timer
    finally:
        periodic.stop()
    assert periodic._timeout is None


def test_periodic_callback_rejects_non_positive_period() -> None:
    for period in (0, -1, datetime.timedelta(0), float("nan")):
        with pytest.raises(ValueError, match="positive"):
            PeriodicCallback(lambda: None, period)


@pytest.mark.parametrize(
    ("next_timeout", "now", "period_ms"),
    [
        (100.0, 100.0, 10),  # exactly due
        (100.0, 100.004, 10),  # on time
        (100.0, 100.035, 10),  # late: skip the missed runs
        (100.0, 100.02, 10),  # late by exactly two periods
        (100.0, 99.0, 10),  # the clock went backwards
        (100.0, 1000.0, 250),  # very late
    ],
)
def test_periodic_schedule_matches_tornado(
    next_timeout: float, now: float, period_ms: int
) -> None:
    ours = PeriodicCallback(lambda: None, period_ms)
    theirs = tornado_ioloop.PeriodicCallback(lambda: None, period_ms)
    ours._next_timeout = theirs._next_timeout = next_timeout
    for step in range(3):  # repeated updates do not drift apart
        ours._update_next(now + step * 0.001)
        theirs._update_next(now + step * 0.001)
        assert ours._next_timeout == theirs._next_timeout
