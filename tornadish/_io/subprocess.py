"""``Subprocess``: ``subprocess.Popen`` with ``PipeIOStream`` pipes and an exit callback.

The implementation behind :class:`tornadish.process.Subprocess` (the public face
re-exports it), written the way Tornado's is: the child is started by
:class:`subprocess.Popen` (so every ``Popen`` argument works, and ``self.proc`` is a real
``Popen``), and each pipe asked for with ``Subprocess.STREAM`` is an ``os.pipe()`` whose
parent end becomes a :class:`~tornadish._io.iostream.PipeIOStream`.

How the exit is noticed, without a polling thread:

- On Linux, a *pidfd* (``os.pidfd_open``, Linux 5.3+) becomes readable when the child
  exits; the loop that created the ``Subprocess`` watches it like any socket, on asyncio
  and uvloop alike. Nothing global is touched, so several loops in several threads can
  each run subprocesses.
- Elsewhere (macOS, old kernels), as in Tornado: one ``SIGCHLD`` handler, installed by
  :meth:`Subprocess.initialize` on the current loop, polls the children it was asked to
  watch when a child exits.
- Where the loop refuses a ``SIGCHLD`` handler too (uvloop keeps ``SIGCHLD`` for itself;
  a loop outside the main thread cannot have signal handlers), a thread blocked in
  ``waitpid`` for that child, as asyncio's ``ThreadedChildWatcher`` does: it sleeps in the
  kernel, it does not poll.

Either way the child is reaped through ``Popen.poll()``, so ``self.proc`` knows its
return code and a later ``proc.wait()`` returns at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from tornadish._io.iostream import PipeIOStream
from tornadish.concurrent import (
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
)
from tornadish.ioloop import IOLoop
from tornadish.log import app_log

__all__ = ["CalledProcessError", "Subprocess"]

CalledProcessError = subprocess.CalledProcessError
"""Raised by :meth:`Subprocess.wait_for_exit` for a non-zero exit (re-exported, as in
Tornado)."""


def _open_pidfd(pid: int) -> int | None:
    """A pidfd for ``pid``, or None where the platform or kernel has none."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except ProcessLookupError:
        return None  # already reaped by someone else: Popen.poll() will say so
    except OSError:
        return None  # ENOSYS (kernel < 5.3) or a seccomp filter refusing the call
    return fd


_PIDFD_WORKS: bool | None = None


def _pidfd_works() -> bool:
    """Whether pidfds can be opened here (asked once, of this very process)."""
    global _PIDFD_WORKS
    if _PIDFD_WORKS is None:
        fd = _open_pidfd(os.getpid())
        _PIDFD_WORKS = fd is not None
        if fd is not None:
            os.close(fd)
    return _PIDFD_WORKS


