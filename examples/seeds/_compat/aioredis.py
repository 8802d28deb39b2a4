"""Shim for aioredis 1.x's ``create_redis``, as the seeds use it, on redis-py's
maintained asyncio client (``redis.asyncio``).

aioredis 1.x is dead (2.x dropped ``create_redis``, and does not import on Python 3.11;
it was merged into redis-py as ``redis.asyncio``). Values come back as bytes, as in
aioredis 1.x without ``encoding=``.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio


async def create_redis(address: Any, *, db: int | None = None, password: str | None = None,
                       **kwargs: Any) -> redis.asyncio.Redis:
    if isinstance(address, str):
        client = redis.asyncio.Redis.from_url(address, db=db or 0, password=password)
    else:
        host, port = address
        client = redis.asyncio.Redis(host=host, port=int(port), db=db or 0, password=password)
    await client.ping()  # aioredis 1.x connected eagerly
    return client
