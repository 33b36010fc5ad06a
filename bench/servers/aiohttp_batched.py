"""Echo server on native aiohttp + uvloop, written for speed: the best aiohttp we could write.

The same routes and replies as ``aiohttp_echo.py``. Two techniques, a few lines each:

- the replies to the messages that one read delivered leave in one write (the messages
  aiohttp already parsed are taken from its queue without waiting, their reply frames are
  built here and written together: joined into one buffer when small, as the project does,
  else with ``writelines``);
- the broadcast builds the frame once and writes the same bytes to every subscriber's
  transport.

Both reach into aiohttp's internals (``ws._reader._buffer``, ``ws._writer.transport``) and
skip its closing checks and drain; fine for a benchmark, not a pattern to copy.
Prints ``READY <port> loop=<module>`` on stdout once listening.
"""

import argparse
import asyncio
import socket
import struct

import uvloop
from aiohttp import WSMsgType, web

PACK_SHORT = struct.Struct("!BB").pack
PACK_MEDIUM = struct.Struct("!BBH").pack
PACK_LONG = struct.Struct("!BBQ").pack
# Replies of at most this many bytes in all are joined and written as one buffer: uvloop's
# write of one joined copy costs less than its writelines of small frames (as the project's).
JOIN_LIMIT = 8192


def frame(first, payload):
    """An unmasked server frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return PACK_SHORT(first, n) + payload
    if n < 65536:
        return PACK_MEDIUM(first, 126, n) + payload
    return PACK_LONG(first, 127, n) + payload


def make_handler(compress, prefix):
    async def handler(request):
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        if compress and ws.compress:  # deflate: aiohttp compresses, one send per reply
            while True:
                msg = await ws.receive()
                if msg.type is not WSMsgType.TEXT:
                    break
                await ws.send_str(prefix + msg.data)
            return ws
        queued = ws._reader._buffer
        transport = ws._writer.transport
        while True:
            msg = await ws.receive()
            frames = []
            size = 0
            while True:
                if msg.type is WSMsgType.TEXT:
                    data = frame(0x81, (prefix + msg.data).encode())
                elif msg.type is WSMsgType.BINARY:
                    data = frame(0x82, msg.data)
                else:
                    break
                frames.append(data)
                size += len(data)
                if not queued:
                    break
                msg = await ws.receive()  # already parsed: returns without waiting
            if len(frames) == 1:
                transport.write(frames[0])
            elif size > JOIN_LIMIT:
                transport.writelines(frames)
            elif frames:
                transport.write(b"".join(frames))
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
        return ws

    return handler


SUBSCRIBERS = set()


async def subscriber(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    SUBSCRIBERS.add(ws._writer.transport)
    try:
        async for _msg in ws:
            pass
    finally:
        SUBSCRIBERS.discard(ws._writer.transport)
    return ws


async def publisher(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            data = frame(0x81, msg.data.encode())
            for transport in SUBSCRIBERS:
                transport.write(data)
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
