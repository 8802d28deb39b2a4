"""Logging: the three loggers Tornado applications configure, and a readable formatter.

- ``access_log`` (``tornadish.access``): one line per finished request.
- ``app_log`` (``tornadish.application``): errors raised by application code.
- ``gen_log`` (``tornadish.general``): everything else the framework reports (bad input,
  timeouts, connection trouble).

The ``tornado.*`` names are not used so an application running both side by side can tell
the two apart; configure these exactly as you configured Tornado's.

One format everywhere: the command line (``python -m tornadish run``) logs through
:func:`enable_pretty_logging` too. A line says where it comes from as ``module:line``,
except for the framework's private modules (``tornadish/_web/...``): their names and
lines mean nothing to a user, so such a line names its logger (``tornadish.access``).
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import os
import sys
from typing import Any

__all__ = [
    "LogFormatter",
    "access_log",
    "app_log",
    "define_logging_options",
    "enable_pretty_logging",
    "gen_log",
]

access_log = logging.getLogger("tornadish.access")
app_log = logging.getLogger("tornadish.application")
gen_log = logging.getLogger("tornadish.general")

_COLORS = {
    logging.DEBUG: "\033[34m",
    logging.INFO: "\033[32m",
    logging.WARNING: "\033[33m",
    logging.ERROR: "\033[31m",
    logging.CRITICAL: "\033[31m",
}
_RESET = "\033[0m"
# The directory of the package: a record from a private module under it names its logger.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# What a format says to place a record's origin; replaced by %(where)s (see format()).
_MODULE_LINE = "%(module)s:%(lineno)d"


class LogFormatter(logging.Formatter):
    """``[L yymmdd hh:mm:ss module:line] message``, coloured on a terminal.

    Colour is used when ``color`` is true and stderr (where the handlers of
    :func:`enable_pretty_logging` write) is a terminal, unless the ``NO_COLOR``
    environment variable is set (https://no-color.org). ``module:line`` (the
    ``%(module)s:%(lineno)d`` of ``fmt``) becomes the logger's name for records from
    tornadish's private modules: ``[I 250101 12:00:00 tornadish.access] 200 GET /``.
    """

    DEFAULT_FORMAT = (
        "%(color)s[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d]%(end_color)s %(message)s"
    )
    DEFAULT_DATE_FORMAT = "%y%m%d %H:%M:%S"

    def __init__(
        self,
        fmt: str = DEFAULT_FORMAT,
        datefmt: str = DEFAULT_DATE_FORMAT,
        color: bool = True,
        colors: dict[int, str] | None = None,
    ) -> None:
        super().__init__(datefmt=datefmt)
        self._fmt: str = fmt.replace(_MODULE_LINE, "%(where)s")
        self._colors = (colors or _COLORS) if color and _stderr_supports_color() else {}
        self._normal = _RESET if self._colors else ""  # what ends a coloured prefix

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        color = self._colors.get(record.levelno, "")
        values: dict[str, Any] = dict(record.__dict__)
        values["color"] = color
        values["end_color"] = self._normal if color else ""
        if _is_private(record.pathname):
            values["where"] = record.name
        else:
            values["where"] = f"{record.module}:{record.lineno}"
        formatted = str(self._fmt) % values
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            formatted = formatted.rstrip() + "\n" + record.exc_text
        return formatted.replace("\n", "\n    ")


def _stderr_supports_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


@functools.lru_cache(maxsize=256)
def _is_private(pathname: str) -> bool:
    """Whether ``pathname`` is a private module of tornadish (``_web/handler.py``,
    ``_ioloop_fds.py``, the command line's ``__main__.py``); ``__init__.py`` is not."""
    path = os.path.abspath(pathname)
    if not path.startswith(_PACKAGE_DIR):
        return False
    parts = path[len(_PACKAGE_DIR) :].split(os.sep)
    return any(part.startswith("_") and part != "__init__.py" for part in parts)


def enable_pretty_logging(
    options: Any = logging.INFO,
    logger: logging.Logger | None = None,
) -> None:
    """Turn on formatted log output: from Tornado's logging options, or at a level.

    Given an options object (an :class:`~tornadish.options.OptionParser` with the options
    of :func:`define_logging_options`), configure ``logger`` (default: root) from them as
    Tornado does: the level of ``--logging`` (``none`` leaves logging alone), a log file
    when ``--log-file-prefix`` is set (rotated by ``--log-rotate-mode``: ``size`` or
    ``time``, anything else is a :class:`ValueError`), and a coloured stderr handler when
    ``--log-to-stderr`` is true, or unset with no other handler configured.

    Given a level instead (a number or a name; the default), set ``logger``'s level and
    add that stderr handler unless a :class:`LogFormatter` handler is already there.
    """
    if isinstance(options, (int, str)):
        _add_pretty_console(options, logger)
        return
    if options is None:
        options = _global_options()
        if options is None:  # no global options yet: Tornado's defaults
            _add_pretty_console(logging.INFO, logger)
            return
    _apply_logging_options(options, logger)


def _add_pretty_console(level: int | str, logger: logging.Logger | None = None) -> None:
    logger = logger or logging.getLogger()
    logger.setLevel(level)
    if not any(isinstance(h.formatter, LogFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(LogFormatter())
        logger.addHandler(handler)


def _global_options() -> Any:
    # tornadish.options imports this module, so it is looked up, not imported: when it
    # has not been imported, no global options exist yet (and they define the logging
    # options themselves when created).
    module = sys.modules.get("tornadish.options")
    return None if module is None else module.options


def define_logging_options(options: Any = None) -> None:
    """Add Tornado's logging options to ``options`` (an
    :class:`~tornadish.options.OptionParser`; default: the global one, which has them
    already, so that raises as in Tornado), and configure logging from them, through
    :func:`enable_pretty_logging`, once they are parsed.
    """
    target = _global_options() if options is None else options
    if target is None:
        return  # the global options, when created, define these themselves
    _define_logging_options(target)
    target.add_parse_callback(lambda: enable_pretty_logging(target))


def _define_logging_options(target: Any) -> None:
    group = __file__ or "tornadish/log.py"
    target.define(
        "logging",
        default="info",
        group=group,
        metavar="debug|info|warning|error|none",
        help="Set the Python log level. If 'none', logging configuration is left alone.",
    )
    target.define(
        "log_to_stderr",
        type=bool,
        default=None,
        group=group,
        help=(
            "Send log output to stderr (colorized if possible). By default stderr is used "
            "if --log-file-prefix is not set and no other logging is configured."
        ),
    )
    target.define(
        "log_file_prefix",
        type=str,
        default=None,
        metavar="PATH",
        group=group,
        help=(
            "Path prefix for log files. Each process writing logs needs its own "
            "(for example include the port number)."
        ),
    )
    target.define(
        "log_file_max_size",
        type=int,
        default=100 * 1000 * 1000,
        group=group,
        help="max size of log files before rollover",
    )
    target.define(
        "log_file_num_backups",
        type=int,
        default=10,
        group=group,
        help="number of log files to keep",
    )
    target.define(
        "log_rotate_when",
        type=str,
        default="midnight",
        group=group,
        help="interval unit of timed rotation: 'S', 'M', 'H', 'D', 'W0'-'W6' or 'midnight'",
    )
    target.define(
        "log_rotate_interval",
        type=int,
        default=1,
        group=group,
        help="the interval value of timed rotation",
    )
    target.define(
        "log_rotate_mode",
        type=str,
        default="size",
        group=group,
        help="how log files rotate: 'size' or 'time'",
    )


def _apply_logging_options(parser: Any, logger: logging.Logger | None = None) -> None:
    """Configure ``logger`` (default: root) from the logging options of ``parser``."""
    level_name = parser.logging
    if level_name is None or str(level_name).lower() == "none":
        return
    level = logging.getLevelName(str(level_name).upper())
    if not isinstance(level, int):
        raise ValueError(f"Option 'logging': unknown log level {level_name!r}")
    logger = logger if logger is not None else logging.getLogger()
    logger.setLevel(level)
    prefix: str | None = parser.log_file_prefix
    to_stderr: bool | None = parser.log_to_stderr
    # Decided before the file handler exists: "unset" means stderr only if nothing else
    # is configured.
    if to_stderr or (to_stderr is None and not logger.handlers and not prefix):
        _add_pretty_console(level, logger)
        if not any(_is_pretty_console(handler) for handler in logger.handlers):
            # enable_pretty_logging stays away when some LogFormatter handler exists
            # (say, a log file from an earlier parse); stderr was asked for explicitly.
            console = logging.StreamHandler()
            console.setFormatter(LogFormatter())
            logger.addHandler(console)
    if prefix:
        target = os.path.abspath(prefix)
        for handler in logger.handlers:
            if getattr(handler, "baseFilename", None) == target:
                return  # parsed twice: keep the one handler
        mode = parser.log_rotate_mode
        channel: logging.Handler
        if mode == "size":
            channel = logging.handlers.RotatingFileHandler(
                prefix,
                mode="a",
                maxBytes=parser.log_file_max_size,
                backupCount=parser.log_file_num_backups,
                encoding="utf-8",
            )
        elif mode == "time":
            channel = logging.handlers.TimedRotatingFileHandler(
                prefix,
                when=parser.log_rotate_when,
                interval=parser.log_rotate_interval,
                backupCount=parser.log_file_num_backups,
                encoding="utf-8",
            )
        else:
            raise ValueError(f"Option 'log_rotate_mode' should be 'size' or 'time', not {mode!r}")
        channel.setFormatter(LogFormatter(color=False))
        logger.addHandler(channel)


def _is_pretty_console(handler: logging.Handler) -> bool:
    return (
        isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
        and isinstance(handler.formatter, LogFormatter)
    )
