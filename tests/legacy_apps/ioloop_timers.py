"""A ticker in the manner of Tornado 2-4 dashboards: ``IOLoop.instance().add_callback``,
``add_timeout`` with a ``timedelta`` and with a deadline, ``PeriodicCallback``."""

import datetime
import sys
import time

import tornado.ioloop
import tornado.web
import tornado.websocket


class TickSocket(tornado.websocket.WebSocketHandler):
    clients = set()

    def open(self):
        TickSocket.clients.add(self)
        self.ticks = 0
        loop = tornado.ioloop.IOLoop.instance()
        loop.add_callback(self.write_message, "welcome %d" % len(TickSocket.clients))
        self.periodic = tornado.ioloop.PeriodicCallback(self.tick, 10)
        self.periodic.start()

    def tick(self):
        self.ticks += 1
        self.write_message("tick %d" % self.ticks)
        if self.ticks == 3:
            self.periodic.stop()
            loop = tornado.ioloop.IOLoop.instance()
            loop.add_timeout(datetime.timedelta(milliseconds=5), self.later, "timedelta")

    def later(self, label):
        self.write_message("after %s" % label)
        if label == "timedelta":
            tornado.ioloop.IOLoop.instance().add_timeout(
                time.time() + 0.005, self.later, "deadline"
            )

    def on_message(self, message):
        for client in TickSocket.clients:
            client.write_message(
                "%s says %s" % (id(self) == id(client) and "you" or "someone", message)
            )

    def on_close(self):
        self.periodic.stop()
        TickSocket.clients.discard(self)


if __name__ == "__main__":
    application = tornado.web.Application([(r"/ticks", TickSocket)])
    application.listen(int(sys.argv[1]), "127.0.0.1")
    print("Listening on port %s" % sys.argv[1])
    tornado.ioloop.IOLoop.instance().start()
