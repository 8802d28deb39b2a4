"""Switches for the stress suite (``make stress``).

- Tests marked ``stress`` are heavy (minutes, thousands of sockets) and are deselected
  unless ``TORNADISH_STRESS=1`` is set, as ``make stress`` does; plain ``make test``
  runs only their small smoke versions.
- The ``figures`` fixture collects what the tests measured. The figures are printed in
  the terminal summary (under ``make stress``, or with ``-v``) and, when
  ``TORNADISH_STRESS_RESULTS`` names a file, written there as JSON for
  ``python -m tests.stress.report --results FILE`` to turn into the report table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ._server import stamp
from tests.conftest import each_http_engine

STRESS = os.environ.get("TORNADISH_STRESS", "") not in ("", "0")


class Figures:
    """Measurements by section and key, plus the lines that describe them."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.lines: list[str] = []

    def add(self, section: str, key: str, data: Any, lines: list[str]) -> None:
        if isinstance(data, dict):
            data = {**data, **stamp()}
        self.data.setdefault(section, {})[key] = data
        self.lines += lines
        path = os.environ.get("TORNADISH_STRESS_RESULTS")
        if path:
            # Merged into what earlier sessions wrote, so parts can be re-run alone.
            target = Path(path)
            old: dict[str, dict[str, Any]] = {}
            if target.exists():
                try:
                    old = json.loads(target.read_text())
                except ValueError:
                    old = {}
            old.setdefault(section, {})[key] = data
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(old, indent=1))


_FIGURES = pytest.StashKey[Figures]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every stress test (smoke and heavy) runs on both HTTP/1.1 engines (issue 15)."""
    each_http_engine(metafunc)


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Figures:
    """Where a test records what it measured: ``figures.add(section, key, data, lines)``."""
    return request.config.stash.setdefault(_FIGURES, Figures())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STRESS:
        return
    keep: list[pytest.Item] = []
    heavy: list[pytest.Item] = []
    for item in items:
        (heavy if item.get_closest_marker("stress") else keep).append(item)
    if heavy:
        config.hook.pytest_deselected(items=heavy)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, None)
    if figures is None or not figures.lines:
        return
    if not STRESS and config.get_verbosity() < 1:
        return
    terminalreporter.section("stress figures")
    for line in figures.lines:
        terminalreporter.write_line(line)
