"""Tornado's ``tornado.netutil``: listening sockets, TLS options, IP checks, a resolver.

Stdlib only. The functions behave as Tornado 6.6.1's: ``bind_sockets`` with ``port=0`` gives
every socket (IPv4 and IPv6) the same free port, ``bind_unix_socket`` replaces a stale socket
file, ``ssl_options_to_context`` turns the ``ssl_options`` dict into an ``SSLContext``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import socket
import ssl
import stat
from collections.abc import Awaitable, Callable
from typing import Any

from tornado_ws_compat.concurrent import dummy_executor
from tornado_ws_compat.ioloop import IOLoop
from tornado_ws_compat.util import Configurable

__all__ = [
    "BlockingResolver",
    "DefaultExecutorResolver",
    "DefaultLoopResolver",
    "ExecutorResolver",
    "OverrideResolver",
    "Resolver",
    "ThreadedResolver",
    "add_accept_handler",
    "bind_sockets",
    "bind_unix_socket",
    "is_valid_ip",
    "ssl_options_to_context",
]

#: ``listen()`` backlog when none is given (Tornado's ``_DEFAULT_BACKLOG``).
DEFAULT_BACKLOG = 128

#: The keys of Tornado's ``ssl_options`` dict (the ``ssl.wrap_socket`` arguments it supports).
SSL_OPTION_KEYS = frozenset(
    {"ssl_version", "certfile", "keyfile", "cert_reqs", "ca_certs", "ciphers"}
)


def bind_sockets(
    port: int,
    address: str | None = None,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    backlog: int = DEFAULT_BACKLOG,
    flags: int | None = None,
    reuse_port: bool = False,
) -> list[socket.socket]:
    """Listening, non-blocking sockets for every address ``address`` resolves to.

    ``address`` ``None`` or ``""`` means every interface; ``family`` restricts to IPv4 or
    IPv6; ``flags`` are ``getaddrinfo``'s ``AI_*`` bits (default ``AI_PASSIVE``). With
    ``port=0`` the first socket picks a free port and the others reuse it (Tornado 6.6.1).
    IPv6 sockets are IPv6-only, so that the IPv4 socket can share the port.
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("the platform doesn't support SO_REUSEPORT")
    host = address or None
    if not socket.has_ipv6 and family == socket.AF_UNSPEC:
        family = socket.AF_INET
    if flags is None:
        flags = socket.AI_PASSIVE
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, flags)
    sockets: list[socket.socket] = []
    bound_port: int | None = None
    seen: set[tuple[Any, ...]] = set()
    try:
        # IPv4 first, as Tornado sorts by family: its port is the one IPv6 then reuses.
        for info in sorted(infos, key=lambda info: info[0]):
            if info in seen:
                continue
            seen.add(info)
            af, socktype, proto, _canonical, sockaddr = info
            try:
                sock = socket.socket(af, socktype, proto)
            except OSError as exc:
                if exc.errno == errno.EAFNOSUPPORT:
                    continue  # a family the kernel does not support
                raise
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if af == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if sockaddr[1] == 0 and bound_port is not None:
                    sockaddr = (sockaddr[0], bound_port, *sockaddr[2:])
                sock.setblocking(False)
                sock.bind(sockaddr)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRNOTAVAIL and af == socket.AF_INET6:
                    continue  # "localhost" resolves to ::1 on a host without IPv6
                raise
            bound_port = sock.getsockname()[1]
            sock.listen(backlog)
            sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def bind_unix_socket(
    file: str, mode: int = 0o600, backlog: int = DEFAULT_BACKLOG
) -> socket.socket:
    """A listening Unix socket at ``file`` (a stale socket file there is replaced; any other
    file is an error). Names starting with NUL are Linux abstract sockets (no file)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setblocking(False)
        if file.startswith("\0"):
            sock.bind(file)
        else:
            try:
                st = os.stat(file)
            except FileNotFoundError:
                pass
            else:
                if not stat.S_ISSOCK(st.st_mode):
                    raise ValueError(f"File {file} exists and is not a socket")
                os.remove(file)
            sock.bind(file)
            os.chmod(file, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def add_accept_handler(
    sock: socket.socket, callback: Callable[[socket.socket, Any], object]
) -> Callable[[], None]:
    """Call ``callback(connection, address)`` for each connection accepted on ``sock`` by the
    current loop; returns a function that stops accepting (Tornado 5.0's contract)."""
    loop = IOLoop.current().asyncio_loop
    removed = False

    def accept() -> None:
        # At most one backlog's worth per wakeup, so a flood cannot starve the loop.
        for _ in range(DEFAULT_BACKLOG):
            if removed:
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            callback(connection, address)

    def remove() -> None:
        nonlocal removed
        if not removed:
            removed = True
            loop.remove_reader(sock.fileno())

    loop.add_reader(sock.fileno(), accept)
    return remove


def is_valid_ip(ip: str) -> bool:
    """Whether ``ip`` is a well-formed IPv4 or IPv6 address (not a host name)."""
    if not ip or "\x00" in ip:
        return False
    # The resolver's numeric parse, as Tornado 6.6.1: it also takes inet_aton's short forms
    # ("1.2.3") and scoped IPv6 ("fe80::1%lo").
    try:
        return bool(
            socket.getaddrinfo(
                ip, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
            )
        )
    except socket.gaierror as exc:
        if exc.args[0] == socket.EAI_NONAME:
            return False
        raise
    except UnicodeError:
        return False


def ssl_options_to_context(
    ssl_options: dict[str, Any] | ssl.SSLContext, server_side: bool | None = None
) -> ssl.SSLContext:
    """An ``SSLContext`` from Tornado's ``ssl_options`` (returned as is if it already is one).

    Unlike Tornado 6.6.1, which falls back to the deprecated ``PROTOCOL_TLS`` when
    ``server_side`` is omitted, omitting it means a server context: servers are what this
    project's callers build.
    """
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    unknown = set(ssl_options) - SSL_OPTION_KEYS
    if unknown:
        raise ValueError(f"unknown ssl_options keys: {sorted(unknown)}")
    default = ssl.PROTOCOL_TLS_CLIENT if server_side is False else ssl.PROTOCOL_TLS_SERVER
    context = ssl.SSLContext(ssl_options.get("ssl_version", default))
    if "certfile" in ssl_options:
        context.load_cert_chain(ssl_options["certfile"], ssl_options.get("keyfile"))
    if "cert_reqs" in ssl_options:
        if ssl_options["cert_reqs"] == ssl.CERT_NONE:
            context.check_hostname = False  # a client context checks names by default
        context.verify_mode = ssl_options["cert_reqs"]
    if "ca_certs" in ssl_options:
        context.load_verify_locations(ssl_options["ca_certs"])
    if "ciphers" in ssl_options:
        context.set_ciphers(ssl_options["ciphers"])
    context.options |= ssl.OP_NO_COMPRESSION  # CRIME, as Tornado
    return context


def _resolve_addr(
    host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
) -> list[tuple[int, Any]]:
    """``(family, address)`` pairs from a blocking ``socket.getaddrinfo``."""
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    return [(af, address) for af, _type, _proto, _canonical, address in infos]


async def _resolve_on_loop(
    host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
) -> list[tuple[int, Any]]:
    """``(family, address)`` pairs from the running loop's ``getaddrinfo``."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, family=family, type=socket.SOCK_STREAM
    )
    return [(af, address) for af, _type, _proto, _canonical, address in infos]


class Resolver(Configurable):
    """Host name resolution (``tornado.netutil.Resolver``), configurable as Tornado's:
    ``Resolver()`` builds the class chosen with ``Resolver.configure(impl, **kwargs)`` (a class
    or a dotted name; Tornado 2-4 era programs choose ``"tornado.netutil.ThreadedResolver"`` at
    start-up), by default `DefaultLoopResolver` (Tornado 6.2)."""

    @classmethod
    def configurable_base(cls) -> type[Resolver]:
        return Resolver

    @classmethod
    def configurable_default(cls) -> type[Resolver]:
        return DefaultLoopResolver

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[list[tuple[int, Any]]]:
        """``(family, address)`` pairs for ``host:port``; ``OSError`` if it does not resolve.
        Here (and in `DefaultLoopResolver`) the running loop's ``getaddrinfo`` answers."""
        return _resolve_on_loop(host, port, family)

    def close(self) -> None:
        """Release what the resolver holds (an executor it owns)."""


class DefaultLoopResolver(Resolver):
    """Resolves with the event loop's ``getaddrinfo`` (Tornado 6.2's default)."""


class DefaultExecutorResolver(Resolver):
    """Resolves with blocking ``socket.getaddrinfo`` in the loop's default executor."""

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        return await IOLoop.current().run_in_executor(None, _resolve_addr, host, port, family)


class ExecutorResolver(Resolver):
    """Resolves with blocking ``socket.getaddrinfo`` on ``executor`` (shut down by `close`
    when ``close_executor``); without one, in the calling thread (Tornado 5.0 deprecates it)."""

    executor: concurrent.futures.Executor | None

    def initialize(
        self, executor: concurrent.futures.Executor | None = None, close_executor: bool = True
    ) -> None:
        self.executor = dummy_executor if executor is None else executor
        self.close_executor = close_executor and executor is not None

    def close(self) -> None:
        if self.close_executor and self.executor is not None:
            self.executor.shutdown()
        self.executor = None

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[list[tuple[int, Any]]]:
        if self.executor is None:
            raise RuntimeError("resolve() on a closed resolver")
        future = self.executor.submit(_resolve_addr, host, port, family)
        return asyncio.wrap_future(future)


class BlockingResolver(ExecutorResolver):
    """Resolves in the calling thread, blocking the loop (Tornado 5.0 deprecates it)."""

    def initialize(self) -> None:  # type: ignore[override]
        super().initialize()


class ThreadedResolver(ExecutorResolver):
    """Resolves on a thread pool shared by every ThreadedResolver of the process, of the size
    the first one asked for (``num_threads``, Tornado 3.1); a forked child makes its own."""

    _threadpool: concurrent.futures.ThreadPoolExecutor | None = None
    _threadpool_pid: int | None = None

    def initialize(self, num_threads: int = 10) -> None:  # type: ignore[override]
        cls = ThreadedResolver
        if cls._threadpool is None or cls._threadpool_pid != os.getpid():
            cls._threadpool = concurrent.futures.ThreadPoolExecutor(num_threads)
            cls._threadpool_pid = os.getpid()
        super().initialize(executor=cls._threadpool, close_executor=False)


class OverrideResolver(Resolver):
    """Another resolver with some names mapped first: ``{"host": "other"}``, ``{(host, port):
    (host, port)}`` or ``{(host, port, family): (host, port)}`` (Tornado 5.0), most specific
    first."""

    def initialize(self, resolver: Resolver, mapping: dict[Any, Any]) -> None:
        self.resolver = resolver
        self.mapping = mapping

    def close(self) -> None:
        self.resolver.close()

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[list[tuple[int, Any]]]:
        if (host, port, family) in self.mapping:
            host, port = self.mapping[(host, port, family)]
        elif (host, port) in self.mapping:
            host, port = self.mapping[(host, port)]
        elif host in self.mapping:
            host = self.mapping[host]
        return self.resolver.resolve(host, port, family)
