"""Shim for ``motor`` as the seeds use it, on the embedded ``mongomock-motor`` stand-in
(MongoDB is not packaged by Debian, so no real server can be started in tests).

Covers: ``motor.MotorClient`` (Motor 1.x's top-level Tornado client),
``motor.motor_tornado.MotorClient``, ``get_default_database()``, and the cursor's
``fetch_next``/``next_object`` pair (removed from Motor 3).
"""

from __future__ import annotations

import types
from typing import Any

from mongomock_motor import AsyncMongoMockClient


class _Collection:
    def __init__(self, collection: Any) -> None:
        self._c = collection

    def find(self, *args: Any, **kwargs: Any) -> Any:
        return _Cursor(self._c.find(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)


class _Cursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self._buffer: list[Any] = []

    @property
    def fetch_next(self) -> Any:
        async def fetch() -> bool:
            if not self._buffer:
                try:
                    self._buffer.append(await self._cursor.__anext__())
                except StopAsyncIteration:
                    return False
            return True

        return fetch()

    def next_object(self) -> Any:
        return self._buffer.pop(0) if self._buffer else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _Database:
    def __init__(self, db: Any) -> None:
        self._db = db

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._db, name)
        if name.startswith("_") or callable(attr) and not hasattr(attr, "find"):
            return attr
        return _Collection(attr)

    def __getitem__(self, name: str) -> Any:
        return _Collection(self._db[name])


class MotorClient:
    """``motor.motor_tornado.MotorClient`` on mongomock-motor (default URI localhost)."""

    def __init__(self, host: str = "mongodb://localhost:27017", *args: Any, **kw: Any) -> None:
        self._host = host
        self._client = AsyncMongoMockClient(host, *args, **kw)

    def get_default_database(self, default: str | None = None) -> Any:
        # mongomock-motor hands back an unwrapped (synchronous) database here.
        from pymongo.uri_parser import parse_uri

        name = parse_uri(self._host).get("database") or default
        if name is None:
            raise ValueError("no default database name in the URI")
        return _Database(self._client[name])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Database(self._client[name])

    def __getitem__(self, name: str) -> Any:
        return _Database(self._client[name])


motor_tornado = types.SimpleNamespace(MotorClient=MotorClient)
