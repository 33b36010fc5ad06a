"""The exception tree. ``web`` and ``websocket`` re-export these under Tornado's names."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

__all__ = [
    "ConfigurationError",
    "HTTPError",
    "NotSupportedError",
    "WebSocketClosedError",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Base class for WebSocket errors (``tornado.websocket.WebSocketError``)."""


class WebSocketClosedError(WebSocketError):
    """Raised by operations on a closed or closing connection.

    Tornado 3.2 added it; since Tornado 5.0 ``write_message`` raises it consistently.
    """


class HTTPError(Exception):
    """An exception that turns into an HTTP error response (``tornado.web.HTTPError``).

    ``log_message`` is written to the log (with ``args`` interpolated) but never sent to the
    client; ``reason`` replaces the standard reason phrase of ``status_code``.
    """

    def __init__(
        self,
        status_code: int = 500,
        log_message: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.status_code = status_code
        self.log_message = log_message
        self.args = args
        self.reason: str | None = kwargs.get("reason", None)
        if log_message and not args:
            self.log_message = log_message.replace("%", "%%")

    def get_message(self) -> str | None:
        """The log message with its arguments filled in (Tornado 6.x)."""
        if self.log_message:
            return self.log_message % self.args
        return self.log_message

    def __str__(self) -> str:
        message = f"HTTP {self.status_code}: {self.reason or reason_phrase(self.status_code)}"
        if self.log_message:
            return message + " (" + (self.log_message % self.args) + ")"
        return message


class NotSupportedError(NotImplementedError):
    """A Tornado feature this project does not provide, named in the message."""


class ConfigurationError(ValueError):
    """An invalid setting, route or configuration file, named in the message."""


def reason_phrase(status_code: int) -> str:
    """The standard reason phrase of ``status_code`` (``Unknown`` for unregistered codes)."""
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Unknown"
