"""The chat room's own tests, as a Tornado 4-6 project writes them: AsyncHTTPTestCase, fetch,
gen_test with yield, websocket_connect. Run unchanged by ``run -m pytest`` / ``run -m unittest``
(tests/test_legacy_apps.py), and on real Tornado."""

import json
import unittest

import chat_room
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.websocket import websocket_connect


class ChatRoomTest(AsyncHTTPTestCase):
    def get_app(self):
        return chat_room.make_app()

    def test_page_counts_nobody(self):
        response = self.fetch("/")
        self.assertEqual(response.code, 200)
        self.assertEqual(response.body, b"Room lobby: 0 online")

    @gen_test
    def test_messages_reach_everyone(self):
        url = "ws://127.0.0.1:%d/chatsocket" % self.get_http_port()
        first = yield websocket_connect(url)
        second = yield websocket_connect(url)
        first.write_message(json.dumps({"body": "<hello>"}))
        for conn in (first, second):
            message = yield conn.read_message()
            chat = json.loads(message)
            self.assertEqual(chat["body"], "<hello>")
            self.assertEqual(chat["html"], "&lt;hello&gt;")
        for conn in (first, second):
            conn.close()
            closed = yield conn.read_message()  # None once the closing handshake is done
            self.assertIsNone(closed)

    def test_missing_page(self):
        response = self.fetch("/nowhere")
        self.assertEqual(response.code, 404)


if __name__ == "__main__":
    unittest.main()
