"""A write future that says "flushed" means the bytes left the server (issue 10, point 1).

CPython 3.12.0-3.12.x and 3.13.0's selector transport ``writelines`` buffers without pausing
the protocol, so a future that waited only for ``resume_writing`` resolved at once while
megabytes were unsent. The server writes replies to one read with ``writelines``: these tests
write large frames from a plain ``on_message`` (inside that batch) on every loop.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Probe, raw_websocket, serve

from tornado_ws_compat.websocket import WebSocketClosedError, WebSocketHandler

pytestmark = pytest.mark.asyncio

BIG = 48 * 1024 * 1024


class BigWriter(WebSocketHandler):
    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def on_message(self, message: str | bytes) -> None:
        size = int(message)
        transport: Any = self.ws_connection._transport  # type: ignore[union-attr]
        future = self.write_message(b"x" * size, binary=True)

        def resolved(done: Any) -> None:
            error = done.exception()
            self.probe.record("resolved", type(error), transport.get_write_buffer_size())

        future.add_done_callback(resolved)
        self.probe.record("written", future.done())


async def test_write_to_a_vanished_reader_fails() -> None:
    """48 MiB to a client that stops reading and drops the connection: not "flushed"."""
    probe = Probe()
    async with serve([("/ws", BigWriter, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text(str(BIG))
            assert await probe.wait("written") == (False,)
            conn.abort()
        error, _pending = await probe.wait("resolved")
    assert error is WebSocketClosedError


async def test_flushed_future_waits_for_an_empty_buffer() -> None:
    """The future of a large batched write resolves only once the transport's buffer is empty."""
    probe = Probe()
    size = 8 * 1024 * 1024
    async with serve([("/ws", BigWriter, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text(str(size))
            frame = await conn.read_frame()
            assert len(frame.payload) == size
            assert await probe.wait("resolved") == (type(None), 0)


class ManyWriter(WebSocketHandler):
    """Writes ``count`` numbered 1 KiB messages one write_message at a time."""

    def initialize(self, probe: Probe) -> None:
        self.probe = probe

    def on_message(self, message: str | bytes) -> None:
        connection: Any = self.ws_connection
        futures = [self.write_message(f"{n:08d}".ljust(1024, "x")) for n in range(int(message))]
        # A write the socket took at once returns a done future; the others must resolve
        # only when nothing is left to send: neither in the transport's buffer nor among the
        # frames held back while it was not empty.
        pending = [future for future in futures if not future.done()]
        outcomes: list[tuple[Any, int]] = []

        def resolved(done: Any) -> None:
            outcomes.append((type(done.exception()), connection.unsent_bytes()))
            if len(outcomes) == len(pending):
                self.probe.record("resolved", outcomes)

        for future in pending:
            future.add_done_callback(resolved)
        self.probe.record("written", len(pending))


async def test_many_writes_to_a_peer_that_reads_late_arrive_in_order() -> None:
    """20,000 writes while the peer reads nothing: most wait for the transport to drain (the
    connection holds them back, so that asyncio's transport, which sums its buffer on every
    write on 3.12/3.13, gets one write per drain); then every message arrives, in order, and
    every future of a write that did not leave at once resolves only once nothing is left
    to send."""
    probe = Probe()
    count = 20_000
    async with serve([("/ws", ManyWriter, {"probe": probe})]) as server:
        async with raw_websocket(server, "/ws") as conn:
            await conn.send_text(str(count))
            (waiting,) = await probe.wait("written")
            assert waiting > count // 2  # 20 MiB: far more than the socket buffers take
            for n in range(count):
                frame = await conn.read_frame()
                assert frame.payload[:8] == b"%08d" % n
            (outcomes,) = await probe.wait("resolved")
    assert outcomes == [(type(None), 0)] * waiting
