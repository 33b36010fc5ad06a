"""``locks`` and ``queues`` against real Tornado 6.6.1: the same scenarios, equal traces."""

from __future__ import annotations

import asyncio
import datetime
import re
from typing import Any

import pytest
from differ import Scenario, both, describe, settle

SHORT = datetime.timedelta(milliseconds=5)


def shape(text: str) -> str:
    """A repr without its module path and address."""
    return re.sub(r"0x[0-9a-f]+", "ADDR", text.replace("tornado_ws_compat.", "tornado."))


async def condition(m: Any, trace: list[Any]) -> Any:
    cond = m.locks.Condition()
    trace.append(repr(cond))

    @m.gen.coroutine
    def waiter(name: str, timeout: Any = None) -> Any:
        notified = yield cond.wait(timeout)
        trace.append((name, notified))

    waiters = [waiter("a"), waiter("b"), waiter("c"), waiter("timed", SHORT)]
    trace.append(repr(cond))
    await settle(waiters[3])  # times out: False
    cond.notify()
    await settle(waiters[0])
    cond.notify_all()
    for each in waiters[1:3]:
        await settle(each)
    absolute = m.ioloop.IOLoop.current().time() + 0.005
    trace.append(await settle(cond.wait(absolute)))
    return repr(cond)


async def event(m: Any, trace: list[Any]) -> Any:
    flag = m.locks.Event()
    trace.append((repr(flag), flag.is_set()))
    waiting = [flag.wait(), flag.wait(timeout=datetime.timedelta(seconds=5))]
    trace.append(await settle(flag.wait(SHORT)))
    flag.set()
    flag.set()
    trace.append([await settle(each) for each in waiting])
    trace.append((repr(flag), await settle(flag.wait())))
    flag.clear()
    trace.append((repr(flag), await settle(flag.wait(SHORT))))
    return flag.is_set()


async def semaphores(m: Any, trace: list[Any]) -> Any:
    sem = m.locks.Semaphore(2)
    trace.append(shape(repr(sem)))

    async def worker(name: str) -> None:
        async with sem:
            trace.append(("in", name))
            await asyncio.sleep(0.001)
            trace.append(("out", name))

    await asyncio.gather(*(worker(name) for name in "abcd"))

    @m.gen.coroutine
    def legacy() -> Any:
        with (yield sem.acquire()):
            trace.append(("legacy holds", shape(repr(sem))))
        return shape(repr(sem))

    trace.append(await settle(legacy()))
    held = [sem.acquire(), sem.acquire()]
    trace.append(await settle(sem.acquire(SHORT)))
    trace.append(shape(repr(sem)))
    pending = sem.acquire()
    trace.append(shape(repr(sem)))
    sem.release()
    trace.append((await settle(pending))[0])
    for future in held:
        await future
    with pytest.raises(RuntimeError) as raised:
        with sem:
            pass
    trace.append(str(raised.value))
    try:
        m.locks.Semaphore(-1)
    except ValueError as error:
        trace.append(describe(error))
    bounded = m.locks.BoundedSemaphore(1)
    try:
        bounded.release()
    except ValueError as error:
        trace.append(describe(error))
    with pytest.raises(RuntimeError) as raised:
        with bounded:
            pass
    return str(raised.value)


async def lock(m: Any, trace: list[Any]) -> Any:
    mutex = m.locks.Lock()
    trace.append(shape(repr(mutex)))

    async def critical(name: str) -> None:
        async with mutex:
            trace.append(("enter", name))
            await asyncio.sleep(0)
            trace.append(("leave", name))

    await asyncio.gather(critical("x"), critical("y"), critical("z"))
    held = await mutex.acquire()
    trace.append(await settle(mutex.acquire(timeout=SHORT)))
    trace.append(shape(repr(mutex)))
    with held:
        pass
    try:
        mutex.release()
    except RuntimeError as error:
        trace.append(describe(error))
    with pytest.raises(RuntimeError) as raised:
        with mutex:
            pass
    return str(raised.value)


async def queue(m: Any, trace: list[Any]) -> Any:
    q = m.queues.Queue(maxsize=2)
    trace.append((str(q), q.maxsize, q.empty(), q.full()))

    async def consumer() -> None:
        async for item in q:
            trace.append(("got", item))
            q.task_done()
            if item is None:
                return

    task = asyncio.ensure_future(consumer())
    for item in range(5):
        await q.put(item)
        trace.append(("put", item, q.qsize()))
    await q.put(None)
    await settle(task)
    trace.append(await settle(q.join(timeout=datetime.timedelta(seconds=5))))
    trace.append(str(q))
    q.put_nowait("a")
    q.put_nowait("b")
    try:
        q.put_nowait("c")
    except m.queues.QueueFull as error:
        trace.append(("full", describe(error)))
    blocked = q.put("c")
    trace.append(str(q))
    trace.append(await settle(q.put("d", timeout=SHORT)))
    trace.append([q.get_nowait(), q.get_nowait(), q.get_nowait()])
    trace.append(await settle(blocked))
    try:
        q.get_nowait()
    except m.queues.QueueEmpty as error:
        trace.append(("empty", describe(error)))
    trace.append(await settle(q.get(timeout=m.ioloop.IOLoop.current().time() + 0.005)))
    trace.append(str(q))
    getter = q.get()
    q.put_nowait("direct")
    trace.append(await settle(getter))
    trace.append(await settle(q.join(timeout=SHORT)))
    for _ in range(4):
        q.task_done()
    try:
        q.task_done()
    except ValueError as error:
        trace.append(describe(error))
    for bad in (None, -1):
        try:
            m.queues.Queue(bad)
        except (TypeError, ValueError) as error:
            trace.append(describe(error))
    return shape(repr(q))


async def ordered_queues(m: Any, trace: list[Any]) -> Any:
    for kind in (m.queues.PriorityQueue, m.queues.LifoQueue, m.queues.Queue):
        q = kind()
        for item in [(3, "c"), (1, "a"), (2, "b")]:
            q.put_nowait(item)
        trace.append(str(q))
        trace.append([q.get_nowait() for _ in range(3)])
    return "ok"


SCENARIOS = [condition, event, semaphores, lock, queue, ordered_queues]


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_locks_and_queues_match_tornado(scenario: Scenario) -> None:
    trace = await both(scenario)
    assert trace[-1][0] == "result"


@pytest.mark.asyncio
async def test_traces_hold_what_tornado_documents() -> None:
    trace = await both(queue)
    assert ("got", 0) in trace and ("raise", "TimeoutError: ") in trace
    trace = await both(lock)
    assert trace[1:7] == [(step, name) for name in "xyz" for step in ("enter", "leave")]
    trace = await both(condition)
    assert ("timed", False) in trace and ("a", True) in trace
