"""Attack: an open redirect through ``RedirectHandler`` URL groups (issue 10, point 5).

With ``url: "/{0}"`` a request for ``/go//evil.com`` used to answer ``Location: //evil.com``,
which a browser follows to another host. Tornado 6.6.1 answers 400 whenever a substitution
changes the scheme or host of the target; both servers get the same requests here.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from differential import request_both, serving_both


def routes(w: ModuleType) -> list[Any]:
    return [
        (r"/go/(.*)", w.RedirectHandler, {"url": "/{0}"}),
        (r"/docs/(.*)", w.RedirectHandler, {"url": "/manual/{0}", "permanent": False}),
        (r"/ext/(.*)", w.RedirectHandler, {"url": "https://example.com/{0}"}),
        (r"/host/(.*)", w.RedirectHandler, {"url": "https://{0}/x"}),
        (r"/swap/(.*?)/(.*)", w.RedirectHandler, {"url": "/{1}/{0}"}),
    ]


ATTACKS = [
    "/go//evil.com",
    "/go//evil.com/path",
    "/go/%2Fevil.com",
    "/go/%2F%2Fevil.com",
    "/go/%5Cevil.com",
    "/go/%5C%5Cevil.com",
    "/go/%5C/evil.com",
    "/go/%09/evil.com",
    "/go///evil.com",
    "/go/%2F%2F%2Fevil.com",
    "/go/%0D%0ASet-Cookie:%20x=1",
    "/host/evil.com",
    "/swap//evil.com",
    "/ext/@evil.com",
]

SAFE = [
    ("/go/home", "/home"),
    ("/go/a/b?x=1", "/a/b?x=1"),
    ("/docs/intro", "/manual/intro"),
    ("/ext/page", "https://example.com/page"),
    ("/ext//evil.com", "https://example.com//evil.com"),
    ("/swap/a/b", "/b/a"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ATTACKS)
async def test_redirects_to_another_host_are_refused(path: str) -> None:
    async with serving_both(routes) as servers:
        results = await request_both(servers, path)
    assert results["ours"] == results["tornado"]
    if results["ours"]["status"] != 400:
        location = results["ours"]["headers"]["location"][0]
        assert not location.replace("\\", "/").lstrip("\t ").startswith("//"), location
        assert "evil.com" not in location.split("/")[2:3], location


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "location"), SAFE)
async def test_ordinary_redirects_still_work(path: str, location: str) -> None:
    async with serving_both(routes) as servers:
        results = await request_both(servers, path)
    assert results["ours"] == results["tornado"]
    assert results["ours"]["status"] in (301, 302)
    assert results["ours"]["headers"]["location"] == [location]


@pytest.mark.asyncio
async def test_static_directory_redirect_is_never_scheme_relative(tmp_path: Path) -> None:
    """A default_filename redirect adds a slash to the request path; never to ``//host``."""
    (tmp_path / "evil.com").mkdir()
    (tmp_path / "evil.com" / "index.html").write_text("x")

    def static_routes(w: ModuleType) -> list[Any]:
        return [
            # A route that tolerates repeated slashes: "//evil.com" reaches the folder "evil.com".
            (
                r"/+(.*)",
                w.StaticFileHandler,
                {"path": str(tmp_path), "default_filename": "index.html"},
            )
        ]

    async with serving_both(static_routes) as servers:
        for path, status in (("/evil.com", 301), ("//evil.com", 403), ("///evil.com", 403)):
            results = await request_both(servers, path)
            assert results["ours"] == results["tornado"], path
            assert results["ours"]["status"] == status, path
            location = results["ours"]["headers"].get("location", ["/"])[0]
            assert not location.replace("\\", "/").startswith("//"), (path, location)
