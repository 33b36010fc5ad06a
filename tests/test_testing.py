"""``testing``: Tornado's test classes, differential against Tornado 6.6.1.

Two levels. A legacy application's own test module (``tests/legacy/test_chat_app.py``) runs
unchanged in a subprocess under pytest and under unittest, on real Tornado and here (under
both loops), and every run passes the same tests. Then the same small test classes, built with
each side's ``testing`` module, are run in process with ``unittest`` and what each outcome
says (pass, failure or error, with the exception's type and message) is compared: timeouts,
undecorated coroutines, ``stop``/``wait``, ``ExpectLog``, ``gen_test``'s forms.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import subprocess
import sys
import unittest
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tornado.testing
import tornado.web

import tornado_ws_compat.testing
import tornado_ws_compat.web

ROOT = Path(__file__).resolve().parent.parent
SIDES: dict[str, tuple[ModuleType, ModuleType]] = {
    "tornado": (tornado.testing, tornado.web),
    "ours": (tornado_ws_compat.testing, tornado_ws_compat.web),
}


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Our IOLoops are made by AsyncTestCase itself: choose their kind by environment."""
    if request.param == "asyncio":
        monkeypatch.setenv("TORNADO_WS_COMPAT_NO_UVLOOP", "1")
    else:
        monkeypatch.delenv("TORNADO_WS_COMPAT_NO_UVLOOP", raising=False)
    yield request.param


# ---- the legacy module, as a user runs it -----------------------------------------------------


def run_legacy(runner: str, implementation: str, no_uvloop: bool = False) -> str:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    env.pop("TORNADO_WS_COMPAT_NO_UVLOOP", None)
    if implementation == "tornado":
        env["LEGACY_TORNADO"] = "real"
    if no_uvloop:
        env["TORNADO_WS_COMPAT_NO_UVLOOP"] = "1"
    if runner == "pytest":
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                   "tests/legacy/test_chat_app.py"]  # fmt: skip
    else:
        command = [sys.executable, "-m", "unittest", "-v", "legacy.test_chat_app"]
    cwd = ROOT if runner == "pytest" else ROOT / "tests"
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def passed(runner: str, output: str) -> int:
    if runner == "pytest":
        found = re.search(r"(\d+) passed", output)
        assert found and "failed" not in output and "error" not in output, output
        return int(found.group(1))
    found = re.search(r"Ran (\d+) tests?", output)
    assert found and output.rstrip().endswith("OK"), output
    return int(found.group(1))


@pytest.mark.parametrize("runner", ["pytest", "unittest"])
def test_legacy_module_passes_unchanged_on_both(runner: str) -> None:
    reference = passed(runner, run_legacy(runner, "tornado"))
    assert reference == 14
    assert passed(runner, run_legacy(runner, "ours")) == reference
    assert passed(runner, run_legacy(runner, "ours", no_uvloop=True)) == reference


