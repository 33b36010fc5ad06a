"""Application settings: Tornado's names and defaults, checked once when the app is built.

Settings not listed here are kept and passed through untouched (applications read their own
keys from ``self.settings``), exactly as Tornado does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tornado_ws_compat.errors import ConfigurationError
from tornado_ws_compat.lifecycle import DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE

__all__ = ["DEFAULTS", "validate_settings"]

_NUMBER = (int, float)

#: Defaults of the settings this project reads. Tornado's own defaults where Tornado has the
#: setting; the last group are this project's limits (documented in the README).
DEFAULTS: dict[str, Any] = {
    # Tornado 4.5+: 0/None disables pings; the timeout defaults to the interval (6.5+).
    "websocket_ping_interval": None,
    "websocket_ping_timeout": None,
    "websocket_max_message_size": DEFAULT_MAX_MESSAGE_SIZE,
    "static_url_prefix": "/static/",
    "login_url": None,
    "cookie_secret": None,
    "xsrf_cookies": False,
    "trusted_origins": [],
    "cross_origin_protection": False,
    "debug": False,
    "serve_traceback": False,
    # This project's limits (no Tornado equivalent).
    "websocket_close_timeout": DEFAULT_CLOSE_TIMEOUT,
    # Where WebSocketHandler.publish/subscribe meet (tornado_ws_compat.pubsub).
    "pubsub_url": "memory://",
}

_TYPES: dict[str, tuple[type, ...]] = {
    "websocket_ping_interval": (*_NUMBER, type(None)),
    "websocket_ping_timeout": (*_NUMBER, type(None)),
    "websocket_max_message_size": (int,),
    "websocket_close_timeout": _NUMBER,
    "static_path": (str,),
    "static_url_prefix": (str,),
    "login_url": (str, type(None)),
    "cookie_secret": (str, bytes, dict, type(None)),
    "xsrf_cookies": (bool,),
    "trusted_origins": (list, tuple, set, frozenset),
    "cross_origin_protection": (bool,),
    "debug": (bool,),
    "serve_traceback": (bool,),
    "pubsub_url": (str,),
}


def validate_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``settings`` after checking the types and ranges of known keys.

    ``debug=True`` implies ``serve_traceback=True`` as in Tornado (``Application`` adds its
    other debug defaults, ``compiled_template_cache=False`` among them).
    """
    result = dict(settings)
    for name, expected in _TYPES.items():
        if name not in result:
            continue
        value = result[name]
        if isinstance(value, bool) and bool not in expected:
            raise ConfigurationError(f"setting {name!r} must be a number, got {value!r}")
        if not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in expected)
            raise ConfigurationError(f"setting {name!r} must be {names}, got {value!r}")
    for name in ("websocket_ping_interval", "websocket_ping_timeout", "websocket_close_timeout"):
        value = result.get(name)
        if value is not None and value < 0:
            raise ConfigurationError(f"setting {name!r} must not be negative, got {value!r}")
    size = result.get("websocket_max_message_size")
    if size is not None and size <= 0:
        raise ConfigurationError(f"setting 'websocket_max_message_size' must be > 0, got {size}")
    url = result.get("pubsub_url")
    if url is not None:
        _check_pubsub_url(url)
    if result.get("debug"):
        result.setdefault("serve_traceback", True)
    return result


def _check_pubsub_url(url: str) -> None:
    """A bad broker URL, or redis:// without the client installed, fails at startup."""
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme == "memory":
        return
    if scheme not in ("redis", "rediss"):
        raise ConfigurationError(
            f"setting 'pubsub_url' must start with memory://, redis:// or rediss://, got {url!r}"
        )
    try:
        import redis.asyncio  # noqa: F401  (the optional extra)
    except ImportError as exc:
        raise ConfigurationError(
            "setting 'pubsub_url' is a Redis URL but the Redis client is not installed: "
            'pip install "tornado_ws_compat[redis]"'
        ) from exc
