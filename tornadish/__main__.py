"""The command line: ``python -m tornadish run module:app``.

::

    python -m tornadish run myproject.web:app --port 8000 --workers 4
    python -m tornadish run myproject.web:make_app --reload --debug
    python -m tornadish run myproject.web:app --no-uvloop      # asyncio's own loop
    python -m tornadish run myproject.web:app --http2 --h2-max-concurrent-streams 250

``module:app`` names an ``Application`` (or any request callback) or a function that
takes no arguments and returns one. The current directory is importable, as with
``python -m``. See :func:`tornadish.run` for what the options do.

Rules: a mistake (an unknown option or level, ``--workers`` with ``--reload``, an
application that cannot be loaded, a port already taken) is one line on stderr and exit
status 2, as with uvicorn, never a traceback. Logging has the library's format
(:func:`tornadish.log.enable_pretty_logging`). Under ``--reload``, an error in the
application's own code is logged (its files and lines) and waited out: the next change
to a source file starts it again.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from tornadish._runner.loading import AppError, UsageError, load_app

__all__ = ["load_app", "main"]

_LEVELS = ("critical", "error", "warning", "info", "debug")


class _Parser(argparse.ArgumentParser):
    """argparse with uvicorn's manners: a mistake is one line and exit status 2, not
    the usage text (``--help`` has that)."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=_prog(), description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="serve an application")
    run.add_argument("app", help="module:app — an Application or a zero-argument factory")
    run.add_argument("--port", type=int, default=8888, help="port to listen on (8888)")
    run.add_argument("--address", default=None, help="address to bind (all interfaces)")
    run.add_argument("--workers", type=int, default=1, help="worker processes (0: one per CPU)")
    run.add_argument("--grace", type=float, default=30.0, help="shutdown grace period, seconds")
    run.add_argument(
        "--reload", action="store_true", help="restart when source files or templates change"
    )
    run.add_argument(
        "--debug", action="store_true", help="the application's debug mode (implies --reload)"
    )
    run.add_argument(
        "--xheaders", action="store_true", help="trust X-Forwarded-For/-Proto from a proxy"
    )
    run.add_argument(
        "--no-uvloop",
        action="store_true",
        help="run on asyncio's own event loop even if uvloop is installed",
    )
    run.add_argument(
        "--http",
        choices=["auto", "h11", "httptools"],
        default=None,
        help="HTTP/1.1 engine (auto: httptools when installed; TORNADISH_HTTP sets the default)",
    )
    run.add_argument(
        "--ws",
        choices=["auto", "wsproto", "websockets"],
        default=None,
        help="WebSocket engine (auto: websockets when installed; TORNADISH_WS sets the default)",
    )
    run.add_argument(
        "--http2",
        action="store_true",
        help="serve HTTP/2 too: prior knowledge on cleartext, ALPN h2 over TLS (needs h2)",
    )
    # The HTTP/2 settings a deployer tunes (see HTTPServer's h2_* settings); the
    # attack limits keep their defaults.
    h2 = run.add_argument_group("HTTP/2 (with --http2)")
    h2.add_argument(
        "--h2-max-concurrent-streams",
        type=_count,
        metavar="N",
        help="streams a client may have open at once (100); more are refused",
    )
    h2.add_argument(
        "--h2-ping-interval",
        type=_seconds(zero=True),
        metavar="SECONDS",
        help="PING a client silent this long (60; 0: never)",
    )
    h2.add_argument(
        "--h2-ping-timeout",
        type=_seconds(zero=False),
        metavar="SECONDS",
        help="drop a client that does not answer a PING within this (20)",
    )
    h2.add_argument(
        "--h2-window-timeout",
        type=_seconds(zero=False),
        metavar="SECONDS",
        help="reset a response that waited this long for the client's window (60)",
    )
    run.add_argument(
        "--log-level",
        default="info",
        type=str.lower,
        choices=_LEVELS,
        help="logging level: critical, error, warning, info (the default) or debug",
    )
    return parser


_H2_OPTIONS = (
    "h2_max_concurrent_streams",
    "h2_ping_interval",
    "h2_ping_timeout",
    "h2_window_timeout",
)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return value


