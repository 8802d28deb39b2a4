"""The supervisor's part of prometheus_client's multiprocess mode, for
``tornadish.run(app, workers=N)`` when the application has the ``metrics`` setting.

Each worker counts in its own process, so a scrape answered by one worker would show
only its own counts. prometheus_client's multiprocess mode has every process write its
metrics to files in one directory (``PROMETHEUS_MULTIPROC_DIR``) and sums them when
scraped (``MetricsHandler`` does that whenever the variable is set). Its documentation
prescribes three things, done here:

1. The variable is set before prometheus_client is imported (it chooses its mode then).
   When the user has set it, that directory is used (made if missing). When not,
   ``run`` makes a private temporary directory and sets the variable before forking —
   possible because nothing of tornadish imports prometheus_client before a worker
   needs it. If something imported it already in single-process mode, ``run`` refuses
   to start (summed counters would silently be one worker's): set the variable before
   the program starts instead.
2. The directory is wiped of the previous run's files before the workers start (only
   prometheus_client's ``*.db`` files are removed).
3. A worker that exits is marked dead (``multiprocess.mark_process_dead``), so the
   ``livesum`` gauges (requests in flight, open connections) drop what it held; its
   counters keep counting in the sums, as counters must.

The private directory is removed when the supervisor exits.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from typing import Any

from tornadish.log import gen_log

__all__ = ["ENV", "MultiprocessMetrics", "multiprocess_metrics"]

#: The variable prometheus_client reads.
ENV = "PROMETHEUS_MULTIPROC_DIR"


class MultiprocessMetrics:
    """The directory the workers write their metrics to, as the supervisor keeps it."""

    def __init__(self, path: str, owned: bool) -> None:
        self.path = path
        self.owned = owned
        self._owner = os.getpid()

    def worker_exited(self, pid: int) -> None:
        """``pid``, a worker, has exited: its live gauges no longer count (rule 3)."""
        from prometheus_client import multiprocess

        try:
            multiprocess.mark_process_dead(pid, self.path)  # type: ignore[no-untyped-call]
        except OSError:
            gen_log.warning("Could not mark worker %d dead for metrics", pid, exc_info=True)

    def close(self) -> None:
        """The supervisor is done: remove the directory if it was made here."""
        if self.owned and os.getpid() == self._owner:
            shutil.rmtree(self.path, ignore_errors=True)


def multiprocess_metrics(settings: dict[str, Any]) -> MultiprocessMetrics | None:
    """Prepare prometheus_client's multiprocess mode before forking workers for an
    application with these ``settings``; None when it has no metrics."""
    setting = settings.get("metrics")
    if setting is None or setting is False:
        return None
    values = sys.modules.get("prometheus_client.values")
    if values is not None and values.ValueClass is values.MutexValue:
        raise RuntimeError(
            f"metrics with several workers need prometheus_client's multiprocess mode, "
            f"but prometheus_client was imported before {ENV} was set: set {ENV} to a "
            f"directory before the program starts"
        )
    path = os.environ.get(ENV) or os.environ.get(ENV.lower())
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)  # the previous run's (rule 2)
        return MultiprocessMetrics(path, owned=False)
    path = tempfile.mkdtemp(prefix="tornadish-metrics-")
    os.environ[ENV] = path
    return MultiprocessMetrics(path, owned=True)
