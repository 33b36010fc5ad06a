"""A multi-room chat: one page, one WebSocket per room, on every core and across hosts.

Each socket subscribes to its room; what a client says is published to the room and reaches
every subscriber in every worker process (and every host) that shares the ``--pubsub`` URL.
Written against Tornado's API: run it with ``python -m tornado_ws_compat run`` as it is, or
directly (it imports ``tornado_ws_compat``)::

    python examples/chat/chat.py                                   # one process, memory://
    python examples/chat/chat.py --workers=2 --pubsub=redis://127.0.0.1:6379/0

then open http://127.0.0.1:8888/ in two browsers (or two tabs) and pick the same room.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tornado_ws_compat import httpserver, ioloop, netutil, options, process, web, websocket

options.define("port", default=8888, type=int, help="port to listen on (0: any free port)")
options.define("address", default="127.0.0.1", help="address to bind")
options.define("workers", default=1, type=int, help="worker processes (0: one per core)")
options.define(
    "pubsub", default="memory://", help="memory:// (one process) or redis://HOST:PORT/DB"
)

PAGE = Path(__file__).with_name("index.html")


class ChatSocket(websocket.WebSocketHandler):
    """Joins the room named in the URL; publishes what its client says to that room."""

    def open(self, room: str) -> Any:
        self.room = room
        return self.subscribe(room)  # no message is read before the room is joined

    def on_message(self, message: str | bytes) -> None:
        if not isinstance(message, str) or not message.strip():
            return
        self.publish(
            self.room,
            {"room": self.room, "text": message[:1000], "worker": process.task_id() or 0},
        )


class ChatPage(web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.write(PAGE.read_bytes())


def make_app(pubsub_url: str) -> web.Application:
    return web.Application(
        [(r"/", ChatPage), (r"/chat/([\w-]{1,64})", ChatSocket)], pubsub_url=pubsub_url
    )


def main() -> None:
    options.parse_command_line()
    opts = options.options
    # Bound once, before the fork: every worker accepts on the same sockets (Tornado's
    # "advanced multi-process" idiom; HTTPServer.bind + start(n) does the same).
    sockets = netutil.bind_sockets(opts.port, opts.address)
    port = sockets[0].getsockname()[1]
    if opts.workers != 1:
        process.fork_processes(opts.workers)
    server = httpserver.HTTPServer(make_app(opts.pubsub))
    server.add_sockets(sockets)
    # One write per line: the workers share stdout.
    sys.stdout.write(
        f"worker {process.task_id() or 0} (pid {os.getpid()}) listening on "
        f"http://{opts.address}:{port}/\n"
    )
    sys.stdout.flush()
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
