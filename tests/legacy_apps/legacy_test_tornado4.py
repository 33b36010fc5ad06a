"""The feed's own tests as Tornado 4.x tests were written: io_loop=self.io_loop everywhere,
self.stop / self.wait with callbacks, gen.Task, gen_test with yield. Tornado 6.6.1 cannot
run them (io_loop= went in 5.0, gen.Task in 6.0); here they pass unchanged."""

import datetime
import unittest

import tornado4_feed
from tornado import gen
from tornado.concurrent import Future
from tornado.httpclient import AsyncHTTPClient
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.websocket import websocket_connect


class FeedTest(AsyncHTTPTestCase):
    def get_app(self):
        return tornado4_feed.make_app()

    def feed_url(self):
        return "ws://127.0.0.1:%d/feed" % self.get_http_port()

    @gen_test
    def test_echo(self):
        ws = yield websocket_connect(self.feed_url(), io_loop=self.io_loop)
        ws.write_message("hi")
        response = yield ws.read_message()
        self.assertEqual(response, "echo hi")
        ws.close()

    def test_echo_with_callbacks(self):
        websocket_connect(self.feed_url(), io_loop=self.io_loop, callback=self.stop)
        ws = self.wait().result()
        ws.write_message("there")
        ws.read_message(self.stop)
        self.assertEqual(self.wait().result(), "echo there")
        ws.close()

    def test_page_made_of_tasks(self):
        self.http_client.fetch(self.get_url("/count"), self.stop)
        response = self.wait()
        self.assertEqual(response.body, b"count 0, a,b")

    def test_shared_client_of_the_loop(self):
        client = AsyncHTTPClient(self.io_loop)
        self.assertIs(client, self.http_client)
        client.fetch(self.get_url("/nowhere"), self.stop)
        self.assertEqual(self.wait().code, 404)

    @gen_test
    def test_periodic_push(self):
        ws = yield websocket_connect(self.feed_url(), io_loop=self.io_loop)
        feeder = tornado4_feed.Feeder(self.io_loop)
        feeder.periodic.start()
        first = yield ws.read_message()
        second = yield ws.read_message()
        feeder.periodic.stop()
        self.assertEqual([first, second], ["push 1", "push 2"])
        ws.close()

    @gen_test
    def test_sleep_with_a_task(self):
        start = self.io_loop.time()
        yield gen.Task(self.io_loop.add_timeout, datetime.timedelta(seconds=0.02))
        self.assertGreaterEqual(self.io_loop.time() - start, 0.015)

    @gen_test
    def test_with_timeout_given_the_loop(self):
        with self.assertRaises(gen.TimeoutError):
            yield gen.with_timeout(datetime.timedelta(seconds=0.02), Future(), self.io_loop)


if __name__ == "__main__":
    unittest.main()
