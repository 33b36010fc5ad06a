"""Tornado's ``tornado.testing`` (``AsyncTestCase``, ``AsyncHTTPTestCase``, ``gen_test``,
``ExpectLog``, ``bind_unused_port``), and `running` for pytest-asyncio tests.

A legacy test module written against ``tornado.testing`` runs unchanged under ``unittest`` and
pytest: each test gets a fresh IOLoop (uvloop unless ``TORNADO_WS_COMPAT_NO_UVLOOP`` is set),
``AsyncHTTPTestCase`` serves ``get_app()`` on a free loopback port and ``self.fetch(path)``
answers through `~tornado_ws_compat.httpclient.AsyncHTTPClient`. Behaviour follows Tornado
6.6.1's module; one addition: at ``tearDown`` WebSockets still open on the test server are
dropped (their ``on_close`` runs), where Tornado closes the loop's file descriptors under them.

`running` is this project's own helper::

    @pytest.mark.asyncio
    async def test_echo() -> None:
        async with running(make_app()) as server:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(server.url("/websocket")) as ws:
                    await ws.send_str("hi")
                    assert (await ws.receive_str()) == "You said: hi"
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import re
import signal
import socket
import sys
import unittest
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from tornado_ws_compat import gen, netutil
from tornado_ws_compat.errors import NotSupportedError
from tornado_ws_compat.httpclient import AsyncHTTPClient, HTTPResponse
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.log import app_log
from tornado_ws_compat.server import HTTPServer, listen

if TYPE_CHECKING:
    from tornado_ws_compat.web import Application

__all__ = [
    "AsyncHTTPSTestCase",
    "AsyncHTTPTestCase",
    "AsyncTestCase",
    "ExpectLog",
    "bind_unused_port",
    "gen_test",
    "get_async_test_timeout",
    "main",
    "running",
]

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_TestMethod = Callable[..., Generator[Any, Any, Any] | Coroutine[Any, Any, Any]]


def bind_unused_port(
    reuse_port: bool = False, address: str = "127.0.0.1"
) -> tuple[socket.socket, int]:
    """A listening IPv4 socket on a free port of ``address``, and that port."""
    sock = netutil.bind_sockets(0, address, family=socket.AF_INET, reuse_port=reuse_port)[0]
    return sock, int(sock.getsockname()[1])


def get_async_test_timeout() -> float:
    """Seconds `gen_test` and `AsyncTestCase.wait` allow: ``$ASYNC_TEST_TIMEOUT`` or 5."""
    try:
        return float(os.environ["ASYNC_TEST_TIMEOUT"])
    except (KeyError, ValueError):
        return 5.0


class AsyncTestCase(unittest.TestCase):
    """A ``unittest.TestCase`` with a fresh IOLoop per test (``self.io_loop``).

    Test coroutines are decorated with `gen_test`; the older style calls ``self.wait()``
    and has a callback call ``self.stop(value)``, whose value ``wait`` returns.
    """

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self.__stopped = False
        self.__running = False
        self.__failure: _ExcInfo | None = None
        self.__stop_args: Any = None
        self.__timeout: object | None = None

    def setUp(self) -> None:
        super().setUp()
        if type(self).get_new_ioloop is not AsyncTestCase.get_new_ioloop:
            warnings.warn("get_new_ioloop is deprecated", DeprecationWarning, stacklevel=2)
        self.io_loop = self.get_new_ioloop()
        asyncio.set_event_loop(self.io_loop.asyncio_loop)

    def tearDown(self) -> None:
        # As Tornado 6.6.1: cancel what the test left running and let it finish on the loop.
        loop = self.io_loop.asyncio_loop
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            done, _pending = self.io_loop.run_sync(lambda: asyncio.wait(tasks))
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    app_log.error("Task left by the test failed", exc_info=task.exception())
        asyncio.set_event_loop(None)
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_asyncgens())
            self.io_loop.close(all_fds=True)
        super().tearDown()
        self.__rethrow()

    def get_new_ioloop(self) -> IOLoop:
        """The IOLoop for one test: a new one (overriding this is deprecated, as in Tornado)."""
        return IOLoop(make_current=False)

    def __rethrow(self) -> None:
        if self.__failure is not None:
            failure, self.__failure = self.__failure, None
            raise failure[1].with_traceback(failure[2])

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        outcome = super().run(result)
        self.__rethrow()
        return outcome

    def _callTestMethod(self, method: Callable[[], object]) -> None:
        result = method()
        if inspect.isgenerator(result) or inspect.iscoroutine(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(
                "Generator and coroutine test methods should be"
                " decorated with tornado.testing.gen_test"
            )
        if result is not None:
            raise ValueError(f"Return value from test method ignored: {result!r}")

    def stop(self, _arg: Any = None, **kwargs: Any) -> None:
        """End the current `wait`, which returns ``_arg`` (or ``kwargs`` as a dict)."""
        if _arg is not None and kwargs:
            raise ValueError("stop() takes a positional value or keywords, not both")
        self.__stop_args = kwargs or _arg
        if self.__running:
            self.io_loop.stop()
            self.__running = False
        self.__stopped = True

    def wait(
        self, condition: Callable[..., bool] | None = None, timeout: float | None = None
    ) -> Any:
        """Run the IOLoop until `stop` is called (and ``condition()`` holds, if given).

        Fails the test after ``timeout`` seconds (`get_async_test_timeout` by default; 0 for
        none).
        """
        if timeout is None:
            timeout = get_async_test_timeout()
        if not self.__stopped:
            if timeout:

                def timed_out() -> None:
                    try:
                        raise self.failureException(
                            f"Async operation timed out after {timeout} seconds"
                        )
                    except Exception as exc:
                        self.__failure = (type(exc), exc, exc.__traceback__)
                    self.stop()

                self.__timeout = self.io_loop.add_timeout(self.io_loop.time() + timeout, timed_out)
            while True:
                self.__running = True
                self.io_loop.start()
                if self.__failure is not None or condition is None or condition():
                    break
            if self.__timeout is not None:
                self.io_loop.remove_timeout(self.__timeout)
                self.__timeout = None
        self.__stopped = False
        self.__rethrow()
        result, self.__stop_args = self.__stop_args, None
        return result


class AsyncHTTPTestCase(AsyncTestCase):
    """Serves ``get_app()`` for each test on a free loopback port.

    ``self.fetch(path)`` sends a request and returns the response (errors as responses, not
    exceptions, unless ``raise_error=True``); ``self.get_url(path)`` is the full URL,
    ``self.http_client``/``self.http_server`` the client and the server.
    """

    def setUp(self) -> None:
        super().setUp()
        sock, port = bind_unused_port()
        self.__port = port
        try:
            self.http_client = self.get_http_client()
            self._app = self.get_app()
            self.http_server = self.get_http_server()
        except BaseException:
            sock.close()  # unittest skips tearDown when setUp fails
            raise
        self.http_server.add_sockets([sock])

    def get_http_client(self) -> AsyncHTTPClient:
        return AsyncHTTPClient()

    def get_http_server(self) -> HTTPServer:
        return HTTPServer(self._app, **self.get_httpserver_options())

    def get_app(self) -> Application:
        """The application under test: override it."""
        raise NotSupportedError(f"{type(self).__name__} must define get_app()")

    def fetch(self, path: str, raise_error: bool = False, **kwargs: Any) -> HTTPResponse:
        """Fetch ``path`` (relative to this server, or a full URL) and return the response.

        Keywords are `HTTPRequest`'s. Tornado 5.0+ returns error statuses as responses
        unless ``raise_error=True``; a 599 (no response) still raises.
        """
        url = path if path.lower().startswith(("http://", "https://")) else self.get_url(path)
        response: HTTPResponse = self.io_loop.run_sync(
            lambda: self.http_client.fetch(url, raise_error=raise_error, **kwargs),
            timeout=get_async_test_timeout(),
        )
        return response

    def get_httpserver_options(self) -> dict[str, Any]:
        """Keywords for the test's `HTTPServer` (``xheaders``, ``ssl_options``, ...)."""
        return {}

    def get_http_port(self) -> int:
        return self.__port

    def get_protocol(self) -> str:
        return "http"

    def get_url(self, path: str) -> str:
        """The absolute URL of ``path`` on the test server."""
        return f"{self.get_protocol()}://127.0.0.1:{self.get_http_port()}{path}"

    def tearDown(self) -> None:
        self.http_server.stop()
        self.io_loop.run_sync(
            self.http_server.close_all_connections, timeout=get_async_test_timeout()
        )
        self.io_loop.run_sync(
            self.http_server.engine.abort_websockets, timeout=get_async_test_timeout()
        )
        self.http_client.close()
        del self.http_server
        del self._app
        super().tearDown()


