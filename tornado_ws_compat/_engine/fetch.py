"""One HTTP exchange on aiohttp's client, for ``httpclient.AsyncHTTPClient``.

Tornado's rules (default headers, redirects, errors, the response object) live in
``tornado_ws_compat.httpclient``; this module only sends one request exactly as described and
returns what came back, translating aiohttp's exceptions into the ones Tornado's
``simple_httpclient`` raises.
"""

from __future__ import annotations

import inspect
import os
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import aiohttp
from yarl import URL

__all__ = ["Exchange", "FetchSession", "StreamClosed", "Timeout"]


class Timeout(Exception):
    """No answer in time; ``args[0]`` is Tornado's message."""


class StreamClosed(Exception):
    """The server closed the connection before a whole response arrived."""


@dataclass
class Exchange:
    """What one request got back."""

    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes


class FetchSession:
    """A pool of client connections (at most ``max_clients`` at once), made on first use."""

    def __init__(self, max_clients: int, max_body_size: int) -> None:
        self.max_clients = max_clients
        self.max_body_size = max_body_size
        self._session: aiohttp.ClientSession | None = None

    async def send(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
        *,
        connect_timeout: float | None,
        request_timeout: float | None,
        ssl_context: ssl.SSLContext | bool,
        decompress: bool,
        on_head: Callable[[Exchange], Callable[[bytes], Awaitable[None] | None] | None],
    ) -> Exchange:
        """Send one request. ``on_head`` sees the response head before its body and returns
        the function that takes the body's chunks, or ``None`` to collect it in ``body``."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_clients),
                cookie_jar=aiohttp.DummyCookieJar(),  # Tornado's client keeps no cookies
            )
        timeout = aiohttp.ClientTimeout(
            total=request_timeout or None, sock_connect=connect_timeout or None
        )
        try:
            async with self._session.request(
                method,
                URL(url, encoded=True),
                headers=list(headers),
                data=body,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                allow_redirects=False,
                timeout=timeout,
                ssl=ssl_context,
                auto_decompress=decompress,
            ) as response:
                version = response.version or aiohttp.HttpVersion11
                exchange = Exchange(
                    response.status,
                    response.reason or "",
                    f"HTTP/{version.major}.{version.minor}",
                    [(k.decode("latin1"), v.decode("latin1")) for k, v in response.raw_headers],
                    b"",
                )
                streaming_callback = on_head(exchange)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if streaming_callback is not None:
                        result = streaming_callback(chunk)
                        if inspect.isawaitable(result):
                            await result  # Tornado 6.6: the next chunk waits for it
                        continue
                    if size > self.max_body_size:
                        raise StreamClosed("Content-Length too long")
                    chunks.append(chunk)
                exchange.body = b"".join(chunks)
                return exchange
        except aiohttp.ConnectionTimeoutError as exc:
            raise Timeout("Timeout while connecting") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise Timeout("Timeout during request") from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise exc.certificate_error from None
        except aiohttp.ClientConnectorError as exc:
            # ConnectionRefusedError and the like, with the system's message, as Tornado.
            error = exc.os_error
            if error.errno is not None:
                raise type(error)(error.errno, os.strerror(error.errno)) from None
            raise error from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise StreamClosed("Stream closed") from exc

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
