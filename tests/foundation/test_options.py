"""Tests for tornadish.options."""

from __future__ import annotations

import datetime
import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tornadish import options as options_module
from tornadish.log import LogFormatter
from tornadish.options import Error, OptionParser, define_logging_options


@pytest.fixture
def parser() -> OptionParser:
    p = OptionParser()
    p.define("port", default=80, help="port to listen on")
    p.define("host", default="localhost")
    p.define("debug", default=False)
    p.define("ratio", type=float, default=0.5)
    p.define("start", type=datetime.datetime)
    p.define("interval", type=datetime.timedelta)
    p.define("names", type=str, multiple=True)
    p.define("ports", type=int, multiple=True)
    p.define("log_level_name", default="info", group="logs")
    return p


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored (handlers and level) after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.handlers = []
    yield root
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers = handlers
    root.setLevel(level)


def own_handlers(logger: logging.Logger) -> list[logging.Handler]:
    """The logger's handlers, minus those pytest's log capturing adds during a test."""
    return [h for h in logger.handlers if type(h).__name__ != "LogCaptureHandler"]


def test_define_defaults_and_access(parser: OptionParser) -> None:
    assert parser.port == 80
    assert parser["port"] == 80
    assert parser.names == []
    assert parser.start is None
    parser.port = 81
    assert parser.port == 81
    parser["port"] = 82
    assert parser.port == 82
    # Dashes and underscores name the same option.
    assert parser["log-level-name"] == parser.log_level_name == "info"
    assert "log-level-name" in parser and "log_level_name" in parser
    assert "missing" not in parser
    with pytest.raises(AttributeError, match="missing"):
        _ = parser.missing
    with pytest.raises(AttributeError):
        parser.missing = 1
    with pytest.raises(AttributeError):
        _ = parser["missing"]


def test_type_inferred_and_checked_on_assignment(parser: OptionParser) -> None:
    with pytest.raises(Error, match=r"'port'.*int"):
        parser.port = "eighty"
    with pytest.raises(Error, match=r"'names'.*list of str"):
        parser.names = "a,b"
    with pytest.raises(Error, match="'names'"):
        parser.names = ["a", 1]
    parser.ratio = 2  # an int is fine for a float option
    assert parser.ratio == 2.0 and isinstance(parser.ratio, float)
    parser.port = None  # None is always allowed
    assert parser.port is None


def test_define_twice_is_an_error(parser: OptionParser) -> None:
    with pytest.raises(Error, match="already defined"):
        parser.define("port", default=1)
    with pytest.raises(Error, match="already defined"):
        parser.define("log-level-name")


def test_parse_command_line_types(parser: OptionParser) -> None:
    rest = parser.parse_command_line(
        [
            "prog",
            "--port=8080",
            "--host=example.com",
            "--debug",
            "--ratio=1.5",
            "--start=2024-02-03 04:05",
            "--interval=1h 30m 15s",
            "--names=a,b,c",
            "--ports=8000:8002,9000",
            "-log_level_name=debug",
            "file.txt",
            "--port=1",
        ]
    )
    assert rest == ["file.txt", "--port=1"]
    assert parser.port == 8080
    assert parser.host == "example.com"
    assert parser.debug is True
    assert parser.ratio == 1.5
    assert parser.start == datetime.datetime(2024, 2, 3, 4, 5)
    assert parser.interval == datetime.timedelta(hours=1, minutes=30, seconds=15)
    assert parser.names == ["a", "b", "c"]
    assert parser.ports == [8000, 8001, 8002, 9000]
    assert parser.log_level_name == "debug"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("f", False),
        ("no", False),
        ("off", False),
    ],
)
def test_bool_values(parser: OptionParser, text: str, expected: bool) -> None:
    parser.parse_command_line(["prog", f"--debug={text}"])
    assert parser.debug is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45", datetime.timedelta(seconds=45)),
        ("45s", datetime.timedelta(seconds=45)),
        ("250ms", datetime.timedelta(milliseconds=250)),
        ("2 days", datetime.timedelta(days=2)),
        ("1w 1d", datetime.timedelta(days=8)),
        ("1.5h", datetime.timedelta(minutes=90)),
        ("10 min", datetime.timedelta(minutes=10)),
        ("-5s", datetime.timedelta(seconds=-5)),
    ],
)
def test_timedelta_values(parser: OptionParser, text: str, expected: datetime.timedelta) -> None:
    parser.parse_command_line(["prog", f"--interval={text}"])
    assert parser.interval == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-03", datetime.datetime(2024, 2, 3)),
        ("20240203", datetime.datetime(2024, 2, 3)),
        ("2024-02-03 04:05:06", datetime.datetime(2024, 2, 3, 4, 5, 6)),
        ("2024-02-03T04:05", datetime.datetime(2024, 2, 3, 4, 5)),
        ("2024-02-03T04:05:06.5", datetime.datetime(2024, 2, 3, 4, 5, 6, 500000)),
        ("Sat Feb 03 04:05:06 2024", datetime.datetime(2024, 2, 3, 4, 5, 6)),
    ],
)
def test_datetime_values(parser: OptionParser, text: str, expected: datetime.datetime) -> None:
    parser.parse_command_line(["prog", f"--start={text}"])
    assert parser.start == expected


