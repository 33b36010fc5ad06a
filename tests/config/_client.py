"""A raw-socket WebSocket handshake, to read exactly what the server answered (status, every
``Set-Cookie``, body) whether it accepted or refused the upgrade."""

from __future__ import annotations

import asyncio
import http.cookies
from collections.abc import Mapping
from dataclasses import dataclass

from multidict import CIMultiDict

from .conftest import TIMEOUT

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    def cookies(self) -> dict[str, http.cookies.Morsel[str]]:
        """Set-Cookie headers, by cookie name."""
        jar: dict[str, http.cookies.Morsel[str]] = {}
        for header in self.headers.getall("Set-Cookie", []):
            parsed: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            parsed.load(header)
            jar.update(parsed)
        return jar

    def set_cookie_header(self, name: str) -> str:
        (header,) = [h for h in self.headers.getall("Set-Cookie", []) if h.startswith(name + "=")]
        return header


async def handshake(
    port: int,
    path: str,
    headers: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
) -> Answer:
    """Send an upgrade request, read the answer's head (and body, if any), then close."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {KEY}",
            "Sec-WebSocket-Version: 13",
        ]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin1"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *header_lines = head.decode("latin1").split("\r\n")
        parsed: CIMultiDict[str] = CIMultiDict()
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                parsed.add(name.strip(), value.strip())
        status = int(status_line.split()[1])
        body = b""
        if status != 101 and "Content-Length" in parsed:
            body = await asyncio.wait_for(
                reader.readexactly(int(parsed["Content-Length"])), TIMEOUT
            )
        return Answer(status, parsed, body)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
