"""The pingbot example in a real browser: headless Chromium, driven by Playwright.

``python -m tornado_ws_compat serve examples/pingbot/pingbot.yaml`` serves the chat page; its
script (the seed's JavaScript) opens ``ws://.../pingbot``, sends ``Hello world`` a second
later and logs the answer to the console. The test reads ``Got message: Hello world`` from the
console message's event and from the page, and the chatbot's lines from the server's stdout.

Needs the Debian package ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it) and the
PyPI package ``playwright`` (its own browser download, ``playwright install``, is not used).
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from tornado_ws_compat import signing

from ._process import EXAMPLE, Served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(
        "chromium is not installed (Debian package 'chromium'; .ci/run installs it)",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (pip install playwright)"
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Milliseconds Playwright waits for what must happen (the page sends after 1 s).
WAIT_MS = 15_000
EXAMPLE_SECRET = "pingbot-example-secret-replace-me"


# The browser and the server are child processes; the test's own loop only drives them, so
# one loop is enough (Playwright's driver pipes work the same on asyncio and uvloop).
@pytest.mark.asyncio(loop_factories=["asyncio"])
@pytest.mark.timeout(60)
async def test_pingbot_page_in_headless_chromium() -> None:
    assert EXAMPLE_SECRET in EXAMPLE.read_text()
    served = await Served.start(EXAMPLE, "--port", "0", "--address", "127.0.0.1")
    try:
        async with playwright_api.async_playwright() as driver:
            browser = await driver.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=WAIT_MS
            )
            try:
                context = await browser.new_context()
                page = await context.new_page()
                page.set_default_timeout(WAIT_MS)
                # The seed's script: ws.onmessage = console.log, so the MessageEvent is logged.
                async with page.expect_console_message(
                    lambda message: message.type == "log"
                ) as logged:
                    await page.goto(served.url)
                event = (await logged.value).args[0]
                assert await event.evaluate("event => event.data") == "Got message: Hello world"
                assert await event.evaluate("event => event.constructor.name") == "MessageEvent"
                # The page lists the messages as well.
                await page.wait_for_selector("#messages li")
                assert await page.locator("#messages li").all_inner_texts() == [
                    "Got message: Hello world"
                ]

                # The server's side: the seed's pingbot.py printed, for the browser's session.
                opened = await served.expect("Chatbot opened for ")
                sid = opened.rsplit(" ", 1)[1]
                assert await served.line() == f"Got message Hello world for {sid}"
                (cookie,) = [c for c in await context.cookies() if c["name"] == "sid"]
                assert cookie["httpOnly"] and cookie["path"] == "/"
                # Quoted as Set-Cookie sent it (the value has "|"), as Tornado quotes it too.
                value = cookie["value"].strip('"')
                assert signing.decode_signed_value(EXAMPLE_SECRET, "sid", value) == sid.encode()

                await page.close()  # the browser closes the socket
                assert await served.line() == f"Chatbot closed for {sid}"
            finally:
                await browser.close()
        assert await served.stop(signal.SIGTERM) == 0
    finally:
        await served.stop(signal.SIGKILL)
