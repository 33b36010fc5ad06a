"""A job runner: a worker thread reports progress through ``IOLoop.add_callback`` (the way
Tornado documents for threads), and the result page is computed in an executor."""

import sys
import threading

import tornado.ioloop
import tornado.web
import tornado.websocket
from tornado.options import define, options, parse_command_line

define("port", default=8000, type=int)


class JobSocket(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        count = int(message)
        loop = tornado.ioloop.IOLoop.current()

        def work():
            total = 0
            for step in range(1, count + 1):
                total += step
                loop.add_callback(self.write_message, "step %d/%d" % (step, count))
            loop.add_callback(self.write_message, {"done": True, "total": total})

        threading.Thread(target=work, daemon=True).start()


class SquareHandler(tornado.web.RequestHandler):
    async def get(self, number):
        loop = tornado.ioloop.IOLoop.current()
        result = await loop.run_in_executor(None, pow, int(number), 2)
        self.write("%s squared is %d" % (number, result))


if __name__ == "__main__":
    parse_command_line()
    app = tornado.web.Application([(r"/job", JobSocket), (r"/square/(\d+)", SquareHandler)])
    app.listen(options.port, address="127.0.0.1")
    sys.stdout.write("Listening on port %d\n" % options.port)
    tornado.ioloop.IOLoop.current().start()
