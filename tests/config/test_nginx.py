"""The configuration mode behind a real nginx, configured with the README's block.

The test starts nginx (Debian package ``nginx-light``; ``.ci/run`` installs it) on loopback, in
a temporary prefix, with the ``http { ... }`` block of ``README.md`` (its
listen address, upstream and read timeout substituted). Through it:

- the upgrade works, and ``X-Real-IP``/``X-Forwarded-For``/``X-Scheme`` reach
  ``handler.request`` (``remote_ip``, ``protocol``) since this mode turns ``xheaders`` on;
- behind TLS (nginx terminates it) ``protocol`` is ``https`` and the session cookie ``Secure``;
- the origin check still works (``Host $http_host`` keeps the port; the seed's ``$host``
  would make a same-origin page cross-origin);
- an idle socket outlives a short ``proxy_read_timeout`` thanks to the server's pings, while a
  socket to a server without pings is cut (the control that proves the timeout is real).

nginx listens on sockets the test binds to port 0 and hands over (nginx's ``NGINX``
inherited-sockets variable), so there is no port to guess and no wait for it to be ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tornado_ws_compat.config import Config
from tornado_ws_compat.testing import running

from ._client import handshake
from .conftest import TIMEOUT, Project

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
if NGINX is None:
    pytest.skip(
        "nginx is not installed (Debian package 'nginx-light'; .ci/run installs it)",
        allow_module_level=True,
    )
OPENSSL = shutil.which("openssl")
README = Path(__file__).resolve().parents[2] / "README.md"

#: nginx's proxy_read_timeout in these tests; the servers ping 4 times as often.
READ_TIMEOUT = 1.0
PING_INTERVAL = READ_TIMEOUT / 4
#: The client's own address: nginx sees it as $remote_addr, the server only sees nginx.
CLIENT_IP = "127.0.0.5"

HOOKS = """
def open(handler):
    request = handler.request
    record("open", {
        "remote_ip": request.remote_ip,
        "protocol": request.protocol,
        "host": request.host,
        "x_real_ip": request.headers.get("X-Real-Ip"),
        "x_forwarded_for": request.headers.get("X-Forwarded-For"),
        "x_scheme": request.headers.get("X-Scheme"),
    })

def on_message(handler, message):
    handler.write_message("echo: " + message)

def on_pong(handler, data):
    record("pong")
"""

APP = """
app:
  listen: {address: 127.0.0.1}
  settings: {cookie_secret: nginx-test-secret, websocket_ping_interval: %s}
url:
  chat:
    pattern: /chat
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.open}
      on_message: {function: $hooks.on_message}
      on_pong: {function: $hooks.on_pong}
      origins: [gramener.com]
"""


def readme_block() -> str:
    """The nginx block documented in the README, without its code fence."""
    text = README.read_text()
    match = re.search(
        r"<!-- nginx-block: begin -->\s*```nginx\n(.*?)```\s*<!-- nginx-block: end -->",
        text,
        re.DOTALL,
    )
    assert match, "the README has no nginx block between its markers"
    return match.group(1)


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the README's nginx block should contain {old!r} once"
    return text.replace(old, new)


def _server_block(http_block: str) -> str:
    start = http_block.index("  server {")
    depth = 0
    for index in range(start, len(http_block)):
        if http_block[index] == "{":
            depth += 1
        elif http_block[index] == "}":
            depth -= 1
            if depth == 0:
                return http_block[start : index + 1]
    raise AssertionError("unbalanced braces in the README's nginx block")


@dataclass
class Site:
    """One nginx ``server``: the README's, with its listen socket, upstream and variations."""

    name: str
    upstream_port: int
    tls: bool = False
    host_variable: str = "$http_host"
    sock: socket.socket | None = None
    port: int = 0

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}{path}"


