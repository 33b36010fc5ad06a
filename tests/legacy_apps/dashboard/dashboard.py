#!/usr/bin/env python
"""A live metrics dashboard in the manner of Tornado 4-6 era apps: an Application subclass with
template and static paths, xsrf and a login cookie, UI modules, a templated error page, a JSON
API that pushes to the boards' sockets, a socket per board (its name from the URL) gated on the
logged-in user, and a resolver chosen at start-up."""

import json
import logging
import os.path

import tornado.escape
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.options
import tornado.web
import tornado.websocket
from tornado.options import define, options

define("port", default=8888, help="run on the given port", type=int)
define("secret", default="dashboard-secret", help="cookie secret")
define("boards", default=["ops"], multiple=True, help="boards that exist at start")

BOARDS = {}


class MetricModule(tornado.web.UIModule):
    def render(self, name, value):
        return self.render_string("metric.html", name=name, value=value)


class BaseHandler(tornado.web.RequestHandler):
    def get_current_user(self):
        user = self.get_secure_cookie("user")
        return tornado.escape.to_unicode(user) if user else None

    def board(self, name):
        if name not in BOARDS:
            raise tornado.web.HTTPError(404, "no board %s" % name)
        return BOARDS[name]

    def write_error(self, status_code, **kwargs):
        message = self._reason
        if "exc_info" in kwargs and isinstance(kwargs["exc_info"][1], tornado.web.HTTPError):
            message = kwargs["exc_info"][1].log_message or message
        self.render("error.html", code=status_code, message=message)


class LoginHandler(BaseHandler):
    def get(self):
        self.render("login.html", next=self.get_argument("next", "/"))

    def post(self):
        name = self.get_argument("name").strip()
        if not name:
            raise tornado.web.HTTPError(400, "empty name")
        self.set_secure_cookie("user", name)
        self.redirect(self.get_argument("next", "/"))


class BoardHandler(BaseHandler):
    @tornado.web.authenticated
    def get(self, name="ops"):
        metrics = self.board(name)
        watchers = len(MetricsSocket.watchers.get(name, ()))
        self.render("index.html", board=name, metrics=metrics, watchers=watchers)


class ApiHandler(BaseHandler):
    def check_xsrf_cookie(self):
        pass  # machines post here without a browser's cookie

    def get(self, name):
        self.write(self.board(name))

    def post(self, name):
        try:
            update = json.loads(self.request.body)
        except ValueError:
            raise tornado.web.HTTPError(400, "not JSON")
        metrics = BOARDS.setdefault(name, {})
        metrics.update(update)
        sent = MetricsSocket.push(name, {"board": name, "update": update})
        self.set_status(202)
        self.finish({"sent": sent, "metrics": len(metrics)})


class MetricsSocket(tornado.websocket.WebSocketHandler):
    watchers = {}

    def get_current_user(self):
        return BaseHandler.get_current_user(self)

    def open(self, name):
        if self.current_user is None:
            self.close(4001, "log in first")
            return
        if name not in BOARDS:
            self.close(4004, "no board %s" % name)
            return
        self.name = name
        MetricsSocket.watchers.setdefault(name, set()).add(self)
        self.write_message({"board": name, "metrics": BOARDS[name], "user": self.current_user})

    def on_message(self, message):
        try:
            update = tornado.escape.json_decode(message)
        except ValueError:
            self.write_message({"error": "not JSON"})
            return
        BOARDS[self.name].update(update)
        change = {"board": self.name, "update": update, "by": self.current_user}
        MetricsSocket.push(self.name, change)

    def on_close(self):
        if hasattr(self, "name"):
            MetricsSocket.watchers[self.name].discard(self)

    @classmethod
    def push(cls, name, message):
        sent = 0
        for socket in list(cls.watchers.get(name, ())):
            if socket.ws_connection is None or socket.ws_connection.stream.closed():
                logging.info("skipping a closed socket")
                continue
            socket.write_message(message)
            sent += 1
        return sent


class Application(tornado.web.Application):
    def __init__(self):
        for name in options.boards:
            BOARDS.setdefault(name, {})
        handlers = [
            (r"/", BoardHandler),
            (r"/board/([a-z]+)", BoardHandler),
            (r"/login", LoginHandler),
            (r"/api/([a-z]+)", ApiHandler),
            (r"/socket/([a-z]+)", MetricsSocket),
        ]
        settings = dict(
            template_path=os.path.join(os.path.dirname(__file__), "templates"),
            static_path=os.path.join(os.path.dirname(__file__), "static"),
            cookie_secret=options.secret,
            xsrf_cookies=True,
            login_url="/login",
            ui_modules={"Metric": MetricModule},
        )
        super(Application, self).__init__(handlers, **settings)


def main():
    tornado.options.parse_command_line()
    tornado.netutil.Resolver.configure("tornado.netutil.ThreadedResolver", num_threads=2)
    server = tornado.httpserver.HTTPServer(Application())
    server.listen(options.port, address="127.0.0.1")
    print("Listening on port %d" % options.port)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
