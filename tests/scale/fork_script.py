"""``fork_processes`` driven from the command line, for the process tests.

    python fork_script.py IMPL SCENARIO STATE_DIR

IMPL is ``tornado`` (real Tornado 6.6.1) or ``compat``; each child prints one line and then
does what SCENARIO says; the parent's own lines (its log and exit) follow. STATE_DIR keeps
what must survive a restart.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path


def say(line: str) -> None:
    # One write per line: the children share the pipe with each other and the parent.
    os.write(1, (line + "\n").encode())


def main() -> None:
    impl, scenario, state = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if impl == "tornado":
        from tornado import process
    else:
        from tornado_ws_compat import process
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    max_restarts = 2 if scenario == "always-fail" else None
    task = process.fork_processes(2, max_restarts=max_restarts)
    assert process.task_id() == task
    marker = state / f"ran-{task}"
    first = not marker.exists()
    marker.write_text("1")
    say(f"child {task} {'first' if first else 'again'}")
    if scenario == "clean":
        sys.exit(0)
    if scenario == "fail-once":
        sys.exit(3 if first and task == 1 else 0)
    if scenario == "killed-once":
        if first and task == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        sys.exit(0)
    if scenario == "always-fail":
        sys.exit(5)
    if scenario == "wait-for-term":
        # Stay until the parent passes SIGTERM on; exit 0 as a graceful worker would.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        (state / f"ready-{task}").write_text(str(os.getpid()))
        say(f"ready {task}")
        signal.pause()
    raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main()
