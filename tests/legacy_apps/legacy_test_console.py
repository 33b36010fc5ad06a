"""The console's own tests, the way Tornado 5-6 projects write them: get_httpserver_options for
xheaders, a login through fetch then its cookie on the socket's HTTPRequest, gen_test with a
timeout, ExpectLog, mock.patch.object on the handler class, stop/wait. Run unchanged by
``run -m pytest`` / ``run -m unittest`` (tests/test_legacy_apps.py), and on real Tornado."""

import json
import unittest
from unittest import mock

import command_console
from tornado import gen
from tornado.httpclient import HTTPRequest
from tornado.log import app_log
from tornado.testing import AsyncHTTPTestCase, ExpectLog, gen_test
from tornado.websocket import websocket_connect


class ConsoleTest(AsyncHTTPTestCase):
    def get_app(self):
        return command_console.make_app()

    def get_httpserver_options(self):
        return {"xheaders": True}

    def login(self, name="ops"):
        response = self.fetch("/login", method="POST", body="name=" + name)
        self.assertEqual(json.loads(response.body), {"operator": name})
        return response.headers["Set-Cookie"].split(";")[0]

    @gen.coroutine
    def login_async(self, name="ops"):
        response = yield self.http_client.fetch(
            self.get_url("/login"), method="POST", body="name=" + name
        )
        raise gen.Return(response.headers["Set-Cookie"].split(";")[0])

    def socket_request(self, cookie):
        url = "ws://127.0.0.1:%d/console" % self.get_http_port()
        return HTTPRequest(url, headers={"Cookie": cookie})

    def test_status_needs_a_login(self):
        response = self.fetch("/status", follow_redirects=False)
        self.assertEqual(response.code, 302)
        self.assertEqual(response.headers["Location"], "/login?next=%2Fstatus")

    def test_status_trusts_the_proxy_headers(self):
        cookie = self.login()
        proxy = {"X-Forwarded-For": "10.9.8.7", "X-Scheme": "https"}
        response = self.fetch("/status", headers=dict(proxy, Cookie=cookie))
        status = json.loads(response.body)
        self.assertEqual(status["remote_ip"], "10.9.8.7")
        self.assertEqual(status["scheme"], "https")
        self.assertEqual(status["checksum"], sum(b"ops") % 251)

    @gen_test(timeout=20)
    def test_a_job_streams_its_lines(self):
        cookie = yield self.login_async()
        conn = yield websocket_connect(self.socket_request(cookie))
        hello = yield conn.read_message()
        self.assertEqual(json.loads(hello), {"hello": "ops", "slots": 1})
        conn.write_message(json.dumps({"id": 7, "run": "count", "args": ["2"]}))
        messages = []
        while True:
            message = json.loads((yield conn.read_message()))
            messages.append(message)
            if "exit" in message:
                break
        self.assertEqual([m.get("line") for m in messages[1:3]], ["line 1", "line 2"])
        self.assertEqual(messages[-1], {"id": 7, "exit": 0})
        self.assertEqual(self._app.history, [{"id": 7, "status": 0, "lines": 2}])
        conn.close()

    @gen_test
    async def test_an_unknown_command_is_logged(self):
        cookie = await self.login_async()
        conn = await websocket_connect(self.socket_request(cookie))
        await conn.read_message()
        with ExpectLog(app_log, "unknown command reboot"):
            conn.write_message(json.dumps({"id": 1, "run": "reboot"}))
            reply = await conn.read_message()
        self.assertEqual(json.loads(reply)["error"], "unknown command reboot")
        conn.close()

    @gen_test
    def test_no_cookie_no_console(self):
        conn = yield websocket_connect("ws://127.0.0.1:%d/console" % self.get_http_port())
        closed = yield conn.read_message()
        self.assertIsNone(closed)
        self.assertEqual((conn.close_code, conn.close_reason), (4001, "log in first"))

    def test_send_goes_through_write_message(self):
        cookie = self.login()
        with mock.patch.object(command_console.ConsoleSocket, "write_message") as written:

            @gen.coroutine
            def talk():
                conn = yield websocket_connect(self.socket_request(cookie))
                conn.write_message("{broken")
                while written.call_count < 2:
                    yield gen.sleep(0.01)
                conn.close()

            self.io_loop.run_sync(talk)
        self.assertEqual(
            written.call_args_list,
            [mock.call({"hello": "ops", "slots": 1}), mock.call({"error": "not JSON"})],
        )

    def test_stop_and_wait(self):
        self.io_loop.add_callback(self.stop, "history")
        self.assertEqual(self.wait(timeout=5), "history")


if __name__ == "__main__":
    unittest.main()
