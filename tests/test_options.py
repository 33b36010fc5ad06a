"""``options`` and ``log`` against real Tornado 6.6.1: parsing, errors, ``--help``, log lines."""

from __future__ import annotations

import datetime
import io
import logging
import os
import pty
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import tornado.log
import tornado.options
from differ import IMPLEMENTATIONS, ROOT, outcome, run_program

import tornado_ws_compat.log
import tornado_ws_compat.options

MODULES = {"tornado": tornado.options, "ours": tornado_ws_compat.options}
LOGS = {"tornado": tornado.log, "ours": tornado_ws_compat.log}


def define_all(module: types.ModuleType) -> Any:
    """A fresh parser with one option of every kind."""
    parser = module.OptionParser()
    parser.define("port", default=8888, help="run on the given port", type=int)
    parser.define("ratio", default=0.5, help="a float")
    parser.define("name", help="a str without default")
    parser.define("debug", default=False, help="debug mode", group="application")
    parser.define("when", type=datetime.datetime, help="a datetime")
    parser.define("span", type=datetime.timedelta, metavar="DURATION", help="a timedelta")
    parser.define("ids", type=int, multiple=True, help="integers and ranges")
    parser.define("names", multiple=True, help="strings")
    parser.define("cookie_secret", default="x" * 10, group="application")
    parser.define(
        "long_option_name_that_is_too_wide", default="", metavar="A_LONG_METAVAR", help="wide"
    )
    return parser


COMMAND_LINES = [
    [],
    ["--port=80"],
    ["--port", "80"],
    ["--port"],
    ["--port=abc"],
    ["---port=7"],
    ["--ratio=2.5"],
    ["--name=ünïcode"],
    ["--debug"],
    ["--debug=false"],
    ["--debug=F"],
    ["--debug=0"],
    ["--debug=yes"],
    ["--when=2026-12-06 04:05:06"],
    ["--when=20261206"],
    ["--when=Sun Dec 06 04:05:06 2026"],
    ["--when=12:30"],
    ["--when=yesterday"],
    ["--span=1h 30m"],
    ["--span=2.5"],
    ["--span=1w2d3min4sec5ms6us"],
    ["--span=1.5e2 s"],
    ["--span=bogus"],
    ["--span=5 parsecs"],
    ["--ids=1:3,7"],
    ["--ids=4"],
    ["--ids=a"],
    ["--names=a,b,,c"],
    ["--cookie-secret=s"],
    ["--cookie_secret=t"],
    ["rest", "--port=1"],
    ["--port=2", "--", "--port=3", "x"],
    ["--port=2", "-", "y"],
]


@pytest.mark.parametrize("argv", COMMAND_LINES, ids=" ".join)
def test_parse_command_line_matches_tornado(argv: list[str]) -> None:
    results = []
    for module in MODULES.values():
        parser = define_all(module)
        result = outcome(lambda parser=parser: parser.parse_command_line(["prog", *argv]))
        results.append((result, parser.as_dict()))
    assert results[0] == results[1]


def test_unknown_option_prints_help_and_raises(capsys: pytest.CaptureFixture[str]) -> None:
    texts = []
    for module in MODULES.values():
        parser = define_all(module)
        result = outcome(lambda parser=parser: parser.parse_command_line(["prog", "--nope=1"]))
        texts.append((result, capsys.readouterr().err))
    assert texts[0] == texts[1]
    assert texts[0][0] == ("raise", "Error: Unrecognized command line option: 'nope'")
    assert "--port" in texts[0][1]


SETS: list[tuple[str, Any]] = [
    ("port", 9),
    ("port", "9"),
    ("port", None),
    ("ratio", 1),
    ("ids", [1, 2]),
    ("ids", [1, "2"]),
    ("ids", (1, 2)),
    ("names", "a,b"),
    ("missing", 1),
    ("debug", True),
]


@pytest.mark.parametrize(("name", "value"), SETS)
def test_set_by_attribute_and_item_matches_tornado(name: str, value: Any) -> None:
    results = []
    for module in MODULES.values():
        parser = define_all(module)
        by_attribute = outcome(lambda parser=parser: setattr(parser, name, value))
        by_item = outcome(lambda parser=parser: parser.__setitem__(name, value))
        read = outcome(lambda parser=parser: parser[name])
        results.append((by_attribute, by_item, read, name in parser))
    assert results[0] == results[1]


def test_views_and_errors_match_tornado() -> None:
    results = []
    for module in MODULES.values():
        parser = define_all(module)
        parser.parse_command_line(["prog", "--port=1", "--ids=1:2"])
        results.append(
            (
                list(parser),
                sorted(parser.items()),
                parser.group_dict("application"),
                parser.group_dict(""),
                {Path(group).name for group in parser.groups()},
                outcome(lambda parser=parser: parser.missing_option),
                outcome(lambda parser=parser: parser.define("port")),
                outcome(lambda parser=parser: parser.define("cookie-secret")),
            )
        )
    assert results[0] == results[1]
    assert results[0][-2] == ("raise", f"Error: Option 'port' already defined in {__file__}")


