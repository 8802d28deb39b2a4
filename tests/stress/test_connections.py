"""Point 1: thousands of concurrent keep-alive connections held by one server process.

The server runs in a child process (its RSS and descriptors read from ``/proc``); this
process opens the connections. Every connection makes a request (or echoes a WebSocket
message), all are held at once, then every one of them asks again at the same moment.
No request may fail, the server must hold one descriptor per connection and give each
back once the client goes, and its memory per idle connection is measured — and
compared with Tornado's, measured the same way in the same run.
"""

from __future__ import annotations

import sys

import pytest

from ._hold import SMOKE_CONNECTIONS, STRESS_CONNECTIONS, HoldResult, hold

# The server's memory and descriptors are read from /proc: Linux only.
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

IMPLS = ["tornadish", pytest.param("tornado", marks=pytest.mark.stress)]


def assert_held_cleanly(r: HoldResult, max_kib_per_conn: float) -> None:
    assert r.errors == 0, r.error_kinds
    assert r.held == r.wanted
    assert r.fds_held >= r.fds_base + r.wanted  # one descriptor per connection
    assert r.fds_after_close <= r.fds_base, "the server kept descriptors of closed clients"
    assert not r.server_errors, r.server_errors
    assert 0 < r.rss_per_conn_kib < max_kib_per_conn, r.line()


@pytest.mark.parametrize(
    ("kind", "ws"),
    [("http", None), ("ws", "wsproto"), ("ws", "websockets")],
    ids=["http", "ws-wsproto", "ws-websockets"],
)
def test_keep_alive_connections_smoke(
    kind: str, ws: str | None, figures, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"tornadish {kind}"
    if ws is not None:  # the WebSocket engine the server process runs (TORNADISH_WS)
        if ws == "websockets":
            pytest.importorskip("websockets")
        monkeypatch.setenv("TORNADISH_WS", ws)
        name += f" ({ws})"
    r = hold("tornadish", SMOKE_CONNECTIONS, kind, quick=True)
    figures.add("connections-smoke", name, r.as_dict(), [r.line()])
    # Generous: a small sample is noisy; this catches a per-connection leak, not bytes.
    assert_held_cleanly(r, 64)


@pytest.mark.stress
@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["http", "ws"])
@pytest.mark.parametrize("impl", IMPLS)
def test_ten_thousand_keep_alive_connections(impl: str, kind: str, figures) -> None:
    if impl == "tornado":
        pytest.importorskip("tornado")
    r = hold(impl, STRESS_CONNECTIONS, kind)
    figures.add("connections", f"{impl} {kind}", r.as_dict(), [r.line()])
    if impl == "tornadish":
        # tornadish measures ~4 KiB (HTTP) and ~8 KiB (WebSocket) per idle connection.
        assert_held_cleanly(r, 32)
    else:
        # Tornado is the yardstick: its figure only means something if it held them all.
        assert r.held == r.wanted and r.errors == 0, r.line()
