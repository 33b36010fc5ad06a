"""A Tornado 2-era pusher: a worker thread calls ``write_message`` directly. Tornado 6.6.1
does not allow that from another thread; tornado_ws_compat hands the call to the loop."""

import sys
import threading

import tornado.ioloop
import tornado.web
import tornado.websocket


class FeedSocket(tornado.websocket.WebSocketHandler):
    def open(self):
        self.thread = threading.Thread(target=self.feed)
        self.thread.start()

    def feed(self):
        for i in range(1, 101):
            self.write_message("item %d" % i)
        self.write_message("end of feed")

    def on_message(self, message):
        if message == "bye":
            self.close(4001, "finished")


if __name__ == "__main__":
    app = tornado.web.Application([(r"/feed", FeedSocket)])
    app.listen(int(sys.argv[1]), "127.0.0.1")
    print("Listening on port %s" % sys.argv[1])
    tornado.ioloop.IOLoop.instance().start()
