"""Echo server on websockets 17 (its asyncio implementation) + uvloop.

Routes as in ``tornado_echo.py``: ``/ws`` text echo with ``"You said: "`` prepended, ``/bin``
binary echo, ``/sub`` and ``/pub`` the broadcast with websockets' own ``broadcast()`` (its
documented way to send one message to many connections). Compression is off (websockets
enables permessage-deflate by default; the other servers' ``/ws`` do not use it), so there is
no ``/deflate`` (404). Pings are off, as on the other servers. Prints ``READY <port>
loop=<module>`` on stdout once listening.

websockets is not a dependency of the project: ``pip install --target bench/.peers
websockets`` (``run.py`` puts ``bench/.peers`` on the servers' path).
"""

import argparse
import asyncio
import http

import uvloop
from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

PREFIX = "You said: "
SUBSCRIBERS = set()


def process_request(connection, request):
    if request.path not in ("/ws", "/bin", "/sub", "/pub"):
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
    return None


async def handler(ws):
    path = ws.request.path
    try:
        if path == "/ws":
            async for message in ws:
                await ws.send(PREFIX + message)
        elif path == "/bin":
            async for message in ws:
                await ws.send(message)
        elif path == "/sub":
            SUBSCRIBERS.add(ws)
            try:
                await ws.wait_closed()
            finally:
                SUBSCRIBERS.discard(ws)
        elif path == "/pub":
            async for message in ws:
                broadcast(SUBSCRIBERS, message)
    except ConnectionClosed:
        pass


async def main_async(port):
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression=None,
        max_size=2**21,
        ping_interval=None,
        process_request=process_request,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        loop = type(asyncio.get_running_loop())
        print(f"READY {port} loop={loop.__module__}", flush=True)
        await asyncio.Event().wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    uvloop.run(main_async(args.port))


if __name__ == "__main__":
    main()
