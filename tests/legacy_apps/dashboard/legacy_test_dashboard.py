"""The dashboard's own tests, as Tornado 4-6 projects write them: AsyncHTTPTestCase with
fetch, signed cookies made with create_signed_value, gen_test (generator and native),
websocket_connect with an HTTPRequest carrying the cookie, and a mock patched on the socket
class to see what a push writes. Run unchanged by ``run -m pytest`` / ``run -m unittest``
(tests/test_legacy_apps.py), and on real Tornado."""

import json
import unittest
from unittest import mock

import dashboard
from tornado.escape import json_decode
from tornado.httpclient import HTTPRequest
from tornado.options import options
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.web import create_signed_value
from tornado.websocket import websocket_connect


class DashboardTest(AsyncHTTPTestCase):
    def get_app(self):
        dashboard.BOARDS.clear()
        dashboard.MetricsSocket.watchers.clear()
        return dashboard.Application()

    def cookie(self, user="ann"):
        return "user=" + create_signed_value(options.secret, "user", user).decode()

    def socket_request(self, board="ops", user="ann"):
        url = self.get_url("/socket/" + board).replace("http://", "ws://")
        headers = {"Cookie": self.cookie(user)} if user else {}
        return HTTPRequest(url, headers=headers)

    def test_login_required(self):
        response = self.fetch("/", follow_redirects=False)
        self.assertEqual(response.code, 302)
        self.assertEqual(response.headers["Location"], "/login?next=%2F")

    def test_board_page_lists_metrics(self):
        dashboard.BOARDS["ops"]["cpu"] = 150
        response = self.fetch("/board/ops", headers={"Cookie": self.cookie()})
        self.assertEqual(response.code, 200)
        self.assertIn(b'<td class="high">150</td>', response.body)
        self.assertIn(b"1 metric, 0 watching", response.body)

    def test_api_refuses_what_is_not_json(self):
        response = self.fetch("/api/ops", method="POST", body="{")
        self.assertEqual(response.code, 400)
        self.assertIn(b"<h1>400</h1><p>not JSON</p>", response.body)

    @gen_test
    def test_socket_sees_api_updates(self):
        ws = yield websocket_connect(self.socket_request())
        hello = json_decode((yield ws.read_message()))
        self.assertEqual(hello, {"board": "ops", "metrics": {}, "user": "ann"})
        response = yield self.http_client.fetch(
            self.get_url("/api/ops"), method="POST", body=json.dumps({"mem": 1})
        )
        self.assertEqual(response.code, 202)
        self.assertEqual(json_decode(response.body), {"sent": 1, "metrics": 1})
        update = json_decode((yield ws.read_message()))
        self.assertEqual(update, {"board": "ops", "update": {"mem": 1}})
        ws.close()

    def test_push_writes_to_each_watcher(self):
        ws = self.io_loop.run_sync(lambda: websocket_connect(self.socket_request()))
        self.io_loop.run_sync(ws.read_message)
        with mock.patch.object(dashboard.MetricsSocket, "write_message") as write:
            response = self.fetch("/api/ops", method="POST", body='{"disk": 3}')
        self.assertEqual(json_decode(response.body), {"sent": 1, "metrics": 1})
        write.assert_called_once_with({"board": "ops", "update": {"disk": 3}})
        ws.close()

    @gen_test(timeout=5)
    async def test_stranger_is_refused(self):
        ws = await websocket_connect(self.socket_request(user=None))
        self.assertIsNone(await ws.read_message())
        self.assertEqual((ws.close_code, ws.close_reason), (4001, "log in first"))

    @gen_test(timeout=5)
    async def test_unknown_board_is_refused(self):
        ws = await websocket_connect(self.socket_request(board="zzz"))
        self.assertIsNone(await ws.read_message())
        self.assertEqual((ws.close_code, ws.close_reason), (4004, "no board zzz"))


if __name__ == "__main__":
    unittest.main()
