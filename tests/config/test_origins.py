"""``origins``: host equal or a subdomain at a dot boundary, case-insensitive, optional port."""

from __future__ import annotations

import pytest

from tornado_ws_compat.config.handlers import OriginRule, origin_allowed, parse_origin_rule
from tornado_ws_compat.testing import running

from ._client import handshake
from .conftest import Project

RULES = tuple(
    parse_origin_rule(entry)
    for entry in ["gramener.com", "localhost", "Example.ORG:8443", "https://secure.test"]
)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://gramener.com", True),
        ("http://gramener.com:8080", True),  # an entry without a port allows any port
        ("https://chat.gramener.com", True),  # a subdomain, at a dot boundary
        ("https://a.b.gramener.com", True),
        ("https://evilgramener.com", False),  # Gramex's plain suffix test accepted this one
        ("https://gramener.com.evil.net", False),
        ("https://GRAMENER.Com", True),  # case-insensitive
        ("HTTP://Chat.Gramener.COM", True),
        ("https://gramener.com.", True),  # the same host, fully qualified
        ("http://localhost:9988", True),
        ("http://notlocalhost", False),
        ("https://example.org:8443", True),  # the entry's port is required...
        ("https://www.example.org:8443", True),
        ("https://example.org", False),  # ...443 is not 8443
        ("http://example.org:8080", False),
        ("https://secure.test", True),  # an entry with a scheme requires it
        ("http://secure.test", False),
        ("null", False),  # sandboxed pages and file:// send "null"
        ("", False),
        ("file:///etc/passwd", False),
        ("http://[::1]:80", False),
        ("http://gramener.com:notaport", False),
    ],
)
def test_origin_matching(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin, RULES) is allowed


def test_default_ports_count_for_entries_with_a_port() -> None:
    rules = (parse_origin_rule("example.com:443"), parse_origin_rule("[::1]:8080"))
    assert origin_allowed("https://example.com", rules)
    assert not origin_allowed("http://example.com", rules)  # port 80
    assert origin_allowed("http://[::1]:8080", rules)


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        ("gramener.com", OriginRule("gramener.com")),
        ("  Gramener.COM ", OriginRule("gramener.com")),
        ("localhost:8000", OriginRule("localhost", 8000)),
        ("https://x.test:444", OriginRule("x.test", 444, "https")),
        ("example.com.", OriginRule("example.com")),
    ],
)
def test_parse_entries(entry: str, rule: OriginRule) -> None:
    assert parse_origin_rule(entry) == rule


@pytest.mark.parametrize(
    "entry",
    ["", "*.gramener.com", ".gramener.com", "gramener.com/path", "ftp://x.com", "a b", "x:99999"],
)
def test_invalid_entries(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_origin_rule(entry)


YAML = """
url:
  restricted:
    pattern: /restricted
    handler: WebSocketHandler
    kwargs:
      origins: [gramener.com, "localhost:8000"]
  single:
    pattern: /single
    handler: WebSocketHandler
    kwargs:
      origins: gramener.com
  open-to-all:
    pattern: /open
    handler: WebSocketHandler
"""


@pytest.mark.asyncio
async def test_origins_over_the_wire(project: Project) -> None:
    config = project.load(YAML)
    async with running(config.application) as server:
        port = server.port

        async def status(path: str, origin: str | None, **headers: str) -> int:
            if origin is not None:
                headers["Origin"] = origin
            answer = await handshake(port, path, headers)
            if answer.status == 403:
                assert answer.body == b"Cross origin websockets not allowed"
            return answer.status

        assert await status("/restricted", "https://chat.gramener.com") == 101
        assert await status("/restricted", "https://CHAT.Gramener.com") == 101
        assert await status("/restricted", "https://evilgramener.com") == 403
        assert await status("/restricted", "http://localhost:8000") == 101
        assert await status("/restricted", "http://localhost:8001") == 403
        assert await status("/single", "https://gramener.com") == 101
        assert await status("/single", "https://evil.com") == 403
        # Same-origin pages and non-browser clients are not cross-origin requests at all.
        assert await status("/restricted", f"http://127.0.0.1:{port}") == 101
        assert await status("/restricted", None) == 101
        # Tornado 6.6's Sec-Fetch-Site rules apply first.
        assert await status("/restricted", "https://evil.com", **{"Sec-Fetch-Site": "none"}) == 101
        assert (
            await status("/restricted", "https://evil.com", **{"Sec-Fetch-Site": "cross-site"})
            == 403
        )
        # Without origins, every origin is allowed (as the seed says).
        assert await status("/open", "https://evil.com") == 101
