"""The YAML file: the validated model, and every error naming its route and key."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tornado_ws_compat import web
from tornado_ws_compat.config import ConfigError, FileHandler, WebSocketHandler, load_config
from tornado_ws_compat.config.session import JSONStore, MemoryStore
from tornado_ws_compat.errors import ConfigurationError

from .conftest import Project

HOOKS = """
def open(handler):
    pass

def on_message(handler, message):
    pass

async def on_close(handler):
    pass

def on_pong(handler, data):
    pass

value = 3
"""

FULL = """
app:
  listen: {port: 9988, address: 127.0.0.1, xheaders: true, reuse_port: false,
           trusted_downstream: [10.0.0.1], max_write_buffer: 65536, shutdown_timeout: 2}
  settings: {cookie_secret: "s3cret", websocket_ping_interval: 10,
             websocket_max_message_size: 10485760, my_own_setting: [1, 2]}
  session: {cookie: sid, expiry: 31, store: memory}
url:
  pingbot:
    pattern: /pingbot
    handler: WebSocketHandler
    kwargs:
      open: {function: $hooks.open}
      on_message: {function: $hooks.on_message}
      on_close: {function: $hooks.on_close}
      on_pong: {function: $hooks.on_pong}
      origins: [gramener.com, localhost]
      auth: true
  page:
    pattern: /
    handler: FileHandler
    kwargs: {path: index.html}
  static:
    pattern: /static/(.*)
    handler: StaticFileHandler
    kwargs: {path: assets}
  old:
    pattern: /old
    handler: RedirectHandler
    kwargs: {url: /}
  dotted:
    pattern: /dotted
    handler: tornado_ws_compat.config.WebSocketHandler
"""


def test_full_configuration_model(project: Project) -> None:
    project.write("index.html", "page")
    (project.root / "assets").mkdir()
    config = project.load(FULL, HOOKS)
    assert config.source == "app.yaml"
    assert config.base_dir == str(project.root)
    listen = config.listen
    assert (listen.port, listen.address, listen.xheaders, listen.shutdown_timeout) == (
        9988,
        "127.0.0.1",
        True,
        2.0,
    )
    assert listen.server_kwargs() == {
        "xheaders": True,
        "reuse_port": False,
        "trusted_downstream": ["10.0.0.1"],
        "max_write_buffer": 65536,
        "forwarded_allow_ips": ["127.0.0.1", "::1"],  # the default: loopback proxies only
    }
    settings = config.application.settings
    assert settings["cookie_secret"] == "s3cret"
    assert settings["websocket_ping_interval"] == 10
    assert settings["my_own_setting"] == [1, 2]  # unknown settings pass through, as Tornado's
    assert (config.session.cookie, config.session.expiry, config.session.store) == (
        "sid",
        31.0,
        "memory",
    )
    assert isinstance(config.sessions.store, MemoryStore)
    names = [route.name for route in config.routes]
    assert names == ["pingbot", "page", "static", "old", "dotted"]  # the file's order
    pingbot = config.routes[0]
    assert pingbot.handler_class is WebSocketHandler
    compiled = pingbot.kwargs["route"]
    module = sys.modules[project.module_name]
    assert compiled.open is module.open and compiled.on_message is module.on_message
    assert compiled.on_close is module.on_close and compiled.on_pong is module.on_pong
    assert [rule.host for rule in compiled.origins] == ["gramener.com", "localhost"]
    assert compiled.auth is not None and compiled.sessions is config.sessions
    assert config.routes[1].handler_class is FileHandler
    assert config.routes[1].kwargs == {
        "path": str(project.root / "index.html"),
        "sessions": config.sessions,  # a page load starts the browser's session
    }
    assert config.routes[2].kwargs == {"path": str(project.root / "assets")}
    assert config.routes[3].handler_class is web.RedirectHandler
    assert config.routes[4].handler_class is WebSocketHandler
    assert [rule.name for rule in config.application.rules] == names
    assert config.application.rules[0].regex.pattern == "/pingbot$"  # anchored at the end


def test_defaults(project: Project, caplog: pytest.LogCaptureFixture) -> None:
    config = project.load("url: {ws: {pattern: /ws, handler: WebSocketHandler}}")
    assert (config.listen.port, config.listen.address, config.listen.xheaders) == (9988, "", True)
    assert (config.session.cookie, config.session.expiry, config.session.store) == (
        "sid",
        31.0,
        "memory",
    )
    # Sessions need a secret: a random one, with a warning that they won't survive a restart.
    assert len(config.application.settings["cookie_secret"]) == 64
    assert "cookie_secret is not set" in caplog.text
    compiled = config.routes[0].kwargs["route"]
    assert compiled.origins is None and compiled.auth is None and compiled.open is None


def test_json_store_path_is_relative_to_the_file(project: Project) -> None:
    (project.root / "var").mkdir()
    config = project.load(
        """
        app:
          settings: {cookie_secret: x}
          session: {store: json, path: var/sessions.json, expiry: 0.5}
        url: {ws: {pattern: /ws, handler: WebSocketHandler}}
        """
    )
    store = config.sessions.store
    assert isinstance(store, JSONStore)
    assert store.path == str(project.root / "var" / "sessions.json")


def test_the_file_folder_goes_first_on_sys_path(project: Project) -> None:
    project.hooks("def open(handler):\n    pass\n")
    assert str(project.root) not in sys.path
    project.load(
        "url: {ws: {pattern: /ws, handler: WebSocketHandler, kwargs: "
        "{open: {function: $hooks.open}}}}"
    )
    assert sys.path[0] == str(project.root)


def test_a_configuration_error_is_a_configuration_error(project: Project) -> None:
    with pytest.raises(ConfigurationError):
        project.load("url: {ws: {pattern: '(', handler: WebSocketHandler}}")


def ws_route(kwargs: str) -> str:
    return f"""
