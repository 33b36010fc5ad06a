"""``static_url`` and the static settings, differential against Tornado 6.6.1.

Versions are the SHA-512 of the file content in both, so the URLs must be equal byte for byte.
(The file responses themselves are StaticFileHandler's, tested with it; here only their status
and body are compared, to show the automatic routes exist.)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tornado.web

import tornado_ws_compat.web

from ._webdiff import WebSide, both, same


@pytest.fixture
def static_root(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "sub").mkdir(parents=True)
    (root / "app.js").write_text("console.log(1);\n")
    (root / "sub" / "page one.html").write_text("<p>sub</p>")
    (root / "robots.txt").write_text("User-agent: *\n")
    (tmp_path / "secret.txt").write_text("outside")
    return root


@pytest.fixture(autouse=True)
def fresh_version_caches() -> None:
    """Both StaticFileHandlers cache versions in a class attribute: start every test empty."""
    tornado.web.StaticFileHandler.reset()
    tornado_ws_compat.web.StaticFileHandler.reset()


URLS = [
    ("app.js", {}),
    ("app.js", {"include_host": True}),
    ("app.js", {"include_version": False}),
    ("sub/page one.html", {}),
    ("missing.js", {}),
    ("sub", {}),
]


def make_app(static_root: Path, **settings: Any) -> Any:
    def build(w: ModuleType) -> Any:
        class Urls(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self) -> None:
                out = []
                for path, kwargs in URLS:
                    out.append(self.static_url(path, **kwargs))
                self.write({"urls": out})

        class HostUrls(Urls):
            include_host = True

        class Escape(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self) -> None:
                self.write(self.static_url("../secret.txt"))

        return w.Application(
            [(r"/urls", Urls), (r"/host-urls", HostUrls), (r"/escape", Escape)],
            static_path=str(static_root),
            **settings,
        )

    return build


def urls_scenario(*paths: str) -> Any:
    async def scenario(side: WebSide) -> list[Any]:
        seen = []
        for path in paths:
            observed = await side.fetch(path, headers={"Host": "example.com:8000"})
            seen.append({"status": observed["status"], "body": observed["body"]})
        return seen

    return scenario


@pytest.mark.asyncio
async def test_static_url_versions_and_automatic_routes(static_root: Path) -> None:
    observed = await same(
        make_app(static_root),
        urls_scenario(
            "/urls",
            "/host-urls",
            "/escape",
            "/static/app.js",
            "/static/app.js?v=whatever",
            "/robots.txt",
            "/favicon.ico",
        ),
    )
    urls = json.loads(observed[0]["body"])["urls"]
    version = hashlib.sha512(b"console.log(1);\n").hexdigest()
    assert urls[0] == f"/static/app.js?v={version}"
    assert urls[1] == f"http://example.com:8000/static/app.js?v={version}"
    assert urls[2] == "/static/app.js"
    assert urls[4] == "/static/missing.js"
    assert observed[2]["status"] == 403
    assert [o["status"] for o in observed[3:]] == [200, 200, 200, 404]


@pytest.mark.asyncio
async def test_static_url_prefix_and_handler_args(static_root: Path) -> None:
    observed = await same(
        make_app(
            static_root,
            static_url_prefix="/assets/v1/",
            static_handler_args={"default_filename": "page one.html"},
        ),
        urls_scenario("/urls", "/assets/v1/app.js", "/static/app.js", "/assets/v1/sub/"),
    )
    assert [o["status"] for o in observed] == [200, 200, 404, 200]


@pytest.mark.asyncio
async def test_static_handler_class(static_root: Path) -> None:
    def build(w: ModuleType) -> Any:
        class Versioned(w.StaticFileHandler):  # type: ignore[name-defined,misc]
            @classmethod
            def get_content_version(cls, abspath: str) -> str:
                return "v-" + os.path.basename(abspath)

        class Prefixed(w.StaticFileHandler):  # type: ignore[name-defined,misc]
            @classmethod
            def make_static_url(cls, settings: dict[str, Any], path: str, **kwargs: Any) -> str:
                return "//cdn.example.net/" + path + "?" + ",".join(sorted(kwargs))

        class Urls(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self, which: str) -> None:
                if which == "versioned":
                    self.write(self.static_url("app.js"))
                else:  # make_static_url's own keyword arguments pass through
                    self.settings["static_handler_class"] = Prefixed
                    self.write(self.static_url("app.js", extra=1))
                    self.settings["static_handler_class"] = Versioned

        return w.Application(
            [(r"/urls/(\w+)", Urls)],
            static_path=str(static_root),
            static_handler_class=Versioned,
        )

    observed = await same(
        build, urls_scenario("/urls/prefixed", "/urls/versioned", "/static/app.js")
    )
    assert observed[0]["body"] == b"//cdn.example.net/app.js?extra"
    assert observed[1]["body"] == b"/static/app.js?v=v-app.js"


@pytest.mark.asyncio
@pytest.mark.parametrize("cache", [True, False])
async def test_static_hash_cache(static_root: Path, cache: bool) -> None:
    """With the cache (the default) a changed file keeps its first version; without it
    (``static_hash_cache=False``, which ``debug=True`` implies) the URL follows the file.
    """

    async def scenario(side: WebSide) -> list[bytes]:
        (static_root / "app.js").write_text("console.log(1);\n")
        first = (await side.fetch("/urls"))["body"]
        (static_root / "app.js").write_text("console.log(2);\n")
        second = (await side.fetch("/urls"))["body"]
        # Only the version moves: the include_host URL holds the port, which differs.
        first, second = (json.loads(body)["urls"][0].encode() for body in (first, second))
        return [first, second]

    results = await both(make_app(static_root, static_hash_cache=cache), scenario)
    assert results["ours"] == results["tornado"]
    first, second = results["tornado"][0]
    assert (first == second) is cache


def test_debug_implies_its_four_settings() -> None:
    for w in (tornado.web, tornado_ws_compat.web):
        app = w.Application(debug=True, autoreload=False)
        assert {
            name: app.settings.get(name)
            for name in (
                "autoreload",
                "compiled_template_cache",
                "static_hash_cache",
                "serve_traceback",
            )
        } == {
            "autoreload": False,
            "compiled_template_cache": False,
            "static_hash_cache": False,
            "serve_traceback": True,
        }, w
