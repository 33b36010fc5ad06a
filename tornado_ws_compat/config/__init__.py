"""Configuration mode: a YAML file of routes whose hooks are plain functions (Gramex's style).

::

    app:
      settings: {cookie_secret: "change me"}
    url:
      pingbot:
        pattern: /pingbot
        handler: WebSocketHandler
        kwargs:
          open: {function: pingbot.open}
          on_message: {function: pingbot.on_message}
          on_close: {function: pingbot.on_close}
          origins: [gramener.com, localhost]

Serve it with ``python -m tornado_ws_compat serve pingbot.yaml``, or from Python::

    config = load_config("pingbot.yaml")
    await server.serve(config.application, config.listen.port, config.listen.address,
                       **config.listen.server_kwargs())

Built only on the public API (``web``, ``websocket``, ``server``), as Gramex is on Tornado.
"""

from tornado_ws_compat.config.handlers import FileHandler, WebSocketHandler, origin_allowed
from tornado_ws_compat.config.hooks import compile_hook
from tornado_ws_compat.config.loader import (
    DEFAULT_PING_INTERVAL,
    DEFAULT_PORT,
    Config,
    ConfigError,
    ListenOptions,
    SessionOptions,
    load_config,
    parse_config,
)
from tornado_ws_compat.config.session import JSONStore, MemoryStore, Session, SessionManager

__all__ = [
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PORT",
    "Config",
    "ConfigError",
    "FileHandler",
    "JSONStore",
    "ListenOptions",
    "MemoryStore",
    "Session",
    "SessionManager",
    "SessionOptions",
    "WebSocketHandler",
    "compile_hook",
    "load_config",
    "origin_allowed",
    "parse_config",
]