app: {{settings: {{cookie_secret: x}}}}
url:
  pingbot:
    pattern: /pingbot
    handler: WebSocketHandler
    kwargs: {kwargs}
"""


# (yaml, route, key, a fragment of the message)
ERRORS = [
    # Hooks: module or function not importable, not a mapping with function, bad forms.
    (
        ws_route("{on_message: {function: no_such_module_q.on_message}}"),
        "pingbot",
        "kwargs.on_message.function",
        "no module named 'no_such_module_q'",
    ),
    (
        ws_route("{on_message: {function: $hooks.on_mesage}}"),
        "pingbot",
        "kwargs.on_message.function",
        "has no attribute 'on_mesage'",
    ),
    (
        ws_route("{open: $hooks.open}"),
        "pingbot",
        "kwargs.open",
        "must be a mapping with a 'function' key",
    ),
    (
        ws_route("{open: {func: $hooks.open}}"),
        "pingbot",
        "kwargs.open",
        "must be a mapping with a 'function' key",
    ),
    (
        ws_route("{open: {function: $hooks.value}}"),
        "pingbot",
        "kwargs.open.function",
        "is not callable",
    ),
    (
        ws_route("{on_message: {function: '$hooks.on_message(handler, mesage)'}}"),
        "pingbot",
        "kwargs.on_message.function",
        "unknown name 'mesage'",
    ),
    (
        ws_route("{on_close: {function: '$hooks.on_close(handler, message)'}}"),
        "pingbot",
        "kwargs.on_close.function",
        "unknown name 'message'",
    ),  # on_close has no message
    (
        ws_route("{on_pong: {function: $hooks.on_pong, args: [=handler, =message]}}"),
        "pingbot",
        "kwargs.on_pong.args[1]",
        "unknown name 'message'",
    ),
    (
        ws_route("{on_message: {function: $hooks.on_message, extra: 1}}"),
        "pingbot",
        "kwargs.on_message.extra",
        "unknown key",
    ),
    # Other WebSocketHandler options.
    (
        ws_route("{on_mesage: {function: $hooks.on_message}}"),
        "pingbot",
        "kwargs.on_mesage",
        "unknown key",
    ),
    (
        ws_route("{origins: [gramener.com, '*.evil.com']}"),
        "pingbot",
        "kwargs.origins[1]",
        "expected host",
    ),
    (ws_route("{origins: 42}"), "pingbot", "kwargs.origins", "must be a host or a list"),
    (ws_route("{origins: []}"), "pingbot", "kwargs.origins", "must be a host or a list"),
    (ws_route("{auth: yes please}"), "pingbot", "kwargs.auth", "must be true, false"),
    (
        ws_route("{auth: {membership: {role: [admin]}, login_url: /x}}"),
        "pingbot",
        "kwargs.auth.login_url",
        "unknown key",
    ),
    (
        ws_route("{auth: {membership: {role: [{a: 1}]}}}"),
        "pingbot",
        "kwargs.auth.membership.role",
        "a value or a list",
    ),
    (
        ws_route("{auth: {membership: [{role: x}, 3]}}"),
        "pingbot",
        "kwargs.auth.membership[1]",
        "must map user attributes",
    ),
    (ws_route("{route: 1}"), "pingbot", "kwargs.route", "reserved"),
    # Routes.
    (
        "url: {bad: {pattern: '/(unclosed', handler: WebSocketHandler}}",
        "bad",
        "pattern",
        "invalid regular expression",
    ),
    (
        "url: {bad: {pattern: 12, handler: WebSocketHandler}}",
        "bad",
        "pattern",
        "must be a regular expression",
    ),
    ("url: {bad: {handler: WebSocketHandler}}", "bad", "pattern", "missing"),
    ("url: {bad: {pattern: /x}}", "bad", "handler", "missing"),
    (
        "url: {bad: {pattern: /x, handler: WebSocketHandlr}}",
        "bad",
        "handler",
        "unknown handler 'WebSocketHandlr'",
    ),
    (
        "url: {bad: {pattern: /x, handler: no_such_pkg_q.Handler}}",
        "bad",
        "handler",
        "no module named",
    ),
    (
        "url: {bad: {pattern: /x, handler: os.path}}",
        "bad",
        "handler",
        "is not a tornado_ws_compat RequestHandler",
    ),
    (
        "url: {bad: {pattern: /x, handler: WebSocketHandler, priority: 1}}",
        "bad",
        "priority",
        "unknown key",
    ),
    (
        "url: {bad: {pattern: /x, handler: WebSocketHandler, kwargs: [1]}}",
        "bad",
        "kwargs",
        "must be a mapping",
    ),
    ("url: {bad: /x}", "bad", None, "must be a mapping"),
    (
        "url: {bad: {pattern: /x, handler: FileHandler, kwargs: {path: missing.html}}}",
        "bad",
        "kwargs.path",
        "no such file",
    ),
    ("url: {bad: {pattern: /x, handler: FileHandler}}", "bad", "kwargs.path", "must be a path"),
    (
        "url: {bad: {pattern: /x, handler: FileHandler, kwargs: {path: x, on_message: 1}}}",
        "bad",
        "kwargs.on_message",
        "only for a WebSocketHandler",
    ),
    ("url: {bad: {pattern: /x, handler: RedirectHandler}}", "bad", "kwargs.url", "missing"),
    (
        "url: {bad: {pattern: /x, handler: tornado_ws_compat.websocket.WebSocketHandler, "
        "kwargs: {greeting: hi}}}",
        "bad",
        "kwargs.greeting",
        "does not take it",
    ),
    # The app section.
    ("url: {}", None, "url", "no routes"),
    ("app: {}", None, "url", "missing"),
    ("apps: {}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}", None, "apps", "unknown key"),
    (
        "app: {listen: {port: '80'}}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.listen.port",
        "must be int",
    ),
    (
        "app: {listen: {port: 70000}}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.listen.port",
        "between 0 and 65535",
    ),
    (
        "app: {listen: {xheaders: 1}}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.listen.xheaders",
        "must be bool",
    ),
    (
        "app: {listen: {host: x}}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.listen.host",
        "unknown key",
    ),
    (
        "app: {settings: {websocket_ping_interval: soon}}\n"
        "url: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.settings.websocket_ping_interval",
        "must be",
    ),
    (
        "app: {settings: [1]}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.settings",
        "must be a mapping",
    ),
    (
        "app: {session: {store: redis}}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.session.store",
        "memory or json",
    ),
    (
        "app: {session: {store: json}, settings: {cookie_secret: x}}\n"
        "url: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.session.path",
        "needs a file path",
    ),
    (
        "app: {session: {store: json, path: s.json}}\n"
        "url: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.settings.cookie_secret",
        "required with the json session store",
    ),
    (
        "app: {session: {store: json, path: nodir/s.json}, settings: {cookie_secret: x}}\n"
        "url: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.session.path",
        "does not exist",
    ),
    (
        "app: {session: {expiry: 0}}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.session.expiry",
        "positive",
    ),
    (
        "app: {session: {cookie: 'a b'}}\nurl: {x: {pattern: /x, handler: WebSocketHandler}}",
        None,
        "app.session.cookie",
        "cookie name",
    ),
]


@pytest.mark.parametrize(("text", "route", "key", "fragment"), ERRORS)
def test_errors_name_the_route_and_key(
    project: Project, text: str, route: str | None, key: str | None, fragment: str
) -> None:
    project.hooks(HOOKS)
    with pytest.raises(ConfigError) as info:
        project.load(text)
    error = info.value
    assert (error.route, error.key) == (route, key)
    assert fragment in error.detail
    message = str(error)
    assert message.startswith("app.yaml: ")
    if route is not None:
        assert f"route {route!r}" in message
    if key is not None:
        assert f"key {key!r}" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("url:\n  pingbot:\n    pattern: /x\n   handler: y\n", "invalid YAML at line 4"),
        ("url: {a: [1, 2}\n", "invalid YAML at line 1"),
        (
            "url:\n  a: {pattern: /a, handler: WebSocketHandler}\n  a: {pattern: /b}\n",
            "duplicate key 'a'",
        ),
        ("url: !!python/object:os.system {}\n", "invalid YAML"),  # safe tags only
        ("", "the file is empty"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_invalid_yaml(project: Project, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        project.load(text)
    assert fragment in str(info.value)
    assert str(info.value).startswith("app.yaml: ")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml")
    os.mkdir(tmp_path / "a-folder.yaml")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "a-folder.yaml")


def test_a_json_store_that_is_not_one_is_a_configuration_error(project: Project) -> None:
    project.write("sessions.json", "not json")
    with pytest.raises(ConfigError) as info:
        project.load(
            "app: {settings: {cookie_secret: x}, session: {store: json, path: sessions.json}}\n"
            "url: {ws: {pattern: /ws, handler: WebSocketHandler}}\n"
        )
    assert info.value.key == "app.session.path"
    assert "is not a session store" in str(info.value)
