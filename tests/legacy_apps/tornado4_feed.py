#!/usr/bin/env python
"""A feed server as Tornado 4.x programs were written: IOLoop.instance(), io_loop= passed
around (HTTPServer, PeriodicCallback), gen.Task over callback-style functions, a coroutine
page that sleeps with gen.Task(add_timeout). Tornado 5 dropped io_loop=, Tornado 6 gen.Task;
the program's own tests are legacy_test_tornado4.py."""

import sys
import time

import tornado.gen
import tornado.httpserver
import tornado.ioloop
import tornado.web
import tornado.websocket


class FeedSocket(tornado.websocket.WebSocketHandler):
    subscribers = set()

    def open(self):
        FeedSocket.subscribers.add(self)

    def on_message(self, message):
        self.write_message("echo " + message)

    def on_close(self):
        FeedSocket.subscribers.discard(self)


def count_later(callback):
    tornado.ioloop.IOLoop.current().add_callback(callback, len(FeedSocket.subscribers))


def two_results(callback):
    tornado.ioloop.IOLoop.current().add_callback(callback, "a", "b")


class CountHandler(tornado.web.RequestHandler):
    @tornado.gen.coroutine
    def get(self):
        loop = tornado.ioloop.IOLoop.current()
        yield tornado.gen.Task(loop.add_timeout, time.time() + 0.01)
        count = yield tornado.gen.Task(count_later)
        pair = yield tornado.gen.Task(two_results)
        self.write("count %d, %s" % (count, ",".join(pair.args)))


class Feeder(object):
    def __init__(self, io_loop):
        self.sent = 0
        self.periodic = tornado.ioloop.PeriodicCallback(self.push, 20, io_loop=io_loop)

    def push(self):
        self.sent += 1
        for socket in list(FeedSocket.subscribers):
            socket.write_message("push %d" % self.sent)


def make_app():
    return tornado.web.Application([(r"/feed", FeedSocket), (r"/count", CountHandler)])


def main():
    io_loop = tornado.ioloop.IOLoop.instance()
    server = tornado.httpserver.HTTPServer(make_app(), io_loop=io_loop)
    server.listen(int(sys.argv[1]), "127.0.0.1")
    Feeder(io_loop).periodic.start()
    print("Listening on port %s" % sys.argv[1])
    sys.stdout.flush()
    io_loop.start()


if __name__ == "__main__":
    main()
