"""Routing, differential against Tornado 6.6.1: host patterns, default_host, reverse_url,
removeslash/addslash, default_handler_class, handlers named by string, gzip.
"""

from __future__ import annotations

import gzip
import sys
import types
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from ._webdiff import WebSide, same


def make_handlers(w: ModuleType) -> dict[str, Any]:
    class Named(w.RequestHandler):  # type: ignore[name-defined,misc]
        def initialize(self, label: str = "wild") -> None:
            self.label = label

        def get(self, *args: str, **kwargs: str) -> None:
            self.write(
                {
                    "label": self.label,
                    "args": list(args),
                    "kwargs": kwargs,
                    "host": self.request.host_name,
                }
            )

    class Slashless(w.RequestHandler):  # type: ignore[name-defined,misc]
        @w.removeslash
        def get(self) -> None:
            self.write("slashless " + self.request.uri)

        @w.removeslash
        def post(self) -> None:
            self.write("posted")

    class Slashed(w.RequestHandler):  # type: ignore[name-defined,misc]
        @w.addslash
        def get(self) -> None:
            self.write("slashed " + self.request.uri)

        @w.addslash
        def post(self) -> None:
            self.write("posted")

    class Fallback(w.RequestHandler):  # type: ignore[name-defined,misc]
        def initialize(self, word: str) -> None:
            self.word = word

        def get(self) -> None:
            self.set_status(404)
            self.write("fallback " + self.word)

    class Reverser(w.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            names = [
                ("wild", ("a b", "c/d")),
                ("kw", ("x", "y")),
                ("lit", ()),
                ("num", (7,)),
                ("utf", ("caf\u00e9",)),
                ("bytes", (b"b%",)),
                ("host-only", ("q",)),
            ]
            out = {}
            for name, args in names:
                try:
                    out[name] = self.reverse_url(name, *args)
                except Exception as exc:
                    out[name] = type(exc).__name__
            self.write(out)

    return {
        "Named": Named,
        "Slashless": Slashless,
        "Slashed": Slashed,
        "Fallback": Fallback,
        "Reverser": Reverser,
    }


def build(w: ModuleType, **settings: Any) -> Any:
    h = make_handlers(w)
    app = w.Application(
        [
            w.url(r"/wild/([^/]+)/(.+)", h["Named"], name="wild"),
            w.url(r"/kw/(?P<one>\w+)-(?P<two>\w+)", h["Named"], {"label": "kw"}, name="kw"),
            w.url(r"/lit\.eral/x\+y", h["Named"], name="lit"),
            (r"/num/(\d+)", h["Named"], {"label": "num"}, "num"),
            (r"/utf/(.*)", h["Named"], {"label": "utf"}, "utf"),
            (r"/bytes/(.*)", h["Named"], {"label": "bytes"}, "bytes"),
            (r"/complex/(a|(b))", h["Named"]),
            (r"/slashless/*", h["Slashless"]),
            (r"/slashed/?", h["Slashed"]),
            (r"/+evil\.com/*", h["Slashless"]),
            (r"/+evil\.org/?", h["Slashed"]),
            (r"/reverse", h["Reverser"]),
            (r"/shared", h["Named"], {"label": "wildcard"}),
        ],
        default_host=settings.pop("default_host", None),
        **settings,
    )
    app.add_handlers(
        r"www\.example\.com",
        [
            (r"/shared", h["Named"], {"label": "www"}),
            w.url(r"/only/(\w+)", h["Named"], {"label": "www-only"}, name="host-only"),
        ],
    )
    app.add_handlers(r".*\.example\.org", [(r"/shared", h["Named"], {"label": "org"})])
    return app


REQUESTS = [
    ("/wild/a%20b/c/d", {}),
    ("/kw/x-y", {}),
    ("/lit.eral/x+y", {}),
    ("/num/12", {}),
    ("/complex/b", {}),
    ("/shared", {}),
    ("/shared", {"Host": "www.example.com"}),
    ("/shared", {"Host": "WWW.EXAMPLE.COM:8080"}),
    ("/shared", {"Host": "api.example.org"}),
    ("/shared", {"Host": "example.org"}),
    ("/only/z", {}),
    ("/only/z", {"Host": "www.example.com"}),
    ("/only/z", {"Host": "www.example.com", "X-Real-Ip": "10.0.0.1"}),
    ("/only/z", {"X-Real-Ip": "10.0.0.1"}),
    ("/nowhere", {}),
    ("/reverse", {}),
    # host_name keeps an IPv6 literal's brackets and only a trailing ":digits" is a port
    # (tornado.httputil.split_host_and_port); an empty Host stays empty.
    ("/shared", {"Host": "[::1]:8888"}),
    ("/shared", {"Host": "[::1]"}),
    ("/shared", {"Host": "example.org:http"}),
    ("/shared", {"Host": ""}),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("default_host", [None, "www.example.com", "elsewhere.net"])
async def test_host_patterns_default_host_and_reverse_url(default_host: str | None) -> None:
    async def scenario(side: WebSide) -> list[Any]:
        return [await side.fetch(path, headers=headers) for path, headers in REQUESTS]

    observed = await same(lambda w: build(w, default_host=default_host), scenario)
    statuses = [o["status"] for o in observed]
    assert statuses[6] == statuses[8] == 200
    assert statuses[11] == 200
    assert statuses[10] == (200 if default_host == "www.example.com" else 404)


@pytest.mark.asyncio
async def test_default_handler_class() -> None:
    def make(w: ModuleType) -> Any:
        return build(
            w,
            default_handler_class=make_handlers(w)["Fallback"],
            default_handler_args={"word": "here"},
        )

    async def scenario(side: WebSide) -> list[Any]:
        return [await side.fetch("/nowhere"), await side.fetch("/nowhere", "POST")]

    observed = await same(make, scenario)
    assert observed[0]["body"] == b"fallback here"


@pytest.mark.asyncio
async def test_removeslash_and_addslash() -> None:
    paths = [
        ("GET", "/slashless/"),
        ("GET", "/slashless///?a=1&b=2"),
        ("GET", "/slashless"),
        ("HEAD", "/slashless/"),
        ("POST", "/slashless/"),
        ("POST", "/slashless"),
        ("GET", "/slashed"),
        ("GET", "/slashed?q=%20x"),
        ("GET", "/slashed/"),
        ("HEAD", "/slashed"),
        ("POST", "/slashed"),
        ("POST", "/slashed/"),
        ("GET", "//evil.com//"),  # would redirect to another host: 403
        ("GET", "//evil.org"),
    ]

    async def scenario(side: WebSide) -> list[Any]:
        return [await side.fetch(path, method) for method, path in paths]

    observed = await same(build, scenario)
    assert observed[0]["headers"]["location"] == ["/slashless"]
    assert observed[7]["headers"]["location"] == ["/slashed/?q=%20x"]
    assert [o["status"] for o in observed[-2:]] == [403, 403]


@pytest.fixture
def handler_module() -> Iterator[str]:
    """A module holding handler classes for both implementations, named by string."""
    import tornado.web

    import tornado_ws_compat.web

    module = types.ModuleType("mweb_string_handlers")
    for prefix, w in (("Tornado", tornado.web), ("Ours", tornado_ws_compat.web)):

        class Hello(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self, who: str) -> None:
                self.write("hello " + who)

        setattr(module, prefix + "Hello", Hello)
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


@pytest.mark.asyncio
async def test_handler_named_by_dotted_string(handler_module: str) -> None:
    def make(w: ModuleType) -> Any:
        prefix = "Tornado" if w.__name__ == "tornado.web" else "Ours"
        return w.Application([(r"/hello/(\w+)", f"{handler_module}.{prefix}Hello")])

    async def scenario(side: WebSide) -> Any:
        return await side.fetch("/hello/you")

    assert (await same(make, scenario))["body"] == b"hello you"


@pytest.mark.asyncio
@pytest.mark.parametrize("setting", ["compress_response", "gzip"])
async def test_compress_response(setting: str) -> None:
    def make(w: ModuleType) -> Any:
        class Big(w.RequestHandler):  # type: ignore[name-defined,misc]
            def get(self, kind: str) -> None:
                if kind == "small":
                    self.write("tiny")
                elif kind == "binary":
                    self.set_header("Content-Type", "image/png")
                    self.write(b"\x89PNG" * 1000)
                elif kind == "json":
                    self.write({"items": list(range(600))})
                elif kind == "flushed":
                    self.write("chunk one " * 10)
                    self.flush()
                    self.write("chunk two " * 10)
                else:
                    self.set_header("Vary", "Cookie")
                    self.write("big page " * 500)

        return w.Application([(r"/(\w+)", Big)], **{setting: True})

    async def scenario(side: WebSide) -> list[Any]:
        seen = []
        for kind in ("small", "binary", "json", "flushed", "big"):
            for accept in ("gzip, deflate", "identity"):
                headers = {"Accept-Encoding": accept}
                async with side.session.get(
                    side.url("/" + kind), headers=headers, auto_decompress=False
                ) as response:
                    body = await response.read()
                    encoding = response.headers.get("Content-Encoding")
                    seen.append(
                        {
                            "status": response.status,
                            "encoding": encoding,
                            "vary": response.headers.get("Vary"),
                            "length": response.headers.get("Content-Length") is not None,
                            "body": gzip.decompress(body) if encoding == "gzip" else body,
                        }
                    )
        return seen

    observed = await same(make, scenario)
    assert [o["encoding"] for o in observed] == [
        None, None, None, None, "gzip", None, "gzip", None, "gzip", None
    ]  # fmt: skip


def test_matcher_rules_are_declined_by_name() -> None:
    import tornado.routing

    from tornado_ws_compat import web
    from tornado_ws_compat.errors import NotSupportedError

    with pytest.raises(NotSupportedError, match=r"tornado\.routing matchers"):
        web.Application([(tornado.routing.HostMatches("example.com"), [])])