def _seconds(zero: bool) -> Any:
    least = "0 or more" if zero else "more than 0"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not (value >= 0 if zero else value > 0) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected seconds, {least}, not {text!r}")
        return value

    return parse


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m tornadish`` and of the ``tornadish`` command.

    A mistake (a bad option, an application that cannot be loaded, a port in use)
    ends with one line on stderr and exit status 2. With ``--reload`` (or ``--debug``),
    an error in the application's own code is logged, and the process waits for a
    file to change and tries again, as Tornado's autoreload wrapper does.
    """
    args = _parser().parse_args(argv)
    reload = bool(args.reload or args.debug)
    if reload and args.workers != 1:
        _fail("--reload and --debug need one process: drop --workers")
    h2_settings = {k: getattr(args, k) for k in _H2_OPTIONS if getattr(args, k) is not None}
    if h2_settings and not args.http2:
        option = "--" + next(iter(h2_settings)).replace("_", "-")
        _fail(f"{option} is an HTTP/2 setting: add --http2")
    _configure_logging(args.log_level)
    from tornadish._http.engines import resolve_http
    from tornadish._http.ws_engines import resolve_ws

    try:  # a bad name or a missing extra: say so before importing the application
        resolve_http(args.http)
        resolve_ws(args.ws)
        if args.http2 and importlib.util.find_spec("h2") is None:
            raise ImportError("--http2 needs the h2 library: pip install 'tornadish[http2]'")
    except (ImportError, ValueError) as e:
        _fail(str(e))
    try:
        app = load_app(args.app)
    except UsageError as e:
        _fail(str(e))
    except AppError as e:
        if not reload:
            logging.getLogger("tornadish.general").debug("%s", e.details())
            _fail(str(e))
        _wait_for_a_fix(e)
    if args.debug:
        _enable_debug(app)
    settings = getattr(app, "settings", None) or {}
    if args.workers != 1 and settings.get("autoreload"):
        _fail(f"{args.app} has debug or autoreload on, which needs one process: drop --workers")
    from tornadish._runner import run as runner

    try:
        runner.run(
            app,
            port=args.port,
            address=args.address,
            workers=args.workers,
            grace=args.grace,
            reload=reload,
            xheaders=args.xheaders,
            uvloop=False if args.no_uvloop else None,
            http=args.http,
            ws=args.ws,
            **({"http2": True, **h2_settings} if args.http2 else {}),
        )
    except runner.BindError as e:
        _fail(str(e))


def _prog() -> str:
    # The console script is ``tornadish``; otherwise this runs as ``python -m tornadish``.
    return "tornadish" if os.path.basename(sys.argv[0]) == "tornadish" else "python -m tornadish"


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"{_prog()}: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(2)


def _configure_logging(level: str) -> None:
    # The library's format (tornadish.log.LogFormatter, coloured on a terminal), unless
    # logging is configured already (an embedding program, a test runner).
    root = logging.getLogger()
    if not root.handlers:
        from tornadish.log import enable_pretty_logging

        enable_pretty_logging(level.upper())


def _wait_for_a_fix(error: AppError) -> NoReturn:
    """Log ``error`` as the user needs it, then wait until a file changes and start
    again (re-executing this command line); Ctrl-C stops the wait."""
    from tornadish import autoreload
    from tornadish.log import gen_log

    gen_log.error(
        "Could not load %s; waiting for a change to try again\n%s", error.target, error.details()
    )
    for path in error.files():
        autoreload.watch(path)
    try:
        autoreload.wait()  # returns only if the loop is stopped; a change re-executes
    except KeyboardInterrupt:
        pass
    raise SystemExit(1)


def _enable_debug(app: Any) -> None:
    # What Application(debug=True) sets at construction, applied afterwards.
    settings = getattr(app, "settings", None)
    if settings is None:
        return
    settings["debug"] = True
    for key, value in (
        ("autoreload", True),
        ("compiled_template_cache", False),
        ("static_hash_cache", False),
        ("serve_traceback", True),
    ):
        settings.setdefault(key, value)
    refresh = getattr(app, "_settings_changed", None)
    if refresh is not None:
        refresh()


if __name__ == "__main__":
    main()
