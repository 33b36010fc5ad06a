"""The handler classes under comparison, written once for both implementations.

``make_routes(websocket, web, rec)`` defines every class as a subclass of
``websocket.WebSocketHandler`` / ``web.RequestHandler`` of the module it is given: it is called
once with Tornado's modules and once with this project's. Handlers append what happens to them
to a shared :class:`Recorder`; tests compare the two recorders' events.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any


class Recorder:
    """Hook events in order, and a way to wait (with a deadline) for one to happen."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.handler: Any = None
        self._changed: asyncio.Event | None = None

    def add(self, *event: Any) -> None:
        self.events.append(event)
        if self._changed is not None:
            self._changed.set()

    def count(self, kind: str) -> int:
        return sum(1 for event in self.events if event[0] == kind)

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` events named ``kind`` were recorded; TimeoutError otherwise."""

        async def waiting() -> None:
            while self.count(kind) < count:
                self._changed = asyncio.Event()
                await self._changed.wait()

        await asyncio.wait_for(waiting(), timeout)

    async def settle(self, kind: str, timeout: float = 2.0) -> None:
        """Like :meth:`wait_for`, but a missing event is left for the comparison to show."""
        try:
            await self.wait_for(kind, 1, timeout)
        except TimeoutError:
            pass


def make_routes(websocket: ModuleType, web: ModuleType, rec: Recorder) -> list[Any]:
    """The routes of the comparison app, with classes built over ``websocket`` and ``web``."""
    closed_error = websocket.WebSocketClosedError

    class Base(websocket.WebSocketHandler):  # type: ignore[misc,name-defined]
        """Records every hook a WebSocket sees."""

        def initialize(self, rec: Recorder) -> None:
            self.rec = rec

        def open(self, *args: Any, **kwargs: Any) -> None:
            self.rec.handler = self
            self.rec.add("open", args, kwargs)

        def on_message(self, message: str | bytes) -> None:
            self.rec.add("on_message", message)

        def on_ping(self, data: bytes) -> None:
            self.rec.add("on_ping", data)

        def on_pong(self, data: bytes) -> None:
            self.rec.add("on_pong", data)

        def on_close(self) -> None:
            self.rec.add("on_close", self.close_code, self.close_reason)

        def try_write(self, message: Any, label: str, binary: bool = False) -> None:
            try:
                self.write_message(message, binary=binary)
            except closed_error as exc:
                self.rec.add(label, type(exc).__name__)

    class Echo(Base):
        """Echoes data; text starting with ``!`` is a command (see ``command``)."""

        def on_message(self, message: str | bytes) -> None:
            self.rec.add("on_message", message)
            if isinstance(message, str) and message.startswith("!"):
                self.command(message[1:])
            else:
                self.try_write(message, "echo raised", binary=isinstance(message, bytes))

        def command(self, line: str) -> None:
            name, _, arg = line.partition(" ")
            if name == "close":
                code_text, _, reason = arg.partition(" ")
                code = int(code_text) if code_text else None
                self.close(code, reason or None)
                self.after_close()
            elif name == "close-twice":
                self.close(4000, "first")
                self.close(4001, "second")
            elif name == "close-reason":
                self.close(reason=arg)
                self.after_close()
            elif name == "ping":
                self.ping(arg.encode("utf-8"))
            elif name == "ping-str":
                self.ping(arg)
            elif name == "json":
                self.write_message({"html": "</script><b>", "text": "caf\u00e9 \u2713", "n": 1})
            elif name == "binary-str":
                self.write_message("sent as binary", binary=True)
            elif name == "subprotocol":
                self.write_message(repr(self.selected_subprotocol))
            elif name == "write-future":
                future = self.write_message("written")
                future.add_done_callback(
                    lambda f: self.rec.add("write future done", f.exception() is None)
                )
            elif name == "raise":
                raise ValueError("boom in on_message")

        def after_close(self) -> None:
            self.try_write("after close", "write_message after close raised")
            try:
                self.ping(b"x")
            except closed_error as exc:
                self.rec.add("ping after close raised", type(exc).__name__)

    class PlainEcho(websocket.WebSocketHandler):  # type: ignore[misc,name-defined]
        """Overrides only on_message and on_close (no on_ping/on_pong)."""

        def initialize(self, rec: Recorder) -> None:
            self.rec = rec

        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

        def on_close(self) -> None:
            self.rec.add("on_close", self.close_code, self.close_reason)

    class HookOrder(Echo):
        """Records the handshake-side hooks too, to compare their order."""

        def prepare(self) -> None:
            self.rec.add("prepare")

        def check_origin(self, origin: str) -> bool:
            self.rec.add("check_origin", origin)
            return True

        def get_compression_options(self) -> dict[str, Any] | None:
            self.rec.add("get_compression_options")
            return None

        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            self.rec.add("select_subprotocol", list(subprotocols))
            return None

        def on_finish(self) -> None:
            self.rec.add("on_finish")

    class PrepareForbidden(Echo):
        def prepare(self) -> None:
            self.rec.add("prepare")
            raise web.HTTPError(403)

    class PrepareHeaders(Echo):
        def set_default_headers(self) -> None:
            self.set_header("X-Default", "from set_default_headers")

        def prepare(self) -> None:
            self.set_header("X-Prepare", "from prepare")
            self.add_header("X-Multi", "1")
            self.add_header("X-Multi", "2")
            self.set_cookie("session", "abc")

    class Subprotocol(Echo):
        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            self.rec.add("select_subprotocol", list(subprotocols))
            return "b" if "b" in subprotocols else None

        def open(self, *args: Any, **kwargs: Any) -> None:
            super().open(*args, **kwargs)
            self.rec.add("selected_subprotocol", self.selected_subprotocol)

    class CheckOrigin(Echo):
        def check_origin(self, origin: str) -> bool:
            self.rec.add("check_origin", origin)
            return origin == "http://good.example"

    class Compressed(Echo):
        def get_compression_options(self) -> dict[str, Any] | None:
            return {}

    class AsyncOpen(Echo):
        async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            self.rec.add("open start")
            # A slow open: the client's first messages arrive meanwhile and must wait.
            await asyncio.sleep(0.05)
            self.rec.add("open end")

    class SlowMessage(Base):
        async def on_message(self, message: str | bytes) -> None:  # type: ignore[override]
            self.rec.add("start", message)
            # Every third message suspends for a while, the others only yield once.
            await asyncio.sleep(0.002 if int(message) % 3 == 0 else 0)
            self.rec.add("end", message)
            self.write_message(message)

    class OpenRaises(Base):
        def open(self, *args: Any, **kwargs: Any) -> None:
            self.rec.add("open")
            raise ValueError("boom in open")

    class AsyncOpenRaises(Base):
        async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            self.rec.add("open")
            await asyncio.sleep(0)
            raise ValueError("boom in async open")

    class MessageRaises(Base):
        def on_message(self, message: str | bytes) -> None:
            self.rec.add("on_message", message)
            raise ValueError("boom in on_message")

    class AsyncMessageRaises(Base):
        async def on_message(self, message: str | bytes) -> None:  # type: ignore[override]
            self.rec.add("on_message", message)
            await asyncio.sleep(0)
            raise ValueError("boom in async on_message")

    class OnCloseWrites(Base):
        def on_close(self) -> None:
            super().on_close()
            self.try_write("from on_close", "write_message in on_close raised")

    class GreetInOpen(Echo):
        def open(self, *args: Any, **kwargs: Any) -> None:
            super().open(*args, **kwargs)
            self.write_message("welcome")
            self.write_message({"greeting": True})

    class CloseInOpen(Echo):
        def open(self, *args: Any, **kwargs: Any) -> None:
            super().open(*args, **kwargs)
            self.close(4002, "not now")
            self.after_close()

    class Barrier(web.RequestHandler):  # type: ignore[misc,name-defined]
        def get(self) -> None:
            self.write("ok")

    kwargs = {"rec": rec}
    return [
        (r"/echo", Echo, kwargs),
        (r"/plain", PlainEcho, kwargs),
        (r"/hooks", HookOrder, kwargs),
        (r"/prepare-403", PrepareForbidden, kwargs),
        (r"/prepare-headers", PrepareHeaders, kwargs),
        (r"/subprotocol", Subprotocol, kwargs),
        (r"/check-origin", CheckOrigin, kwargs),
        (r"/compressed", Compressed, kwargs),
        (r"/async-open", AsyncOpen, kwargs),
        (r"/slow-message", SlowMessage, kwargs),
        (r"/open-raises", OpenRaises, kwargs),
        (r"/async-open-raises", AsyncOpenRaises, kwargs),
        (r"/message-raises", MessageRaises, kwargs),
        (r"/async-message-raises", AsyncMessageRaises, kwargs),
        (r"/on-close-writes", OnCloseWrites, kwargs),
        (r"/greet-in-open", GreetInOpen, kwargs),
        (r"/close-in-open", CloseInOpen, kwargs),
        (r"/groups/([^/]*)/([^/]*)", Echo, kwargs),
        (r"/named/(?P<first>[^/]*)/(?P<second>[^/]*)", Echo, kwargs),
        (r"/optional/(\d+)?-(\w+)?", Echo, kwargs),
        (r"/named-optional/(?P<number>\d+)?-(?P<word>\w+)?", Echo, kwargs),
        (r"/barrier", Barrier),
    ]
