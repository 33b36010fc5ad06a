"""Logger names, the same as Tornado's, so that legacy log configuration keeps working."""

from __future__ import annotations

import logging

__all__ = ["access_log", "app_log", "gen_log"]

#: One line per HTTP request or WebSocket upgrade (Tornado's ``tornado.access``).
access_log = logging.getLogger("tornado.access")
#: Uncaught exceptions in application code (Tornado's ``tornado.application``).
app_log = logging.getLogger("tornado.application")
#: Protocol and connection events (Tornado's ``tornado.general``).
gen_log = logging.getLogger("tornado.general")
