"""Running one scenario against a Tornado module and its tornadish twin.

``modules, modules_66 = twin_fixtures("locks")`` at a test module's top makes two
fixtures: ``locks`` (``tornado.locks``, then ``tornadish.locks``) and ``locks_66`` (the
same, skipping Tornado before 6.6, whose zero timeouts wait for ever).
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

SOON = datetime.timedelta(seconds=0.01)
TINY = datetime.timedelta(microseconds=1)  # truthy, so Tornado < 6.6 expires it too


def tornado_version() -> tuple[int, ...]:
    try:
        import tornado
    except ImportError:
        return (0,)
    return tornado.version_info


def twin_fixtures(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The fixtures ``name`` and ``name_66`` for ``tornado.<name>``/``tornadish.<name>``."""
    ours = importlib.import_module(f"tornadish.{name}")

    def pick(which: str) -> ModuleType:
        if which == "tornado":
            module: ModuleType = pytest.importorskip(f"tornado.{name}")
            return module
        return ours

    @pytest.fixture(name=name, params=["tornado", "tornadish"])
    def both(request: pytest.FixtureRequest) -> ModuleType:
        return pick(request.param)

    @pytest.fixture(name=f"{name}_66", params=["tornado", "tornadish"])
    def both_66(request: pytest.FixtureRequest) -> ModuleType:
        """For behaviour new in Tornado 6.6 (a zero timeout expires at once)."""
        if request.param == "tornado" and tornado_version() < (6, 6):
            pytest.skip("zero timeouts wait for ever before Tornado 6.6")
        return pick(request.param)

    return both, both_66


def deadline(seconds: float) -> float:
    """An absolute deadline on ``IOLoop.time()``'s scale (the loop's clock)."""
    return asyncio.get_running_loop().time() + seconds


async def next_iterations(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)
