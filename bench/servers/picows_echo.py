"""Echo server on picows + uvloop: the floor (Cython frame handling, no per-message task).

Routes as in ``tornado_echo.py``: ``/ws`` text echo with ``"You said: "`` prepended (bytes in,
bytes out, no decode), ``/bin`` binary echo. picows has no permessage-deflate, so there is no
``/deflate`` (404). ``/sub`` and ``/pub``: the broadcast, ``transport.send`` per subscriber.
Prints ``READY <port> loop=<module>`` on stdout once listening.
"""

import argparse
import asyncio

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

PREFIX = b"You said: "


class Echo(WSListener):
    def __init__(self, prefix):
        self.prefix = prefix

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame):
        msg_type = frame.msg_type
        if msg_type is WSMsgType.TEXT:
            transport.send(WSMsgType.TEXT, self.prefix + frame.get_payload_as_bytes())
        elif msg_type is WSMsgType.BINARY:
            transport.send(WSMsgType.BINARY, frame.get_payload_as_memoryview())
        elif msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


SUBSCRIBERS = set()


class Subscriber(WSListener):
    def on_ws_connected(self, transport: WSTransport):
        SUBSCRIBERS.add(transport)

    def on_ws_disconnected(self, transport: WSTransport):
        SUBSCRIBERS.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame):
        if frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


class Publisher(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame):
        if frame.msg_type is WSMsgType.TEXT:
            payload = frame.get_payload_as_bytes()
            for client in SUBSCRIBERS:
                client.send(WSMsgType.TEXT, payload)
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


def listener_factory(request):
    path = request.path
    if path == b"/sub":
        return Subscriber()
    if path == b"/pub":
        return Publisher()
    if path == b"/ws":
        return Echo(PREFIX)
    if path == b"/bin":
        return Echo(b"")
    return None


async def serve(port):
    server = await ws_create_server(listener_factory, "127.0.0.1", port, use_aiofastnet=False)
    port = server.sockets[0].getsockname()[1]
    loop = type(asyncio.get_running_loop())
    print(f"READY {port} loop={loop.__module__}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
