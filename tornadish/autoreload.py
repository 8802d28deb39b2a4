"""Restart the process when a source file changes (the development loop).

>>> from tornadish import autoreload
>>> autoreload.start()                      # doctest: +SKIP
>>> autoreload.watch("templates/home.html")  # doctest: +SKIP

``Application(debug=True)`` (or ``autoreload=True``) starts it when the application
starts listening (``app.listen`` or :func:`tornadish.run`). What is watched: the files of
all imported modules, and the files and directories given to :func:`watch`. Templates
are not: with autoreload on, a template is recompiled when it changes, so an edit needs
no restart (which would drop every open WebSocket). On a change it runs the reload hooks and
re-executes the process with the same interpreter and arguments (``python -m pkg`` is
restarted as ``-m pkg``). Listening sockets are closed by ``exec`` (they are not
inheritable), so the new process can bind the port again; connections in progress are
dropped, which is fine for development and why this is not for production.

Two ways to notice a change:

- with the optional `watchfiles <https://watchfiles.helpmanual.io>`_ package
  (``pip install tornadish[reload]``), the operating system reports changes to a daemon
  thread, which asks the event loop to restart: no polling, changes seen at once;
- without it (or with the environment variable ``TORNADISH_RELOAD_POLL`` set to ``1``),
  a timer on the event loop compares modification times every ``check_time``
  milliseconds.

As a command-line wrapper, it re-runs a script whenever its source changes, and also
catches the errors (a syntax error, a failed import) that would keep the script from
reaching its own :func:`start` or :func:`wait`::

    python -m tornadish.autoreload -m myapp --port=8000
    python -m tornadish.autoreload [--until-success] path/to/script.py args...

``--until-success`` stops once the script exits with status 0. A restart re-runs the
wrapper with its original arguments. (``python -m tornadish run app:make_app --reload``
needs no wrapper: an application whose code fails to import is logged, its file and
line, and waited on in the same way.)

Module-level state (watched paths, hooks, the loops being watched) mirrors Tornado's
API, which is a set of module functions; it is per process by nature, since the
reaction is to replace the process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import runpy
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from tornadish.log import gen_log

__all__ = ["add_reload_hook", "main", "start", "wait", "watch"]

_watched: set[str] = set()
_reload_hooks: list[Callable[[], object]] = []
# Set by main(): the wrapper's own command line, which a restart repeats so that the
# wrapper survives it (the script being run is ``__main__`` meanwhile).
_wrapper_argv: list[str] | None = None
# Loops with a watcher running, so start() twice on one loop is one watcher.
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def watch(filename: str) -> None:
    """Also restart when ``filename`` changes: a file that is not a module (a template,
    a config file), or a directory (anything under it)."""
    _watched.add(os.path.abspath(filename))


def add_reload_hook(fn: Callable[[], object]) -> None:
    """Call ``fn()`` just before the process is re-executed (close what ``exec`` would
    not: child processes, files that need flushing)."""
    _reload_hooks.append(fn)


def start(check_time: int = 500) -> None:
    """Begin watching for changed files on the current event loop (the running one,
    else the one ``IOLoop.current()`` would run); ``check_time`` is the polling interval
    in milliseconds, and how often the notification watcher looks for newly imported
    modules."""
    from tornadish.ioloop import IOLoop

    loop = IOLoop.current().asyncio_loop
    if loop in _loops:
        return
    _loops.add(loop)
    interval = check_time / 1000.0
    if _use_notifications():
        gen_log.info("Autoreload: watching for changes with watchfiles")
        _NotifyWatcher(loop, interval).start()
    else:
        gen_log.info("Autoreload: polling for changes every %.2fs", interval)
        _Checker(loop, interval).schedule()


def wait() -> None:
    """Run an event loop that does nothing but watch for changes, then restart
    (``python -m tornadish.autoreload``-style use for scripts that are not servers)."""
    from tornadish.ioloop import IOLoop

    io_loop = IOLoop()
    start()
    io_loop.start()


def _use_notifications() -> bool:
    if os.environ.get("TORNADISH_RELOAD_POLL", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return True


class _Checker:
    """Polling: a self-rescheduling loop timer comparing modification times."""

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


class _NotifyWatcher(threading.Thread):
    """Notifications: a daemon thread blocked in :func:`watchfiles.watch`.

    Each directory holding a watched file is watched on its own (not recursively: the
    directories of the standard library and site-packages hold far more than is
    imported), as is every directory under a watched directory. The thread wakes every
    ``interval`` to pick up directories of modules imported since, and hands a relevant
    change to the event loop, which restarts the process.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        super().__init__(name="tornadish-autoreload", daemon=True)
        self.loop = loop
        self.timeout_ms = max(50, int(interval * 1000))

    def run(self) -> None:
        try:
            self._watch()
        except Exception:
            gen_log.error("Autoreload: watchfiles failed; polling instead", exc_info=True)
            try:
                self.loop.call_soon_threadsafe(_Checker(self.loop, self.timeout_ms / 1000).schedule)
            except RuntimeError:
                pass  # the loop is closed

    def _watch(self) -> None:
        import watchfiles

        while not self.loop.is_closed():
            files, trees = _watch_sets()
            dirs = _directories(files, trees)
            try:
                for changes in watchfiles.watch(
                    *sorted(dirs),
                    watch_filter=_Relevant(files, trees),
                    recursive=False,
                    rust_timeout=self.timeout_ms,
                    yield_on_timeout=True,
                    raise_interrupt=False,
                    ignore_permission_denied=True,
                ):
                    if changes:
                        path = min(path for _, path in changes)
                        self._restart(path)
                        return
                    if self.loop.is_closed():
                        return
                    new_files, new_trees = _watch_sets()
                    if new_trees != trees or _directories(new_files, new_trees) != dirs:
                        break  # new modules in new places, or new watch() calls
                    files.update(new_files)
            except OSError:
                # A directory vanished between listing and watching: list again.
                gen_log.debug("autoreload watcher restarting", exc_info=True)
                time.sleep(self.timeout_ms / 1000.0)

    def _restart(self, path: str) -> None:
        def restart() -> None:
            gen_log.info("%s modified; restarting server", path)
            _reload()

        try:
            self.loop.call_soon_threadsafe(restart)
        except RuntimeError:
            pass  # the loop is closed: nobody to restart


