"""Command-line and config-file options, Tornado's ``tornado.options``.

Any module defines the options it needs; the program parses them once at start-up::

    # server.py
    from tornadish.options import define, options

    define("port", default=8888, help="port to listen on")
    define("debug", default=False)
    define("backends", type=str, multiple=True, help="comma-separated host list")

    if __name__ == "__main__":
        options.parse_command_line()    # --port=9000 --debug --backends=a,b
        app.listen(options.port)

Syntax is ``--name=value`` (a bare ``--name`` only for ``bool`` options); ``-``/``_`` are
interchangeable in names; ``--`` ends the options and the remaining arguments are
returned. ``--help`` prints every option, grouped by the file that defined it, and exits.

:meth:`OptionParser.parse_config_file` runs a Python file and takes the globals whose names
match options (``port = 9000``). The global :data:`options` also has Tornado's logging
options (``--logging=debug|info|warning|error|none``, ``--log-to-stderr``,
``--log-file-prefix`` and friends), applied when parsing finishes.

Values are typed: ``str``, ``int``, ``float``, ``bool``, ``datetime.datetime``,
``datetime.timedelta`` (``"1h 30m"``, ``"45s"``, ``"250ms"``) or any class taking one
string. ``multiple=True`` options take comma-separated lists; for integer types an item
may be an inclusive range ``lo:hi`` (``--ports=8000:8003,9000``).
"""

from __future__ import annotations

import datetime
import logging
import logging.handlers
import numbers
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from tornadish import log

__all__ = [
    "Error",
    "OptionParser",
    "add_parse_callback",
    "define",
    "define_logging_options",
    "options",
    "parse_command_line",
    "parse_config_file",
    "print_help",
]


class Error(Exception):
    """A problem with an option: bad definition, unknown name, or unparsable value."""


_UNSET: Any = object()

_DATETIME_FORMATS = (
    "%a %b %d %H:%M:%S %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    # Fractional seconds of any length up to 6 digits: Python 3.10's fromisoformat (below)
    # takes only 3 or 6.
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%H:%M:%S",
    "%H:%M",
)

_TIMEDELTA_UNITS = {
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
    "d": "days",
    "day": "days",
    "days": "days",
    "h": "hours",
    "hr": "hours",
    "hour": "hours",
    "hours": "hours",
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "": "seconds",
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "seconds": "seconds",
    "ms": "milliseconds",
    "millisecond": "milliseconds",
    "milliseconds": "milliseconds",
    "us": "microseconds",
    "microsecond": "microseconds",
    "microseconds": "microseconds",
}

_TIMEDELTA_PART = re.compile(
    r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)\s*,?"
)

_FALSE_WORDS = frozenset({"false", "f", "0", "no", "n", "off"})


def _parse_bool(text: str) -> bool:
    return text.strip().lower() not in _FALSE_WORDS


def _parse_datetime(text: str) -> datetime.datetime:
    text = text.strip()
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"unrecognized date/time format: {text!r}") from None


def _parse_timedelta(text: str) -> datetime.timedelta:
    total = datetime.timedelta()
    position = 0
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty time interval")
    while position < len(stripped):
        match = _TIMEDELTA_PART.match(stripped, position)
        if match is None or match.end() == position:
            raise ValueError(f"unrecognized time interval: {text!r}")
        unit = _TIMEDELTA_UNITS.get(match.group(2).lower())
        if unit is None:
            raise ValueError(f"unknown time unit {match.group(2)!r} in {text!r}")
        total += datetime.timedelta(**{unit: float(match.group(1))})
        position = match.end()
    return total


def _type_name(kind: type[Any]) -> str:
    return getattr(kind, "__name__", repr(kind))


