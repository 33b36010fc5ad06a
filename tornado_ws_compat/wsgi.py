"""Tornado's ``tornado.wsgi``: importable; ``WSGIContainer`` is not provided.

Serving a WSGI application inside the Tornado server is declined: mount it on its own WSGI
server (or behind the same proxy). Constructing ``WSGIContainer`` raises
:class:`~tornado_ws_compat.errors.NotSupportedError`.
"""

from __future__ import annotations

from typing import Any

from tornado_ws_compat.errors import NotSupportedError

__all__ = ["WSGIContainer", "to_wsgi_str"]


def to_wsgi_str(s: bytes) -> str:
    """PEP 3333's "native string" for WSGI: bytes decoded as Latin-1."""
    assert isinstance(s, bytes)
    return s.decode("latin1")


class WSGIContainer:
    """Not provided (see the module's docstring)."""

    def __init__(self, wsgi_application: Any, executor: Any = None) -> None:
        raise NotSupportedError(
            "tornado.wsgi.WSGIContainer is not provided by tornado_ws_compat: serve the WSGI "
            "application with a WSGI server beside this one"
        )
