"""Tornado's ``tornado.tcpclient``: ``await TCPClient().connect(host, port)`` gives a connected
`~tornado_ws_compat.iostream.IOStream` (device simulators and bridges talk raw TCP with it).

The host is resolved with the configured ``netutil.Resolver`` and its addresses are tried in
the resolver's order until one connects (Tornado 6.6.1 races an IPv6 and an IPv4 attempt
after 0.3 s; here they are tried one after the other, which only matters for a host whose
first family is unreachable). All failing raises the last `StreamClosedError`; ``timeout``
raises ``TimeoutError`` with Tornado's messages. TLS (``ssl_options``) is not provided.
"""

from __future__ import annotations

import asyncio
import datetime
import numbers
import socket
import ssl
from typing import Any

from tornado_ws_compat import gen
from tornado_ws_compat.errors import NotSupportedError
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.iostream import IOStream
from tornado_ws_compat.netutil import Resolver

__all__ = ["TCPClient"]


def _format_addr(addr: Any) -> str:
    """``1.2.3.4:443``, ``[::1]:443``, else ``str``: Tornado's form in timeout messages."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[:2]
        return f"[{host}]:{port}" if isinstance(host, str) and ":" in host else f"{host}:{port}"
    return str(addr)


class TCPClient:
    """A factory of connected streams; `close` closes the resolver it made."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        self._own_resolver = resolver is None
        self.resolver = Resolver() if resolver is None else resolver

    def close(self) -> None:
        if self._own_resolver:
            self.resolver.close()

    async def connect(
        self,
        host: str,
        port: int,
        af: socket.AddressFamily = socket.AF_UNSPEC,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        source_ip: str | None = None,
        source_port: int | None = None,
        timeout: float | datetime.timedelta | None = None,
    ) -> IOStream:
        """A stream connected to ``host:port`` (``timeout``: seconds or a timedelta)."""
        if ssl_options is not None:
            raise NotSupportedError(
                "tornado.tcpclient.TCPClient.connect with ssl_options is not provided by "
                "tornado_ws_compat"
            )
        deadline: float | None = None
        if isinstance(timeout, numbers.Real):
            deadline = IOLoop.current().time() + float(timeout)
        elif isinstance(timeout, datetime.timedelta):
            deadline = IOLoop.current().time() + timeout.total_seconds()
        elif timeout is not None:
            raise TypeError(f"Unsupported timeout {timeout!r}")
        resolving = self.resolver.resolve(host, port, af)
        if deadline is not None:
            resolving = gen.with_timeout(
                deadline, resolving, message=f"Timeout while resolving {host}"
            )
        addresses = await resolving
        if not addresses:
            raise OSError("connection failed")
        last_error: BaseException = OSError("connection failed")
        for index, (family, address) in enumerate(addresses):
            stream = self._create_stream(family, max_buffer_size, source_ip, source_port)
            try:
                if deadline is None:
                    await stream.connect(address)
                else:
                    left = deadline - IOLoop.current().time()
                    await asyncio.wait_for(asyncio.shield(stream.connect(address)), max(left, 0))
                return stream
            except TimeoutError:
                stream.close()
                pending = ", ".join(sorted(_format_addr(a) for _, a in addresses[index:]))
                raise TimeoutError(f"Timeout while connecting to {pending}") from None
            except Exception as error:
                stream.close()
                last_error = error
        raise last_error

    @staticmethod
    def _create_stream(
        family: socket.AddressFamily,
        max_buffer_size: int | None,
        source_ip: str | None,
        source_port: int | None,
    ) -> IOStream:
        sock = socket.socket(family)
        try:
            if source_ip or source_port:
                # A port without an address binds the loopback of the family (Tornado 4.5).
                loopback = "::1" if family == socket.AF_INET6 else "127.0.0.1"
                sock.bind((source_ip or loopback, source_port or 0))
            return IOStream(sock, max_buffer_size=max_buffer_size)
        except BaseException:
            sock.close()
            raise
