"""What a newcomer meets first (issue 10, point 12): the README, the test run, the example.

The echo example is run as a user runs it, in a child process: a bad or busy port prints one
``error:`` line and exits 2 or 1, as ``python -m tornado_ws_compat serve`` does.
"""

from __future__ import annotations

import asyncio
import configparser
import os
import pkgutil
import re
import socket
import sys
from pathlib import Path

import pytest

import tornado_ws_compat

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "echo.py"


async def run_example(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.asyncio
@pytest.mark.parametrize("port", ["-1", "65536"])
async def test_echo_example_port_out_of_range(port: str) -> None:
    status, out, err = await run_example("--port", port, "--address", "127.0.0.1")
    assert status == 2
    assert err == f"error: --port must be between 0 and 65535, got {port}\n"
    assert "Traceback" not in out + err


@pytest.mark.asyncio
async def test_echo_example_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status, out, err = await run_example("--port", str(port), "--address", "127.0.0.1")
    assert status == 1
    assert re.fullmatch(rf"error: cannot listen on 127\.0\.0\.1:{port}: .*in use.*\n", err), err
    assert "Traceback" not in out + err


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_readme_layout_names_every_module() -> None:
    layout = readme_section("Layout")
    package = Path(tornado_ws_compat.__file__).parent
    missing = []
    for info in pkgutil.iter_modules([str(package)]):
        name = f"{info.name}/" if info.ispkg else info.name
        if f"`{name}`" not in layout:
            missing.append(name)
        if info.ispkg:
            for sub in pkgutil.iter_modules([str(package / info.name)]):
                if f"`{sub.name}`" not in layout:
                    missing.append(f"{info.name}/{sub.name}")
    assert not missing, f"README's Layout does not name: {missing}"


def test_readme_prerequisites_and_extras() -> None:
    prerequisites = readme_section("Prerequisites")
    classifiers = configparser.ConfigParser()
    classifiers.read(ROOT / "setup.cfg")
    assert classifiers["options"]["python_requires"].strip() == ">=3.11"
    for version in ("3.11", "3.12", "3.13"):
        assert version in prerequisites
    assert "venv" in prerequisites
    assert "Linux" in prerequisites and "macOS" in prerequisites and "uvloop" in prerequisites
    readme = (ROOT / "README.md").read_text()
    for extra in classifiers["options.extras_require"]:
        assert f"`.[{extra}]`" in readme, f"README does not mention the [{extra}] extra"


def test_pytest_reports_skip_reasons() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert "-rs" in config["tool:pytest"]["addopts"].split()
