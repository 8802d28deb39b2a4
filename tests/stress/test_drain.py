"""Point 6 (issue 17): the graceful drain at full size, on both HTTP/1.1 engines.

- ``tornadish.run(app, workers=2)`` under 200 keep-alive clients sending back to back:
  20 SIGTERMs in a row (a fresh server each time) lose 0 requests
  (``python -m tests.support.drain_load`` prints the same figures);
- SIGTERM with 1,000 event streams (``EventSourceHandler``), 1,000 long polls and 1,000
  WebSockets open, and 100 event streams of a plain handler awaiting
  ``shutting_down``: each ends properly within the grace period, and the process exits 0;
- SIGTERM with 1,200 handlers that outlast the grace period: every ``finally`` and
  ``on_finish`` runs, and the process exits 0.

Smaller versions run in ``make test``: tests/runner/test_drain.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.drain_load import Tally, runs
from tests.support.drain_streams import sigterm_past_grace, sigterm_with_open_streams

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork"),
    pytest.mark.stress,
]


@pytest.mark.timeout(600)
@pytest.mark.timeout_async(600)
async def test_twenty_sigterms_under_keep_alive_load_lose_no_request(
    figures: Any, http_engine: str
) -> None:
    results = await runs(20, clients=200, load_seconds=1.0)
    total = Tally()
    for tally, _log in results:
        total += tally
    lost_runs = sum(1 for tally, _ in results if tally.lost)
    figures.add(
        "drain",
        f"tornadish {http_engine} workers=2 sigterm",
        {"runs": len(results), "answered": total.ok, "lost": total.lost, "lost_runs": lost_runs},
        [
            f"drain ({http_engine}): 20 SIGTERMs under 200 keep-alive clients, workers=2: "
            f"{total.ok} answered, {total.lost} lost ({lost_runs} runs with a loss)"
        ],
    )
    for tally, log in results:
        assert tally.exit_code == 0, log[-3000:]
    assert total.lost == 0, [tally.losses for tally, _ in results if tally.lost]


@pytest.mark.timeout(300)
@pytest.mark.timeout_async(300)
async def test_sigterm_ends_a_thousand_each_of_streams_long_polls_and_websockets(
    tmp_path: Path, figures: Any, http_engine: str
) -> None:
    r = await sigterm_with_open_streams(tmp_path, each=1000, grace=20)
    figures.add(
        "drain",
        f"tornadish {http_engine} 3000 long-lived",
        {"exit_seconds": round(r.exit_seconds, 2), "exit_code": r.exit_code},
        [
            f"drain ({http_engine}): 1,000 event streams, long polls and WebSockets ended "
            f"{dict(r.outcomes)}; exit {r.exit_code} {r.exit_seconds:.2f} s after SIGTERM"
        ],
    )
    assert r.exit_code == 0, r.log[-3000:]
    assert r.outcomes == {
        "event stream": {"retry hint, clean end": 1000},
        "plain event stream": {"retry hint, clean end": 100},
        "long poll": {"answered": 1000},
        "websocket": {"close 1001": 1000},
    }
    assert r.exit_seconds < 20
    assert "grace period" not in r.log and "Traceback" not in r.log, r.log[-3000:]


@pytest.mark.timeout(300)
@pytest.mark.timeout_async(300)
async def test_twelve_hundred_handlers_outlasting_grace_all_unwind(
    tmp_path: Path, figures: Any, http_engine: str
) -> None:
    r = await sigterm_past_grace(tmp_path, handlers=1200, grace=0.5)
    figures.add(
        "drain",
        f"tornadish {http_engine} grace over",
        {**dict(r.events), "exit_seconds": round(r.exit_seconds, 2)},
        [
            f"drain ({http_engine}): 1,200 handlers past a 0.5 s grace: {dict(r.events)}, "
            f"exit {r.exit_code} {r.exit_seconds:.2f} s after SIGTERM"
        ],
    )
    assert r.exit_code == 0, r.log[-3000:]
    assert r.events == {
        "start": 1200,
        "finally": 1200,
        "on_finish": 1200,
        "on_connection_close": 400,
    }
    for trouble in ("destroyed but it is pending", "never retrieved", "never awaited", "Traceback"):
        assert trouble not in r.log, r.log[-3000:]
