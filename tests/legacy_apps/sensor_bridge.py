"""An IoT bridge: sensors connect over raw TCP and speak a line protocol to a
``tcpserver.TCPServer`` (``gen.coroutine`` handle_stream, ``read_until`` with ``max_bytes``,
``StreamClosedError``), and every reading is relayed to the browsers' WebSockets; a browser's
command goes back down to the sensor it names. The status page tells where sensors connect."""

import json
import sys

import tornado.gen
import tornado.ioloop
import tornado.netutil
import tornado.tcpserver
import tornado.web
import tornado.websocket
from tornado.iostream import StreamClosedError
from tornado.options import define, options, parse_command_line

define("port", default=8080, type=int)
define("max_line", default=64, type=int)

sensors = {}  # name -> stream
browsers = set()


def broadcast(event):
    for browser in list(browsers):
        try:
            browser.write_message(event)
        except tornado.websocket.WebSocketClosedError:
            browsers.discard(browser)


class SensorServer(tornado.tcpserver.TCPServer):
    @tornado.gen.coroutine
    def handle_stream(self, stream, address):
        name = None
        try:
            hello = yield stream.read_until(b"\n", max_bytes=options.max_line)
            name = hello.decode().strip()
            sensors[name] = stream
            broadcast({"joined": name})
            yield stream.write(b"OK " + name.encode() + b"\n")
            while True:
                line = yield stream.read_until(b"\n", max_bytes=options.max_line)
                key, _, value = line.decode().strip().partition("=")
                broadcast({"sensor": name, key: float(value)})
        except StreamClosedError as exc:
            reason = type(exc.real_error).__name__ if exc.real_error else "hung up"
            if name is not None:
                sensors.pop(name, None)
                broadcast({"left": name, "why": reason})


class Dashboard(tornado.websocket.WebSocketHandler):
    def open(self):
        browsers.add(self)
        self.write_message({"sensors": sorted(sensors)})

    @tornado.gen.coroutine
    def on_message(self, message):
        command = json.loads(message)
        stream = sensors.get(command.get("to"))
        if stream is None:
            self.write_message({"error": "no sensor %s" % command.get("to")})
            return
        yield stream.write((command["say"] + "\n").encode())
        self.write_message({"sent": command["say"], "to": command["to"]})

    def on_close(self):
        browsers.discard(self)


class Status(tornado.web.RequestHandler):
    def get(self):
        self.write({"sensor_port": self.settings["sensor_port"], "sensors": sorted(sensors)})


if __name__ == "__main__":
    parse_command_line()
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    SensorServer().add_sockets(sockets)
    app = tornado.web.Application(
        [(r"/status", Status), (r"/live", Dashboard)], sensor_port=sockets[0].getsockname()[1]
    )
    app.listen(options.port, "127.0.0.1")
    print("Listening on port %d" % options.port)
    sys.stdout.flush()
    tornado.ioloop.IOLoop.current().start()
