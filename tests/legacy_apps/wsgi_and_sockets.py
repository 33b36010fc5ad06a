"""A WSGI site with live updates bolted on, the commonest Flask-era layout: the WebSocket route
first, then every other path handed to the WSGI application through ``FallbackHandler`` and
``WSGIContainer``; the site pushes to the sockets from its views (``IOLoop.add_callback``,
since a view may run in the container's executor thread)."""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from tornado.ioloop import IOLoop
from tornado.web import Application, FallbackHandler
from tornado.websocket import WebSocketHandler
from tornado.wsgi import WSGIContainer

listeners = set()
notes = []
loop = None


def push(event):
    for listener in list(listeners):
        listener.write_message(event)


def site(environ, start_response):
    """The "Flask app": a page, a JSON API and a form, written against bare WSGI."""
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if path == "/":
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [("<h1>Notes</h1><p>%d notes</p>" % len(notes)).encode()]
    if path == "/api/notes" and method == "GET":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(notes).encode()]
    if path == "/api/notes" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(length).decode())
        note = form.get("text", [""])[0]
        if not note:
            start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
            return [b'{"error": "text is required"}']
        notes.append(note)
        loop.add_callback(push, {"new": note, "count": len(notes)})
        start_response(
            "201 CREATED",
            [("Content-Type", "application/json"), ("Location", "/api/notes/%d" % len(notes))],
        )
        return [json.dumps({"id": len(notes)}).encode()]
    start_response("404 NOT FOUND", [("Content-Type", "text/plain")])
    return [b"Not Found: " + path.encode()]


class LiveSocket(WebSocketHandler):
    def open(self):
        listeners.add(self)
        self.write_message({"hello": len(notes)})

    def on_message(self, message):
        self.write_message({"echo": message, "via": self.request.path})

    def on_close(self):
        listeners.discard(self)


if __name__ == "__main__":
    loop = IOLoop.current()
    container = WSGIContainer(site, executor=ThreadPoolExecutor(2))
    app = Application([(r"/live", LiveSocket), (r".*", FallbackHandler, dict(fallback=container))])
    app.listen(int(sys.argv[1]), "127.0.0.1")
    print("Listening on port %s" % sys.argv[1], flush=True)
    loop.start()
