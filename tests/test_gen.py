"""``gen`` and ``concurrent`` against real Tornado 6.6.1: each scenario runs on both and the
traces (values, order of steps, exception names and messages, log lines) must be equal."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime
import threading
import types
from typing import Any

import pytest
import tornado.concurrent
import tornado.gen
import tornado.ioloop
import tornado.util
from differ import OURS, WAIT, Scenario, both, describe, settle

# -- coroutine -------------------------------------------------------------------------------


async def yields_every_kind(m: Any, trace: list[Any]) -> Any:
    loop = asyncio.get_running_loop()

    async def native(value: Any) -> Any:
        await asyncio.sleep(0)
        return value

    @m.gen.coroutine
    def inner(value: Any) -> Any:
        yield m.gen.moment
        raise m.gen.Return(value * 2)

    @m.gen.coroutine
    def outer() -> Any:
        trace.append("started")
        done = loop.create_future()
        done.set_result("done")
        trace.append((yield done))
        later = loop.create_future()
        loop.call_soon(later.set_result, "later")
        trace.append((yield later))
        trace.append((yield None))
        trace.append((yield m.gen.moment))
        trace.append((yield [inner(1), native(2), m.gen.sleep(0)]))
        trace.append((yield {"a": inner(3), "b": native("b")}))
        trace.append((yield []))
        trace.append((yield {}))
        trace.append((yield native("coroutine object")))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            trace.append((yield pool.submit(lambda: "thread")))
        trace.append((yield m.gen.maybe_future(5)))
        return "end"

    future = outer()
    trace.append(("returned", type(future).__name__, asyncio.isfuture(future)))
    return await settle(future)


async def exceptions_propagate(m: Any, trace: list[Any]) -> Any:
    loop = asyncio.get_running_loop()

    @m.gen.coroutine
    def fails_later(error: Exception) -> Any:
        yield m.gen.moment
        raise error

    @m.gen.coroutine
    def catches() -> Any:
        try:
            yield fails_later(KeyError("inner"))
        except KeyError as error:
            trace.append(("caught", describe(error)))
        try:
            yield [fails_later(ValueError("first")), m.gen.sleep(0)]
        except ValueError as error:
            trace.append(("caught from list", describe(error)))
        bad = loop.create_future()
        bad.set_exception(RuntimeError("ready failure"))
        try:
            yield bad
        except RuntimeError as error:
            trace.append(("caught ready", describe(error)))
        try:
            yield 42
        except Exception as error:
            trace.append(("bad yield", describe(error)))
        yield fails_later(ZeroDivisionError("uncaught"))

    @m.gen.coroutine
    def fails_at_once() -> Any:
        trace.append("runs at call time")
        raise TypeError("before first yield")
        yield  # a generator function

    @m.gen.coroutine
    def returns_in_generator() -> Any:
        if False:
            yield
        raise m.gen.Return("immediate")

    trace.append(await settle(catches()))
    trace.append(await settle(fails_at_once()))
    trace.append(await settle(returns_in_generator()))
    return await settle(fails_later(m.util.TimeoutError("alias")))


async def plain_functions(m: Any, trace: list[Any]) -> Any:
    @m.gen.coroutine
    def plain(value: Any) -> Any:
        trace.append(("called", value))
        if value == "raise":
            raise LookupError("plain failure")
        if value == "return":
            raise m.gen.Return("via Return")
        return value

    futures = [plain(1), plain("raise"), plain("return"), plain(None)]
    trace.append([future.done() for future in futures])
    trace.append([m.gen.is_coroutine_function(f) for f in (plain, plain.__wrapped__, print, None)])

    @m.gen.coroutine
    async def native_decorated() -> Any:
        await asyncio.sleep(0)
        return "native"

    # Tornado does not await a native coroutine function it decorates: the result is the
    # coroutine object itself.
    coroutine_object = (await settle(native_decorated()))[1]
    trace.append(type(coroutine_object).__name__)
    coroutine_object.close()
    return [await settle(future) for future in futures]


async def interleaving(m: Any, trace: list[Any]) -> Any:
    @m.gen.coroutine
    def worker(name: str, steps: int) -> Any:
        for step in range(steps):
            trace.append((name, step))
            yield m.gen.moment if step % 2 else None
        return name

    first, second = worker("a", 4), worker("b", 3)
    trace.append("both started")
    return [await settle(first), await settle(second)]


async def awaited_from_asyncio(m: Any, trace: list[Any]) -> Any:
    @m.gen.coroutine
    def gen_side(value: Any) -> Any:
        yield m.gen.sleep(0.001)
        return value + 1

    async def native_side() -> Any:
        trace.append(await gen_side(1))
        trace.append(await asyncio.gather(gen_side(2), gen_side(3)))
        return await asyncio.wait_for(gen_side(4), WAIT)

    return await native_side()


async def cancellation(m: Any, trace: list[Any]) -> Any:
    loop = asyncio.get_running_loop()
    never = loop.create_future()

    @m.gen.coroutine
    def waits() -> Any:
        try:
            yield never
        except asyncio.CancelledError:
            trace.append("cancelled inside")
            raise

    waiting = waits()
    await asyncio.sleep(0)
    never.cancel()
    trace.append(await settle(waiting))

    release = loop.create_future()

    @m.gen.coroutine
    def keeps_running() -> Any:
        yield release
        trace.append("generator continued after its future was cancelled")
        return "ignored"

    abandoned = keeps_running()
    abandoned.cancel()
    release.set_result(None)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return abandoned.cancelled()


async def context_variables(m: Any, trace: list[Any]) -> Any:
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("v", default="unset")

    @m.gen.coroutine
    def sets() -> Any:
        trace.append(variable.get())
        variable.set("inside")
        yield m.gen.moment
        trace.append(variable.get())
        yield m.gen.sleep(0)
        return variable.get()

    variable.set("caller")
    future = sets()
    variable.set("caller changed")
    result = await settle(future)
    return result, variable.get()


async def multi_and_quiet(m: Any, trace: list[Any]) -> Any:
    @m.gen.coroutine
    def fail(error: Exception) -> Any:
        yield m.gen.moment
        raise error

    @m.gen.coroutine
    def value(result: Any) -> Any:
        yield m.gen.moment
        return result

    trace.append(await settle(m.gen.multi([value(1), value(2)])))
    trace.append(await settle(m.gen.multi({"x": value(1), "y": value(2)})))
    trace.append(await settle(m.gen.multi_future([value(1)])))
    trace.append(await settle(m.gen.multi([fail(KeyError("one")), fail(ValueError("two"))])))
    trace.append(
        await settle(
            m.gen.multi(
                [fail(KeyError("a")), fail(ValueError("quiet"))], quiet_exceptions=ValueError
            )
        )
    )
    shared = value("same")
    trace.append(await settle(m.gen.multi([shared, shared])))
    trace.append(await settle(m.gen.Multi([])))
    try:
        m.gen.multi([1])  # not yieldable: raised at once
    except Exception as error:
        return describe(error)
    return "no error"


async def timeouts(m: Any, trace: list[Any]) -> Any:
    loop = asyncio.get_running_loop()
    io_loop = m.ioloop.IOLoop.current()
    never = loop.create_future()
    trace.append(await settle(m.gen.with_timeout(datetime.timedelta(seconds=0.01), never)))
    trace.append(await settle(m.gen.with_timeout(io_loop.time() + 0.01, never, message="custom")))
    trace.append(
        await settle(
            m.gen.with_timeout(
                datetime.timedelta(milliseconds=5), never, message=lambda: "from callable"
            )
        )
    )
    trace.append(
        await settle(m.gen.with_timeout(datetime.timedelta(seconds=WAIT), m.gen.sleep(0)))
    )

    @m.gen.coroutine
    def slow_failure() -> Any:
        yield m.gen.sleep(0.02)
        raise OSError("late failure")

    late = slow_failure()
    trace.append(await settle(m.gen.with_timeout(datetime.timedelta(seconds=0.001), late)))
    await settle(late)
    quiet = slow_failure()
    trace.append(
        await settle(
            m.gen.with_timeout(datetime.timedelta(seconds=0.001), quiet, quiet_exceptions=OSError)
        )
    )
    await settle(quiet)
    trace.append(await settle(m.gen.with_timeout(datetime.timedelta(seconds=0.001), [never])))
    with pytest.raises(TypeError):
        m.gen.with_timeout("soon", never)
    return m.gen.TimeoutError is asyncio.TimeoutError


async def wait_iterator(m: Any, trace: list[Any]) -> Any:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    for index in (2, 0):
        futures[index].set_result(f"r{index}")
    loop.call_soon(futures[1].set_exception, KeyError("f1"))

    @m.gen.coroutine
    def consume() -> Any:
        it = m.gen.WaitIterator(*futures)
        while not it.done():
            try:
                result = yield it.next()
            except KeyError as error:
                result = describe(error)
            trace.append(
                (it.current_index, result, it.current_future is futures[it.current_index])
            )
        return (it.current_index, it.current_future)

    trace.append(await settle(consume()))
    named = {name: loop.create_future() for name in ("x", "y")}
    loop.call_soon(named["y"].set_result, "Y")
    loop.call_soon(named["x"].set_result, "X")
    it = m.gen.WaitIterator(**named)
    async for result in it:
        trace.append((it.current_index, result))
    with pytest.raises(ValueError, match="args or kwargs"):
        m.gen.WaitIterator(futures[0], k=futures[1])
    return it.done()


async def convert_yielded_registration(m: Any, trace: list[Any]) -> Any:
    class Deferred:
        def __init__(self, value: Any) -> None:
            self.value = value

    @m.gen.convert_yielded.register(Deferred)
    def _(deferred: Deferred) -> Any:
        return m.gen.maybe_future(deferred.value)

    @m.gen.coroutine
    def uses() -> Any:
        return (yield Deferred("converted"))

    trace.append(await settle(uses()))
    trace.append(m.gen.convert_yielded(None) is m.gen.moment)
    trace.append(await settle(m.gen.convert_yielded([Deferred(1), Deferred(2)])))
    with pytest.raises(m.gen.BadYieldError) as raised:
        m.gen.convert_yielded(object)
    trace.append(describe(raised.value))
    return await settle(m.gen.convert_yielded(asyncio.sleep(0, "awaitable")))


SCENARIOS = [
    yields_every_kind,
    exceptions_propagate,
    plain_functions,
    interleaving,
    awaited_from_asyncio,
    cancellation,
    context_variables,
    multi_and_quiet,
    timeouts,
    wait_iterator,
    convert_yielded_registration,
]


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_gen_matches_tornado(scenario: Scenario) -> None:
    trace = await both(scenario)
    assert trace  # the scenario recorded something


@pytest.mark.asyncio
async def test_gen_traces_are_what_tornado_documents() -> None:
    """A few absolute facts, so that both implementations being wrong the same way fails."""
    trace = await both(yields_every_kind)
    # The generator runs synchronously until it yields a future that is not done yet.
    assert trace[:3] == ["started", "done", ("returned", "Future", True)]
    assert trace[-1] == ("result", ("ok", "end"))
    assert [2, 2, None] in trace and {"a": 6, "b": "b"} in trace
    trace = await both(exceptions_propagate)
    assert ("bad yield", "BadYieldError: yielded unknown object 42") in trace
    assert trace[-1] == ("result", ("raise", "TimeoutError: alias"))
    trace = await both(timeouts)
    assert trace[:3] == [
        ("raise", "TimeoutError: Timeout"),
        ("raise", "TimeoutError: custom"),
        ("raise", "TimeoutError: from callable"),
    ]


# -- concurrent ------------------------------------------------------------------------------


async def executors(m: Any, trace: list[Any]) -> Any:
    pool = concurrent.futures.ThreadPoolExecutor(2)

    class Worker:
        executor = pool
        _other = m.concurrent.dummy_executor

        @m.concurrent.run_on_executor
        def blocking(self, value: Any) -> Any:
            return (value, threading.current_thread() is threading.main_thread())

        # Tornado 4's io_loop= keyword is accepted and ignored since Tornado 5.
        @m.concurrent.run_on_executor(io_loop="io_loop", executor="_other")
        def inline(self, value: Any) -> Any:
            if value is None:
                raise ValueError("no value")
            return (value, threading.current_thread() is threading.main_thread())

    worker = Worker()
    try:
        future = worker.blocking(1)
        trace.append((asyncio.isfuture(future), m.concurrent.is_future(future)))
        trace.append(await settle(future))
        trace.append(await settle(worker.inline(2)))
        trace.append(await settle(worker.inline(None)))
        trace.append(await settle(m.gen.multi([worker.blocking(3), worker.blocking(4)])))
    finally:
        pool.shutdown()
    for args, kwargs in (((1, 2), {}), ((print,), {"executor": "x"})):
        try:
            m.concurrent.run_on_executor(*args, **kwargs)
        except ValueError as error:
            trace.append(describe(error))
    return m.concurrent.Future is asyncio.Future


async def future_helpers(m: Any, trace: list[Any]) -> Any:
    loop = asyncio.get_running_loop()
    cancelled = loop.create_future()
    cancelled.cancel()
    m.concurrent.future_set_result_unless_cancelled(cancelled, 1)
    m.concurrent.future_set_exception_unless_cancelled(cancelled, ValueError("after cancel"))
    trace.append(cancelled.cancelled())
    plain = concurrent.futures.Future()
    m.concurrent.future_set_result_unless_cancelled(plain, "cf")
    trace.append(plain.result())
    calls: list[Any] = []
    m.concurrent.future_add_done_callback(plain, lambda f: calls.append(f.result()))
    trace.append(list(calls))  # called at once: already done

    source, target = loop.create_future(), loop.create_future()
    m.concurrent.chain_future(source, target)
    source.set_exception(KeyError("chained"))
    trace.append(await settle(target))
    source, target = loop.create_future(), loop.create_future()
    m.concurrent.chain_future(source, target)
    source.cancel()
    trace.append(await settle(target))
    source, target = concurrent.futures.Future(), loop.create_future()
    m.concurrent.chain_future(source, target)
    threading.Thread(target=source.set_result, args=("from thread",)).start()
    trace.append(await settle(target))
    done_target = loop.create_future()
    done_target.set_result("first")
    source = loop.create_future()
    m.concurrent.chain_future(source, done_target)
    source.set_result("second")
    await asyncio.sleep(0)
    trace.append(done_target.result())
    dummy = m.concurrent.DummyExecutor().submit(lambda: 1 / 0)
    trace.append(describe(dummy.exception()))
    trace.append([m.concurrent.is_future(x) for x in (plain, source, 1, None)])
    with pytest.raises(Exception, match="no exception"):
        m.concurrent.future_set_exc_info(loop.create_future(), (None, None, None))
    return "done"


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", [executors, future_helpers], ids=lambda s: s.__name__)
async def test_concurrent_matches_tornado(scenario: Scenario) -> None:
    trace = await both(scenario)
    assert trace[-1][0] == "result"


def test_public_names_of_gen_and_concurrent_exist() -> None:
    for theirs, mine in ((tornado.gen, OURS.gen), (tornado.concurrent, OURS.concurrent)):
        public = {
            name
            for name, value in vars(theirs).items()
            if not name.startswith("_")
            and not isinstance(value, types.ModuleType)
            and getattr(value, "__module__", theirs.__name__) == theirs.__name__
        }
        # gen.Runner is Tornado's internal generator driver, not an API.
        assert {name for name in public if not hasattr(mine, name)} - {"Runner"} == set()


def test_run_sync_with_gen_coroutine_on_both_loops() -> None:
    for factory in (asyncio.new_event_loop, __import__("uvloop").new_event_loop):
        io_loop = OURS.ioloop.IOLoop(factory(), make_current=False)
        try:

            @OURS.gen.coroutine
            def main(io_loop: Any = io_loop) -> Any:
                yield OURS.gen.sleep(0.001)
                raise OURS.gen.Return(io_loop is OURS.ioloop.IOLoop.current())

            assert io_loop.run_sync(main) is True
        finally:
            io_loop.close()


# -- gen.coroutine hooks in handlers, served by both -----------------------------------------


def make_app(web: Any, websocket: Any, gen: Any, closed: asyncio.Event) -> Any:
    class Page(web.RequestHandler):
        @gen.coroutine
        def get(self) -> Any:
            yield gen.sleep(0.001)
            values = yield {"a": gen.maybe_future(1), "b": gen.sleep(0)}
            self.write({"values": values, "arg": self.get_argument("x", "none")})

    class Failing(web.RequestHandler):
        @gen.coroutine
        def get(self) -> Any:
            yield gen.moment
            raise web.HTTPError(418)

    class Upper(websocket.WebSocketHandler):
        @gen.coroutine
        def open(self) -> Any:
            yield gen.moment
            self.write_message("opened")

        @gen.coroutine
        def on_message(self, message: Any) -> Any:
            # One on_message at a time: the next message waits for this coroutine.
            yield gen.sleep(0.002 if message == "slow" else 0)
            yield self.write_message(message.upper())

        def on_close(self) -> None:
            closed.set()

    return web.Application([("/page", Page), ("/fail", Failing), ("/ws", Upper)])


async def drive(base: str) -> list[Any]:
    import aiohttp

    seen: list[Any] = []
    async with aiohttp.ClientSession() as session:
        for path in ("/page?x=1", "/fail"):
            async with session.get(base + path) as response:
                body = await response.text()
                seen.append((response.status, body if response.status == 200 else ""))
        async with session.ws_connect(base.replace("http", "ws") + "/ws") as ws:
            for message in ("slow", "fast", "last"):
                await ws.send_str(message)
            for _ in range(4):
                seen.append(await asyncio.wait_for(ws.receive_str(), WAIT))
    return seen


@pytest.mark.asyncio
async def test_gen_coroutine_handlers_match_tornado() -> None:
    import tornado.httpserver
    import tornado.testing
    import tornado.web
    import tornado.websocket

    from tornado_ws_compat import web, websocket
    from tornado_ws_compat.testing import running

    sock, port = tornado.testing.bind_unused_port()
    closed = asyncio.Event()
    app = make_app(tornado.web, tornado.websocket, tornado.gen, closed)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets([sock])
    try:
        theirs = await drive(f"http://127.0.0.1:{port}")
        # Tornado's WebSocket leaves the HTTP server's books: wait until it is closed.
        await asyncio.wait_for(closed.wait(), WAIT)
    finally:
        server.stop()
        await server.close_all_connections()
    closed = asyncio.Event()
    async with running(make_app(web, websocket, OURS.gen, closed)) as ours_server:
        ours = await drive(ours_server.url("").rstrip("/"))
        await asyncio.wait_for(closed.wait(), WAIT)
    assert theirs == ours
    assert ours[2:] == ["opened", "SLOW", "FAST", "LAST"]


LEGACY_PROGRAM = """
import tornado.ioloop, tornado.gen, tornado.options, tornado.queues, tornado.locks
import tornado.concurrent, tornado.escape
from tornado.options import define, options
from concurrent.futures import ThreadPoolExecutor

