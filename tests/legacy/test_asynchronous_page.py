"""A pre-6 ``@tornado.web.asynchronous`` program (Tornado 3-5 chat-demo style long polling),
run unchanged through ``python -m tornado_ws_compat run`` with real Tornado blocked.

Tornado 6.6.1 cannot run it (it removed ``web.asynchronous``): the test shows that, then
drives the program under ``run`` with aiohttp and compares the transcript with the one
Tornado 5.1 documents: a long poll answered when a message arrives, a poll whose client left
is dropped (``on_connection_close``), pages finished from ``add_timeout`` callbacks, and an
exception in a callback answered with the error page.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers import python_child

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 15.0

PROGRAM = """\
import datetime
import logging

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.options
import tornado.web
from tornado.options import define, options

define("address", default="127.0.0.1", help="address to listen on")


class MessageBuffer(object):
    def __init__(self):
        self.waiters = set()
        self.cache = []

    def wait_for_messages(self, callback, cursor=None):
        if cursor is not None and cursor < len(self.cache):
            callback(self.cache[cursor:])
            return
        self.waiters.add(callback)

    def cancel_wait(self, callback):
        self.waiters.discard(callback)

    def new_messages(self, messages):
        logging.info("Sending new message to %r listeners", len(self.waiters))
        for callback in self.waiters:
            try:
                callback(messages)
            except Exception:
                logging.error("Error in waiter callback", exc_info=True)
        self.waiters = set()
        self.cache.extend(messages)


global_message_buffer = MessageBuffer()


class MessageNewHandler(tornado.web.RequestHandler):
    def post(self):
        message = self.get_argument("body")
        global_message_buffer.new_messages([message])
        self.write({"sent": message})


class MessageUpdatesHandler(tornado.web.RequestHandler):
    @tornado.web.asynchronous
    def post(self):
        cursor = self.get_argument("cursor", None)
        global_message_buffer.wait_for_messages(
            self.on_new_messages, cursor=int(cursor) if cursor else None
        )

    def on_new_messages(self, messages):
        # Closed client connection
        if self.request.connection.stream.closed():
            return
        self.finish(dict(messages=messages))

    def on_connection_close(self):
        global_message_buffer.cancel_wait(self.on_new_messages)


class WaitersHandler(tornado.web.RequestHandler):
    def get(self):
        self.write(str(len(global_message_buffer.waiters)))


class SlowHandler(tornado.web.RequestHandler):
    @tornado.web.asynchronous
    def get(self):
        self.write("slow ")
        tornado.ioloop.IOLoop.instance().add_timeout(
            datetime.timedelta(milliseconds=20), self.done
        )

    def done(self):
        self.finish("done")


class BrokenHandler(tornado.web.RequestHandler):
    @tornado.web.asynchronous
    def get(self):
        tornado.ioloop.IOLoop.instance().add_callback(self.explode)

    def explode(self):
        raise KeyError("explode")


def main():
    tornado.options.parse_command_line()
    application = tornado.web.Application([
        (r"/a/message/new", MessageNewHandler),
        (r"/a/message/updates", MessageUpdatesHandler),
        (r"/waiters", WaitersHandler),
        (r"/slow", SlowHandler),
        (r"/broken", BrokenHandler),
    ])
    sockets = tornado.netutil.bind_sockets(0, options.address)
    server = tornado.httpserver.HTTPServer(application)
    server.add_sockets(sockets)
    print("listening on %d" % sockets[0].getsockname()[1], flush=True)
    tornado.ioloop.IOLoop.instance().start()


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "chatdemo.py"
    path.write_text(PROGRAM)
    poison = tmp_path / "poison" / "tornado"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise ImportError('the real tornado was imported')\n")
    return path


def environment(*first: Path) -> dict[str, str]:
    env = dict(os.environ)
    entries = [*map(str, first), str(REPO), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, entries))
    return env


@pytest.mark.asyncio
async def test_tornado_6_cannot_run_it(program: Path) -> None:
    async with python_child(str(program), env=environment()) as child:
        _, err = await asyncio.wait_for(child.communicate(), TIMEOUT)
    assert child.returncode == 1
    assert "AttributeError: module 'tornado.web' has no attribute 'asynchronous'" in err.decode()


@pytest.mark.asyncio
async def test_runs_unchanged_under_run(program: Path) -> None:
    env = environment(program.parent / "poison")
    async with python_child("-m", "tornado_ws_compat", "run", str(program), env=env) as child:
        assert child.stdout is not None
        first = await asyncio.wait_for(child.stdout.readline(), TIMEOUT)
        assert first.startswith(b"listening on "), first
        base = f"http://127.0.0.1:{int(first.split()[-1])}"
        transcript = await asyncio.wait_for(drive(base), TIMEOUT)
        child.kill()
        assert child.stderr is not None
        log = (await asyncio.wait_for(child.stderr.read(), TIMEOUT)).decode()
    # The logging options of parse_command_line print Tornado's lines on stderr.
    assert "Uncaught exception GET /broken (127.0.0.1)" in log
    assert "KeyError: 'explode'" in log
    assert "Error in waiter callback" not in log
    assert transcript == [
        ("slow", 200, "slow done"),
        ("waiters before", 200, "1"),
        ("new", 200, {"sent": "hello"}),
        ("poll", 200, {"messages": ["hello"]}),
        ("waiters after the client left", 200, "0"),
        ("new again", 200, {"sent": "again"}),
        ("poll with cursor", 200, {"messages": ["hello", "again"]}),
        ("broken", 500, "<html><title>500: Internal Server Error</title>"),
    ]


async def drive(base: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    async with aiohttp.ClientSession() as session:

        async def call(label: str, method: str, path: str, **kwargs: Any) -> tuple[Any, ...]:
            async with session.request(method, base + path, **kwargs) as response:
                text = await response.text()
                body: Any = json.loads(text) if text.startswith("{") else text
                if response.status == 500:
                    body = text[: text.index("<body>")]
                return (label, response.status, body)

        async def waiters_reach(count: str) -> None:
            # Only the server knows when a poll is registered: ask it (bounded by TIMEOUT).
            while (await call("", "GET", "/waiters"))[2] != count:
                pass

        out.append(await call("slow", "GET", "/slow"))
        poll = asyncio.ensure_future(call("poll", "POST", "/a/message/updates"))
        await waiters_reach("1")
        out.append(("waiters before", 200, "1"))
        out.append(await call("new", "POST", "/a/message/new", data={"body": "hello"}))
        out.append(await poll)

        # A client that leaves its poll: on_connection_close removes its waiter.
        host, port = base[len("http://") :].split(":")
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /a/message/updates HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await waiters_reach("1")
        writer.close()
        await writer.wait_closed()
        await waiters_reach("0")
        out.append(("waiters after the client left", 200, "0"))
        out.append(await call("new again", "POST", "/a/message/new", data={"body": "again"}))
        out.append(await call("poll with cursor", "POST", "/a/message/updates?cursor=0"))
        out.append(await call("broken", "GET", "/broken"))
    return out
