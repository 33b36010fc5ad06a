"""``auth``: a user before the upgrade (401, never a redirect), ``membership`` (403)."""

from __future__ import annotations

import json

import aiohttp
import pytest
import tornado.web

from tornado_ws_compat import signing
from tornado_ws_compat.config.handlers import AuthRule
from tornado_ws_compat.testing import running

from ._client import handshake
from .conftest import TIMEOUT, Project

SECRET = "auth-test-secret"

HOOKS = """
def opened(handler):
    record("user", handler.current_user)

def login(handler, message):
    handler.session["user"] = json.loads(message)
    handler.write_message("logged in")

import json
"""

YAML = """
app:
  settings: {cookie_secret: auth-test-secret, login_url: /login}
url:
  private:
    pattern: /private
    handler: WebSocketHandler
    kwargs:
      auth: true
      open: {function: $hooks.opened}
  admins:
    pattern: /admins
    handler: WebSocketHandler
    kwargs:
      auth: {membership: {role: [admin, owner], org: acme}}
      open: {function: $hooks.opened}
  either:
    pattern: /either
    handler: WebSocketHandler
    kwargs:
      auth:
        membership: [{role: admin}, {email: boss@acme.test}]
  login:
    pattern: /login
    handler: WebSocketHandler
    kwargs:
      on_message: {function: $hooks.login}
  public:
    pattern: /public
    handler: WebSocketHandler
    kwargs:
      auth: false
"""


def user_cookie(user: object, secret: str = SECRET) -> str:
    value = signing.create_signed_value(secret, "user", json.dumps(user)).decode()
    return f'user="{value}"'


@pytest.mark.asyncio
async def test_auth_true_requires_a_user_and_never_redirects(project: Project) -> None:
    config = project.load(YAML, HOOKS)
    async with running(config.application) as server:
        answer = await handshake(server.port, "/private")
        assert answer.status == 401  # even with login_url set: a WebSocket cannot follow one
        assert "Location" not in answer.headers
        assert b"401: Unauthorized" in answer.body
        assert "Set-Cookie" not in answer.headers  # no session minted for a refused upgrade
        # Rejections that come before the upgrade checks: even a plain GET gets 401.
        async with aiohttp.ClientSession() as client:
            async with client.get(server.url("/private"), allow_redirects=False) as response:
                assert response.status == 401
        assert (await handshake(server.port, "/public")).status == 101


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("cookie", "status"),
    [
        (user_cookie({"id": "alice"}), 101),
        (user_cookie({"id": "alice", "role": "x"}), 101),
        (user_cookie({"id": "alice"}, secret="another secret"), 401),
        (user_cookie({"name": "no id"}), 401),
        (user_cookie({"id": ""}), 401),
        (user_cookie(["alice"]), 401),
        (user_cookie("alice"), 401),
        ('user="' + signing.create_signed_value(SECRET, "user", "not json").decode() + '"', 401),
        ('user="' + signing.create_signed_value(SECRET, "sid", '{"id": "a"}').decode() + '"', 401),
        ('user="{\\"id\\": \\"alice\\"}"', 401),  # not signed
    ],
)
async def test_user_from_a_signed_cookie(project: Project, cookie: str, status: int) -> None:
    config = project.load(YAML, HOOKS)
    async with running(config.application) as server:
        answer = await handshake(server.port, "/private", {"Cookie": cookie})
        assert answer.status == status
        if status == 101:
            (user,) = await project.record.wait("user")
            assert user["id"] == "alice"


@pytest.mark.asyncio
async def test_cookie_signed_by_tornado_is_accepted(project: Project) -> None:
    value = tornado.web.create_signed_value(SECRET, "user", json.dumps({"id": "bob"}))
    config = project.load(YAML, HOOKS)
    async with running(config.application) as server:
        answer = await handshake(server.port, "/private", {"Cookie": f'user="{value.decode()}"'})
        assert answer.status == 101
        assert await project.record.wait("user") == ({"id": "bob"},)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "user", "status"),
    [
        ("/admins", {"id": "a", "role": "admin", "org": "acme"}, 101),
        ("/admins", {"id": "a", "role": "owner", "org": "acme"}, 101),
        ("/admins", {"id": "a", "role": ["guest", "admin"], "org": "acme"}, 101),
        ("/admins", {"id": "a", "role": "guest", "org": "acme"}, 403),
        ("/admins", {"id": "a", "role": "admin", "org": "other"}, 403),  # every key must match
        ("/admins", {"id": "a", "role": "admin"}, 403),
        ("/admins", {"id": "a", "role": {"unhashable": 1}, "org": "acme"}, 403),
        ("/admins", None, 401),
        ("/either", {"id": "a", "role": "admin"}, 101),
        ("/either", {"id": "a", "email": "boss@acme.test"}, 101),
        ("/either", {"id": "a", "email": "intern@acme.test"}, 403),
    ],
)
async def test_membership(project: Project, path: str, user: object, status: int) -> None:
    config = project.load(YAML, HOOKS)
    headers = {} if user is None else {"Cookie": user_cookie(user)}
    async with running(config.application) as server:
        answer = await handshake(server.port, path, headers)
        assert answer.status == status
        assert "Location" not in answer.headers


@pytest.mark.asyncio
async def test_user_from_the_session(project: Project) -> None:
    config = project.load(YAML, HOOKS)
    async with running(config.application) as server:
        # unsafe=True: aiohttp's jar otherwise ignores cookies of IP-address hosts.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            async with client.ws_connect(server.url("/login")) as ws:
                await ws.send_str(json.dumps({"id": "carol", "role": "admin", "org": "acme"}))
                assert await ws.receive_str(timeout=TIMEOUT) == "logged in"
            # The session cookie minted on the first 101 now carries the login.
            async with client.ws_connect(server.url("/admins")) as ws:
                assert await project.record.wait("user") == (
                    {"id": "carol", "role": "admin", "org": "acme"},
                )
        assert (await handshake(server.port, "/admins")).status == 401  # a new browser


def test_auth_rule_without_membership_allows_any_user() -> None:
    assert AuthRule().allows({"id": "x"})