class _Relevant:
    """The watchfiles filter: a change matters if it is to a watched file or under a
    watched directory (``files`` may grow while watching)."""

    def __init__(self, files: set[str], trees: set[str]) -> None:
        self.files = files
        self.prefixes = tuple(t + os.sep for t in trees)

    def __call__(self, change: Any, path: str) -> bool:
        return path in self.files or (bool(self.prefixes) and path.startswith(self.prefixes))


def _watch_sets() -> tuple[set[str], set[str]]:
    """(watched files, watched directory trees)."""
    files: set[str] = set()
    trees: set[str] = set()
    for path in _module_files():
        files.add(path)
    for path in list(_watched):
        if os.path.isdir(path):
            trees.add(path)
        else:
            files.add(path)
    return files, trees


def _directories(files: Iterable[str], trees: Iterable[str]) -> set[str]:
    dirs = {os.path.dirname(path) for path in files}
    for tree in trees:
        for root, subdirs, _ in os.walk(tree):
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and d != "__pycache__"]
            dirs.add(root)
    return {d for d in dirs if os.path.isdir(d)}


def _module_files() -> list[str]:
    out = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        out.append(os.path.abspath(path))
    return out


def _files() -> list[str]:
    """Every file to poll: the modules' and the watched ones (directories expanded)."""
    files = _module_files()
    for path in list(_watched):
        if not os.path.isdir(path):
            files.append(path)
            continue
        for root, subdirs, names in os.walk(path):
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and d != "__pycache__"]
            files.extend(os.path.join(root, name) for name in names)
    return files


