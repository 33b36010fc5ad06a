"""Handlers written with ``gen.coroutine`` as in Tornado 3-5: yielded futures, lists and dicts,
``gen.Return``, ``gen.sleep`` and ``gen.moment``; the port comes from sys.argv."""

import sys

from tornado import gen, ioloop, web, websocket


@gen.coroutine
def times_ten(n):
    yield gen.moment
    raise gen.Return(n * 10)


class SumHandler(web.RequestHandler):
    @gen.coroutine
    def get(self):
        yield gen.sleep(0.01)
        a, b = yield [times_ten(1), times_ten(2)]
        named = yield {"x": times_ten(3), "y": times_ten(4)}
        self.write({"sum": a + b, "x": named["x"], "y": named["y"]})


class ShoutSocket(websocket.WebSocketHandler):
    @gen.coroutine
    def open(self):
        yield gen.sleep(0.005)
        self.write_message("opened")

    @gen.coroutine
    def on_message(self, message):
        # Earlier messages wait longer: answers stay in order only if each on_message
        # finishes before the next starts (Tornado 4.5+).
        yield gen.sleep(0.02 if message == "first" else 0.001)
        shouted = yield self.shout(message)
        self.write_message(shouted)

    @gen.coroutine
    def shout(self, message):
        yield gen.moment
        raise gen.Return(message.upper() + "!")


def make_app():
    return web.Application([(r"/sum", SumHandler), (r"/shout", ShoutSocket)])


if __name__ == "__main__":
    port = int(sys.argv[1])
    make_app().listen(port, address="127.0.0.1")
    print("Listening on port %d" % port)
    ioloop.IOLoop.instance().start()
