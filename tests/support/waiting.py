"""Waiting for a condition in an async test, on every supported Python (``asyncio.timeout``
is 3.11+)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(
    predicate: Callable[[], object], timeout: float = 5.0, every: float = 0.005
) -> None:
    """Poll ``predicate`` every ``every`` seconds until it is true; fail after ``timeout``."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(every)

    await asyncio.wait_for(poll(), timeout)
