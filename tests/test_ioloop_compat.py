"""``IOLoop`` and ``PeriodicCallback`` against real Tornado 6.6.1: the same calls, equal traces."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import gc
import threading
import warnings
from typing import Any

import pytest
import tornado.ioloop
import uvloop
from differ import OURS, TORNADO, WAIT, Scenario, both, outcome, settle

from tornado_ws_compat.ioloop import IOLoop, PeriodicCallback


async def timeouts(m: Any, trace: list[Any]) -> Any:
    io_loop = m.ioloop.IOLoop.current()
    done = asyncio.Event()
    start = io_loop.time()
    io_loop.add_timeout(datetime.timedelta(milliseconds=80), trace.append, "timedelta 80ms")
    io_loop.add_timeout(start + 0.04, trace.append, "float deadline 40ms")
    io_loop.call_at(start + 0.06, trace.append, "call_at 60ms")
    io_loop.call_later(0.02, lambda word: trace.append(word), word="call_later 20ms")
    removed = io_loop.add_timeout(start + 0.03, trace.append, "removed")
    io_loop.remove_timeout(removed)
    io_loop.call_later(-1, trace.append, "negative delay runs first")
    io_loop.add_timeout(datetime.timedelta(milliseconds=120), done.set)
    await asyncio.wait_for(done.wait(), WAIT)
    io_loop.remove_timeout(removed)  # again, after it would have run: harmless
    trace.append(outcome(lambda: io_loop.add_timeout("soon", print)))
    return abs(io_loop.time() - __import__("time").time()) < 1


async def callbacks(m: Any, trace: list[Any]) -> Any:
    io_loop = m.ioloop.IOLoop.current()
    done = asyncio.Event()

    async def native(name: str) -> None:
        trace.append(name)

    def failing() -> None:
        raise KeyError("logged")

    io_loop.add_callback(trace.append, "first")
    io_loop.spawn_callback(native, "spawned coroutine")
    io_loop.add_callback(failing)
    io_loop.add_callback(lambda: trace.append("lambda"))
    threads = [
        threading.Thread(target=io_loop.add_callback, args=(trace.append, f"thread {n}"))
        for n in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    io_loop.add_callback(done.set)
    await asyncio.wait_for(done.wait(), WAIT)
    await asyncio.sleep(0)
    # Threads may be ordered differently; the rest is in call order.
    trace.sort(key=lambda item: str(item).startswith("thread"))
    with pytest.warns(DeprecationWarning):
        io_loop.add_callback_from_signal(trace.append, "from signal")
    await asyncio.sleep(0.001)
    return len(trace)


async def futures(m: Any, trace: list[Any]) -> Any:
    io_loop = m.ioloop.IOLoop.current()
    loop = asyncio.get_running_loop()
    seen = asyncio.Event()
    future = loop.create_future()
    io_loop.add_future(future, lambda f: (trace.append(("asyncio", f.result())), seen.set()))
    future.set_result(1)
    await asyncio.wait_for(seen.wait(), WAIT)
    seen.clear()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        submitted = pool.submit(lambda: "from pool")
        io_loop.add_future(submitted, lambda f: (trace.append(f.result()), seen.set()))
        await asyncio.wait_for(seen.wait(), WAIT)
        result = io_loop.run_in_executor(pool, lambda a, b: a + b, 2, 3)
        trace.append((asyncio.isfuture(result), await settle(result)))
    io_loop.add_future(loop.create_future(), print)
    # Not compared: Tornado fails an assert here; we raise TypeError naming the object.
    if m is OURS:
        with pytest.raises(TypeError, match="expected a Future"):
            io_loop.add_future(object(), print)
    return await settle(io_loop.run_in_executor(None, sum, [1, 2]))


SCENARIOS = [timeouts, callbacks, futures]


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_ioloop_matches_tornado(scenario: Scenario) -> None:
    trace = await both(scenario)
    assert trace[-1][0] == "result"


@pytest.mark.asyncio
async def test_timeout_order_is_by_deadline() -> None:
    trace = await both(timeouts)
    assert trace[:5] == [
        "negative delay runs first",
        "call_later 20ms",
        "float deadline 40ms",
        "call_at 60ms",
        "timedelta 80ms",
    ]


RUN_SYNC_CASES: list[tuple[str, Any, float | None]] = [
    ("coroutine", lambda m: asyncio.sleep(0, "slept"), None),
    ("gen coroutine", lambda m: m.gen.coroutine(lambda: (yield m.gen.sleep(0)) or "gen")(), None),
    ("list of futures", lambda m: [m.gen.sleep(0), m.gen.maybe_future(2)], None),
    ("dict of futures", lambda m: {"k": m.gen.maybe_future("v")}, None),
    ("none", lambda m: None, None),
    ("raises", lambda m: 1 / 0, None),
    ("fails later", lambda m: m.gen.with_timeout(0.0, asyncio.Event().wait()), None),
    # Not shorter: Tornado 6.6.1 arms run_sync's timeout before its loop runs, from the loop's
    # clock. uvloop's clock is the time of its last iteration, so on a busy machine a short
    # timeout is due at the first iteration, before func has run; Tornado's timeout callback
    # then fails and nothing ever stops the loop (a hang, seen once on CI).
    ("timeout", lambda m: asyncio.Event().wait(), 0.5),
    ("timeout not reached", lambda m: m.gen.sleep(0.001), WAIT),
]


@pytest.mark.parametrize("factory", [asyncio.new_event_loop, uvloop.new_event_loop])
@pytest.mark.parametrize(("name", "make", "timeout"), RUN_SYNC_CASES, ids=lambda c: str(c))
def test_run_sync_matches_tornado(
    factory: Any, name: str, make: Any, timeout: float | None
) -> None:
    outcomes = []
    for modules in (TORNADO, OURS):
        loop = factory()
        io_loop = modules.ioloop.IOLoop(loop, make_current=False) if modules is OURS else None
        if io_loop is None:
            asyncio.set_event_loop(loop)
            io_loop = tornado.ioloop.IOLoop.current()
        try:
            call = lambda: make(modules)  # noqa: E731, B023 - used at once
            outcomes.append(outcome(lambda: io_loop.run_sync(call, timeout)))  # noqa: B023
        finally:
            io_loop.close(all_fds=True)
            asyncio.set_event_loop(None)
    assert outcomes[0] == outcomes[1]


def test_run_sync_plain_value_is_returned_not_refused() -> None:
    """Intentional: Tornado raises BadYieldError for a plain non-None result; we return it."""
    io_loop = IOLoop(asyncio.new_event_loop(), make_current=False)
    try:
        assert io_loop.run_sync(lambda: 5) == 5
    finally:
        io_loop.close()


@pytest.mark.asyncio
async def test_periodic_callback_jitter_stays_in_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([0.0, 1.0, 0.5, 0.0, 1.0])
    monkeypatch.setattr("tornado_ws_compat.ioloop.random.random", lambda: next(draws, 0.5))
    ticks = asyncio.Event()
    calls: list[float] = []

    def tick() -> None:
        calls.append(0.0)
        if len(calls) == 4:
            ticks.set()

    periodic = PeriodicCallback(tick, 10, jitter=0.5)
    now = 1000.0
    periodic.io_loop = IOLoop.current()
    periodic._next_timeout = now
    # With jitter 0.5, a period of 10 ms varies by +-25%: the draws 0, 1, 0.5 give these.
    expected = [now + 0.0075, now + 0.0075 + 0.0125, now + 0.0075 + 0.0125 + 0.010]
    for deadline in expected:
        periodic._update_next(periodic._next_timeout)
        assert periodic._next_timeout == pytest.approx(deadline)
    periodic.start()
    await asyncio.wait_for(ticks.wait(), WAIT)
    periodic.stop()
    assert not periodic.is_running()


def test_periodic_callback_schedule_matches_tornado() -> None:
    """The same clock readings give the same next deadlines (Tornado's _update_next)."""
    for jitter in (0, 0.3):
        results = []
        for cls in (tornado.ioloop.PeriodicCallback, PeriodicCallback):
            periodic = cls(print, datetime.timedelta(milliseconds=100), jitter=jitter)
            rng = iter([0.25, 0.75, 0.5, 0.1, 0.9, 0.3])
            deadlines = []
            periodic._next_timeout = 50.0
            import random as random_module

            original = random_module.random
            random_module.random = lambda: next(rng)  # noqa: B023 - restored below
            try:
                for now in (50.0, 50.05, 50.4, 49.0, 52.0):
                    periodic._update_next(now)
                    deadlines.append(round(periodic._next_timeout, 9))
            finally:
                random_module.random = original
            results.append(deadlines)
        assert results[0] == results[1]
    assert outcome(lambda: PeriodicCallback(print, 0)) == outcome(
        lambda: tornado.ioloop.PeriodicCallback(print, 0)
    )


def test_instance_is_current_in_a_thread() -> None:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            io_loop = IOLoop.instance()
            assert io_loop is IOLoop.current()
            io_loop.close()
            asyncio.set_event_loop(None)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive() and not errors


@pytest.mark.parametrize("factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_ioloop_keeps_the_loop_it_was_given(factory: Any) -> None:
    """``IOLoop(loop)`` holds the only reference to a new loop (as Tornado's IOLoop holds its
    asyncio loop): a garbage collection in between does not take the loop away."""
    io_loop = OURS.ioloop.IOLoop(factory(), make_current=False)
    try:
        gc.collect()
        assert io_loop.run_sync(lambda: asyncio.sleep(0, "ran")) == "ran"
    finally:
        io_loop.close()


def _any_thread_policy(platform_asyncio: Any, ioloop_module: Any) -> list[Any]:
    """A Tornado 5-era program: the policy set, then a worker thread runs its own loop."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = platform_asyncio.AnyThreadEventLoopPolicy()
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(policy)
    seen: dict[str, Any] = {}

    def worker() -> None:
        loop = asyncio.get_event_loop()
        seen["same loop twice"] = asyncio.get_event_loop() is loop
        io_loop = ioloop_module.IOLoop.current()
        seen["its IOLoop"] = io_loop.asyncio_loop is loop
        seen["run_sync"] = io_loop.run_sync(lambda: asyncio.sleep(0, "done"))
        loop.close()

    try:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(10)
    finally:
        asyncio.set_event_loop_policy(previous)
    return [[(str(w.message), w.category.__name__) for w in caught], seen]


def test_any_thread_event_loop_policy_matches_tornado() -> None:
    import tornado.platform.asyncio

    from tornado_ws_compat import ioloop as our_ioloop
    from tornado_ws_compat.platform import asyncio as our_platform

    expected = _any_thread_policy(tornado.platform.asyncio, tornado.ioloop)
    assert _any_thread_policy(our_platform, our_ioloop) == expected
    assert expected[1] == {"same loop twice": True, "its IOLoop": True, "run_sync": "done"}