def test_legacy_module_runs_as_a_script_with_testing_main() -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    done = subprocess.run(
        [sys.executable, "-m", "legacy.test_chat_app", "--quiet"],
        cwd=ROOT / "tests",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 14 tests" in done.stderr


# ---- in-process differential of outcomes -----------------------------------------------------


def make_cases(testing: Any, web: Any) -> list[type[unittest.TestCase]]:
    """The same test classes over one side's ``testing`` and ``web`` modules."""

    class Hello(web.RequestHandler):  # type: ignore[misc]
        def get(self) -> None:
            self.write("hello " + self.request.protocol)

    class Plain(testing.AsyncTestCase):  # type: ignore[misc]
        def test_stop_value(self) -> None:
            self.io_loop.add_callback(self.stop, 42)
            assert self.wait() == 42

        def test_stop_keywords(self) -> None:
            self.io_loop.add_callback(lambda: self.stop(a=1, b=2))
            assert self.wait() == {"a": 1, "b": 2}

        def test_wait_times_out(self) -> None:
            self.wait(timeout=0.05)

        async def test_undecorated_coroutine(self) -> None:
            pass

        def test_returns_a_value(self) -> int:
            return 3

        @testing.gen_test(timeout=0.05)
        async def test_gen_test_times_out(self) -> None:
            event = __import__("asyncio").Event()
            await event.wait()

        @testing.gen_test
        async def test_gen_test_bare(self) -> None:
            assert self.io_loop.asyncio_loop.is_running()

        @testing.gen_test()
        async def test_gen_test_called(self) -> None:
            raise ValueError("raised in the coroutine")

        @testing.gen_test
        def test_gen_test_plain_function(self) -> None:
            assert self.io_loop.asyncio_loop.is_running()

        def test_expect_log_missing(self) -> None:
            with testing.ExpectLog("tornado.application", "never logged"):
                pass

        def test_expect_log_not_required(self) -> None:
            with testing.ExpectLog("tornado.application", "never logged", required=False):
                pass

        def test_expect_log_swallows(self) -> None:
            logger = logging.getLogger("tornado.general")
            with testing.ExpectLog(logger, "match.*me", level=logging.WARNING) as expect:
                logger.warning("match this %s", "me")
            assert expect.matched == 1

        def test_expect_log_raises_inside(self) -> None:
            with testing.ExpectLog("tornado.application", "never logged"):
                raise KeyError("inside")

    class Http(testing.AsyncHTTPTestCase):  # type: ignore[misc]
        def get_app(self) -> Any:
            return web.Application([(r"/", Hello)])

        def test_fetch(self) -> None:
            response = self.fetch("/")
            assert (response.code, response.body) == (200, b"hello http"), response

        def test_fetch_fails_with_assertion(self) -> None:
            self.assertEqual(self.fetch("/missing").code, 200)

        def test_attributes(self) -> None:
            assert self.get_protocol() == "http"
            assert self.get_url("/a?b") == f"http://127.0.0.1:{self.get_http_port()}/a?b"
            assert self.http_client is not None and self.http_server is not None

    class Https(testing.AsyncHTTPSTestCase):  # type: ignore[misc]
        def get_app(self) -> Any:
            return web.Application([(r"/", Hello)])

        def test_fetch(self) -> None:
            response = self.fetch("/")
            assert (response.code, response.body) == (200, b"hello https"), response
            assert self.get_url("/").startswith("https://127.0.0.1:")

    return [Plain, Http, Https]


def outcomes(testing: Any, web: Any) -> dict[str, tuple[str, str]]:
    result = unittest.TestResult()
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(
        loader.loadTestsFromTestCase(case) for case in make_cases(testing, web)
    )
    names = [test.id() for test in _tests(suite)]
    suite.run(result)
    seen = {test.rsplit(".", 2)[-2] + "." + test.rsplit(".", 1)[-1]: ("ok", "")
            for test in names}  # fmt: skip
    for kind, problems in (("failure", result.failures), ("error", result.errors)):
        for test, trace in problems:
            name = test.id().rsplit(".", 2)[-2] + "." + test.id().rsplit(".", 1)[-1]
            seen[name] = (kind, trace.strip().splitlines()[-1])
    return seen


def _tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests(item)
        else:
            yield item


# Tornado's AsyncTestCase leaves the undecorated coroutine unawaited (a RuntimeWarning when it
# is collected); ours closes it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_outcomes_as_tornado(loop_kind: str) -> None:
    ours = outcomes(*SIDES["ours"])
    theirs = outcomes(*SIDES["tornado"])
    # Collect that coroutine now, inside this test's filter: left to a later collection
    # (Python 3.13 keeps it longer), its warning would fail whichever test runs then.
    gc.collect()
    assert ours == theirs
    assert theirs["Plain.test_wait_times_out"][0] == "failure"
    assert theirs["Plain.test_gen_test_times_out"] == (
        "error",
        "TimeoutError: Operation timed out after 0.05 seconds",
    )


def test_tornado_4_style_fetch_with_stop_and_wait(loop_kind: str) -> None:
    """``self.http_client.fetch(url, self.stop); response = self.wait()``: the Tornado 2-5
    idiom (Tornado 6.6.1 took the callback away, so its own run of this test times out)."""

    class Hello(tornado_ws_compat.web.RequestHandler):
        def get(self) -> None:
            self.write("hello")

    class Legacy(tornado_ws_compat.testing.AsyncHTTPTestCase):
        def get_app(self) -> Any:
            return tornado_ws_compat.web.Application([(r"/", Hello)])

        def test_fetch(self) -> None:
            self.http_client.fetch(self.get_url("/"), self.stop)
            response = self.wait()
            assert (response.code, response.body) == (200, b"hello")

    result = unittest.TestResult()
    Legacy("test_fetch").run(result)
    assert result.wasSuccessful(), result.errors + result.failures


def test_missing_get_app_is_named_and_leaks_nothing() -> None:
    """Tornado raises a bare NotImplementedError (and leaks the bound socket); ours names the
    class and closes the socket."""

    class NoApp(tornado_ws_compat.testing.AsyncHTTPTestCase):
        def test_nothing(self) -> None:
            pass

    result = unittest.TestResult()
    NoApp("test_nothing").run(result)
    assert result.errors[0][1].strip().splitlines()[-1] == (
        "tornado_ws_compat.errors.NotSupportedError: NoApp must define get_app()"
    )


def test_async_test_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("2.5", "bad", None):
        if value is None:
            monkeypatch.delenv("ASYNC_TEST_TIMEOUT", raising=False)
        else:
            monkeypatch.setenv("ASYNC_TEST_TIMEOUT", value)
        assert (
            tornado_ws_compat.testing.get_async_test_timeout()
            == tornado.testing.get_async_test_timeout()
        )


def test_gen_test_default_timeout_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "0.05")
    results = {}
    for side, (testing, _web) in SIDES.items():

        class Slow(testing.AsyncTestCase):  # type: ignore[misc,name-defined]
            @testing.gen_test
            async def test_slow(self) -> None:
                await __import__("asyncio").Event().wait()

        result = unittest.TestResult()
        Slow("test_slow").run(result)
        results[side] = result.errors[0][1].strip().splitlines()[-1]
    assert (
        results["ours"]
        == results["tornado"]
        == ("TimeoutError: Operation timed out after 0.05 seconds")
    )


