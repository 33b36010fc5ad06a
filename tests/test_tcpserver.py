"""``tcpserver``: importable and subclassable; using it raises a named NotSupportedError."""

from __future__ import annotations

from typing import Any

import pytest

from tornado_ws_compat import tcpserver
from tornado_ws_compat.errors import NotSupportedError


class EchoServer(tcpserver.TCPServer):
    async def handle_stream(self, stream: Any, address: Any) -> None:  # type: ignore[override]
        pass


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.listen(0),
        lambda s: s.bind(0),
        lambda s: s.start(),
        lambda s: s.add_sockets([]),
        lambda s: s.add_socket(None),
    ],
    ids=["listen", "bind", "start", "add_sockets", "add_socket"],
)
def test_using_it_is_declined_by_name(call: Any) -> None:
    server = EchoServer(max_buffer_size=10)
    with pytest.raises(NotSupportedError, match=r"tornado\.tcpserver\.TCPServer\.\w+: raw TCP"):
        call(server)
    server.stop()
    assert server.max_buffer_size == 10


def test_base_handle_stream_is_declined() -> None:
    with pytest.raises(NotSupportedError, match="handle_stream"):
        tcpserver.TCPServer().handle_stream(None, ("127.0.0.1", 1))
