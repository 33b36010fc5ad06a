"""Logging as Tornado does it (``tornado.log`` of Tornado 6.6.1).

The logger names are Tornado's, so that legacy log configuration keeps working. `LogFormatter`
writes Tornado's line format (``[I 261206 04:00:00 module:12] message``), coloured only when
stderr is a terminal; `enable_pretty_logging` applies the logging options that
`tornado_ws_compat.options` defines (``--logging``, ``--log_file_prefix``, ...).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from typing import Any, cast

__all__ = [
    "LogFormatter",
    "access_log",
    "app_log",
    "define_logging_options",
    "enable_pretty_logging",
    "gen_log",
]

#: One line per HTTP request or WebSocket upgrade (Tornado's ``tornado.access``).
access_log = logging.getLogger("tornado.access")
#: Uncaught exceptions in application code (Tornado's ``tornado.application``).
app_log = logging.getLogger("tornado.application")
#: Protocol and connection events (Tornado's ``tornado.general``).
gen_log = logging.getLogger("tornado.general")

try:
    import curses
except ImportError:  # pragma: no cover - Windows
    curses = None  # type: ignore[assignment]


def _terminal_colours() -> bool:
    """True when stderr is a terminal whose terminfo entry has colours (Tornado 3.0+)."""
    try:
        if not sys.stderr.isatty():
            return False
        if curses is not None:
            curses.setupterm()
            return bool(curses.tigetnum("colors") > 0)
        colorama = sys.modules.get("colorama")  # Tornado 4.5: colorama-wrapped stderr
        wrapped = getattr(getattr(colorama, "initialise", None), "wrapped_stderr", object())
        return sys.stderr is wrapped
    except Exception:
        return False


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return repr(value)
    return str(value)


class LogFormatter(logging.Formatter):
    """Tornado's log line: level initial, ``%y%m%d %H:%M:%S`` time, module and line, message.

    The part between ``%(color)s`` and ``%(end_color)s`` is coloured by level when ``color``
    is true and stderr is a colour terminal. Traceback lines and continuation lines of the
    message are indented by four spaces. The keyword signature suits
    `logging.config.dictConfig` (Tornado 4.5).
    """

    DEFAULT_FORMAT = (
        "%(color)s[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d]%(end_color)s %(message)s"
    )
    DEFAULT_DATE_FORMAT = "%y%m%d %H:%M:%S"
    # Terminal colour numbers: blue, green, yellow, red, magenta.
    DEFAULT_COLORS = {
        logging.DEBUG: 4,
        logging.INFO: 2,
        logging.WARNING: 3,
        logging.ERROR: 1,
        logging.CRITICAL: 5,
    }

    def __init__(
        self,
        fmt: str = DEFAULT_FORMAT,
        datefmt: str = DEFAULT_DATE_FORMAT,
        style: str = "%",
        color: bool = True,
        colors: dict[int, int] = DEFAULT_COLORS,
    ) -> None:
        super().__init__(datefmt=datefmt)
        self._fmt = fmt
        self._colors: dict[int, str] = {}
        self._normal = ""
        if color and _terminal_colours():
            if curses is not None:
                set_foreground = curses.tigetstr("setaf") or curses.tigetstr("setf") or b""
                for level, number in colors.items():
                    self._colors[level] = curses.tparm(set_foreground, number).decode("ascii")
                reset = curses.tigetstr("sgr0")
                self._normal = reset.decode("ascii") if reset is not None else ""
            else:
                for level, number in colors.items():
                    self._colors[level] = f"\033[2;3{number}m"
                self._normal = "\033[0m"

    def format(self, record: logging.LogRecord) -> str:
        try:
            record.message = _text(record.getMessage())
        except Exception as error:
            record.message = f"Bad message ({error!r}): {record.__dict__!r}"
        record.asctime = self.formatTime(record, self.datefmt)
        colour = self._colors.get(record.levelno)
        record.color = colour or ""
        record.end_color = self._normal if colour is not None else ""
        line = cast(str, self._fmt) % record.__dict__
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = "\n".join(
                [line.rstrip(), *(_text(part) for part in record.exc_text.split("\n"))]
            )
        return line.replace("\n", "\n    ")


def enable_pretty_logging(options: Any = None, logger: logging.Logger | None = None) -> None:
    """Configure ``logger`` (the root logger by default) from the logging options.

    Sets the level from ``options.logging`` (``none`` leaves logging alone), adds a rotating
    file handler when ``log_file_prefix`` is set (by size or by time, uncoloured), and a
    coloured stderr handler when ``log_to_stderr`` is true, or is None and the logger has no
    handler yet. `tornado_ws_compat.options` calls it after parsing (Tornado 6.6.1).
    """
    if options is None:
        from tornado_ws_compat.options import options as global_options

        options = global_options
    if options.logging is None or options.logging.lower() == "none":
        return
    if logger is None:
        logger = logging.getLogger()
    logger.setLevel(getattr(logging, options.logging.upper()))
    if options.log_file_prefix:
        mode = options.log_rotate_mode
        handler: logging.Handler
        if mode == "size":
            handler = logging.handlers.RotatingFileHandler(
                filename=options.log_file_prefix,
                maxBytes=options.log_file_max_size,
                backupCount=options.log_file_num_backups,
                encoding="utf-8",
            )
        elif mode == "time":
            handler = logging.handlers.TimedRotatingFileHandler(
                filename=options.log_file_prefix,
                when=options.log_rotate_when,
                interval=options.log_rotate_interval,
                backupCount=options.log_file_num_backups,
                encoding="utf-8",
            )
        else:
            raise ValueError(
                f'The value of log_rotate_mode option should be "size" or "time", not "{mode}".'
            )
        handler.setFormatter(LogFormatter(color=False))
        logger.addHandler(handler)
    if options.log_to_stderr or (options.log_to_stderr is None and not logger.handlers):
        stderr = logging.StreamHandler()
        stderr.setFormatter(LogFormatter())
        logger.addHandler(stderr)


def define_logging_options(options: Any = None) -> None:
    """Define Tornado's logging options on ``options`` (the global parser by default).

    The names, defaults, metavars and help texts are Tornado 6.6.1's, so that ``--help``
    prints the same lines; parsing then calls `enable_pretty_logging`.
    """
    if options is None:
        from tornado_ws_compat.options import options as global_options

        options = global_options
    options.define(
        "logging",
        default="info",
        help="Set the Python log level. If 'none', tornado won't touch the logging configuration.",
        metavar="debug|info|warning|error|none",
    )
    options.define(
        "log_to_stderr",
        type=bool,
        default=None,
        help="Send log output to stderr (colorized if possible). By default use stderr if "
        "--log_file_prefix is not set and no other logging is configured.",
    )
    options.define(
        "log_file_prefix",
        type=str,
        default=None,
        metavar="PATH",
        help="Path prefix for log files. Note that if you are running multiple tornado "
        "processes, log_file_prefix must be different for each of them (e.g. include the "
        "port number)",
    )
    options.define(
        "log_file_max_size",
        type=int,
        default=100 * 1000 * 1000,
        help="max size of log files before rollover",
    )
    options.define(
        "log_file_num_backups", type=int, default=10, help="number of log files to keep"
    )
    options.define(
        "log_rotate_when",
        type=str,
        default="midnight",
        help="specify the type of TimedRotatingFileHandler interval other options:"
        "('S', 'M', 'H', 'D', 'W0'-'W6')",
    )
    options.define(
        "log_rotate_interval", type=int, default=1, help="The interval value of timed rotating"
    )
    options.define(
        "log_rotate_mode",
        type=str,
        default="size",
        help="The mode of rotating files(time or size)",
    )
    options.add_parse_callback(lambda: enable_pretty_logging(options))