class AsyncHTTPSTestCase(AsyncHTTPTestCase):
    """`AsyncHTTPTestCase` over TLS, with a self-signed certificate (not verified)."""

    def get_http_client(self) -> AsyncHTTPClient:
        return AsyncHTTPClient(force_instance=True, defaults={"validate_cert": False})

    def get_httpserver_options(self) -> dict[str, Any]:
        return {"ssl_options": self.get_ssl_options()}

    def get_ssl_options(self) -> dict[str, Any]:
        """``ssl_options`` of the test server (`default_ssl_options`)."""
        return AsyncHTTPSTestCase.default_ssl_options()

    @staticmethod
    def default_ssl_options() -> dict[str, Any]:
        """The test certificate shipped with this package (CN foo.example.com)."""
        folder = os.path.dirname(__file__)
        return {
            "certfile": os.path.join(folder, "testing.crt"),
            "keyfile": os.path.join(folder, "testing.key"),
        }

    def get_protocol(self) -> str:
        return "https"


@overload
def gen_test(*, timeout: float | None = None) -> Callable[[_TestMethod], Callable[..., None]]: ...


@overload
def gen_test(func: _TestMethod) -> Callable[..., None]: ...


def gen_test(
    func: _TestMethod | None = None, timeout: float | None = None
) -> Callable[..., None] | Callable[[_TestMethod], Callable[..., None]]:
    """Run a coroutine (or ``gen.coroutine``-style generator) test method on ``self.io_loop``.

    Used bare (``@gen_test``) or with ``@gen_test(timeout=...)``; the test fails with
    ``TimeoutError`` after ``timeout`` seconds (`get_async_test_timeout` by default).
    """
    if timeout is None:
        timeout = get_async_test_timeout()
    limit = timeout

    def wrap(method: _TestMethod) -> Callable[..., None]:
        if inspect.iscoroutinefunction(method):
            coroutine: Callable[..., Any] = method
        elif inspect.isgeneratorfunction(method):
            coroutine = gen.coroutine(method)  # the Tornado 3-5 style: yield futures
        else:

            async def coroutine(*args: Any, **kwargs: Any) -> Any:
                return method(*args, **kwargs)

        @functools.wraps(method)
        def run(self: AsyncTestCase, *args: Any, **kwargs: Any) -> None:
            result = self.io_loop.run_sync(
                functools.partial(coroutine, self, *args, **kwargs), timeout=limit
            )
            if result is not None:
                raise ValueError(f"Return value from test method ignored: {result!r}")

        return run

    if func is not None:
        return wrap(func)
    return wrap


