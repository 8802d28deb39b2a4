"""The pub/sub tests run on both backends: ``memory://``, and ``redis://`` on a real
redis-server (started once per module; the fault tests start their own)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tornadish.pubsub import Broadcast

from tests.support.redis_server import RedisServer, redis_server


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[RedisServer]:
    yield from redis_server()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, to stop, freeze and restart."""
    yield from redis_server()


@pytest.fixture(params=["memory", "redis"])
def make_broadcast(request: pytest.FixtureRequest) -> Callable[..., Broadcast]:
    """Broadcasts on the backend of this run; those of one test share their channels
    (on Redis: one prefix, fresh for each test)."""
    if request.param == "memory":
        hub: list[Broadcast] = []

        def make_memory(**kw: Any) -> Broadcast:
            # memory:// is one broker per Broadcast; the test's broadcasts stand for
            # processes sharing one broker, so they share the first one's.
            bc = Broadcast("memory://", **kw)
            if hub:
                bc._backend = hub[0]._backend
            hub.append(bc)
            return bc

        return make_memory
    server: RedisServer = request.getfixturevalue("shared_redis")
    prefix = f"test-{uuid.uuid4().hex[:12]}:"

    def make(**kw: Any) -> Broadcast:
        return Broadcast(server.url, prefix=prefix, **kw)

    return make
