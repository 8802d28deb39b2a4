"""Restart the process when a source file changes (the development loop).

>>> from tornadish import autoreload
>>> autoreload.start()                      # doctest: +SKIP
>>> autoreload.watch("templates/home.html")  # doctest: +SKIP

``Application(debug=True)`` (or ``autoreload=True``) starts it when the application
starts listening (``app.listen`` or :func:`tornadish.run`). Every ``check_time``
milliseconds a timer on the event loop compares the modification times of the files of
all imported modules and of the watched files with what it saw first; on a change it
runs the reload hooks and re-executes the process with the same interpreter and
arguments (``python -m pkg`` is restarted as ``-m pkg``). Listening sockets are closed
by ``exec`` (they are not inheritable), so the new process can bind the port again;
connections in progress are dropped, which is fine for development and why this is not
for production.

Module-level state (watched files, hooks, the loops being watched) mirrors Tornado's
API, which is a set of module functions; it is per process by nature, since the
reaction is to replace the process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import weakref
from collections.abc import Callable

from .log import gen_log

__all__ = ["add_reload_hook", "start", "wait", "watch"]

_watched: set[str] = set()
_reload_hooks: list[Callable[[], object]] = []
# Loops with a checker running, so start() twice on one loop is one checker.
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def watch(filename: str) -> None:
    """Also restart when ``filename`` (not a module: a template, a config file) changes."""
    _watched.add(os.path.abspath(filename))


def add_reload_hook(fn: Callable[[], object]) -> None:
    """Call ``fn()`` just before the process is re-executed (close what ``exec`` would
    not: child processes, files that need flushing)."""
    _reload_hooks.append(fn)


def start(check_time: int = 500) -> None:
    """Begin checking for changed files every ``check_time`` milliseconds on the current
    event loop (the running one, else the one ``IOLoop.current()`` would run)."""
    from .ioloop import IOLoop

    loop = IOLoop.current().asyncio_loop
    if loop in _loops:
        return
    _loops.add(loop)
    _Checker(loop, check_time / 1000.0).schedule()


def wait() -> None:
    """Run an event loop that does nothing but watch for changes, then restart
    (``python -m tornadish.autoreload``-style use for scripts that are not servers)."""
    from .ioloop import IOLoop

    io_loop = IOLoop()
    start()
    io_loop.start()


class _Checker:
    """A self-rescheduling loop timer; no thread is involved."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.mtimes: dict[str, float] = {}

    def schedule(self) -> None:
        self.loop.call_later(self.interval, self.check)

    def check(self) -> None:
        if self.loop.is_closed():
            return
        for path in _files():
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            seen = self.mtimes.setdefault(path, mtime)
            if mtime != seen:
                gen_log.info("%s modified; restarting server", path)
                _reload()
                return
        self.schedule()


def _files() -> list[str]:
    files = list(_watched)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        files.append(path)
    return files


def _reload() -> None:
    for hook in _reload_hooks:
        try:
            hook()
        except Exception:
            gen_log.exception("Exception in reload hook %r", hook)
    # A process started as ``python -m pkg`` has argv[0] set to the module's file;
    # restart it the same way so that relative imports and __package__ still work.
    argv = list(sys.argv)
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        name = spec.name
        if name.endswith(".__main__"):
            name = name[: -len(".__main__")]
        argv = ["-m", name, *argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *argv])
