"""``python -m tornado_ws_compat run``: a program sees what ``python`` gives it, with the alias.

Each program runs twice, under plain ``python`` and under ``run``, and what it reports about
itself must be equal. A poisoned ``tornado`` package first on ``PYTHONPATH`` proves that real
Tornado is never imported under ``run``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0

# What a program reports about how it was started.
_REPORT = """
import json, os, sys
import sibling
print(json.dumps({
    "argv": sys.argv, "file": __file__, "path0": sys.path[0], "name": __name__,
    "sibling": sibling.VALUE, "main_file": getattr(sys.modules["__main__"], "__file__", None),
}))
"""


def _env(*first: Path) -> dict[str, str]:
    env = dict(os.environ)
    entries = [*map(str, first), str(REPO), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, entries))
    return env


def _python(args: list[str], cwd: Path, *first: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=_env(*first),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _run(args: list[str], cwd: Path, *first: Path) -> subprocess.CompletedProcess[str]:
    return _python(["-m", "tornado_ws_compat", "run", *args], cwd, *first)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder ``app/`` with a script, a sibling module and a package, run from ``tmp_path``."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "sibling.py").write_text("VALUE = 'sibling-ok'\n")
    (app / "report.py").write_text(_REPORT)
    (app / "status.py").write_text(
        textwrap.dedent(
            """
            import sys
            def helper():
                raise ValueError("boom from the program")
            if __name__ == "__main__":
                if sys.argv[1] == "raise":
                    helper()
                if sys.argv[1] == "interrupt":
                    raise KeyboardInterrupt
                if sys.argv[1] == "message":
                    sys.exit("a message for stderr")
                sys.exit(int(sys.argv[1]))
            """
        )
    )
    return tmp_path


@pytest.fixture
def poison(tmp_path: Path) -> Path:
    """A ``tornado`` package that fails loudly if anything imports it."""
    root = tmp_path / "poison"
    (root / "tornado").mkdir(parents=True)
    (root / "tornado" / "__init__.py").write_text(
        "raise ImportError('the real tornado package was imported')\n"
    )
    return root


def test_script_sees_what_python_gives(project: Path) -> None:
    args = ["app/report.py", "--port=9000", "--help", "-m", "x"]
    plain = _python(args, project)
    ran = _run(args, project)
    assert plain.returncode == ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == json.loads(plain.stdout)
    report = json.loads(ran.stdout)
    assert report["argv"] == args  # the program's own flags reach it
    assert report["file"] == str(project / "app" / "report.py")
    assert report["path0"] == str(project / "app")
    assert report["name"] == "__main__"
    assert report["sibling"] == "sibling-ok"


def test_module_sees_what_python_gives(project: Path) -> None:
    plain = _python(["-m", "report", "a", "--b"], project / "app")
    ran = _run(["-m", "report", "a", "--b"], project / "app")
    assert plain.returncode == ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == json.loads(plain.stdout)
    assert json.loads(ran.stdout)["argv"] == [str(project / "app" / "report.py"), "a", "--b"]


@pytest.mark.parametrize("status", ["0", "3", "77"])
def test_exit_status_is_the_programs(project: Path, status: str) -> None:
    assert _run(["app/status.py", status], project).returncode == int(status)


def test_traceback_is_the_one_python_prints(project: Path) -> None:
    plain = _python(["app/status.py", "raise"], project)
    ran = _run(["app/status.py", "raise"], project)
    assert plain.returncode == ran.returncode == 1
    assert ran.stderr == plain.stderr
    assert ran.stderr.startswith("Traceback (most recent call last):\n")
    assert "ValueError: boom from the program" in ran.stderr


@pytest.mark.parametrize("how", ["interrupt", "message"])
def test_interrupt_and_exit_message_as_python(project: Path, how: str) -> None:
    plain = _python(["app/status.py", how], project)
    ran = _run(["app/status.py", how], project)
    assert (ran.returncode, ran.stderr) == (plain.returncode, plain.stderr)
    assert ran.returncode != 0


def test_syntax_error_and_missing_files_as_python_reports_them(project: Path) -> None:
    (project / "app" / "broken.py").write_text("def (:\n")
    for args in (["app/broken.py"], ["app/missing.py"], ["-m", "no_such_module_here"]):
        plain = _python(args, project)
        ran = _run(args, project)
        assert (ran.returncode, ran.stderr) == (plain.returncode, plain.stderr), args


def test_real_tornado_is_never_imported(project: Path, poison: Path) -> None:
    (project / "app" / "uses.py").write_text(
        textwrap.dedent(
            """
            import sys
            import tornado.web, tornado.websocket, tornado.ioloop
            from tornado import escape
            import tornado_ws_compat
            assert tornado.web is tornado_ws_compat.web
            assert sys.modules["tornado.websocket"] is tornado_ws_compat.websocket
            handler = tornado.websocket.WebSocketHandler
            assert issubclass(handler, tornado_ws_compat.web.RequestHandler)
            files = [getattr(m, "__file__", None) or "" for n, m in sys.modules.items()]
            assert not any("site-packages/tornado/" in f for f in files), files
            print(tornado.version, tornado.version_info, escape.__name__)
            """
        )
    )
    # The poisoned package first on sys.path: an import of real Tornado would raise.
    assert _python(["app/uses.py"], project, poison).returncode == 1
    ran = _run(["app/uses.py"], project, poison)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "6.6.1 (6, 6, 1, 0) tornado_ws_compat.escape\n"
    # And with real Tornado installed and importable (no poison).
    ran = _run(["app/uses.py"], project)
    assert ran.returncode == 0, ran.stderr


def test_missing_tornado_module_names_itself(project: Path, poison: Path) -> None:
    (project / "app" / "missing.py").write_text("import tornado.http1connection\n")
    ran = _run(["app/missing.py"], project, poison)
    assert ran.returncode == 1
    last = ran.stderr.strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: No module named 'tornado.http1connection': tornado_ws_compat "
        "serves 'tornado' imports and does not provide a Tornado module of that name"
    )


def test_usage_errors(project: Path) -> None:
    for args in ([], ["-m"], ["--port=1"]):
        ran = _run(args, project)
        assert ran.returncode == 2, args
        assert ran.stderr.startswith("usage: python -m tornado_ws_compat run"), ran.stderr
    helped = _run(["--help"], project)
    assert helped.returncode == 0 and "-m MODULE" in helped.stdout


def test_run_marks_the_environment_for_children(project: Path) -> None:
    (project / "app" / "child.py").write_text(
        textwrap.dedent(
            """
            import os, subprocess, sys
            from tornado_ws_compat.alias import ENV_MARKER, run_command
            print(os.environ.get(ENV_MARKER))
            out = subprocess.run(
                run_command(os.path.join(os.path.dirname(__file__), "grandchild.py")),
                capture_output=True, text=True, check=True,
            ).stdout
            print(out, end="")
            """
        )
    )
    (project / "app" / "grandchild.py").write_text(
        "import tornado.web, tornado_ws_compat; print(tornado.web is tornado_ws_compat.web)\n"
    )
    ran = _run(["app/child.py"], project)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "1\nTrue\n"


def test_directory_with_main_as_python_runs_it(project: Path) -> None:
    folder = project / "bundle"
    folder.mkdir()
    (folder / "__main__.py").write_text(
        "import sys\nprint(sys.argv, sys.path[0], __file__, __spec__.name, __package__)\n"
    )
    (project / "empty").mkdir()
    for args in (["bundle", "x"], ["empty"]):
        plain = _python(args, project)
        ran = _run(args, project)
        assert (ran.returncode, ran.stdout, ran.stderr) == (
            plain.returncode,
            plain.stdout,
            plain.stderr,
        )
