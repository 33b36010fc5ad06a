#!/usr/bin/env python
"""A notebook-like server in the manner of Tornado 5-6 era tools: named url() routes with
keyword path arguments and initialize() kwargs, native coroutine hooks that await
write_message, work run on an executor (run_on_executor and run_in_executor), a page that
fetches the app's own API with AsyncHTTPClient, a socket that relays to another socket with
websocket_connect, xheaders, check_origin, and a static folder served with default_filename."""

import ast
import operator
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import tornado.concurrent
import tornado.escape
import tornado.gen
import tornado.httpclient
import tornado.httpserver
import tornado.ioloop
import tornado.web
import tornado.websocket
from tornado.web import url

HERE = os.path.dirname(os.path.abspath(__file__))
OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def evaluate(code):
    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            return OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError("unsupported: %s" % type(node).__name__)

    return walk(ast.parse(code, mode="eval"))


class Kernels(object):
    def __init__(self):
        self.cells = {}

    def new(self, kernel_id):
        self.cells.setdefault(kernel_id, [])


class KernelApi(tornado.web.RequestHandler):
    def initialize(self, kernels):
        self.kernels = kernels

    def get(self, kernel_id):
        if kernel_id not in self.kernels.cells:
            raise tornado.web.HTTPError(404)
        self.write({"id": kernel_id, "cells": self.kernels.cells[kernel_id]})

    def post(self, kernel_id):
        self.kernels.new(kernel_id)
        self.set_status(201)
        self.set_header("Location", self.reverse_url("kernel-api", kernel_id))
        self.finish({"id": kernel_id})


class KernelPage(tornado.web.RequestHandler):
    async def get(self, kernel_id):
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            response = await client.fetch(
                "http://127.0.0.1:%d%s"
                % (self.application.port, self.reverse_url("kernel-api", kernel_id))
            )
        except tornado.httpclient.HTTPClientError as error:
            raise tornado.web.HTTPError(error.code, "kernel %s: %s" % (kernel_id, error))
        kernel = tornado.escape.json_decode(response.body)
        self.render("kernel.html", kernel_id=kernel["id"], cells=kernel["cells"])


class KernelSocket(tornado.websocket.WebSocketHandler):
    executor = ThreadPoolExecutor(2)

    def initialize(self, kernels):
        self.kernels = kernels

    def check_origin(self, origin):
        return origin in ("http://notebook.example", "null") or super().check_origin(origin)

    async def open(self, kernel_id):
        if kernel_id not in self.kernels.cells:
            self.close(4404, "no kernel %s" % kernel_id)
            return
        self.kernel_id = kernel_id
        await self.write_message({"status": "idle", "client": self.request.remote_ip})

    @tornado.concurrent.run_on_executor
    def run(self, code):
        return evaluate(code)

    async def on_message(self, message):
        request = tornado.escape.json_decode(message)
        await self.write_message({"status": "busy", "id": request["id"]})
        cell = {"code": request["code"]}
        try:
            if request.get("slow"):
                loop = tornado.ioloop.IOLoop.current()
                cell["result"] = await loop.run_in_executor(None, evaluate, request["code"])
            else:
                cell["result"] = await self.run(request["code"])
        except (SyntaxError, ValueError, ZeroDivisionError) as error:
            cell["error"] = "%s: %s" % (type(error).__name__, error)
        self.kernels.cells[self.kernel_id].append(cell)
        await self.write_message(dict(cell, id=request["id"]))
        await self.write_message({"status": "idle", "id": request["id"]})


class RelaySocket(tornado.websocket.WebSocketHandler):
    """Forwards each message to a kernel socket of this server and its answers back."""

    async def open(self, kernel_id):
        target = "ws://127.0.0.1:%d%s" % (
            self.application.port,
            self.reverse_url("kernel-socket", kernel_id),
        )
        self.upstream = await tornado.websocket.websocket_connect(target)
        first = await self.upstream.read_message()
        if first is None:
            self.close(self.upstream.close_code, self.upstream.close_reason)
            return
        self.write_message(first)
        tornado.ioloop.IOLoop.current().spawn_callback(self.pump)

    async def pump(self):
        while True:
            message = await self.upstream.read_message()
            if message is None:
                break
            self.write_message(message)

    def on_message(self, message):
        self.upstream.write_message(message)

    def on_close(self):
        if getattr(self, "upstream", None) is not None:
            self.upstream.close()


def make_app(kernels):
    return tornado.web.Application(
        [
            url(
                r"/api/kernels/(?P<kernel_id>\w+)",
                KernelApi,
                dict(kernels=kernels),
                name="kernel-api",
            ),
            url(r"/kernels/(?P<kernel_id>\w+)", KernelPage, name="kernel-page"),
            url(
                r"/kernels/(?P<kernel_id>\w+)/channels",
                KernelSocket,
                dict(kernels=kernels),
                name="kernel-socket",
            ),
            url(r"/relay/(?P<kernel_id>\w+)", RelaySocket),
            (
                r"/(.*)",
                tornado.web.StaticFileHandler,
                {"path": os.path.join(HERE, "static"), "default_filename": "index.html"},
            ),
        ],
        template_path=os.path.join(HERE, "templates"),
    )


def main():
    app = make_app(Kernels())
    server = tornado.httpserver.HTTPServer(app, xheaders=True)
    server.listen(0, "127.0.0.1")
    app.port = next(iter(server._sockets.values())).getsockname()[1]
    print("Listening on port %d" % app.port)
    sys.stdout.flush()
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
