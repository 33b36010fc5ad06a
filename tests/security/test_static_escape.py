"""Attack: reading files outside a StaticFileHandler's folder (issue 10, point 4).

Before the fix ``/static/link/passwd`` served ``/etc/passwd`` through a symlink in the folder.
Both servers (Tornado 6.6.1 and ours) get the same requests and must answer alike: 403 for
anything that resolves outside the folder, as written or through a symlink.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from differential import request_both, serving_both

SECRET = b"outside the served folder"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "www"
    outside = tmp_path / "private"
    shared = tmp_path / "shared"
    for folder in (root, outside, shared):
        folder.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (shared / "logo.txt").write_bytes(b"shared logo")
    (root / "inside.txt").write_bytes(b"inside")
    os.symlink(outside, root / "link")  # a directory link leaving the folder
    os.symlink(outside / "secret.txt", root / "file-link.txt")  # a file link leaving it
    os.symlink(root / "inside.txt", root / "alias.txt")  # a link that stays inside
    os.symlink("/etc", root / "etc")
    (root / "site").mkdir()
    os.symlink(outside / "secret.txt", root / "site" / "index.html")  # default file escapes
    os.symlink(shared, root / "assets")
    return {"root": root, "shared": shared}


def routes(layout: dict[str, Path]) -> Any:
    def make(w: ModuleType) -> list[Any]:
        root = str(layout["root"])
        return [
            (
                r"/static/(.*)",
                w.StaticFileHandler,
                {"path": root, "default_filename": "index.html"},
            ),
            (
                r"/wide/(.*)",
                w.StaticFileHandler,
                {"path": root, "allowed_symlink_directory": [root, str(layout["shared"])]},
            ),
        ]

    return make


ESCAPES = [
    "/static/link/secret.txt",
    "/static/file-link.txt",
    "/static/etc/passwd",
    "/static/etc/hostname",
    "/static/site/",  # the default_filename is a link out of the folder
    "/static/../private/secret.txt",
    "/static/%2e%2e/private/secret.txt",
    "/static/..%2fprivate/secret.txt",
    "/static/%2e%2e%2fprivate%2fsecret.txt",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/static/assets/logo.txt",  # shared is not allowed on this route
    "/wide/link/secret.txt",  # nor private on the wider one
]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ESCAPES)
async def test_escapes_are_refused_as_tornado(layout: dict[str, Path], path: str) -> None:
    async with serving_both(routes(layout)) as servers:
        results = await request_both(servers, path)
    assert results["ours"] == results["tornado"]
    assert results["ours"]["status"] in (403, 404), results["ours"]
    assert SECRET not in results["ours"]["body"]
    assert b"root:" not in results["ours"]["body"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/static/alias.txt", b"inside"),
        ("/static/inside.txt", b"inside"),
        ("/wide/assets/logo.txt", b"shared logo"),
    ],
)
async def test_links_that_stay_allowed_are_served(
    layout: dict[str, Path], path: str, body: bytes
) -> None:
    async with serving_both(routes(layout)) as servers:
        results = await request_both(servers, path)
    assert results["ours"] == results["tornado"]
    assert (results["ours"]["status"], results["ours"]["body"]) == (200, body)
