"""Attack: a cookie signed with the example's published ``cookie_secret`` (issue 10, point 8).

The pingbot example prints its secret, so a server that kept it accepted forged session and
``user`` cookies (a forged admin got 101 on an ``auth`` route). The published value is now
accepted only on a loopback address, where the example runs, and refused with a clear error
anywhere else, at load time and when ``serve --address`` moves the example onto a network.
"""

from __future__ import annotations

import pytest
from config._process import EXAMPLE, run_cli

from tornado_ws_compat.config import ConfigError, parse_config
from tornado_ws_compat.config.loader import PUBLISHED_SECRETS

SECRET = next(iter(PUBLISHED_SECRETS))


def config(address: str | None, secret: str = SECRET) -> dict[str, object]:
    listen = {} if address is None else {"address": address}
    return {
        "app": {"listen": listen, "settings": {"cookie_secret": secret}},
        "url": {"page": {"pattern": "/", "handler": "RedirectHandler", "kwargs": {"url": "/x"}}},
    }


def test_example_ships_the_published_secret() -> None:
    assert SECRET in EXAMPLE.read_text()  # what an attacker reads too


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_published_secret_refused_off_loopback(address: str | None, tmp_path: object) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config(address), base_dir=str(tmp_path))
    message = str(raised.value)
    assert "app.settings.cookie_secret" in message and "published example secret" in message
    assert "secrets.token_hex" in message  # says how to make one
    with pytest.raises(ConfigError):  # also inside a key-version dict
        parse_config(
            {
                **config(address),
                "app": {"settings": {"cookie_secret": {1: SECRET}, "key_version": 1}},
            },
            base_dir=str(tmp_path),
        )


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_published_secret_accepted_on_loopback(address: str, tmp_path: object) -> None:
    loaded = parse_config(config(address), base_dir=str(tmp_path))
    loaded.close()
    loaded = parse_config(config(None, "my own secret"), base_dir=str(tmp_path))
    loaded.close()


@pytest.mark.asyncio(loop_factories=["asyncio"])  # the child process runs its own loop
async def test_serve_refuses_the_example_moved_onto_a_network() -> None:
    status, out, err = await run_cli("serve", str(EXAMPLE), "--port", "0", "--address", "0.0.0.0")
    assert status == 2
    assert "listening" not in out
    assert "published example secret" in err and "'0.0.0.0'" in err
    assert "Traceback" not in err