class Subprocess:
    """``subprocess.Popen`` with asynchronous pipes and exit notification.

    The constructor takes ``Popen``'s arguments. Passing ``Subprocess.STREAM`` as
    ``stdin``, ``stdout`` or ``stderr`` makes that attribute a
    :class:`~tornadish.iostream.PipeIOStream` (close it when done); other values give
    what ``Popen`` gives. The ``Popen`` object is ``self.proc``, its pid ``self.pid``.

    >>> async def main():
    ...     proc = Subprocess(["echo", "hi"], stdout=Subprocess.STREAM)
    ...     out = await proc.stdout.read_until_close()
    ...     return out, await proc.wait_for_exit()
    >>> asyncio.run(main())
    (b'hi\\n', 0)

    Unix only, as in Tornado.
    """

    STREAM: ClassVar[object] = object()
    """Pass as ``stdin``/``stdout``/``stderr`` to get a ``PipeIOStream`` for that pipe."""

    # Class-wide, as Tornado's API makes them: the SIGCHLD fallback is one signal handler
    # for the whole process, watching the children registered here.
    _initialized: ClassVar[bool] = False
    _sigchld_loop: ClassVar[asyncio.AbstractEventLoop | None] = None
    _waiting: ClassVar[dict[int, Subprocess]] = {}

    stdin: Any
    """A ``PipeIOStream`` if ``stdin=Subprocess.STREAM``, else ``Popen.stdin``."""
    stdout: Any
    """A ``PipeIOStream`` if ``stdout=Subprocess.STREAM``, else ``Popen.stdout``."""
    stderr: Any
    """A ``PipeIOStream`` if ``stderr=Subprocess.STREAM``, else ``Popen.stderr``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.io_loop = IOLoop.current()
        # Every fd made here is closed if Popen fails; the child's ends are closed in the
        # parent once it has started.
        pipe_fds: list[int] = []
        child_ends: list[int] = []
        parent_ends: dict[str, int] = {}
        for name in ("stdin", "stdout", "stderr"):
            if kwargs.get(name) is Subprocess.STREAM:
                r, w = os.pipe()
                pipe_fds += (r, w)
                child, parent = (r, w) if name == "stdin" else (w, r)
                kwargs[name] = child
                child_ends.append(child)
                parent_ends[name] = parent
        try:
            self.proc = subprocess.Popen(*args, **kwargs)
        except BaseException:
            for fd in pipe_fds:
                os.close(fd)
            raise
        for fd in child_ends:
            os.close(fd)
        self.pid = self.proc.pid
        for name in ("stdin", "stdout", "stderr"):
            if name in parent_ends:
                setattr(self, name, PipeIOStream(parent_ends[name]))
            else:
                setattr(self, name, getattr(self.proc, name))
        self.returncode: int | None = None
        self._exit_callback: Callable[[int], None] | None = None
        self._watched = False  # an exit watch (of whichever kind) was started
        self._pidfd: int | None = None
        self._pidfd_closer: weakref.finalize[Any, Any] | None = None

    def set_exit_callback(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(returncode)`` on this object's loop once the process exits.

        ``returncode`` is as ``Popen`` reports it: the exit status, or ``-N`` for a
        process killed by signal ``N``. A later call replaces the callback; set after
        the exit was already seen, the callback runs on the next loop iteration.
        """
        self._exit_callback = callback
        if self.returncode is not None:
            self.io_loop.add_callback(self._run_exit_callback)
            return
        if self._watched:
            return
        self._watched = True
        pidfd = _open_pidfd(self.pid)
        if pidfd is not None:
            self._pidfd = pidfd
            self._pidfd_closer = weakref.finalize(self, os.close, pidfd)
            self.io_loop.asyncio_loop.add_reader(pidfd, self._on_pidfd_readable)
            return
        if self.proc.poll() is not None:
            self.io_loop.add_callback(self._set_returncode, self.proc.returncode)
            return
        Subprocess.initialize()
        if Subprocess._sigchld_loop is None:
            self._start_waiter_thread()
            return
        Subprocess._waiting[self.pid] = self
        Subprocess._try_cleanup_process(self.pid)

    def wait_for_exit(self, raise_error: bool = True) -> asyncio.Future[int]:
        """A future for the process's return code, the awaitable ``Popen.wait()``.

        A non-zero code raises :class:`subprocess.CalledProcessError` (with this
        process's arguments as ``cmd``) unless ``raise_error=False``.

        >>> async def main():
        ...     return await Subprocess(["false"]).wait_for_exit(raise_error=False)
        >>> asyncio.run(main())
        1
        """
        future: asyncio.Future[int] = self.io_loop.asyncio_loop.create_future()

        def callback(ret: int) -> None:
            if ret != 0 and raise_error:
                future_set_exception_unless_cancelled(
                    future, CalledProcessError(ret, self.proc.args)
                )
            else:
                future_set_result_unless_cancelled(future, ret)

        self.set_exit_callback(callback)
        return future

    @classmethod
    def initialize(cls) -> None:
        """Prepare exit notification for this process (Tornado's ``SIGCHLD`` set-up).

        With pidfds (Linux 5.3+) each ``Subprocess`` is watched on its own loop and this
        only records that it was called. Elsewhere it installs the ``SIGCHLD`` handler on
        the current event loop, which then serves every ``Subprocess`` of the process
        (call it from the main thread, as Tornado requires); a loop that refuses the
        handler (uvloop) gets a ``waitpid`` thread per watched child instead.
        """
        if cls._initialized:
            return
        if not _pidfd_works() and sys.platform != "win32":
            loop = IOLoop.current().asyncio_loop
            try:
                loop.add_signal_handler(signal.SIGCHLD, cls._cleanup)
            except (RuntimeError, ValueError, NotImplementedError):
                pass  # uvloop, or not the main thread: waiter threads instead
            else:
                Subprocess._sigchld_loop = loop
        Subprocess._initialized = True

    @classmethod
    def uninitialize(cls) -> None:
        """Undo :meth:`initialize`: remove the ``SIGCHLD`` handler if one was installed."""
        if not cls._initialized:
            return
        loop = Subprocess._sigchld_loop
        if loop is not None and not loop.is_closed():
            loop.remove_signal_handler(signal.SIGCHLD)
        Subprocess._sigchld_loop = None
        Subprocess._initialized = False

    # -- the exit, seen through a pidfd -------------------------------------------------

    def _on_pidfd_readable(self) -> None:
        # Readable means exited; poll() reaps it (or learns that someone else did).
        if self.proc.poll() is None:
            return
        self._close_pidfd()
        self._set_returncode(self.proc.returncode)

    def _close_pidfd(self) -> None:
        if self._pidfd is None:
            return
        loop = self.io_loop.asyncio_loop
        if not loop.is_closed():
            loop.remove_reader(self._pidfd)
        if self._pidfd_closer is not None:
            self._pidfd_closer()
        self._pidfd = None
        self._pidfd_closer = None

    # -- the exit, seen through SIGCHLD -------------------------------------------------

    @classmethod
    def _cleanup(cls) -> None:
        for pid in list(cls._waiting):
            cls._try_cleanup_process(pid)

    @classmethod
    def _try_cleanup_process(cls, pid: int) -> None:
        subproc = cls._waiting.get(pid)
        if subproc is None or subproc.proc.poll() is None:
            return
        del cls._waiting[pid]
        subproc.io_loop.add_callback(subproc._set_returncode, subproc.proc.returncode)

    # -- the exit, seen by a thread blocked in waitpid -----------------------------------

    def _start_waiter_thread(self) -> None:
        loop = self.io_loop.asyncio_loop

        def wait() -> None:
            returncode = self.proc.wait()  # Popen serialises its waitpid calls
            try:
                loop.call_soon_threadsafe(self._set_returncode, returncode)
            except RuntimeError:
                pass  # the loop was closed meanwhile: nobody is waiting any more

        name = f"tornadish-waitpid-{self.pid}"
        threading.Thread(target=wait, name=name, daemon=True).start()

    # -- either way ---------------------------------------------------------------------

    def _set_returncode(self, returncode: int) -> None:
        self.returncode = returncode
        self._run_exit_callback()

    def _run_exit_callback(self) -> None:
        callback, self._exit_callback = self._exit_callback, None
        if callback is None or self.returncode is None:
            return
        try:
            callback(self.returncode)
        except Exception:
            app_log.error("Exception in exit callback %r", callback, exc_info=True)
