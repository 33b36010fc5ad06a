"""The echo handler of the legacy Tornado documentation, served by tornado_ws_compat.

The handler class is the seed's, unchanged but for Python 3's ``print``; only the import line
differs from a Tornado program. Run ``python examples/echo.py [--port 8888]`` and open
http://localhost:8888/ : the page's script (the seed's) says "You said: Hello, world".
"""

import argparse
import sys

from tornado_ws_compat import ioloop, web, websocket


class EchoWebSocket(websocket.WebSocketHandler):
    def open(self):
        print("WebSocket opened")

    def on_message(self, message):
        self.write_message("You said: " + message)

    def on_close(self):
        print("WebSocket closed")


PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>Echo</title></head>
<body>
<p>Messages from the server:</p>
<ul id="log"></ul>
<script>
var ws = new WebSocket("ws://" + location.host + "/websocket");
ws.onopen = function() {
   ws.send("Hello, world");
};
ws.onmessage = function (evt) {
   var item = document.createElement("li");
   item.textContent = evt.data;
   document.getElementById("log").appendChild(item);
};
</script>
</body>
</html>
"""


class IndexHandler(web.RequestHandler):
    def get(self):
        self.write(PAGE)


def make_app():
    return web.Application([(r"/", IndexHandler), (r"/websocket", EchoWebSocket)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888, help="0 picks a free port")
    parser.add_argument("--address", default="", help="interface to bind (default: all)")
    args = parser.parse_args()
    # One line and an exit status, not a traceback (as ``python -m tornado_ws_compat serve``):
    # 2 for a bad argument, 1 when the port cannot be bound (in use, no permission).
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be between 0 and 65535, got {args.port}", file=sys.stderr)
        sys.exit(2)
    try:
        server = make_app().listen(args.port, args.address)
    except OSError as exc:
        print(f"error: cannot listen on {args.address or '*'}:{args.port}: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"Echo server listening on http://localhost:{server.port}/", flush=True)
    try:
        ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
