"""A browser shell bridge in the manner of webssh: a form POST opens a session in an executor
(``executor.submit`` yielded from a ``gen.coroutine``), the socket attaches to it by id and
the session's descriptor is watched with ``IOLoop.add_handler`` given a callable object,
switched with ``update_handler``; handlers check the request in ``initialize`` (finishing or
redirecting there), read ``request.connection.context``, set their own ``Server`` header,
swallow errors into JSON in ``write_error``, and close sockets with a reason and no code. The
"remote shell" is a thread at the other end of a socketpair."""

import json
import logging
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import tornado.gen
import tornado.ioloop
import tornado.web
import tornado.websocket
from tornado.ioloop import IOLoop
from tornado.iostream import _ERRNO_CONNRESET
from tornado.options import define, options
from tornado.util import errno_from_exception

define("port", default=8888, type=int)
define("sslport", default=4433, type=int)

sessions = {}
counter = [0]


def fake_shell(sock, user):
    """The far end: greets, answers each line, leaves on ``exit``."""
    with sock:
        sock.sendall(("welcome %s\r\n" % user).encode())
        pending = b""
        while True:
            data = sock.recv(1024)
            if not data:
                return
            pending += data
            while b"\r" in pending:
                line, pending = pending.split(b"\r", 1)
                if line == b"exit":
                    sock.sendall(b"logout\r\n")
                    return
                sock.sendall(b"$ " + line + b"\r\n")


class Session:
    def __init__(self, loop, user):
        self.loop = loop
        self.chan, far = socket.socketpair()
        self.chan.setblocking(False)
        threading.Thread(target=fake_shell, args=(far, user), daemon=True).start()
        self.fd = self.chan.fileno()
        counter[0] += 1
        self.id = str(counter[0])
        self.data_to_dst = []
        self.handler = None
        self.mode = IOLoop.READ

    def __call__(self, fd, events):
        if events & IOLoop.READ:
            self.on_read()
        if events & IOLoop.WRITE:
            self.on_write()

    def set_mode(self, mode):
        if self.mode != mode:
            self.loop.update_handler(self.fd, mode)
            self.mode = mode

    def on_read(self):
        try:
            data = self.chan.recv(1024)
        except OSError as e:
            if errno_from_exception(e) in _ERRNO_CONNRESET:
                self.close(reason="chan error on reading")
            return
        if not data:
            self.close(reason="chan closed")
            return
        try:
            self.handler.write_message(data)
        except tornado.websocket.WebSocketClosedError:
            self.close(reason="websocket closed")

    def on_write(self):
        if not self.data_to_dst:
            return
        data = "".join(self.data_to_dst).encode()
        self.data_to_dst = []
        sent = self.chan.send(data)
        if data[sent:]:
            self.data_to_dst.append(data[sent:].decode())
            self.set_mode(IOLoop.WRITE)
        else:
            self.set_mode(IOLoop.READ)

    def close(self, reason=None):
        logging.info("closing session %s: %s", self.id, reason)
        if self.handler:
            self.loop.remove_handler(self.fd)
            self.handler.close()
        self.chan.close()


class MixinHandler:
    html = "<html><head><title>{code} {reason}</title></head><body>{code} {reason}</body></html>"

    def initialize(self, loop=None):
        self.loop = loop
        context = self.request.connection.context
        host = self.request.host_name
        self._transforms = []  # finishing before Tornado set them (it iterates them)
        if host == "blocked.example":
            self.set_status(403)
            self.finish(self.html.format(code=self._status_code, reason=self._reason))
        elif host == "old.example" and context._orig_protocol == "http":
            url = "https://%s:%d%s" % (host, options.sslport, self.request.uri)
            self.redirect(url, permanent=True)
        else:
            self.context = context

    def set_default_headers(self):
        self.set_header("Server", "TornadoServer")

    def get_value(self, name):
        value = self.get_argument(name)
        if not value:
            raise ValueError("Missing value %s" % name)
        return value


class IndexHandler(MixinHandler, tornado.web.RequestHandler):
    executor = ThreadPoolExecutor(max_workers=2)

    def initialize(self, loop):
        super().initialize(loop)
        self.result = dict(id=None, status=None, encoding=None)

    def write_error(self, status_code, **kwargs):
        if self.request.method == "POST":
            exc_info = kwargs.get("exc_info")
            if exc_info:
                reason = getattr(exc_info[1], "log_message", None)
                if reason:
                    self._reason = reason
            self.result.update(status=self._reason)
            self.set_status(200)
            self.finish(self.result)
        else:
            super().write_error(status_code, **kwargs)

    def get(self):
        self.write("shell bridge at %s" % self.context.address[0])

    def open_session(self, user):
        return Session(self.loop, user)

    @tornado.gen.coroutine
    def post(self):
        user = self.get_value("user")
        if user == "root":
            raise tornado.web.HTTPError(403, "root may not log in")
        future = self.executor.submit(self.open_session, user)
        session = yield future
        sessions[session.id] = session
        self.result.update(id=session.id, encoding="utf-8")
        self.write(self.result)


class ShellSocket(MixinHandler, tornado.websocket.WebSocketHandler):
    def initialize(self, loop):
        super().initialize(loop)
        self.session = None

    def open(self):
        try:
            session_id = self.get_value("id")
        except (tornado.web.MissingArgumentError, ValueError) as exc:
            self.close(reason=str(exc))
            return
        session = sessions.pop(session_id, None)
        if session is None:
            self.close(reason="Websocket authentication failed.")
            return
        self.set_nodelay(True)
        session.handler = self
        self.session = session
        self.loop.add_handler(session.fd, session, IOLoop.READ)

    def on_message(self, message):
        try:
            msg = json.loads(message)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        data = msg.get("data")
        if data:
            self.session.data_to_dst.append(data)
            self.session.on_write()

    def on_close(self):
        if not self.close_reason:
            self.close_reason = "client disconnected"
        if self.session and self.session.handler:
            self.session.handler = None
            self.loop.remove_handler(self.session.fd)
            self.session.chan.close()


def main():
    options.parse_command_line()
    loop = tornado.ioloop.IOLoop.current()
    app = tornado.web.Application(
        [(r"/", IndexHandler, dict(loop=loop)), (r"/ws", ShellSocket, dict(loop=loop))],
        xsrf_cookies=False,
    )
    app.listen(options.port, "127.0.0.1", max_body_size=65536)
    sys.stdout.write("Listening on port %d\n" % options.port)
    sys.stdout.flush()
    loop.start()


if __name__ == "__main__":
    main()
