"""Point 5: a soak — a bounded mixed workload with memory and descriptors sampled.

GETs, POSTs with bodies, multipart uploads and WebSockets (short sessions and
long-lived ones) against a server process, with its RSS and open descriptors sampled
every few seconds. The last third of the samples must not have grown over the first
third beyond noise, and once the clients go the descriptors must be back where they
started. ``make stress`` soaks for ``TORNADISH_SOAK_SECONDS`` (120 by default), with
Tornado under the same load at the same time for comparison.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from ._soak import SMOKE_SECONDS, STRESS_SECONDS, SoakResult, soak

# The server's memory and descriptors are read from /proc: Linux only.
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

MiB = 1024


def assert_clean(r: SoakResult) -> None:
    assert not r.errors, r.errors[:5]
    assert not r.server_errors, r.server_errors
    for op in ("get", "post", "upload", "ws message", "ws long-lived"):
        assert r.ops.get(op, 0) > 0, (op, r.ops)
    assert r.fds_after <= r.fds_base, r.lines()


def test_soak_smoke(figures) -> None:
    [r] = soak(["tornadish"], SMOKE_SECONDS, sample_every=0.25)
    figures.add("soak-smoke", "tornadish", r.as_dict(), r.lines())
    assert_clean(r)
    assert len(r.samples) >= 6
    # Seconds of samples say little about a trend; this catches only gross leaks (a
    # request body kept per upload would add hundreds of MiB here).
    first, last = r.thirds(1)
    assert last <= first * 1.5 + 8 * MiB, r.lines()
    ffirst, flast = r.thirds(2)
    assert flast <= ffirst + 10, r.lines()


@pytest.mark.stress
@pytest.mark.timeout(STRESS_SECONDS + 120)
def test_soak(figures) -> None:
    impls = ["tornadish"]
    if importlib.util.find_spec("tornado") is not None:
        impls.append("tornado")
    results = soak(impls, STRESS_SECONDS)
    for r in results:
        figures.add("soak", r.impl, r.as_dict(), r.lines())
    r = results[0]
    assert_clean(r)
    # No growth trend: the last third's median within noise of the first third's.
    first, last = r.thirds(1)
    assert last - first <= max(4 * MiB, 0.10 * first), r.lines()
    ffirst, flast = r.thirds(2)
    assert flast <= ffirst + 2, r.lines()
