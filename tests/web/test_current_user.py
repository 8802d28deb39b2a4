"""``current_user`` from ``get_current_user`` and from an async ``prepare``."""

from __future__ import annotations

import asyncio
from typing import Any

from tornadish.web import Application, RequestHandler

from tests.support.web import get


async def test_current_user_from_get_current_user_and_async_prepare(serve: Any) -> None:
    calls: list[int] = []

    class CookieUser(RequestHandler):
        def get_current_user(self) -> Any:
            calls.append(1)
            return self.get_cookie("user")

        def get(self) -> None:
            self.write({"u": self.current_user, "again": self.current_user})

    class PrepUser(RequestHandler):
        async def prepare(self) -> None:
            await asyncio.sleep(0)
            self.current_user = {"name": self.get_query_argument("name", "anon")}

        def get(self) -> None:
            self.write({"u": self.current_user})

    srv = await serve(Application([(r"/cookie", CookieUser), (r"/prep", PrepUser)]))
    r = await get(srv, "/cookie", headers={"Cookie": "user=alice"})
    assert r.json() == {"u": "alice", "again": "alice"}
    assert calls == [1]  # computed once per request
    r = await get(srv, "/cookie")
    assert r.json() == {"u": None, "again": None}
    r = await get(srv, "/prep?name=bob")
    assert r.json() == {"u": {"name": "bob"}}
