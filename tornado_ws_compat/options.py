"""Command-line and config-file options (``tornado.options`` of Tornado 6.6.1).

``define("port", default=8888, help="...")`` anywhere, then ``parse_command_line()`` once, then
``options.port``. Values are typed (str, int, float, bool, datetime, timedelta, or any callable
that parses a string), may be lists (``multiple=True``), run a callback when set, and are
grouped in ``--help`` by the file that defined them. The global parser also carries Tornado's
logging options (``--logging``, ``--log_file_prefix``, ...), applied after parsing.
"""

from __future__ import annotations

import datetime
import numbers
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from tornado_ws_compat.escape import to_unicode
from tornado_ws_compat.log import define_logging_options

__all__ = [
    "Error",
    "OptionParser",
    "add_parse_callback",
    "define",
    "options",
    "parse_command_line",
    "parse_config_file",
    "print_help",
]


class Error(Exception):
    """A bad option definition or value (``tornado.options.Error``)."""


def _option_name(name: str) -> str:
    # Tornado 4.3: ``--log_file_prefix`` and ``--log-file-prefix`` are the same option.
    return name.replace("_", "-")


class OptionParser:
    """A set of options with attribute and item access: ``options.port``, ``options["port"]``.

    Every parser starts with ``--help`` (print the options to stderr and exit 0).
    """

    _options: dict[str, _Option]
    _parse_callbacks: list[Callable[[], None]]

    def __init__(self) -> None:
        # Attribute writes go to option values, so the parser's own state bypasses them.
        self.__dict__["_options"] = {}
        self.__dict__["_parse_callbacks"] = []
        self.define("help", type=bool, help="show this help information", callback=self._help)

    def __getattr__(self, name: str) -> Any:
        option = self._options.get(_option_name(name))
        if option is None:
            raise AttributeError(f"Unrecognized option {_option_name(name)!r}")
        return option.value()

    def __setattr__(self, name: str, value: Any) -> None:
        option = self._options.get(_option_name(name))
        if option is None:
            raise AttributeError(f"Unrecognized option {_option_name(name)!r}")
        option.set(value)

    def __iter__(self) -> Iterator[str]:
        return (option.name for option in self._options.values())

    def __contains__(self, name: str) -> bool:
        return _option_name(name) in self._options

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self.__setattr__(name, value)

    def items(self) -> Iterable[tuple[str, Any]]:
        """``(name, value)`` pairs of all options, names as defined (Tornado 3.1)."""
        return [(option.name, option.value()) for option in self._options.values()]

    def groups(self) -> set[str]:
        """The group names: explicit ``group=`` or the defining file (Tornado 3.1)."""
        return {option.group_name for option in self._options.values()}

    def group_dict(self, group: str) -> dict[str, Any]:
        """Names and values of the options in ``group`` (all options if empty) (Tornado 3.1).

        Handy for ``Application(handlers, **options.group_dict("application"))``.
        """
        return {
            option.name: option.value()
            for option in self._options.values()
            if not group or group == option.group_name
        }

    def as_dict(self) -> dict[str, Any]:
        """Names and values of all options (Tornado 3.1)."""
        return {option.name: option.value() for option in self._options.values()}

    def define(
        self,
        name: str,
        default: Any = None,
        type: type | None = None,
        help: str | None = None,
        metavar: str | None = None,
        multiple: bool = False,
        group: str | None = None,
        callback: Callable[[Any], None] | None = None,
    ) -> None:
        """Define an option; a second definition of the same name raises `Error`.

        Without ``type`` the type is that of ``default`` (str when there is no default, or when
        ``multiple``). ``help`` and ``metavar`` shape the ``--help`` line; ``group`` defaults to
        the file of the caller; ``callback(value)`` runs each time the value is set.
        """
        key = _option_name(name)
        if key in self._options:
            raise Error(f"Option {key!r} already defined in {self._options[key].file_name}")
        file_name = _defining_file()
        if type is None:
            type = default.__class__ if not multiple and default is not None else str
        self._options[key] = _Option(
            name,
            default=default,
            type=type,
            help=help,
            metavar=metavar,
            multiple=multiple,
            file_name=file_name,
            group_name=group or file_name,
            callback=callback,
        )

    def parse_command_line(self, args: list[str] | None = None, final: bool = True) -> list[str]:
        """Set options from ``args`` (default ``sys.argv``; ``args[0]`` is skipped).

        ``--name=value`` or, for bool options, ``--name``. Parsing stops at the first
        argument that does not start with ``-`` or after ``--``; the rest is returned. An
        unknown option prints the help and raises `Error`. With ``final`` (the default) the
        parse callbacks run afterwards, which configures logging.
        """
        if args is None:
            args = sys.argv
        remaining: list[str] = []
        for index in range(1, len(args)):
            argument = args[index]
            if not argument.startswith("-"):
                remaining = args[index:]
                break
            if argument == "--":
                remaining = args[index + 1 :]
                break
            name, equals, value = argument.lstrip("-").partition("=")
            name = _option_name(name)
            option = self._options.get(name)
            if option is None:
                self.print_help()
                raise Error(f"Unrecognized command line option: {name!r}")
            if not equals:
                if option.type is not bool:
                    raise Error(f"Option {name!r} requires a value")
                value = "true"
            option.parse(value)
        if final:
            self.run_parse_callbacks()
        return remaining

    def parse_config_file(self, path: str, final: bool = True) -> None:
        """Run the Python file at ``path`` (UTF-8) and take the globals named as options.

        Only for trusted files: the file is executed. ``__file__`` is the file's absolute path
        inside it (Tornado 4.4); a string value is parsed as on the command line unless the
        option is a single str (Tornado 5.1).
        """
        namespace: dict[str, Any] = {"__file__": os.path.abspath(path)}
        with open(path, "rb") as source:
            exec(source.read().decode("utf-8"), namespace, namespace)
        for name, value in namespace.items():
            option = self._options.get(_option_name(name))
            if option is None:
                continue
            if option.multiple and not isinstance(value, list | str):
                raise Error(
                    f"Option {option.name!r} is required to be a list of "
                    f"{option.type.__name__} or a comma-separated string"
                )
            if value.__class__ is str and (option.type is not str or option.multiple):
                option.parse(value)
            else:
                option.set(value)
        if final:
            self.run_parse_callbacks()

    def print_help(self, file: TextIO | None = None) -> None:
        """Print the usage line and every option, grouped, to ``file`` (stderr by default)."""
        out = sys.stderr if file is None else file
        lines = [f"Usage: {sys.argv[0]} [OPTIONS]", "", "Options:", ""]
        groups: dict[str, list[_Option]] = {}
        for option in self._options.values():
            groups.setdefault(option.group_name, []).append(option)
        for group_name, members in sorted(groups.items()):
            if group_name:
                lines += ["", f"{os.path.normpath(group_name)} options:", ""]
            for option in sorted(members, key=lambda member: member.name):
                lines += option.help_lines()
        lines.append("")
        print("\n".join(lines), file=out)

    def _help(self, value: bool) -> None:
        if value:
            self.print_help()
            sys.exit(0)

    def add_parse_callback(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` after each final parse."""
        self._parse_callbacks.append(callback)

    def run_parse_callbacks(self) -> None:
        """Run the parse callbacks in the order they were added."""
        for callback in self._parse_callbacks:
            callback()

    def mockable(self) -> _Mockable:
        """A view of this parser that ``unittest.mock.patch.object`` can patch and restore."""
        return _Mockable(self)


def _defining_file() -> str:
    """The file of the code that called ``define`` ("" for this module itself)."""
    frame = sys._getframe(2)  # _defining_file <- OptionParser.define <- caller
    if frame.f_code.co_filename == __file__ and frame.f_code.co_name == "define":
        frame = frame.f_back or frame  # called through the module-level define()
    file_name = frame.f_code.co_filename
    return "" if file_name == __file__ else file_name


class _Mockable:
    """Attribute proxy whose ``delattr`` restores the value before the matching ``setattr``."""

    def __init__(self, parser: OptionParser) -> None:
        self.__dict__["_parser"] = parser
        self.__dict__["_saved"] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._saved:
            raise AssertionError("don't reuse mockable objects")
        self._saved[name] = getattr(self._parser, name)
        setattr(self._parser, name, value)

    def __delattr__(self, name: str) -> None:
        setattr(self._parser, name, self._saved.pop(name))


_UNSET: Any = object()

_DATETIME_FORMATS = (
    "%a %b %d %H:%M:%S %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%H:%M:%S",
    "%H:%M",
)
_TIMEDELTA_UNITS = {
    "w": "weeks",
    "d": "days",
    "h": "hours",
    "m": "minutes",
    "min": "minutes",
    "s": "seconds",
    "sec": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
}
# A number, then an optional unit word ("1h 30m", "2.5 seconds", "45").
_TIMEDELTA_PART = re.compile(
    r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(\w*)\s*", re.IGNORECASE
)


def _parse_datetime(text: str) -> datetime.datetime:
    for pattern in _DATETIME_FORMATS:
        try:
            return datetime.datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise Error(f"Unrecognized date/time format: {text!r}")


def _parse_timedelta(text: str) -> datetime.timedelta:
    total = datetime.timedelta()
    position = 0
    while position < len(text):
        match = _TIMEDELTA_PART.match(text, position)
        if match is None:
            # Tornado 6.6.1 raises a bare Exception here; kept for code that catches it.
            raise Exception()
        unit = match.group(2) or "seconds"
        total += datetime.timedelta(**{_TIMEDELTA_UNITS.get(unit, unit): float(match.group(1))})
        position = match.end()
    return total


def _parse_bool(text: str) -> bool:
    return text.lower() not in ("false", "0", "f")


def _parse_str(text: str) -> str:
    return to_unicode(text)


_PARSERS: dict[Any, Callable[[str], Any]] = {
    datetime.datetime: _parse_datetime,
    datetime.timedelta: _parse_timedelta,
    bool: _parse_bool,
    str: _parse_str,
}


class _Option:
    def __init__(
        self,
        name: str,
        default: Any,
        type: type,
        help: str | None,
        metavar: str | None,
        multiple: bool,
        file_name: str,
        group_name: str,
        callback: Callable[[Any], None] | None,
    ) -> None:
        self.name = name
        self.default = [] if default is None and multiple else default
        self.type = type
        self.help = help
        self.metavar = metavar
        self.multiple = multiple
        self.file_name = file_name
        self.group_name = group_name
        self.callback = callback
        self._value: Any = _UNSET

    def value(self) -> Any:
        return self.default if self._value is _UNSET else self._value

    def parse(self, text: str) -> Any:
        """Set the value from its command-line form; lists are comma-separated."""
        convert = _PARSERS.get(self.type, self.type)
        if not self.multiple:
            self._value = convert(text)
        else:
            self._value = []
            for part in text.split(","):
                if issubclass(self.type, numbers.Integral):
                    # Integer lists accept inclusive ranges: "1:3" is 1, 2, 3.
                    low, _, high = part.partition(":")
                    first = convert(low)
                    self._value.extend(range(first, (convert(high) if high else first) + 1))
                else:
                    self._value.append(convert(part))
        if self.callback is not None:
            self.callback(self._value)
        return self.value()

    def set(self, value: Any) -> None:
        """Set a typed value (a list of the type when ``multiple``), else raise `Error`."""
        if self.multiple:
            if not isinstance(value, list) or any(
                item is not None and not isinstance(item, self.type) for item in value
            ):
                raise Error(
                    f"Option {self.name!r} is required to be a list of {self.type.__name__}"
                )
        elif value is not None and not isinstance(value, self.type):
            raise Error(
                f"Option {self.name!r} is required to be a {self.type.__name__} "
                f"({type(value)} given)"
            )
        self._value = value
        if self.callback is not None:
            self.callback(self._value)

    def help_lines(self) -> list[str]:
        """This option's ``--help`` lines: name in a 30-column field, text wrapped at 44."""
        flag = _option_name(self.name)
        if self.metavar:
            flag += "=" + self.metavar
        text = self.help or ""
        if self.default is not None and self.default != "":
            text += f" (default {self.default})"
        wrapped = textwrap.wrap(text, 44)
        if len(flag) > 30 or not wrapped:
            wrapped.insert(0, "")
        return [f"  --{flag:<30} {wrapped[0]}"] + [f"{'':<34} {line}" for line in wrapped[1:]]


#: The global parser that `define` and `parse_command_line` use.
options = OptionParser()


def define(
    name: str,
    default: Any = None,
    type: type | None = None,
    help: str | None = None,
    metavar: str | None = None,
    multiple: bool = False,
    group: str | None = None,
    callback: Callable[[Any], None] | None = None,
) -> None:
    """Define an option on the global parser (see `OptionParser.define`)."""
    options.define(
        name,
        default=default,
        type=type,
        help=help,
        metavar=metavar,
        multiple=multiple,
        group=group,
        callback=callback,
    )


def parse_command_line(args: list[str] | None = None, final: bool = True) -> list[str]:
    """Parse the command line into the global options (see `OptionParser.parse_command_line`)."""
    return options.parse_command_line(args, final=final)


def parse_config_file(path: str, final: bool = True) -> None:
    """Parse a config file into the global options (see `OptionParser.parse_config_file`)."""
    options.parse_config_file(path, final=final)


def print_help(file: TextIO | None = None) -> None:
    """Print the global options' help to ``file`` (stderr by default)."""
    options.print_help(file)


def add_parse_callback(callback: Callable[[], None]) -> None:
    """Run ``callback()`` after each final parse of the global options."""
    options.add_parse_callback(callback)


define_logging_options(options)
