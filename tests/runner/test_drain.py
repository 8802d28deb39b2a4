"""The graceful drain of ``tornadish.run`` on SIGTERM, in subprocesses over real sockets
(issue 17), at sizes for ``make test``; tests/stress/test_drain.py runs them at full size:

- under ``workers=2`` and steady keep-alive load, no request is lost to the SIGTERM;
- open event streams (``EventSourceHandler``, and a plain handler awaiting
  ``shutting_down``), long polls and WebSockets all end properly within the grace
  period, and the process exits 0;
- with handlers that outlast the grace period, every ``finally`` and ``on_finish`` runs
  (none is destroyed pending) and the process exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.drain_load import one_run
from tests.support.drain_streams import sigterm_past_grace, sigterm_with_open_streams

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")


@pytest.mark.timeout_async(60)
async def test_sigterm_under_keep_alive_load_with_two_workers_loses_no_request(
    tmp_path: Path,
) -> None:
    for _ in range(2):
        tally, log = await one_run(tmp_path, clients=50, load_seconds=0.5)
        assert tally.exit_code == 0, log[-3000:]
        assert tally.lost == 0, tally.losses
        assert tally.ok > 100 and tally.ok_after_sigterm > 0  # it was under load


@pytest.mark.timeout_async(60)
async def test_sigterm_ends_open_streams_long_polls_and_websockets_within_grace(
    tmp_path: Path,
) -> None:
    r = await sigterm_with_open_streams(tmp_path, each=50, grace=10)
    assert r.exit_code == 0, r.log[-3000:]
    assert r.outcomes == {
        "event stream": {"retry hint, clean end": 50},
        "plain event stream": {"retry hint, clean end": 5},
        "long poll": {"answered": 50},
        "websocket": {"close 1001": 50},
    }
    assert r.exit_seconds < 10  # drained: the grace period did not run out
    assert "grace period" not in r.log and "Traceback" not in r.log, r.log[-3000:]


@pytest.mark.timeout_async(60)
async def test_handlers_outlasting_grace_unwind_before_the_process_exits(tmp_path: Path) -> None:
    r = await sigterm_past_grace(tmp_path, handlers=60, grace=0.5)
    assert r.exit_code == 0, r.log[-3000:]
    assert r.events == {"start": 60, "finally": 60, "on_finish": 60, "on_connection_close": 20}
    assert r.exit_seconds < 5
    assert "Shutdown grace period of 0.5s over" in r.log
    # Run with -X dev: a task destroyed pending, an exception nobody retrieved or a
    # coroutine never awaited would be reported here.
    for trouble in ("destroyed but it is pending", "never retrieved", "never awaited", "Traceback"):
        assert trouble not in r.log, r.log[-3000:]