class _Option:
    """One defined option: its metadata and current value."""

    def __init__(
        self,
        name: str,
        *,
        default: Any,
        type: type[Any],
        help: str | None,
        metavar: str | None,
        multiple: bool,
        file_name: str,
        group_name: str,
        callback: Callable[[Any], object] | None,
    ) -> None:
        if default is None and multiple:
            default = []
        self.name = name
        self.default = default
        self.type = type
        self.help = help
        self.metavar = metavar
        self.multiple = multiple
        self.file_name = file_name
        self.group_name = group_name
        self.callback = callback
        self._value: Any = _UNSET

    def value(self) -> Any:
        """The parsed or assigned value, else the default."""
        return self.default if self._value is _UNSET else self._value

    def _parse_one(self, text: str) -> Any:
        kind = self.type
        try:
            if kind is bool:
                return _parse_bool(text)
            if kind is str:
                return text
            if kind is datetime.datetime:
                return _parse_datetime(text)
            if kind is datetime.timedelta:
                return _parse_timedelta(text)
            return kind(text)
        except Error:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise Error(
                f"Option {self.name!r}: cannot parse {text!r} as {_type_name(kind)}: {exc}"
            ) from exc

    def parse(self, text: str) -> Any:
        """Set the value from its command-line spelling; returns the new value."""
        if self.multiple:
            items: list[Any] = []
            kind: type[Any] = self.type
            integral = kind is not bool and issubclass(kind, numbers.Integral)
            for part in text.split(","):
                part = part.strip()
                if not part:
                    continue
                if integral and ":" in part:
                    low, _, high = part.partition(":")
                    first, last = self._parse_one(low), self._parse_one(high)
                    items.extend(range(first, last + 1))
                else:
                    items.append(self._parse_one(part))
            new_value: Any = items
        else:
            new_value = self._parse_one(text)
        self._assign(new_value)
        return self.value()

    def set(self, value: Any) -> None:
        """Set the value from a Python object, checking its type."""
        if self.multiple:
            if not isinstance(value, list):
                raise Error(
                    f"Option {self.name!r} is required to be a list of {_type_name(self.type)}"
                )
            value = [self._coerce(item, listed=True) for item in value]
        else:
            value = self._coerce(value, listed=False)
        self._assign(value)

    def _coerce(self, value: Any, *, listed: bool) -> Any:
        if value is None or isinstance(value, self.type):
            return value
        # An int where a float is wanted is harmless (Tornado rejects it).
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        what = "a list of " if listed else "a "
        raise Error(
            f"Option {self.name!r} is required to be {what}{_type_name(self.type)} "
            f"({_type_name(type(value))} given)"
        )

    def _assign(self, value: Any) -> None:
        self._value = value
        if self.callback is not None:
            self.callback(value)


