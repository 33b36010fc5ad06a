"""A Tornado-style launch script: ``HTTPServer.bind`` then ``start(N)``, for the worker tests.

    python workers_app.py WORKERS [PUBSUB_URL]

Each worker prints ``worker TASK PID PORT`` once it serves. ``/pid`` answers the worker's
pid; ``/ws`` is a WebSocket that echoes and reports its ``on_close`` on stdout.
"""

from __future__ import annotations

import os
import sys

from tornado_ws_compat import httpserver, ioloop, process, web, websocket


class Pid(web.RequestHandler):
    def get(self) -> None:
        self.write(str(os.getpid()))


class Echo(websocket.WebSocketHandler):
    def open(self) -> None:
        self.write_message(f"pid {os.getpid()}")

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)

    def on_close(self) -> None:
        os.write(1, f"on_close {os.getpid()}\n".encode())


def main() -> None:
    workers = int(sys.argv[1])
    settings = {"pubsub_url": sys.argv[2]} if len(sys.argv) > 2 else {}
    app = web.Application([(r"/pid", Pid), (r"/ws", Echo)], **settings)
    server = httpserver.HTTPServer(app)
    server.bind(0, "127.0.0.1")
    server.start(workers)
    os.write(1, f"worker {process.task_id()} {os.getpid()} {server.port}\n".encode())
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
