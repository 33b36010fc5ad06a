"""Settings are checked when the Application is built; unknown keys pass through."""

from __future__ import annotations

import pytest

from tornado_ws_compat import web
from tornado_ws_compat.errors import ConfigurationError


def test_known_settings_are_type_checked() -> None:
    with pytest.raises(ConfigurationError, match="websocket_ping_interval"):
        web.Application([], websocket_ping_interval="30")
    with pytest.raises(ConfigurationError, match="websocket_max_message_size"):
        web.Application([], websocket_max_message_size=0)
    with pytest.raises(ConfigurationError, match="websocket_ping_timeout"):
        web.Application([], websocket_ping_timeout=-1)


def test_unknown_settings_pass_through_and_debug_implies_traceback() -> None:
    # autoreload off: debug would otherwise watch this test process's files.
    app = web.Application([], my_key=1, debug=True, autoreload=False)
    assert app.settings["my_key"] == 1
    assert app.settings["serve_traceback"] is True


def test_invalid_route_regex_names_the_pattern() -> None:
    with pytest.raises(ConfigurationError, match=r"\(unclosed"):
        web.Application([(r"/(unclosed", web.RequestHandler)])
