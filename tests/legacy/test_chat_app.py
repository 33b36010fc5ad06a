"""A legacy application's own test module, as such apps ship it (Tornado 4-6 era).

It uses only ``tornado.testing``, ``tornado.web``, ``tornado.websocket`` and
``tornado.httpclient`` as Tornado documents them: ``AsyncHTTPTestCase`` with ``get_app``,
``self.fetch``, ``@gen_test`` coroutines opening ``websocket_connect(url)`` and generator tests
yielding futures, ``ExpectLog``, and the older ``self.stop``/``self.wait`` style. It imports
this project's modules, or real Tornado's when ``LEGACY_TORNADO=real`` (so that
``tests/test_testing.py`` runs it on both, under pytest and under unittest). Nothing in it
knows which one it runs on.
"""

import json
import logging
import os
import unittest

if os.environ.get("LEGACY_TORNADO") == "real":
    from tornado import gen, httpclient, testing, web, websocket
else:
    from tornado_ws_compat import gen, httpclient, testing, web, websocket


class ChatSocket(websocket.WebSocketHandler):
    clients = set()

    def open(self):
        ChatSocket.clients.add(self)
        self.write_message(json.dumps({"joined": len(ChatSocket.clients)}))

    def on_message(self, message):
        if message == "boom":
            raise ValueError("boom")
        for client in ChatSocket.clients:
            client.write_message(json.dumps({"said": message}))

    def on_close(self):
        ChatSocket.clients.discard(self)


class MainPage(web.RequestHandler):
    def get(self):
        self.write("chat room, %d online" % len(ChatSocket.clients))  # noqa: UP031 (legacy)

    def post(self):
        self.set_status(201)
        self.write({"echo": self.get_argument("text")})


class Broken(web.RequestHandler):
    def get(self):
        raise RuntimeError("broken page")


def make_app():
    return web.Application([(r"/", MainPage), (r"/chat", ChatSocket), (r"/broken", Broken)])


class ChatAppTest(testing.AsyncHTTPTestCase):
    def get_app(self):
        return make_app()

    def ws_url(self, path):
        return self.get_url(path).replace("http://", "ws://")

    def test_home_page(self):
        response = self.fetch("/")
        self.assertEqual(response.code, 200)
        self.assertEqual(response.body, b"chat room, 0 online")

    def test_post_form(self):
        response = self.fetch("/", method="POST", body="text=hello")
        self.assertEqual(response.code, 201)
        self.assertEqual(json.loads(response.body), {"echo": "hello"})

    def test_missing_page_is_a_response(self):
        response = self.fetch("/nowhere")
        self.assertEqual(response.code, 404)

    def test_raise_error(self):
        with self.assertRaises(httpclient.HTTPClientError) as caught:
            self.fetch("/nowhere", raise_error=True)
        self.assertEqual(caught.exception.code, 404)

    def test_server_error_is_logged(self):
        with testing.ExpectLog("tornado.application", "Uncaught exception", level=logging.ERROR):
            response = self.fetch("/broken")
        self.assertEqual(response.code, 500)

    def test_full_url(self):
        response = self.fetch(self.get_url("/"))
        self.assertEqual(response.effective_url, self.get_url("/"))
        self.assertTrue(self.get_url("/x").startswith("http://127.0.0.1:"))
        expected = "http://127.0.0.1:%d/x" % self.get_http_port()  # noqa: UP031 (legacy)
        self.assertEqual(self.get_url("/x"), expected)

    @testing.gen_test
    async def test_chat_broadcast(self):
        first = await websocket.websocket_connect(self.ws_url("/chat"))
        self.assertEqual(json.loads(await first.read_message()), {"joined": 1})
        second = await websocket.websocket_connect(self.ws_url("/chat"))
        self.assertEqual(json.loads(await second.read_message()), {"joined": 2})
        first.write_message("hi all")
        self.assertEqual(json.loads(await first.read_message()), {"said": "hi all"})
        self.assertEqual(json.loads(await second.read_message()), {"said": "hi all"})
        response = await self.http_client.fetch(self.get_url("/"))
        self.assertEqual(response.body, b"chat room, 2 online")
        second.close()
        first.close()

    @testing.gen_test(timeout=10)
    async def test_handler_error_closes_the_socket(self):
        with testing.ExpectLog("tornado.application", "Uncaught exception", level=logging.ERROR):
            conn = await websocket.websocket_connect(self.ws_url("/chat"))
            await conn.read_message()
            conn.write_message("boom")
            self.assertIsNone(await conn.read_message())
        self.assertIsNone(conn.close_code)  # Tornado drops the connection without a frame
        conn.close()

    @testing.gen_test
    def test_generator_style(self):
        # Tornado 3-5: a generator test yields futures (gen.coroutine underneath).
        first, second = yield [
            self.http_client.fetch(self.get_url("/")),
            self.http_client.fetch(self.get_url("/"), method="POST", body="text=x"),
        ]
        yield gen.sleep(0)
        self.assertEqual((first.code, second.code), (200, 201))

    def test_callback_style(self):
        # The pre-coroutine style: a callback calls self.stop, self.wait returns its value.
        self.io_loop.add_callback(self.stop, "done")
        self.assertEqual(self.wait(), "done")
        future = self.http_client.fetch(self.get_url("/"))
        future.add_done_callback(lambda f: self.stop(f.result().code))
        self.assertEqual(self.wait(), 200)

    def test_websocket_still_closing(self):
        # The test ends while the closing handshake is under way: tearDown must end cleanly.
        conn = self.io_loop.run_sync(lambda: websocket.websocket_connect(self.ws_url("/chat")))
        self.assertEqual(json.loads(self.io_loop.run_sync(conn.read_message)), {"joined": 1})
        conn.close()


class PlainAsyncTest(testing.AsyncTestCase):
    @testing.gen_test
    async def test_io_loop_is_running(self):
        self.assertIs(self.io_loop, self.io_loop.current())

    def test_wait_with_condition(self):
        counter = []

        def tick():
            counter.append(1)
            self.stop()
            if len(counter) < 3:
                self.io_loop.add_callback(tick)

        self.io_loop.add_callback(tick)
        self.wait(condition=lambda: len(counter) >= 3)
        self.assertEqual(len(counter), 3)

    def test_bind_unused_port(self):
        sock, port = testing.bind_unused_port()
        self.assertEqual(sock.getsockname(), ("127.0.0.1", port))
        sock.close()


def all():
    return unittest.defaultTestLoader.loadTestsFromName(__name__)


if __name__ == "__main__":
    testing.main()
