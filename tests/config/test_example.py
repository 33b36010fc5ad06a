"""examples/pingbot is the seed's demo as written: its hooks, its YAML keys, its JavaScript."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tornado_ws_compat.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pingbot"
# The seed lives in the project's shared folder, beside the repository.
SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "gramex-websockethandler.txt"


def seed_text() -> str:
    if not SEED.exists():
        pytest.skip(f"the seed is not beside the repository ({SEED})")
    return SEED.read_text()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def test_pingbot_py_is_the_seeds() -> None:
    seed = seed_text()
    start = seed.index("def open(handler):")
    end = seed.index("Now we can use JavaScript")
    code = (EXAMPLE / "pingbot.py").read_text()
    assert _lines(seed[start:end]) == _lines(code[code.index("def open(handler):") :])


def test_index_html_script_is_the_seeds() -> None:
    seed = seed_text()
    start = seed.index("// Open the websocket")
    end = seed.index("// ws.close()") + len("// ws.close()")
    html = (EXAMPLE / "index.html").read_text()
    (script,) = re.findall(r"<script>\n(// Open the websocket.*?)\n</script>", html, re.DOTALL)
    assert _lines(seed[start:end]) == _lines(script)


def test_pingbot_yaml_has_the_seeds_configuration() -> None:
    text = (EXAMPLE / "pingbot.yaml").read_text()
    for line in (
        "pattern: /pingbot",
        "handler: WebSocketHandler",
        "function: pingbot.open",
        "function: pingbot.on_message",
        "function: pingbot.on_close",
        "- gramener.com",
        "- localhost",
        "# auth: true",
    ):
        assert line in text
    config = load_config(EXAMPLE / "pingbot.yaml")
    try:
        route = config.routes[1].kwargs["route"]
        assert [rule.host for rule in route.origins] == ["gramener.com", "localhost"]
        assert route.open.__module__ == "pingbot" and route.open.__name__ == "open"
    finally:
        config.close()
        sys.modules.pop("pingbot", None)
        while str(EXAMPLE) in sys.path:
            sys.path.remove(str(EXAMPLE))