define("count", default=3, type=int, help="items")


class Worker(object):
    executor = ThreadPoolExecutor(1)

    @tornado.concurrent.run_on_executor
    def square(self, x):
        return x * x


@tornado.gen.coroutine
def main():
    queue = tornado.queues.Queue()
    lock = tornado.locks.Lock()
    for i in range(options.count):
        yield queue.put(i)
    results = []
    while not queue.empty():
        item = yield queue.get()
        with (yield lock.acquire()):
            results.append((yield Worker().square(item)))
    try:
        yield tornado.gen.with_timeout(tornado.ioloop.IOLoop.current().time() + 0.01,
                                       tornado.gen.sleep(5))
    except tornado.gen.TimeoutError as error:
        results.append(str(error))
    print(tornado.escape.linkify("see www.example.com"), results)
    raise tornado.gen.Return(len(results))


if __name__ == "__main__":
    tornado.options.parse_command_line()
    print(tornado.ioloop.IOLoop.current().run_sync(main))
    Worker.executor.shutdown()
"""


def test_legacy_program_through_run_matches_tornado(tmp_path: Any) -> None:
    import subprocess
    import sys

    script = tmp_path / "legacy_gen.py"
    script.write_text(LEGACY_PROGRAM, encoding="utf-8")
    commands = [
        [sys.executable, str(script), "--count=4"],
        [sys.executable, "-m", "tornado_ws_compat", "run", str(script), "--count=4"],
    ]
    outputs = [
        subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        for command in commands
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
    assert outputs[0].stdout == outputs[1].stdout
    assert "[0, 1, 4, 9, 'Timeout']" in outputs[1].stdout
