"""process.fork_processes and task_id (issue 12), differential with Tornado 6.6.1's."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from helpers import wait

from tornado_ws_compat import process

SCRIPT = Path(__file__).with_name("fork_script.py")
REPO = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def run_script(impl: str, scenario: str, state: Path) -> tuple[int, list[str]]:
    """Exit status and output lines. The children print on stdout (one write a line), the
    parent logs on stderr: apart, so that a child that outlives the parent's last words
    cannot cut one of its lines."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        impl,
        scenario,
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
    )
    out, err = await wait(child.communicate(), 30)
    assert child.returncode is not None
    return child.returncode, out.decode().splitlines() + err.decode().splitlines()


def normalized(lines: list[str], racy: bool = False) -> list[str]:
    """Order-free and pid-free: children run concurrently. With ``racy``, which child
    fails first is up to the scheduler, so child numbers go too."""
    result = []
    for line in lines:
        if line.startswith("Traceback") or line.startswith("  "):
            continue
        words = [
            "N" if word.rstrip(",)").isdigit() and (racy or len(word) > 3) else word
            for word in line.split()
        ]
        result.append(" ".join(words))
    return sorted(result)


@pytest.mark.parametrize("scenario", ["clean", "fail-once", "killed-once", "always-fail"])
@pytest.mark.asyncio
async def test_fork_processes_matches_tornado(scenario: str, tmp_path: Path) -> None:
    (tmp_path / "tornado").mkdir()
    (tmp_path / "compat").mkdir()
    theirs = await run_script("tornado", scenario, tmp_path / "tornado")
    ours = await run_script("compat", scenario, tmp_path / "compat")
    assert ours[0] == theirs[0]
    racy = scenario == "always-fail"
    assert normalized(ours[1], racy) == normalized(theirs[1], racy)
    expected_status = 1 if scenario == "always-fail" else 0
    assert ours[0] == expected_status
    if scenario == "always-fail":
        assert "RuntimeError: Too many child restarts, giving up" in ours[1]
    if scenario in ("fail-once", "killed-once"):
        assert any("restarting" in line for line in ours[1])
        assert any("again" in line for line in ours[1])


@pytest.mark.asyncio
async def test_sigterm_to_the_parent_stops_the_workers(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "compat",
        "wait-for-term",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=child_env(),
    )
    assert parent.stdout is not None
    lines: list[str] = []
    ready = 0
    while ready < 2:
        line = (await wait(parent.stdout.readline(), 30)).decode()
        assert line, lines
        lines.append(line)
        ready += line.startswith("ready")
    pids = [int((tmp_path / f"ready-{i}").read_text()) for i in range(2)]
    parent.send_signal(signal.SIGTERM)
    rest, _ = await wait(parent.communicate(), 30)
    lines += rest.decode().splitlines(keepends=True)
    assert parent.returncode == 0, lines
    text = "".join(lines)
    assert "Received SIGTERM: stopping 2 worker processes" in text
    assert "restarting" not in text
    for pid in pids:  # every worker is gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_task_id_and_cpu_count_outside_workers() -> None:
    assert process.task_id() is None
    assert process.cpu_count() >= 1
