"""Multi-process serving: fork workers that share the listening sockets.

The implementation behind :func:`tornadish.process.fork_processes`, :func:`task_id` and
:func:`cpu_count` (the public face re-exports them); ``HTTPServer.start(n)`` and
``tornadish.run(workers=n)`` call it from here.

Fork *before* any event loop exists in the parent (``HTTPServer.bind`` then
``HTTPServer.start(n)``, as in Tornado): an event loop does not survive ``fork``.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections.abc import Callable

from tornadish.log import gen_log

__all__ = ["cpu_count", "fork_processes", "task_id"]

# The worker number of this process; process-wide by nature (Tornado's ``task_id()``).
_task_id: int | None = None


def cpu_count() -> int:
    """The number of processors usable by this process (at least 1).

    Unlike Tornado's (``multiprocessing.cpu_count()``), this honours the CPU affinity
    mask, so a container pinned to 2 of 64 cores starts 2 workers, not 64.
    """
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def task_id() -> int | None:
    """In a worker started by :func:`fork_processes`, its number; else ``None``."""
    return _task_id


def fork_processes(
    num_processes: int | None,
    max_restarts: int | None = None,
    *,
    on_exit: Callable[[int], None] | None = None,
) -> int:
    """Fork ``num_processes`` workers (``None`` or ``<= 0``: one per CPU).

    Returns the worker's task id (0 .. n-1) in each child. The parent never returns: it
    supervises, restarting a worker that dies from a signal or exits non-zero (at most
    ``max_restarts`` times in all, 100 by default), and exits 0 once every worker has
    exited cleanly. SIGTERM and SIGINT sent to the parent are passed on to the workers.
    ``on_exit(pid)`` (tornadish's own) is called in the parent for each worker that
    exits, however it exits (``tornadish.run``: prometheus_client's bookkeeping).
    """
    if sys.platform == "win32":
        raise RuntimeError("fork not available on Windows")
    assert _task_id is None, "fork_processes() called in a worker"
    if max_restarts is None:
        max_restarts = 100
    if num_processes is None or num_processes <= 0:
        num_processes = cpu_count()
    gen_log.info("Starting %d processes", num_processes)
    children: dict[int, int] = {}

    def start_child(i: int) -> int | None:
        pid = os.fork()
        if pid == 0:
            global _task_id
            _task_id = i
            # Each worker gets its own random stream (from os.urandom), not a copy of
            # the parent's.
            random.seed()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            return i
        children[pid] = i
        return None

    for i in range(num_processes):
        tid = start_child(i)
        if tid is not None:
            return tid

    stopping = False

    def forward(signum: int, _frame: object) -> None:
        # Asked to stop: workers that exit from now on, however they exit, are not
        # replaced.
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def stop_asked() -> bool:
        # Read through a call: forward() may have set it while we slept.
        return stopping

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    restarts = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        i = children.pop(pid)
        if on_exit is not None:
            on_exit(pid)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            stopping = stopping or sig in (signal.SIGTERM, signal.SIGINT)
            how = f"killed by signal {sig}"
        elif os.WEXITSTATUS(status) != 0:
            how = f"exited with status {os.WEXITSTATUS(status)}"
        else:
            gen_log.info("child %d (pid %d) exited normally", i, pid)
            continue
        if stopping:
            gen_log.warning("child %d (pid %d) %s while stopping", i, pid, how)
            continue
        gen_log.warning("child %d (pid %d) %s, restarting", i, pid, how)
        restarts += 1
        if restarts > max_restarts:
            raise RuntimeError("Too many child restarts, giving up")
        time.sleep(0.05)  # do not spin if a worker dies at start-up
        if stop_asked():
            # SIGTERM came during the pause: it went to the workers there were; one
            # started now would never hear it, and the supervisor would wait for ever.
            continue
        tid = start_child(i)
        if tid is not None:
            return tid
    sys.exit(0)