def test_callbacks_and_final_match_tornado() -> None:
    logs = []
    for module in MODULES.values():
        log: list[Any] = []
        parser = module.OptionParser()
        parser.define("level", default=1, callback=lambda value, log=log: log.append(value))
        parser.define("tags", multiple=True, callback=lambda value, log=log: log.append(value))
        parser.add_parse_callback(lambda log=log: log.append("parsed"))
        parser.parse_command_line(["p", "--level=2", "--tags=a,b"], final=False)
        log.append("-")
        parser.parse_command_line(["p", "--level=3"])
        parser.level = 4
        logs.append(log)
    assert logs[0] == logs[1] == [2, ["a", "b"], "-", 3, "parsed", 4]


def test_mockable_matches_tornado() -> None:
    for module in MODULES.values():
        parser = define_all(module)
        with mock.patch.object(parser.mockable(), "port", 1234):
            assert parser.port == 1234
        assert parser.port == 8888
        mockable = parser.mockable()
        mockable.port = 1
        with pytest.raises(AssertionError, match="don't reuse mockable objects"):
            mockable.port = 2


CONFIG = """\
port = 81
ratio = "3.5"
ids = "1:2,9"
names = ["x", "y"]
span = "2m"
name = __file__
unrelated = object()
"""


@pytest.mark.parametrize(
    "extra",
    ["", "port = 'eighty'\n", "ids = 5\n", "names = [1]\n", "debug = 'false'\n", "when = 3\n"],
)
def test_parse_config_file_matches_tornado(tmp_path: Path, extra: str) -> None:
    path = tmp_path / "app.conf"
    path.write_text(CONFIG + extra, encoding="utf-8")
    results = []
    for module in MODULES.values():
        parser = define_all(module)
        calls: list[str] = []
        parser.add_parse_callback(lambda calls=calls: calls.append("parsed"))
        result = outcome(lambda parser=parser: parser.parse_config_file(str(path)))
        results.append((result, parser.as_dict(), calls))
    assert results[0] == results[1]


def help_text(module: types.ModuleType, log: types.ModuleType) -> str:
    parser = define_all(module)
    log.define_logging_options(parser)
    out = io.StringIO()
    with mock.patch.object(sys, "argv", ["my-app.py"]):
        parser.print_help(out)
    # The logging options are grouped under the file that defines them (each package's log.py).
    return out.getvalue().replace(os.path.normpath(log.__file__), "LOG.py")


def help_groups(text: str) -> dict[str, str]:
    """Help text by group header (groups sort by file path, and the two log.py paths differ)."""
    parts = re.split(r"\n\n(\S.*) options:\n\n", text)
    return {"": parts[0], **dict(zip(parts[1::2], parts[2::2], strict=True))}


def test_print_help_matches_tornado() -> None:
    ours = help_text(tornado_ws_compat.options, tornado_ws_compat.log)
    assert help_groups(help_text(tornado.options, tornado.log)) == help_groups(ours)
    assert len(help_groups(ours)) == 4  # no group, LOG.py, this file, "application"
    assert ours.startswith("Usage: my-app.py [OPTIONS]\n\nOptions:\n\n  --help ")
    assert "\nLOG.py options:\n\n  --log-file-max-size" in ours


PROGRAM = """
    import logging, sys
    from PKG.options import define, options, parse_command_line
    define("port", default=8888, help="run on the given port", type=int)
    define("debug", default=False, group="application", help="debug mode")
    rest = parse_command_line()
    logging.getLogger("tornado.access").info("port %d rest %r", options.port, rest)
    logging.getLogger("tornado.application").debug("debug is %s", options.debug)
    try:
        1 / 0
    except ZeroDivisionError:
        logging.getLogger("tornado.application").exception("failed\\nsecond line")
    logging.getLogger("x").warning(b"bytes \\xff")
    print(sorted(options.group_dict("application").items()))
"""

TIMESTAMP = re.compile(r"\d{6} \d\d:\d\d:\d\d")


def normalise(text: str, package: str) -> str:
    text = TIMESTAMP.sub("TIME", text)
    location = os.path.dirname(os.path.normpath(__import__(package).__file__))
    return text.replace(location, "PKG")


def without_traceback(text: str) -> str:
    """A traceback's frames name each package's own files: keep only its last line."""
    head, marker, tail = text.partition("Traceback (most recent call last):\n")
    if not marker:
        return text
    last = tail.rstrip("\n").rsplit("\n", 1)[-1]
    return head + marker + last.replace("tornado_ws_compat.", "tornado.")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--port=1", "--logging=debug", "extra"],
        ["--logging=warning", "--debug"],
        ["--logging=none"],
        ["--port=x"],
        ["--nope"],
        ["--log_to_stderr=false"],
    ],
    ids=" ".join,
)
def test_program_output_matches_tornado(args: list[str]) -> None:
    runs = []
    for package in IMPLEMENTATIONS:
        result = run_program(package, PROGRAM, args)
        runs.append(
            (
                result.returncode,
                result.stdout,
                normalise(without_traceback(result.stderr), package),
            )
        )
    assert runs[0] == runs[1]


