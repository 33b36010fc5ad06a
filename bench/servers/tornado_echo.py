"""Echo server on real Tornado: the seed's EchoWebSocket class, unchanged.

``tornado_echo.py`` and ``compat_echo.py`` differ only in the import line (and this docstring's
first line): ``diff bench/servers/tornado_echo.py bench/servers/compat_echo.py``.

Routes: ``/ws`` the seed's class; ``/bin`` a binary echo (``"You said: " + bytes`` fails, so the
1 MiB workload needs it); ``/deflate`` the seed's class with permessage-deflate enabled;
``/sub`` and ``/pub`` the broadcast: every message a publisher sends is written to every
subscriber with the idiomatic loop ``for client in SUBSCRIBERS: client.write_message(message)``.
Prints ``READY <port> loop=<module>`` on stdout once listening, then sends stdout (the seed's
prints) to /dev/null.
"""

import argparse
import asyncio
import os
import socket
import sys

from tornado import ioloop, web, websocket


class EchoWebSocket(websocket.WebSocketHandler):
    def open(self):
        print("WebSocket opened")

    def on_message(self, message):
        self.write_message("You said: " + message)

    def on_close(self):
        print("WebSocket closed")


class BinaryEcho(websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


class DeflateEcho(EchoWebSocket):
    def get_compression_options(self):
        return {}


SUBSCRIBERS = set()


class Subscriber(websocket.WebSocketHandler):
    def open(self):
        SUBSCRIBERS.add(self)

    def on_message(self, message):
        pass

    def on_close(self):
        SUBSCRIBERS.discard(self)


class Publisher(websocket.WebSocketHandler):
    def on_message(self, message):
        for client in SUBSCRIBERS:
            client.write_message(message)


def free_port(host):
    """A port that was free a moment ago (``listen()`` takes a port, not a socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ready(port):
    loop = type(asyncio.get_running_loop())
    print(f"READY {port} loop={loop.__module__}", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    # Block-buffered whatever PYTHONUNBUFFERED says: unbuffered, each of the seed's prints
    # costs two write() system calls per handshake, which servers that do not print are spared.
    sys.stdout = open(sys.stdout.fileno(), "w", closefd=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--loop", choices=["default", "asyncio", "uvloop"], default="default")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    elif args.loop == "asyncio":
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    port = args.port or free_port("127.0.0.1")
    app = web.Application(
        [
            (r"/ws", EchoWebSocket),
            (r"/bin", BinaryEcho),
            (r"/deflate", DeflateEcho),
            (r"/sub", Subscriber),
            (r"/pub", Publisher),
        ]
    )
    app.listen(port, address="127.0.0.1")
    ioloop.IOLoop.current().add_callback(ready, port)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