def test_command_line_errors_name_the_option(parser: OptionParser) -> None:
    out = io.StringIO()
    with mock.patch.object(sys, "stderr", out), pytest.raises(Error, match="'nope'"):
        parser.parse_command_line(["prog", "--nope=1"])
    assert "--port" in out.getvalue()  # help was printed
    with pytest.raises(Error, match="'port' requires a value"):
        parser.parse_command_line(["prog", "--port", "8080"])
    with pytest.raises(Error, match=r"'port'.*'eighty'"):
        parser.parse_command_line(["prog", "--port=eighty"])
    with pytest.raises(Error, match="'interval'"):
        parser.parse_command_line(["prog", "--interval=3 fortnights"])
    with pytest.raises(Error, match="'start'"):
        parser.parse_command_line(["prog", "--start=someday"])
    with pytest.raises(Error, match="'ports'"):
        parser.parse_command_line(["prog", "--ports=1:x"])


def test_double_dash_ends_options(parser: OptionParser) -> None:
    assert parser.parse_command_line(["prog", "--port=1", "--", "--port=2", "x"]) == [
        "--port=2",
        "x",
    ]
    assert parser.port == 1
    assert parser.parse_command_line(["prog"]) == []


def test_parse_command_line_defaults_to_sys_argv(parser: OptionParser) -> None:
    with mock.patch.object(sys, "argv", ["prog", "--port=99", "rest"]):
        assert parser.parse_command_line() == ["rest"]
    assert parser.port == 99


def test_option_callbacks_and_parse_callbacks(parser: OptionParser) -> None:
    seen: list[Any] = []
    parser.define("level", default=1, callback=seen.append)
    parser.add_parse_callback(lambda: seen.append("parsed"))
    parser.parse_command_line(["prog", "--level=2"], final=False)
    assert seen == [2]
    parser.parse_command_line(["prog", "--level=3"])
    assert seen == [2, 3, "parsed"]
    parser.level = 4
    assert seen[-1] == 4


def test_parse_config_file(parser: OptionParser, tmp_path: Path) -> None:
    config = tmp_path / "server.conf"
    config.write_text(
        "import os\n"
        "port = 9000\n"
        "host = 'conf.example'\n"
        "ratio = '0.25'\n"
        "interval = '2m'\n"
        "names = ['x', 'y']\n"
        "ports = '1:3'\n"
        "log_level_name = os.path.basename(__file__)\n"
        "unrelated = object()\n"
    )
    parsed: list[bool] = []
    parser.add_parse_callback(lambda: parsed.append(True))
    parser.parse_config_file(str(config))
    assert parser.port == 9000
    assert parser.host == "conf.example"
    assert parser.ratio == 0.25
    assert parser.interval == datetime.timedelta(minutes=2)
    assert parser.names == ["x", "y"]
    assert parser.ports == [1, 2, 3]
    assert parser.log_level_name == "server.conf"
    assert parsed == [True]
    parser.parse_config_file(config, final=False)
    assert parsed == [True]


def test_parse_config_file_errors(parser: OptionParser, tmp_path: Path) -> None:
    bad_type = tmp_path / "bad.conf"
    bad_type.write_text("port = [1]\n")
    with pytest.raises(Error, match="'port'"):
        parser.parse_config_file(bad_type)
    bad_list = tmp_path / "bad_list.conf"
    bad_list.write_text("names = 3\n")
    with pytest.raises(Error, match=r"'names'.*comma-separated"):
        parser.parse_config_file(bad_list)
    with pytest.raises(OSError):
        parser.parse_config_file(tmp_path / "missing.conf")


def test_groups_and_dicts(parser: OptionParser) -> None:
    assert "logs" in parser.groups()
    # Default group: the defining file; --help, defined by the parser itself, is in "".
    assert parser.groups() == {"logs", __file__, ""}
    assert parser.group_dict("logs") == {"log_level_name": "info"}
    everything = parser.as_dict()
    assert everything["port"] == 80 and "help" in everything
    assert parser.group_dict("") == everything
    assert dict(parser.items()) == everything
    assert "log_level_name" in list(parser)
    assert "port" in dir(parser)


def test_print_help(parser: OptionParser) -> None:
    parser.define("with_meta", metavar="PATH", help="x " * 40)
    out = io.StringIO()
    parser.print_help(out)
    text = out.getvalue()
    assert text.startswith("Usage:")
    assert "--port" in text and "port to listen on (default 80)" in text
    assert "--with-meta=PATH" in text
    assert "--log-level-name" in text  # always shown with dashes
    assert "logs options:" in text


