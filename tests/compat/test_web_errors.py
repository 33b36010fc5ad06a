"""Errors and the rest of ``tornado.web``'s names, differential against Tornado 6.6.1:
``serve_traceback`` (``debug=True``) pages, ``HTTPError`` messages, module-level signing
helpers, and the features declined with ``NotSupportedError``.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest
import tornado.web

import tornado_ws_compat.web
from tornado_ws_compat.errors import NotSupportedError

from ._webdiff import WebSide, same


def build(**settings: Any) -> Any:
    def make(w: ModuleType) -> Any:
        class Boom(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self, kind: str) -> None:
                if kind == "http":
                    raise w.HTTPError(409, "conflict on %s", "row 7", reason="Taken")
                if kind == "missing":
                    self.get_argument("needed")
                self.write("partial")
                raise ValueError("boom <b>")

        return w.Application([(r"/boom/(\w+)", Boom)], **settings)

    return make


def shape(observed: dict[str, Any]) -> dict[str, Any]:
    """A traceback's frames name each implementation's files: keep its first and last lines,
    and in the last the exception's class name without its module (``tornado.web.`` there,
    ``tornado_ws_compat.errors.`` here).
    """
    lines = observed["body"].decode().splitlines()
    if lines and lines[0] == "Traceback (most recent call last):":
        last = re.sub(r"^[\w.]+\.(?=\w+:)", "", lines[-1])
        observed = dict(observed, body=[lines[0], last], headers=dict(observed["headers"]))
        observed["headers"].pop("content-length")
    return observed


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "settings",
    [{}, {"serve_traceback": True}, {"debug": True, "autoreload": False}],
    ids=["plain", "serve_traceback", "debug"],
)
async def test_error_pages(settings: dict[str, Any]) -> None:
    async def scenario(side: WebSide) -> list[Any]:
        return [shape(await side.fetch("/boom/" + kind)) for kind in ("value", "http", "missing")]

    observed = await same(build(**settings), scenario)
    if settings:
        assert observed[0]["body"] == [
            "Traceback (most recent call last):",
            "ValueError: boom <b>",
        ]
        assert observed[0]["headers"]["content-type"] == ["text/plain"]
    else:
        assert observed[0]["status"] == 500
    assert (observed[1]["status"], observed[1]["reason"]) == (409, "Taken")


def test_http_error_messages() -> None:
    for w in (tornado.web, tornado_ws_compat.web):
        error = w.HTTPError(404, "no %s here", "row")
        assert (str(error), error.get_message()) == (
            "HTTP 404: Not Found (no row here)",
            "no row here",
        )
        bare = w.HTTPError(418, "100% sure")
        assert (bare.log_message, bare.get_message()) == ("100%% sure", "100% sure")
        assert str(w.HTTPError(599, reason="Odd")) == "HTTP 599: Odd"
        missing = w.MissingArgumentError("q")
        assert (missing.status_code, missing.arg_name, str(missing)) == (
            400,
            "q",
            "HTTP 400: Bad Request (Missing argument q)",
        )


def test_module_level_signing_interchangeable() -> None:
    theirs = tornado.web.create_signed_value("secret", "name", "value", clock=lambda: 1e9)
    ours = tornado_ws_compat.web.create_signed_value("secret", "name", "value", clock=lambda: 1e9)
    assert ours == theirs
    assert (
        tornado_ws_compat.web.decode_signed_value("secret", "name", theirs, clock=lambda: 1e9)
        == b"value"
    )
    for name in (
        "DEFAULT_SIGNED_VALUE_VERSION",
        "DEFAULT_SIGNED_VALUE_MIN_VERSION",
        "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
        "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    ):
        assert getattr(tornado_ws_compat.web, name) == getattr(tornado.web, name)
    assert tornado_ws_compat.web.get_signature_key_version(
        theirs
    ) == tornado.web.get_signature_key_version(theirs)


@pytest.mark.asyncio
async def test_declined_features_say_so() -> None:
    from tornado_ws_compat.testing import running

    from ._webdiff import observe

    class Detaches(tornado_ws_compat.web.RequestHandler):
        def get(self) -> None:
            self.detach()

    app = tornado_ws_compat.web.Application(
        [
            (r"/detach", Detaches),
            (r"/fallback", tornado_ws_compat.web.FallbackHandler, {"fallback": print}),
        ]
    )
    import aiohttp

    async with running(app) as server:
        async with aiohttp.ClientSession() as session:
            for path in ("/detach", "/fallback"):
                async with session.get(server.url(path)) as response:
                    assert observe(response, await response.read())["status"] == 500
    with pytest.raises(NotSupportedError, match="FallbackHandler"):
        tornado_ws_compat.web.FallbackHandler.initialize(None, fallback=print)  # type: ignore[arg-type]
