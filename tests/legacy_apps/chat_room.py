#!/usr/bin/env python
"""A chat room in the manner of Tornado 3-4 era demos: options, HTTPServer, a class-level set
of sockets that every message is broadcast to, and a cache replayed to newcomers."""

import logging

import tornado.escape
import tornado.httpserver
import tornado.ioloop
import tornado.options
import tornado.web
import tornado.websocket
from tornado.options import define, options

define("port", default=8888, help="run on the given port", type=int)
define("room", default="lobby", help="name of the room")


class MainHandler(tornado.web.RequestHandler):
    def get(self):
        self.write("Room %s: %d online" % (options.room, len(ChatSocketHandler.waiters)))


class ChatSocketHandler(tornado.websocket.WebSocketHandler):
    waiters = set()
    cache = []
    cache_size = 3

    def open(self):
        ChatSocketHandler.waiters.add(self)
        for chat in ChatSocketHandler.cache:
            self.write_message(chat)

    def on_close(self):
        ChatSocketHandler.waiters.remove(self)

    @classmethod
    def update_cache(cls, chat):
        cls.cache.append(chat)
        if len(cls.cache) > cls.cache_size:
            cls.cache = cls.cache[-cls.cache_size :]

    @classmethod
    def send_updates(cls, chat):
        logging.info("sending message to %d waiters", len(cls.waiters))
        for waiter in cls.waiters:
            try:
                waiter.write_message(chat)
            except Exception:
                logging.error("Error sending message", exc_info=True)

    def on_message(self, message):
        parsed = tornado.escape.json_decode(message)
        chat = {
            "id": len(ChatSocketHandler.cache) + 1,
            "body": parsed["body"],
            "html": tornado.escape.xhtml_escape(parsed["body"]),
        }
        ChatSocketHandler.update_cache(chat)
        ChatSocketHandler.send_updates(chat)


def make_app():
    return tornado.web.Application([(r"/", MainHandler), (r"/chatsocket", ChatSocketHandler)])


def main():
    tornado.options.parse_command_line()
    http_server = tornado.httpserver.HTTPServer(make_app())
    http_server.listen(options.port, "127.0.0.1")
    print("Listening on port %d" % options.port)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