def test_bind_unused_port() -> None:
    sock, port = tornado_ws_compat.testing.bind_unused_port()
    try:
        assert sock.getsockname() == ("127.0.0.1", port)
        assert not sock.getblocking()
    finally:
        sock.close()


def test_expect_log_wrong_level_is_let_through(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tornado.general")
    with caplog.at_level(logging.INFO, "tornado"):
        with tornado_ws_compat.testing.ExpectLog(
            logger, "oops", required=False, level=logging.ERROR
        ):
            logger.warning("oops")
    messages = [(r.name, r.getMessage()) for r in caplog.records]
    assert ("tornado.general", "oops") in messages
    assert (
        "tornado.application",
        "Got expected log message 'oops' at unexpected level (ERROR vs WARNING)",
    ) in messages


def make_generator_cases(testing: Any, web: Any, gen: Any) -> list[type[unittest.TestCase]]:
    """Tornado 3-5 style tests: generator methods under ``gen_test``, yielding futures."""

    class Hello(web.RequestHandler):  # type: ignore[misc]
        def get(self) -> None:
            self.write("hello")

    class Generators(testing.AsyncHTTPTestCase):  # type: ignore[misc]
        def get_app(self) -> Any:
            return web.Application([(r"/", Hello)])

        @testing.gen_test
        def test_yield_fetch(self) -> Any:
            response = yield self.http_client.fetch(self.get_url("/"))
            assert response.body == b"hello"

        @testing.gen_test
        def test_yield_list_and_sleep(self) -> Any:
            first, second = yield [
                self.http_client.fetch(self.get_url("/")),
                self.http_client.fetch(self.get_url("/")),
            ]
            yield gen.sleep(0)
            assert first.code == second.code == 200

        @testing.gen_test(timeout=0.05)
        def test_times_out(self) -> Any:
            yield gen.sleep(1)

        @testing.gen_test
        def test_raises(self) -> Any:
            yield gen.sleep(0)
            raise KeyError("after a yield")

    return [Generators]


# Tornado's gen_test leaves the timed-out generator's future pending when the loop closes.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_generator_tests_as_tornado(loop_kind: str) -> None:
    import tornado.gen

    import tornado_ws_compat.gen as ours_gen

    def run(testing: Any, web: Any, gen: Any) -> dict[str, tuple[str, str]]:
        result = unittest.TestResult()
        suite = unittest.TestLoader().loadTestsFromTestCase(
            make_generator_cases(testing, web, gen)[0]
        )
        names = [test.id().rsplit(".", 1)[-1] for test in _tests(suite)]
        suite.run(result)
        seen = dict.fromkeys(names, ("ok", ""))
        for kind, problems in (("failure", result.failures), ("error", result.errors)):
            for test, trace in problems:
                seen[test.id().rsplit(".", 1)[-1]] = (kind, trace.strip().splitlines()[-1])
        return seen

    ours = run(tornado_ws_compat.testing, tornado_ws_compat.web, ours_gen)
    theirs = run(tornado.testing, tornado.web, tornado.gen)
    assert ours == theirs
    assert theirs["test_times_out"] == (
        "error",
        "TimeoutError: Operation timed out after 0.05 seconds",
    )
    assert theirs["test_raises"] == ("error", "KeyError: 'after a yield'")