def _reload() -> None:
    for hook in _reload_hooks:
        try:
            hook()
        except Exception:
            gen_log.exception("Exception in reload hook %r", hook)
    argv = _wrapper_argv if _wrapper_argv is not None else _command_line()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *argv])


def _command_line() -> list[str]:
    """The interpreter's arguments that started this process, as far as they matter.

    A process started as ``python -m pkg`` has ``argv[0]`` set to the module's file;
    it is restarted the same way so that ``sys.path``, relative imports and
    ``__package__`` stay as they were. (A directory run as ``python dir`` has the spec
    name ``__main__`` and is restarted as it was started.)
    """
    argv = list(sys.argv)
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        name = spec.name
        if name.endswith(".__main__"):
            name = name[: -len(".__main__")]
        argv = ["-m", name, *argv[1:]]
    return argv


_USAGE = """\
usage: python -m tornadish.autoreload [--until-success] -m module [args...]
       python -m tornadish.autoreload [--until-success] path/to/script.py [args...]
"""


def main(args: list[str] | None = None) -> None:
    """``python -m tornadish.autoreload``: run a script or module, restarting it whenever
    a source file changes (see the module's documentation)."""
    global _wrapper_argv
    module, rest, until_success = _parse_wrapper_args(sys.argv[1:] if args is None else args)
    _wrapper_argv = _command_line()
    if module is not None:
        sys.argv = [sys.argv[0], *rest]
    else:
        sys.argv = list(rest)
    status = _run_script(module, rest[0] if module is None else None)
    if module is not None:
        # runpy imported it as __main__ only; watch its file under its own name too.
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and os.path.isfile(spec.origin):
            watch(spec.origin)
    if until_success and not status:
        return
    wait()


def _parse_wrapper_args(args: list[str]) -> tuple[str | None, list[str], bool]:
    """(module, script arguments, --until-success), parsed as Python parses its own
    command line: options end at ``-m module`` or at the script's path."""
    until_success = False
    while args:
        arg = args[0]
        if arg == "--until-success":
            until_success = True
        elif arg == "-m":
            if len(args) < 2:
                _usage_error("-m needs a module name")
            return args[1], args[2:], until_success
        elif arg.startswith("-m"):
            return arg[2:], args[1:], until_success
        elif arg in ("-h", "--help"):
            sys.stdout.write(_USAGE)
            raise SystemExit(0)
        elif arg == "--":
            args = args[1:]
            break
        elif arg.startswith("-"):
            _usage_error(f"unknown option {arg}")
        else:
            break
        args = args[1:]
    if not args:
        _usage_error("Either -m or a path must be specified")
    return None, list(args), until_success


def _usage_error(message: str) -> NoReturn:
    sys.stderr.write(f"{_USAGE}error: {message}\n")
    raise SystemExit(2)


def _run_script(module: str | None, path: str | None) -> object:
    """Run the script as ``__main__``; its exit status (``0`` when it just returns)."""
    try:
        if module is not None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            assert path is not None
            runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        gen_log.info("Script exited with status %s", exc.code)
        return exc.code
    except Exception as exc:
        gen_log.warning("Script exited with uncaught exception", exc_info=True)
        # A module that failed to import is not in sys.modules: watch every file of the
        # traceback (and a syntax error's file, which is not in it) so a fix restarts.
        for frame in traceback.extract_tb(exc.__traceback__):
            watch(frame.filename)
        if isinstance(exc, SyntaxError) and exc.filename is not None:
            watch(exc.filename)
        return 1
    gen_log.info("Script exited normally")
    return 0


if __name__ == "__main__":
    # ``python -m tornadish.autoreload``: this file runs as ``__main__``; hand over to the
    # importable module so that the script's ``import tornadish.autoreload`` (and its
    # start(), watch() or _reload()) shares the wrapper's state.
    from tornadish.autoreload import main as _main

    _main()
