"""A pre-6 page: ``@tornado.web.asynchronous`` keeps the request open until ``finish()``,
called later from an IOLoop timeout (Tornado 6.0 removed the decorator)."""

import sys
import time

import tornado.ioloop
import tornado.web


class SlowPage(tornado.web.RequestHandler):
    @tornado.web.asynchronous
    def get(self):
        self.write("started; ")
        tornado.ioloop.IOLoop.instance().add_timeout(time.time() + 0.01, self.step, 1)

    def step(self, n):
        self.write("step %d; " % n)
        if n < 3:
            tornado.ioloop.IOLoop.instance().add_timeout(time.time() + 0.01, self.step, n + 1)
        else:
            self.finish("finished")


class QuickPage(tornado.web.RequestHandler):
    def get(self):
        self.write("quick")


if __name__ == "__main__":
    app = tornado.web.Application([(r"/slow", SlowPage), (r"/quick", QuickPage)])
    app.listen(int(sys.argv[1]), "127.0.0.1")
    print("Listening on port %s" % sys.argv[1])
    tornado.ioloop.IOLoop.instance().start()
