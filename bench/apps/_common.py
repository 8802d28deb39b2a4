"""Helpers shared by the benchmark apps: CLI, uvloop start-up, readiness line.

Kept deliberately tiny so that each app module reads like an ordinary app.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn

#: Exit status an app uses when its framework cannot be imported; the harness skips it.
SKIP_EXIT = 77


def skip(framework: str, exc: BaseException) -> NoReturn:
    """Report that *framework* is unavailable and exit with :data:`SKIP_EXIT`."""
    print(f"SKIP: cannot import {framework}: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(SKIP_EXIT)


def parse_args(
    description: str, *, http: Sequence[str] = (), flags: Sequence[str] = ()
) -> argparse.Namespace:
    """``--host``, ``--port``; ``--http`` (default: the first choice) when given; and
    each of ``flags`` (``"--http2"``) as an on/off switch."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    if http:
        parser.add_argument("--http", choices=list(http), default=http[0])
    for flag in flags:
        parser.add_argument(flag, action="store_true")
    return parser.parse_args()


def _tornadish_engine() -> str | None:
    """The HTTP/1.1 engine a tornadish server in this process resolved (the same function
    and environment ``HTTPServer`` uses); None when tornadish is not loaded."""
    engines = sys.modules.get("tornadish._http.engines")
    if engines is None:
        return None
    try:
        return str(engines.resolve_http())
    except Exception:  # an unknown TORNADISH_HTTP: the server would have failed already
        return None


def announce(name: str, host: str, port: int, **info: str) -> None:
    """Print the line the harness reads to learn which event loop (and, for tornadish
    and uvicorn, which HTTP/1.1 parser) the app runs on."""
    loop = asyncio.get_running_loop()
    loop_type = f"{type(loop).__module__}.{type(loop).__qualname__}"
    engine = _tornadish_engine()
    if engine is not None:
        info.setdefault("http", engine)
    extra = "".join(f" {key}={value}" for key, value in info.items())
    print(f"READY {name} pid={os.getpid()} addr={host}:{port}{extra} loop={loop_type}", flush=True)


def run_on_uvloop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``asyncio.run(main())`` on uvloop (policy on 3.11, ``loop_factory`` on 3.12+)."""
    import uvloop

    try:
        if sys.version_info >= (3, 12):
            asyncio.run(main(), loop_factory=uvloop.new_event_loop)
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            asyncio.run(main())
    except KeyboardInterrupt:
        pass
