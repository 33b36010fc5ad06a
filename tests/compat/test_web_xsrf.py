"""XSRF protection (``xsrf_cookies``), differential against Tornado 6.6.1.

Tokens are random and masked afresh per request, so observations replace them with their
shape; the cross-server tests then prove the formats are the same by posting a token and
cookie minted by one server to the other.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest
import yarl

from ._webdiff import WebSide, run_side, same

V2 = re.compile(r"2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d{10}")
V1 = re.compile(r"(?<![0-9a-f|])[0-9a-f]{32}(?![0-9a-f|])")
EXPIRES = re.compile(r"expires=[^;]+", re.IGNORECASE)


def shape(text: str) -> str:
    """Tokens and dates replaced by their shape."""
    return EXPIRES.sub("expires=DATE", V1.sub("V1TOKEN", V2.sub("V2TOKEN", text)))


def shaped(observation: dict[str, Any]) -> dict[str, Any]:
    out = dict(observation)
    out["body"] = shape(observation["body"].decode())
    out["headers"] = {
        k: ["ETAG" if k == "etag" else shape(v) for v in vs]  # a hash of the random body
        for k, vs in observation["headers"].items()
    }
    return out


def build(**settings: Any) -> Any:
    def make(w: ModuleType) -> Any:
        class Form(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self) -> None:
                self.write(self.xsrf_form_html())

            def post(self) -> None:
                self.write("accepted " + self.request.method)

            put = delete = patch = post

        class Token(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self) -> None:
                self.write(self.xsrf_token)
                self.write(b" " + self.xsrf_token)  # the same value within one request

        class LoggedIn(Form):
            def get_current_user(self) -> str:
                return "alice"

        class Exempt(w.RequestHandler):  # type: ignore[name-defined,misc]
            def check_xsrf_cookie(self) -> None:
                pass

            def post(self) -> None:
                self.write("exempt")

        return w.Application(
            [(r"/form", Form), (r"/token", Token), (r"/user", LoggedIn), (r"/exempt", Exempt)],
            xsrf_cookies=True,
            **settings,
        )

    return make


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"xsrf_cookie_version": 1},
        {"xsrf_cookie_name": "csrf", "xsrf_cookie_kwargs": {"httponly": True, "path": "/f"}},
    ],
    ids=["v2", "v1", "name-kwargs"],
)
async def test_token_cookie_and_form_html(settings: dict[str, Any]) -> None:
    async def scenario(side: WebSide) -> list[Any]:
        first = shaped(await side.fetch("/form"))
        again = shaped(await side.fetch("/token"))  # the cookie is kept: not set again
        return [first, again]

    await same(build(**settings), scenario)


@pytest.mark.asyncio
async def test_logged_in_user_gets_a_30_day_cookie() -> None:
    async def scenario(side: WebSide) -> Any:
        return shaped(await side.fetch("/user"))

    observed = await same(build(), scenario)
    assert "expires=DATE" in observed["headers"]["set-cookie"][0]


async def _token(side: WebSide, path: str = "/token") -> str:
    response = await side.session.get(side.url(path))
    text = await response.text()
    first, second = text.split(" ")
    assert first == second
    return first


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_unsafe_methods_are_checked(method: str) -> None:
    async def scenario(side: WebSide) -> list[Any]:
        seen = [await side.fetch("/form", method)]  # no cookie, no token
        token = await _token(side)
        seen.append(await side.fetch("/form", method))  # cookie, no token
        seen.append(await side.fetch("/form", method, headers={"X-XSRFToken": token}))
        seen.append(await side.fetch("/form", method, headers={"X-CSRFToken": token}))
        seen.append(await side.fetch("/form?_xsrf=" + token.replace("|", "%7C"), method))
        seen.append(await side.fetch("/exempt", "POST"))
        return seen

    observed = await same(build(), scenario)
    assert [o["status"] for o in observed] == [403, 403, 200, 200, 200, 200]


@pytest.mark.asyncio
async def test_safe_methods_are_not_checked() -> None:
    async def scenario(side: WebSide) -> list[int]:
        return [(await side.fetch("/form", m))["status"] for m in ("GET", "HEAD", "OPTIONS")]

    # HEAD and OPTIONS are not implemented by the handler: 405, not 403.
    assert await same(build(), scenario) == [200, 405, 405]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("cookie", "argument", "status"),
    [
        (None, "x", 403),  # no cookie: a fresh token never matches
        ("00" * 16, "00" * 16, 200),  # v1 cookie, v1 argument
        ("00" * 16, "2|01020304|01020304" * 1 + "01020304" * 3 + "|1700000000", 200),
        ("2|00000000|" + "ab" * 16 + "|1700000000", "ab" * 16, 200),  # v2 cookie, v1 arg
        ("ab" * 16, "ab" * 15 + "ac", 403),  # mismatch
        ("ab" * 16, "2|zz|" + "ab" * 16 + "|1", 403),  # invalid hex in a v2 argument
        ("ab" * 16, "2|00000000|abab", 403),  # too few fields
        ("ab" * 16, "3|whatever", 403),  # unknown version
        ("ab" * 16, "2||" + "|1", 403),  # empty token: invalid format
        ("not hex at all", "not hex at all", 200),  # v1 without hex: the text itself
        ("ab" * 16, "", 403),  # empty argument: missing
    ],
)
async def test_cookie_and_argument_pairs(cookie: str | None, argument: str, status: int) -> None:
    async def scenario(side: WebSide) -> Any:
        headers = {"Cookie": f"_xsrf={cookie}"} if cookie else {}
        return await side.fetch("/form", "POST", data={"_xsrf": argument}, headers=headers)

    observed = await same(build(), scenario)
    assert observed["status"] == status


@pytest.mark.asyncio
@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("minter", "checker"), [("tornado", "ours"), ("ours", "tornado")])
async def test_tokens_cross_validate(minter: str, checker: str, version: int) -> None:
    """A cookie and token minted by one server are accepted by the other (and vice versa)."""
    minted: dict[str, str] = {}

    async def mint(side: WebSide) -> None:
        minted["token"] = await _token(side)
        cookies = side.session.cookie_jar.filter_cookies(yarl.URL(side.url("/")))
        minted["cookie"] = cookies["_xsrf"].value

    async def check(side: WebSide) -> list[int]:
        headers = {"Cookie": f"_xsrf={minted['cookie']}"}
        good = await side.fetch("/form", "POST", data={"_xsrf": minted["token"]}, headers=headers)
        bad = await side.fetch("/form", "POST", data={"_xsrf": "00" * 16}, headers=headers)
        # The checker's own token for the minted cookie, masked differently, also matches.
        async with side.session.get(side.url("/token"), headers=headers) as response:
            own = (await response.text()).split(" ")[0]
        again = await side.fetch("/form", "POST", data={"_xsrf": own}, headers=headers)
        return [good["status"], bad["status"], again["status"]]

    await run_side(minter, build(xsrf_cookie_version=version), mint)
    assert (V1 if version == 1 else V2).fullmatch(minted["token"].strip('"'))
    result, _ = await run_side(checker, build(xsrf_cookie_version=version), check)
    assert result == [200, 403, 200]