class OptionParser:
    """A collection of options; the module-level :data:`options` is the usual one.

    Values are read and written as attributes or items (``options.port``,
    ``options["port"]``); ``-`` and ``_`` in names are interchangeable. Unknown names
    raise ``AttributeError``. Use separate instances in tests or libraries::

        parser = OptionParser()
        parser.define("port", default=80)
        parser.parse_command_line(["prog", "--port=8080"])
        assert parser.port == 8080
    """

    def __init__(self) -> None:
        # Written through __dict__ because __setattr__ is reserved for option values.
        self.__dict__["_options"] = {}
        self.__dict__["_parse_callbacks"] = []
        self.define(
            "help",
            type=bool,
            help="show this help information",
            callback=self._help_callback,
        )

    @property
    def _opts(self) -> dict[str, _Option]:
        opts: dict[str, _Option] = self.__dict__["_options"]
        return opts

    @staticmethod
    def _normalize_name(name: str) -> str:
        return name.replace("_", "-")

    def _lookup(self, name: str) -> _Option:
        option = self._opts.get(self._normalize_name(name))
        if option is None:
            raise AttributeError(f"Unrecognized option {name!r}")
        return option

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # keep copy/pickle/introspection probes quiet
        return self._lookup(name).value()

    def __setattr__(self, name: str, value: Any) -> None:
        self._lookup(name).set(value)

    def __getitem__(self, name: str) -> Any:
        return self._lookup(name).value()

    def __setitem__(self, name: str, value: Any) -> None:
        self._lookup(name).set(value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._normalize_name(name) in self._opts

    def __iter__(self) -> Iterator[str]:
        return (option.name for option in self._opts.values())

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {o.name for o in self._opts.values()})

    def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` for every option."""
        return [(option.name, option.value()) for option in self._opts.values()]

    def groups(self) -> set[str]:
        """The option groups (by default the files that defined the options)."""
        return {option.group_name for option in self._opts.values()}

    def group_dict(self, group: str) -> dict[str, Any]:
        """``{name: value}`` for the options in ``group`` (all options if it is empty).

        Handy for handing a group to ``Application`` settings::

            define("template_path", group="application")
            app = Application(handlers, **options.group_dict("application"))
        """
        return {
            option.name: option.value()
            for option in self._opts.values()
            if not group or option.group_name == group
        }

    def as_dict(self) -> dict[str, Any]:
        """``{name: value}`` for every option."""
        return {option.name: option.value() for option in self._opts.values()}

    def define(
        self,
        name: str,
        default: Any = None,
        type: type[Any] | None = None,
        help: str | None = None,
        metavar: str | None = None,
        multiple: bool = False,
        group: str | None = None,
        callback: Callable[[Any], object] | None = None,
    ) -> None:
        """Define an option.

        ``type`` defaults to the type of ``default`` (``str`` if there is none).
        ``multiple=True`` makes the value a list. ``group`` (default: the defining file)
        groups options in ``--help`` and :meth:`group_dict`. ``callback(value)`` runs
        whenever the value is set. Defining a name twice raises :class:`Error`.

        >>> parser = OptionParser()
        >>> parser.define("workers", default=4, help="worker processes")
        >>> parser.workers
        4
        """
        key = self._normalize_name(name)
        existing = self._opts.get(key)
        if existing is not None:
            raise Error(f"Option {key!r} already defined in {existing.file_name or '<unknown>'}")
        file_name = _caller_file()
        if type is None:
            type = default.__class__ if default is not None and not multiple else str
        self._opts[key] = _Option(
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
        """Parse ``--name=value`` arguments (``args[0]`` is the program name, skipped).

        Parsing stops at the first argument that does not start with ``-`` or after a
        ``--``; the rest is returned. With ``final`` (the default) the parse callbacks
        run afterwards (for the global :data:`options`, that configures logging).

        >>> parser = OptionParser()
        >>> parser.define("port", default=80)
        >>> parser.parse_command_line(["prog", "--port=8080", "extra"])
        ['extra']
        >>> parser.port
        8080
        """
        if args is None:
            args = sys.argv
        remaining: list[str] = []
        for index in range(1, len(args)):
            arg = args[index]
            if not arg.startswith("-"):
                remaining = args[index:]
                break
            if arg == "--":
                remaining = args[index + 1 :]
                break
            name, has_value, value = arg.lstrip("-").partition("=")
            option = self._opts.get(self._normalize_name(name))
            if option is None:
                self.print_help()
                raise Error(f"Unrecognized command line option: {name!r}")
            if not has_value:
                if option.type is not bool:
                    raise Error(f"Option {option.name!r} requires a value")
                value = "true"
            option.parse(value)
        if final:
            self.run_parse_callbacks()
        return remaining

    def parse_config_file(self, path: str | os.PathLike[str], final: bool = True) -> None:
        """Run the Python file ``path`` and take the values of globals named like options.

        Strings are parsed as on the command line when the option is not a plain
        ``str`` option; other values must already have the option's type::

            # server.conf
            port = 9000
            backends = ["a", "b"]    # or "a,b"
            timeout = "30s"          # a timedelta option
        """
        full_path = os.path.abspath(path)
        namespace: dict[str, Any] = {"__file__": full_path}
        with open(full_path, "rb") as config_file:
            source = config_file.read()
        exec(compile(source, full_path, "exec"), namespace, namespace)
        for name, value in namespace.items():
            option = self._opts.get(self._normalize_name(name))
            if option is None:
                continue
            if option.multiple and not isinstance(value, (list, str)):
                raise Error(
                    f"Option {option.name!r} is required to be a list of "
                    f"{_type_name(option.type)} or a comma-separated string"
                )
            if isinstance(value, str) and (option.type is not str or option.multiple):
                option.parse(value)
            else:
                option.set(value)
        if final:
            self.run_parse_callbacks()

    def print_help(self, file: TextIO | None = None) -> None:
        """Print every option with its help text, grouped by defining file (to stderr)."""
        out = file if file is not None else sys.stderr
        print(f"Usage: {sys.argv[0] if sys.argv else 'program'} [OPTIONS]", file=out)
        print("\nOptions:\n", file=out)
        by_group: dict[str, list[_Option]] = {}
        for option in self._opts.values():
            by_group.setdefault(option.group_name, []).append(option)
        for group_name, group in sorted(by_group.items()):
            if group_name:
                print(f"\n{os.path.normpath(group_name)} options:\n", file=out)
            for option in sorted(group, key=lambda o: o.name):
                label = self._normalize_name(option.name)
                if option.metavar:
                    label += "=" + option.metavar
                text = option.help or ""
                if option.default is not None and option.default != "":
                    text += f" (default {option.default})"
                lines = textwrap.wrap(text, 44) or [""]
                if len(label) > 30:
                    lines.insert(0, "")
                print(f"  --{label:<30} {lines[0]}".rstrip(), file=out)
                for line in lines[1:]:
                    print(f"{'':<34} {line}", file=out)
        print(file=out)

    def _help_callback(self, value: bool) -> None:
        if value:
            self.print_help()
            sys.exit(0)

    def add_parse_callback(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` after every final ``parse_command_line``/``parse_config_file``."""
        self._parse_callbacks.append(callback)

    def run_parse_callbacks(self) -> None:
        """Run the callbacks registered with :meth:`add_parse_callback`."""
        for callback in list(self._parse_callbacks):
            callback()

    def mockable(self) -> _Mockable:
        """An object for ``unittest.mock.patch.object`` to override option values.

        ``mock.patch.object(options.mockable(), "port", 1234)`` sets ``options.port`` for
        the duration and restores it afterwards (patching ``options`` itself would fail,
        since mock deletes the attribute to restore it).
        """
        return _Mockable(self)


def _caller_file() -> str:
    """The file of the code that called :meth:`OptionParser.define` (or the module's
    :func:`define`); ``""`` for the options this module defines itself (``--help``),
    which so form a group of their own, as in Tornado."""
    frame: Any = sys._getframe(2)  # _caller_file <- OptionParser.define <- the caller
    code = frame.f_code if frame is not None else None
    if code is not None and code.co_name == "define" and code.co_filename == __file__:
        frame = frame.f_back  # the module-level define(): its caller is the one
    if frame is None:
        return ""
    file_name: str = frame.f_code.co_filename
    return "" if file_name == __file__ else file_name


class _Mockable:
    """Attribute proxy that remembers original option values so they can be restored."""

    def __init__(self, parser: OptionParser) -> None:
        self.__dict__["_parser"] = parser
        self.__dict__["_originals"] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)

    def __setattr__(self, name: str, value: Any) -> None:
        originals: dict[str, Any] = self._originals
        if name in originals:
            raise Error(f"Option {name!r} is already mocked")
        originals[name] = getattr(self._parser, name)
        setattr(self._parser, name, value)

    def __delattr__(self, name: str) -> None:
        setattr(self._parser, name, self._originals.pop(name))


options = OptionParser()
"""The global option registry that :func:`define` and the other functions here use."""


def define(
    name: str,
    default: Any = None,
    type: type[Any] | None = None,
    help: str | None = None,
    metavar: str | None = None,
    multiple: bool = False,
    group: str | None = None,
    callback: Callable[[Any], object] | None = None,
) -> None:
    """Define an option in the global :data:`options` (see :meth:`OptionParser.define`)."""
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
    """Parse the command line into the global :data:`options`; returns leftover arguments."""
    return options.parse_command_line(args, final=final)


def parse_config_file(path: str | os.PathLike[str], final: bool = True) -> None:
    """Read a Python config file into the global :data:`options`."""
    options.parse_config_file(path, final=final)


def print_help(file: TextIO | None = None) -> None:
    """Print the help for the global :data:`options` (to stderr by default)."""
    options.print_help(file)


def add_parse_callback(callback: Callable[[], object]) -> None:
    """Run ``callback()`` once the global :data:`options` have been parsed."""
    options.add_parse_callback(callback)


def define_logging_options(parser: OptionParser | None = None) -> None:
    """Define Tornado's logging options on ``parser`` and apply them after parsing.

    The global :data:`options` already has them. ``--logging=none`` leaves logging
    alone; otherwise the root logger gets that level, a file handler if
    ``--log-file-prefix`` is given (rotated by size or time), and the coloured stderr
    handler of :func:`tornadish.log.enable_pretty_logging` when ``--log-to-stderr`` is
    true or unset with no other handler configured.
    """
    target = options if parser is None else parser
    log._define_logging_options(target)
    target.add_parse_callback(lambda: _apply_logging_options(target))


def _apply_logging_options(parser: OptionParser, logger: logging.Logger | None = None) -> None:
    """Configure ``logger`` (default: root) from the logging options, as Tornado does;
    a bad level or rotate mode is an :class:`Error` here (``ValueError`` in
    :func:`tornadish.log.enable_pretty_logging`, as in Tornado)."""
    try:
        log._apply_logging_options(parser, logger)
    except ValueError as e:
        raise Error(str(e)) from e


define_logging_options(options)
