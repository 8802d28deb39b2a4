"""Logging: the three loggers Tornado applications configure, and a readable formatter.

- ``access_log`` (``tornadish.access``): one line per finished request.
- ``app_log`` (``tornadish.application``): errors raised by application code.
- ``gen_log`` (``tornadish.general``): everything else the framework reports (bad input,
  timeouts, connection trouble).

The ``tornado.*`` names are not used so an application running both side by side can tell
the two apart; configure these exactly as you configured Tornado's.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["LogFormatter", "access_log", "app_log", "enable_pretty_logging", "gen_log"]

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


class LogFormatter(logging.Formatter):
    """``[L yymmdd hh:mm:ss module:line] message``, coloured on a terminal."""

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
        self._fmt: str = fmt
        self._colors = (colors or _COLORS) if color and _stderr_is_tty() else {}

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        color = self._colors.get(record.levelno, "")
        values: dict[str, Any] = dict(record.__dict__)
        values["color"] = color
        values["end_color"] = _RESET if color else ""
        formatted = str(self._fmt) % values
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            formatted = formatted.rstrip() + "\n" + record.exc_text
        return formatted.replace("\n", "\n    ")


def _stderr_is_tty() -> bool:
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def enable_pretty_logging(
    level: int | str = logging.INFO, logger: logging.Logger | None = None
) -> None:
    """Send log records to stderr through :class:`LogFormatter` (idempotent)."""
    logger = logger or logging.getLogger()
    logger.setLevel(level)
    if not any(isinstance(h.formatter, LogFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(LogFormatter())
        logger.addHandler(handler)