@contextmanager
def nginx(tmp_path: Path, sites: list[Site]) -> Iterator[subprocess.Popen[bytes]]:
    """Run nginx in the foreground with the README's block, one server per site."""
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    http_block = readme_block()
    server = _server_block(http_block)
    for site in sites:
        site.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        site.port = site.sock.getsockname()[1]
    servers = []
    for site in sites:
        block = _replace_once(
            server, "listen 80;", f"listen 127.0.0.1:{site.port}{' ssl' * site.tls};"
        )
        block = _replace_once(
            block, "http://127.0.0.1:9988", f"http://127.0.0.1:{site.upstream_port}"
        )
        block = _replace_once(
            block, "proxy_read_timeout 75s;", f"proxy_read_timeout {int(READ_TIMEOUT * 1000)}ms;"
        )
        block = _replace_once(
            block,
            "proxy_set_header Host       $http_host;",
            f"proxy_set_header Host {site.host_variable};",
        )
        if site.tls:
            block = block.replace(
                "    location / {",
                f"    ssl_certificate {prefix}/cert.pem;\n"
                f"    ssl_certificate_key {prefix}/key.pem;\n    location / {{",
                1,
            )
        servers.append(block)
    if any(site.tls for site in sites):
        assert OPENSSL is not None
        subprocess.run(
            [
                OPENSSL,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(prefix / "key.pem"),
                "-out",
                str(prefix / "cert.pem"),
                "-subj",
                "/CN=127.0.0.1",
                "-days",
                "1",
            ],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )
    http = http_block.replace(server, "\n".join(servers))
    http = _replace_once(
        http,
        "http {\n",
        "http {\n"
        f"  access_log {prefix}/access.log;\n"
        + "".join(
            f"  {kind}_temp_path {prefix}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        "daemon off;\n"
        "worker_processes 1;\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log info;\n"
        "events { worker_connections 256; }\n" + http
    )
    fds = [site.sock.fileno() for site in sites if site.sock is not None]
    process = subprocess.Popen(
        [NGINX, "-e", str(prefix / "error.log"), "-p", str(prefix), "-c", str(conf)],
        env={**os.environ, "NGINX": "".join(f"{fd};" for fd in fds)},
        pass_fds=fds,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for site in sites:  # nginx has them now; ours would only keep the port open if it died
        assert site.sock is not None
        site.sock.close()
    try:
        yield process
    finally:
        process.terminate()
        try:
            _, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
        assert "[emerg]" not in log and "[alert]" not in log, log + err.decode()


@dataclass
class Stack:
    """nginx in front of two servers: one pinging (the README's setup), one not."""

    sites: dict[str, Site]
    error_log: Path
    pinging: Config
    quiet: Config
    project: Project


@asynccontextmanager
async def stack(project: Project, tmp_path: Path, tls: bool = False) -> AsyncIterator[Stack]:
    project.hooks(HOOKS)
    pinging = project.load(APP % PING_INTERVAL, name="pinging.yaml")
    quiet = project.load(APP % 0, name="quiet.yaml")
    async with (
        running(pinging.application, **pinging.listen.server_kwargs()) as server,
        running(quiet.application, **quiet.listen.server_kwargs()) as quiet_server,
    ):
        sites = {
            "documented": Site("documented", server.port),
            "seed-host": Site("seed-host", server.port, host_variable="$host"),
            "no-pings": Site("no-pings", quiet_server.port),
        }
        if tls:
            sites["tls"] = Site("tls", server.port, tls=True)
        with nginx(tmp_path, list(sites.values())) as process:
            yield Stack(sites, tmp_path / "nginx" / "error.log", pinging, quiet, project)
            assert process.poll() is None, "nginx exited during the test"


def client(ssl: bool = False) -> aiohttp.ClientSession:
    """A client that connects from CLIENT_IP and keeps cookies of IP-address hosts."""
    connector = aiohttp.TCPConnector(local_addr=(CLIENT_IP, 0), ssl=False if ssl else True)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.mark.asyncio
async def test_upgrade_and_forwarded_headers_through_nginx(
    project: Project, tmp_path: Path
) -> None:
    async with stack(project, tmp_path) as running_stack, client() as session:
        site = running_stack.sites["documented"]
        headers = {"X-Forwarded-For": "203.0.113.7"}  # what a proxy before nginx would add
        async with session.ws_connect(site.ws_url("/chat"), headers=headers) as ws:
            await ws.send_str("through nginx")
            assert await ws.receive_str(timeout=TIMEOUT) == "echo: through nginx"
            sid_cookie = ws._response.headers.get("Set-Cookie", "")
        (seen,) = await project.record.wait("open")
        assert seen == {
            "remote_ip": CLIENT_IP,  # from X-Real-IP, not nginx's own 127.0.0.1
            "protocol": "http",
            "host": f"127.0.0.1:{site.port}",  # $http_host keeps the port
            "x_real_ip": CLIENT_IP,
            "x_forwarded_for": f"203.0.113.7, {CLIENT_IP}",
            "x_scheme": "http",
        }
        assert sid_cookie.startswith("sid=") and "HttpOnly" in sid_cookie
        assert "Secure" not in sid_cookie


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed (Debian package 'openssl')")
@pytest.mark.asyncio
async def test_https_terminated_by_nginx(project: Project, tmp_path: Path) -> None:
    async with stack(project, tmp_path, tls=True) as running_stack, client(ssl=True) as session:
        site = running_stack.sites["tls"]
        async with session.ws_connect(site.ws_url("/chat")) as ws:
            await ws.send_str("over tls")
            assert await ws.receive_str(timeout=TIMEOUT) == "echo: over tls"
            sid_cookie = ws._response.headers.get("Set-Cookie", "")
        (seen,) = await project.record.wait("open")
        assert (seen["protocol"], seen["x_scheme"], seen["remote_ip"]) == (
            "https",
            "https",
            CLIENT_IP,
        )
        assert "Secure" in sid_cookie and "HttpOnly" in sid_cookie


@pytest.mark.asyncio
async def test_origin_check_behind_nginx(project: Project, tmp_path: Path) -> None:
    async with stack(project, tmp_path) as running_stack:
        documented = running_stack.sites["documented"]
        seed_host = running_stack.sites["seed-host"]

        async def status(site: Site, origin: str) -> int:
            answer = await handshake(site.port, "/chat", {"Origin": origin})
            if answer.status == 403:
                assert answer.body == b"Cross origin websockets not allowed"
            return answer.status

        # The page's own origin (with nginx's port) is same-origin: Host kept its port.
        assert await status(documented, documented.origin) == 101
        assert await status(documented, "https://chat.gramener.com") == 101
        assert await status(documented, "https://evilgramener.com") == 403
        assert await status(documented, "http://127.0.0.1:1") == 403
        # With the seed's "Host $host" the port is dropped: the same page looks cross-origin.
        assert await status(seed_host, seed_host.origin) == 403
        assert await status(seed_host, "https://chat.gramener.com") == 101


@pytest.mark.asyncio
async def test_idle_socket_survives_proxy_read_timeout_thanks_to_pings(
    project: Project, tmp_path: Path
) -> None:
    async with stack(project, tmp_path) as running_stack, client() as session:
        pinged_url = running_stack.sites["documented"].ws_url("/chat")
        quiet_url = running_stack.sites["no-pings"].ws_url("/chat")
        async with (
            session.ws_connect(pinged_url) as pinged,
            session.ws_connect(quiet_url) as quiet,
        ):
            loop = asyncio.get_running_loop()
            started = loop.time()
            # aiohttp's client answers pings while something reads: keep a read pending.
            pinged_read = asyncio.ensure_future(pinged.receive())
            # The control: without pings, nginx cuts the idle socket after proxy_read_timeout.
            message = await quiet.receive(timeout=READ_TIMEOUT * 4)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert loop.time() - started >= READ_TIMEOUT * 0.9
            assert "upstream timed out" in running_stack.error_log.read_text()
            # The pinged socket: wait until the server has had the pongs of twice the timeout's
            # worth of pings, through nginx; meanwhile nothing arrived and nothing closed it.
            pings = int(2 * READ_TIMEOUT / PING_INTERVAL)
            await project.record.wait("pong", pings, timeout=READ_TIMEOUT * 4)
            assert loop.time() - started >= 2 * READ_TIMEOUT - PING_INTERVAL
            assert not pinged_read.done() and not pinged.closed
            pinged_read.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinged_read
            await pinged.send_str("still open")
            assert await pinged.receive_str(timeout=TIMEOUT) == "echo: still open"
