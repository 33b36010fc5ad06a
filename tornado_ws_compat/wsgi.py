"""Tornado's ``tornado.wsgi``: a WSGI application (Flask, Django, Bottle) served by this server.

Programs put their WebSocket handlers in front and hand every other path to the WSGI app:
``(r".*", FallbackHandler, dict(fallback=WSGIContainer(flask_app)))``. As on Tornado 6.6.1, the
application runs on the loop's thread unless an ``executor`` is given (then in it), its whole
response is collected, completed with ``Content-Length``, a default ``Content-Type`` and a
``Server`` header, written at once, and logged as an access line.
"""

from __future__ import annotations

import concurrent.futures
import sys
from collections.abc import Callable, Iterable
from io import BytesIO
from types import TracebackType
from typing import Any

from tornado_ws_compat import escape
from tornado_ws_compat.concurrent import dummy_executor
from tornado_ws_compat.httputil import HTTPHeaders, HTTPServerRequest
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.log import access_log, app_log
from tornado_ws_compat.web import _SERVER_HEADER

__all__ = ["WSGIContainer", "to_wsgi_str"]

_ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
WSGIAppType = Callable[[dict[str, Any], Callable[..., Callable[[bytes], Any]]], Iterable[bytes]]


def to_wsgi_str(s: bytes) -> str:
    """PEP 3333's "native string" for WSGI: bytes decoded as Latin-1."""
    assert isinstance(s, bytes)
    return s.decode("latin1")


class WSGIContainer:
    """A WSGI application as a request callback (give it to ``web.FallbackHandler``)."""

    def __init__(
        self,
        wsgi_application: WSGIAppType,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.wsgi_application = wsgi_application
        self.executor = dummy_executor if executor is None else executor

    def __call__(self, request: HTTPServerRequest) -> None:
        """Serve ``request``: the response is written once the application has produced it."""
        IOLoop.current().spawn_callback(self._serve, request)

    async def _serve(self, request: HTTPServerRequest) -> None:
        try:
            await self.handle_request(request)
        except Exception:
            # Tornado 6.6.1 logs it from the loop and leaves the client waiting; this project
            # answers 500 rather than hold the connection (one line, as any other error).
            app_log.error("Exception in WSGI application %s", request.uri, exc_info=True)
            self._write(request, 500, "Internal Server Error", [], b"")

    async def handle_request(self, request: HTTPServerRequest) -> None:
        """Run the application on ``request`` and write its response."""
        started: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
        ) -> Callable[[bytes], Any]:
            started["status"] = status
            started["headers"] = headers
            return written.append

        loop = IOLoop.current()
        result = await loop.run_in_executor(
            self.executor, self.wsgi_application, self.environ(request), start_response
        )
        try:
            chunks = iter(result)

            def next_chunk() -> bytes | None:
                return next(chunks, None)

            while (chunk := await loop.run_in_executor(self.executor, next_chunk)) is not None:
                written.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not started:
            raise Exception("WSGI app did not call start_response")
        code, reason = started["status"].split(" ", 1)
        self._write(request, int(code), reason, started["headers"], b"".join(written))

    def _write(
        self,
        request: HTTPServerRequest,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        body = escape.utf8(body)
        present = {name.lower() for name, _ in headers}
        headers = list(headers)
        if status != 304:
            if "content-length" not in present:
                headers.append(("Content-Length", str(len(body))))
            if "content-type" not in present:
                headers.append(("Content-Type", "text/html; charset=UTF-8"))
        if "server" not in present:  # this project's name where Tornado writes its own
            headers.append(("Server", _SERVER_HEADER))
        head = HTTPHeaders()
        for name, value in headers:
            head.add(name, value)
        assert request.connection is not None
        request.connection.write(status, reason, head, body, True)
        request._finish()
        self._log(status, request)

    def environ(self, request: HTTPServerRequest) -> dict[str, Any]:
        """The request as a WSGI environment (PEP 3333), as Tornado 6.6.1 builds it; takes
        ``Content-Type`` and ``Content-Length`` out of the request's headers."""
        host, _, port = request.host.partition(":")
        if not port:
            host = request.host
            port = "443" if request.protocol == "https" else "80"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": to_wsgi_str(escape.url_unescape(request.path, encoding=None, plus=False)),
            "QUERY_STRING": request.query,
            "REMOTE_ADDR": request.remote_ip,
            "SERVER_NAME": host,
            "SERVER_PORT": str(int(port)),
            "SERVER_PROTOCOL": request.version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": request.protocol,
            "wsgi.input": BytesIO(escape.utf8(request.body)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.executor is not dummy_executor,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if "Content-Type" in request.headers:
            environ["CONTENT_TYPE"] = request.headers.pop("Content-Type")
        if "Content-Length" in request.headers:
            environ["CONTENT_LENGTH"] = request.headers.pop("Content-Length")
        for name, value in request.headers.items():
            environ["HTTP_" + name.replace("-", "_").upper()] = value
        return environ

    def _log(self, status: int, request: HTTPServerRequest) -> None:
        if status < 400:
            log = access_log.info
        elif status < 500:
            log = access_log.warning
        else:
            log = access_log.error
        summary = f"{request.method} {request.uri} ({request.remote_ip})"
        log("%d %s %.2fms", status, summary, 1000.0 * request.request_time())
