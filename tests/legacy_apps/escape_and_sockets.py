"""A notes board: ``tornado.escape`` in page output, ``bind_sockets(0)`` + ``add_sockets``,
``get_argument``, JSON bodies and a socket that echoes notes as JSON."""

import tornado.escape
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web
import tornado.websocket

NOTES = []


class NotesHandler(tornado.web.RequestHandler):
    def get(self):
        query = self.get_argument("q", "")
        shown = [n for n in NOTES if query in n]
        self.write(
            "<ul>%s</ul>" % "".join("<li>%s</li>" % tornado.escape.linkify(n) for n in shown)
        )

    def post(self):
        body = tornado.escape.json_decode(self.request.body)
        NOTES.append(tornado.escape.to_basestring(body["note"]))
        self.set_status(201)
        self.write(
            {"count": len(NOTES), "url": "/notes?q=" + tornado.escape.url_escape(body["note"])}
        )


class NotesSocket(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        NOTES.append(message)
        self.write_message(
            tornado.escape.json_encode(
                {"note": message, "escaped": tornado.escape.xhtml_escape(message)}
            )
        )


if __name__ == "__main__":
    application = tornado.web.Application(
        [(r"/notes", NotesHandler), (r"/notes/socket", NotesSocket)]
    )
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(application)
    server.add_sockets(sockets)
    print("Listening on port %d" % sockets[0].getsockname()[1])
    tornado.ioloop.IOLoop.current().start()
