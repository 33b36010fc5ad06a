"""Tornado's ``tornado.httpserver``: `HTTPServer` over this project's engine.

``HTTPServer(app).listen(8888)``, ``bind`` + ``start()``, ``add_sockets``, ``stop`` and
``close_all_connections`` behave as in Tornado 6.6.1; ``Application.listen`` returns the same
class. ``HTTPServerRequest`` is the request object handlers see.
"""

from __future__ import annotations

from tornado_ws_compat.httputil import HTTPServerRequest
from tornado_ws_compat.server import HTTPServer

__all__ = ["HTTPServer", "HTTPServerRequest"]
