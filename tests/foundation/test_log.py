"""``tornadish.log.LogFormatter``: Tornado's line, coloured only on a terminal, and naming
the logger, not the module, for what the framework's private modules log."""

from __future__ import annotations

import io
import logging
import os
import sys
from typing import Any

import pytest

import tornadish
from tornadish.log import LogFormatter, enable_pretty_logging

PACKAGE = os.path.dirname(os.path.abspath(tornadish.__file__))


def record(pathname: str, name: str = "tornadish.general", level: int = logging.INFO) -> Any:
    module = os.path.splitext(os.path.basename(pathname))[0]
    rec = logging.LogRecord(name, level, pathname, 305, "hello %s", ("world",), None)
    assert rec.module == module
    return rec


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("pathname", "where"),
    [
        (os.path.join(PACKAGE, "_web", "application.py"), "tornadish.general"),
        (os.path.join(PACKAGE, "_server", "connection.py"), "tornadish.general"),
        (os.path.join(PACKAGE, "_ioloop_fds.py"), "tornadish.general"),
        (os.path.join(PACKAGE, "__main__.py"), "tornadish.general"),
        (os.path.join(PACKAGE, "autoreload.py"), "autoreload:305"),  # public: as Tornado
        (os.path.join(PACKAGE, "platform", "asyncio.py"), "asyncio:305"),
        ("/srv/myproject/_private_helpers.py", "_private_helpers:305"),  # not ours
        ("/srv/myproject/web.py", "web:305"),
    ],
)
def test_the_origin_is_a_public_module_or_the_loggers_name(pathname: str, where: str) -> None:
    line = LogFormatter(color=False).format(record(pathname))
    assert line.startswith("[I ") and line.endswith(f" {where}] hello world"), line


def test_a_format_of_ones_own_with_module_and_line_gets_the_same_treatment() -> None:
    formatter = LogFormatter(fmt="%(levelname)s %(module)s:%(lineno)d %(message)s", color=False)
    private = record(os.path.join(PACKAGE, "_web", "handler.py"), name="tornadish.access")
    assert formatter.format(private) == "INFO tornadish.access hello world"
    assert formatter.format(record("/srv/app.py")) == "INFO app:305 hello world"


def test_colour_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = record("/srv/app.py", level=logging.WARNING)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stderr", Terminal())
    coloured = LogFormatter().format(rec)
    assert coloured.startswith("\x1b[33m[W ") and "app:305]\x1b[0m hello world" in coloured
    assert "\x1b[" not in LogFormatter(color=False).format(rec)
    monkeypatch.setenv("NO_COLOR", "1")  # https://no-color.org
    assert "\x1b[" not in LogFormatter().format(rec)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a file or a pipe
    assert "\x1b[" not in LogFormatter().format(rec)


def test_enable_pretty_logging_writes_the_format_to_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    logger = logging.Logger("test_log.pretty")
    enable_pretty_logging("INFO", logger)
    logger.handlers[0].handle(record(os.path.join(PACKAGE, "_server", "protocol.py")))
    assert stderr.getvalue().endswith(" tornadish.general] hello world\n"), stderr.getvalue()