gen_test.__test__ = False  # type: ignore[attr-defined]  # not a test itself (pytest, nose)


class ExpectLog(logging.Filter):
    """Swallow (and require, unless ``required=False``) log records matching ``regex``.

    ``with ExpectLog("tornado.application", "Uncaught exception", level=logging.ERROR):``
    ``logger`` is a Logger or its name; ``regex`` must match the start of the message; a
    match at another ``level`` than the one given is let through with a warning.
    """

    def __init__(
        self,
        logger: logging.Logger | str,
        regex: str,
        required: bool = True,
        level: int | None = None,
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.regex = re.compile(regex)
        self.required = required
        self.matched = 0
        self.deprecated_level_matched = 0
        self.logged_stack = False
        self.level = level
        self.orig_level: int | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            self.logged_stack = True
        message = record.getMessage()
        if not self.regex.match(message):
            return True
        if self.level is None and record.levelno < logging.WARNING:
            self.deprecated_level_matched += 1
        if self.level is not None and record.levelno != self.level:
            app_log.warning(
                "Got expected log message %r at unexpected level (%s vs %s)",
                message,
                logging.getLevelName(self.level),
                record.levelname,
            )
            return True
        self.matched += 1
        return False

    def __enter__(self) -> ExpectLog:
        if self.level is not None and self.level < self.logger.getEffectiveLevel():
            self.orig_level = self.logger.level
            self.logger.setLevel(self.level)
        self.logger.addFilter(self)
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.orig_level is not None:
            self.logger.setLevel(self.orig_level)
        self.logger.removeFilter(self)
        if not typ and self.required and not self.matched:
            raise Exception("did not get expected log message")
        if not typ and self.required and self.deprecated_level_matched >= self.matched:
            warnings.warn(
                "ExpectLog matched at INFO or below without level argument",
                DeprecationWarning,
                stacklevel=2,
            )


def main(**kwargs: Any) -> None:
    """Run tests with ``unittest.main``: the named ones, or ``all()`` of ``__main__``.

    Takes Tornado's flags ``--verbose``, ``--quiet``, ``--failfast``, ``--catch``,
    ``--buffer`` and ``--exception_on_interrupt=false``; other arguments name tests.
    """
    flags = {
        "verbose": ("verbosity", 2),
        "quiet": ("verbosity", 0),
        "failfast": ("failfast", True),
        "catch": ("catchbreak", True),
        "buffer": ("buffer", True),
    }
    argv = [sys.argv[0]]
    for arg in sys.argv[1:]:
        name, _, value = arg.lstrip("-").partition("=")
        if not arg.startswith("--"):
            argv.append(arg)
        elif name == "exception_on_interrupt":
            if value.lower() in ("false", "0"):
                signal.signal(signal.SIGINT, signal.SIG_DFL)
        elif name in flags:
            key, setting = flags[name]
            kwargs[key] = setting
        else:
            raise SystemExit(f"Unrecognized command line option: {name!r}")
    if len(argv) > 1:
        unittest.main(module=None, argv=argv, **kwargs)
    else:
        unittest.main(defaultTest="all", argv=argv, **kwargs)


@asynccontextmanager
async def running(
    application: Application,
    address: str = "127.0.0.1",
    shutdown_timeout: float = 5.0,
    **listen_kwargs: Any,
) -> AsyncIterator[HTTPServer]:
    """Serve ``application`` on a free loopback port for the body of an ``async with``.

    On exit the server shuts down gracefully (WebSockets closed with 1001, ``on_close`` run).
    """
    server = listen(application, 0, address, **listen_kwargs)
    if server.started is not None:
        await server.started
    try:
        yield server
    finally:
        await server.shutdown(shutdown_timeout)