def test_help_flag_prints_and_exits(parser: OptionParser) -> None:
    out = io.StringIO()
    with mock.patch.object(sys, "stderr", out), pytest.raises(SystemExit) as info:
        parser.parse_command_line(["prog", "--help"])
    assert info.value.code == 0
    assert "--port" in out.getvalue()


def test_mockable(parser: OptionParser) -> None:
    with mock.patch.object(parser.mockable(), "port", 1234):
        assert parser.port == 1234
    assert parser.port == 80
    mockable = parser.mockable()
    mockable.host = "mocked"
    assert parser.host == "mocked"
    with pytest.raises(Error):
        mockable.host = "again"
    del mockable.host
    assert parser.host == "localhost"


def test_module_level_api() -> None:
    opts = options_module.options
    name = "test_options_module_level_flag"
    if name not in opts:
        options_module.define(name, default=5, help="used by tests")
    with mock.patch.object(opts.mockable(), name, 6):
        assert getattr(opts, name) == 6
    assert getattr(opts, name) == 5
    for logging_option in (
        "logging",
        "log_to_stderr",
        "log_file_prefix",
        "log_file_max_size",
        "log_file_num_backups",
        "log_rotate_when",
        "log_rotate_interval",
        "log_rotate_mode",
    ):
        assert logging_option in opts
    assert opts.logging == "info"
    out = io.StringIO()
    options_module.print_help(out)
    assert "--log-file-prefix=PATH" in out.getvalue()


def test_global_parse_command_line_configures_logging(root_logger: logging.Logger) -> None:
    opts = options_module.options
    with mock.patch.object(opts.mockable(), "logging", "info"):
        # pytest's capture handlers count as "logging already configured", so ask for
        # stderr explicitly.
        rest = options_module.parse_command_line(
            ["prog", "--logging=warning", "--log-to-stderr", "tail"]
        )
        assert rest == ["tail"]
        assert root_logger.level == logging.WARNING
        assert any(isinstance(h.formatter, LogFormatter) for h in root_logger.handlers)
        opts.log_to_stderr = None


def test_logging_options_to_file(root_logger: logging.Logger, tmp_path: Path) -> None:
    parser = OptionParser()
    define_logging_options(parser)
    log_file = tmp_path / "app.log"
    parser.parse_command_line(["prog", "--logging=debug", f"--log-file-prefix={log_file}"])
    assert root_logger.level == logging.DEBUG
    file_handlers = [h for h in root_logger.handlers if isinstance(h, logging.FileHandler)]
    assert len(file_handlers) == 1
    # No stderr handler: a log file was asked for and log_to_stderr was left unset.
    assert len(own_handlers(root_logger)) == 1
    parser.run_parse_callbacks()  # parsing again does not add a second file handler
    assert len(own_handlers(root_logger)) == 1
    logging.getLogger("tornadish.application").debug("hello file")
    file_handlers[0].flush()
    assert "hello file" in log_file.read_text()
    # Explicitly asking for stderr as well adds it.
    parser.parse_command_line(["prog", "--log-to-stderr"])
    assert len(own_handlers(root_logger)) == 2


def test_logging_options_none_and_bad_values(root_logger: logging.Logger, tmp_path: Path) -> None:
    parser = OptionParser()
    define_logging_options(parser)
    root_logger.setLevel(logging.CRITICAL)
    parser.parse_command_line(["prog", "--logging=none"])
    assert root_logger.level == logging.CRITICAL and not own_handlers(root_logger)
    with pytest.raises(Error, match="logging"):
        parser.parse_command_line(["prog", "--logging=loud"])
    with pytest.raises(Error, match="log_rotate_mode"):
        parser.parse_command_line(
            [
                "prog",
                "--logging=info",
                f"--log_file_prefix={tmp_path / 'x.log'}",
                "--log_rotate_mode=sideways",
            ]
        )
    parser.parse_command_line(["prog", "--log_rotate_mode=time", "--log_rotate_when=S"])
    assert any(
        isinstance(h, logging.handlers.TimedRotatingFileHandler) for h in root_logger.handlers
    )


def test_same_parse_as_tornado() -> None:
    tornado_options = pytest.importorskip("tornado.options")
    argv = ["prog", "--port=8080", "--debug", "--names=a,b", "--ports=1:3", "--", "rest"]
    results = []
    for module in (tornado_options, options_module):
        p = module.OptionParser()
        p.define("port", default=80)
        p.define("debug", default=False)
        p.define("names", type=str, multiple=True)
        p.define("ports", type=int, multiple=True)
        rest = p.parse_command_line(argv)
        results.append((rest, p.port, p.debug, p.names, p.ports, sorted(p.as_dict())))
    assert results[0] == results[1]
