"""Configuration mode: hooks render Tornado templates with handler.render_string."""

from __future__ import annotations

import aiohttp
import pytest

from tornado_ws_compat.testing import running

from .conftest import TIMEOUT, Project

HOOKS = """
def on_message(handler, message):
    handler.write_message(handler.render_string("message.html", text=message))
"""

ROUTE = """
url:
  chat:
    pattern: /chat
    handler: WebSocketHandler
    kwargs:
      on_message: {function: $hooks.on_message}
"""


@pytest.mark.asyncio
@pytest.mark.parametrize("folder", ["templates", None])
async def test_hook_renders_a_template(project: Project, folder: str | None) -> None:
    # template_path relative to the YAML file; without it, the hook module's folder.
    project.write(f"{folder}/message.html" if folder else "message.html", "<p>{{ text }}</p>")
    settings = f"app:\n  settings:\n    template_path: {folder}\n" if folder else ""
    config = project.load(settings + ROUTE, HOOKS)
    async with running(config.application, **config.listen.server_kwargs()) as server:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(server.url("/chat")) as ws:
                await ws.send_str("<hi>")
                reply = await ws.receive(timeout=TIMEOUT)
    assert reply.data == "<p>&lt;hi&gt;</p>"
