"""Echo server on native aiohttp + uvloop: the same replies as the seed's EchoWebSocket.

Routes as in ``tornado_echo.py``: ``/ws`` text echo with ``"You said: "`` prepended, ``/bin``
binary echo, ``/deflate`` the ``/ws`` echo with permessage-deflate allowed, ``/sub`` and
``/pub`` the broadcast (``for ws in SUBSCRIBERS: await ws.send_str(data)``). A plain
``receive()`` loop with ``send_str``/``send_bytes``; no access log. ``aiohttp_batched.py`` is
the same server written for speed.
Prints ``READY <port> loop=<module>`` on stdout once listening.
"""

import argparse
import asyncio
import socket

import uvloop
from aiohttp import WSMsgType, web


def make_handler(compress, prefix):
    async def handler(request):
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(prefix + msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            else:
                break
        return ws

    return handler


SUBSCRIBERS = set()


async def subscriber(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    SUBSCRIBERS.add(ws)
    try:
        async for _msg in ws:
            pass
    finally:
        SUBSCRIBERS.discard(ws)
    return ws


async def publisher(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            for client in list(SUBSCRIBERS):
                await client.send_str(msg.data)
    return ws


async def serve(port):
    app = web.Application()
    app.router.add_get("/ws", make_handler(False, "You said: "))
    app.router.add_get("/bin", make_handler(False, ""))
    app.router.add_get("/deflate", make_handler(True, "You said: "))
    app.router.add_get("/sub", subscriber)
    app.router.add_get("/pub", publisher)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    site = web.SockSite(runner, sock)
    await site.start()
    loop = type(asyncio.get_running_loop())
    print(f"READY {sock.getsockname()[1]} loop={loop.__module__}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