def test_log_file_options_match_tornado(tmp_path: Path) -> None:
    contents = []
    for package in IMPLEMENTATIONS:
        prefix = tmp_path / f"{package}.log"
        for mode in ("size", "time"):
            result = run_program(
                package,
                PROGRAM,
                [f"--log_file_prefix={prefix}", f"--log-rotate-mode={mode}", "--port=3"],
            )
            assert result.returncode == 0, result.stderr
        bad = run_program(package, PROGRAM, [f"--log_file_prefix={prefix}", "--log_rotate_mode=x"])
        contents.append(
            (
                TIMESTAMP.sub("TIME", prefix.read_text(encoding="utf-8")),
                bad.returncode,
                bad.stderr.strip().splitlines()[-1],
            )
        )
    assert contents[0] == contents[1]
    assert contents[0][0].startswith("[I TIME <string>:7] port 3 rest []\n")


def make_record(**fields: Any) -> logging.LogRecord:
    base: dict[str, Any] = {
        "name": "tornado.application",
        "levelno": logging.ERROR,
        "levelname": "ERROR",
        "pathname": "/srv/app/handlers.py",
        "module": "handlers",
        "lineno": 42,
        "msg": "hello %s",
        "args": ("world",),
        "created": 1796529906.25,
        "msecs": 250.0,
        "relativeCreated": 1.5,
        "exc_info": None,
    }
    base.update(fields)
    return logging.makeLogRecord(base)


try:
    raise ValueError("boom")
except ValueError:
    EXC_INFO = sys.exc_info()

RECORDS = [
    {},
    {"levelno": logging.DEBUG, "levelname": "DEBUG"},
    {"levelno": 5, "levelname": "Level 5"},
    {"msg": "line one\nline two", "args": ()},
    {"msg": b"raw \xc3\xa9", "args": ()},
    {"msg": b"bad \xff", "args": ()},
    {"exc_info": EXC_INFO},
    {"exc_text": "precomputed\ntext"},
]


@pytest.mark.parametrize("fields", RECORDS)
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"color": False}, {"fmt": "%(levelname)s|%(name)s|%(message)s", "datefmt": "%H"}],
)
def test_log_formatter_matches_tornado(fields: dict[str, Any], kwargs: dict[str, Any]) -> None:
    lines = [log.LogFormatter(**kwargs).format(make_record(**fields)) for log in LOGS.values()]
    assert lines[0] == lines[1]


def test_log_formatter_bad_message_matches_tornado() -> None:
    lines = []
    for log in LOGS.values():
        record = make_record(msg="%d", args=("x",))
        line = log.LogFormatter().format(record)
        lines.append(line)
    assert lines[0] == lines[1]
    assert "Bad message (TypeError(" in lines[0]


COLOUR_PROGRAM = """
    import logging
    from PKG.log import LogFormatter
    handler = logging.StreamHandler()
    handler.setFormatter(LogFormatter())
    log = logging.getLogger("colour")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    for level in (10, 20, 30, 40, 50):
        log.log(level, "level %d", level)
"""


def run_on_tty(package: str) -> bytes:
    """Run COLOUR_PROGRAM with stderr on a pseudo-terminal; return what the terminal got."""
    leader, follower = pty.openpty()
    environment = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm-256color")
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(COLOUR_PROGRAM).replace("PKG", package)],
        stderr=follower,
        env=environment,
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    return TIMESTAMP.sub("TIME", b"".join(chunks).decode()).encode()


def test_colour_only_on_a_terminal_as_tornado() -> None:
    ours = run_on_tty("tornado_ws_compat")
    assert run_on_tty("tornado") == ours
    assert b"\x1b[" in ours and ours.count(b"level") == 5
    piped = run_program("tornado_ws_compat", COLOUR_PROGRAM)
    assert "\x1b" not in piped.stderr and piped.stderr.count("level") == 5


def test_enable_pretty_logging_on_own_logger() -> None:
    for module, log in (
        (tornado.options, tornado.log),
        (tornado_ws_compat.options, tornado_ws_compat.log),
    ):
        parser = module.OptionParser()
        log.define_logging_options(parser)
        parser.parse_command_line(["p", "--logging=error"], final=False)
        logger = logging.getLogger(f"test.pretty.{module.__name__}")
        log.enable_pretty_logging(parser, logger)
        try:
            assert logger.level == logging.ERROR
            assert [type(handler.formatter) for handler in logger.handlers] == [log.LogFormatter]
        finally:
            logger.handlers.clear()
