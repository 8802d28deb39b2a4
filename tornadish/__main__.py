"""The command line: ``python -m tornadish run module:app``.

::

    python -m tornadish run myproject.web:app --port 8000 --workers 4
    python -m tornadish run myproject.web:make_app --reload --debug
    python -m tornadish run myproject.web:app --no-uvloop      # asyncio's own loop

``module:app`` names an ``Application`` (or any request callback) or a function that
takes no arguments and returns one. The current directory is importable, as with
``python -m``. See :func:`tornadish.run` for what the options do.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["load_app", "main"]


def load_app(target: str) -> Any:
    """Import ``module:attribute`` and return the application it names (calling it
    first when it is a factory rather than an application)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"error: expected module:app, got {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit(f"error: {module_name!r} has no attribute {attr!r}") from None
    # An application has start_request (the server's delegate interface); a plain
    # callable without it is a factory. Old-style request callbacks take a request, so
    # only a callable that takes no arguments is called.
    if not hasattr(obj, "start_request") and callable(obj) and _takes_no_arguments(obj):
        obj = obj()
    return obj


def _takes_no_arguments(fn: Any) -> bool:
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in sig.parameters.values()
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tornadish", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
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
    run.add_argument("--log-level", default="info", help="logging level (info)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m tornadish``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="[%(levelname)1.1s %(asctime)s %(process)d %(name)s] %(message)s",
    )
    app = load_app(args.app)
    if args.debug:
        _enable_debug(app)
    from tornadish._runner.run import run

    run(
        app,
        port=args.port,
        address=args.address,
        workers=args.workers,
        grace=args.grace,
        reload=args.reload or args.debug,
        xheaders=args.xheaders,
        uvloop=False if args.no_uvloop else None,
        http=args.http,
        ws=args.ws,
    )


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
