"""``current_user`` from ``get_current_user`` and from an async ``prepare``."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

from tornadish.web import Application, RequestHandler, authenticated

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


async def test_an_async_get_current_user_is_refused_not_taken_for_a_user(
    serve: Any, caplog: Any
) -> None:
    # Its coroutine object is truthy: taken for a user, it would let anyone past
    # @authenticated. It is refused with an error that says what to do instead.
    class AsyncUser(RequestHandler):
        async def get_current_user(self) -> Any:
            return None

        @authenticated
        def get(self) -> None:
            self.write("secret")

    app = Application([(r"/", AsyncUser)], login_url="/login")
    srv = await serve(app)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine was never awaited" either
        r = await get(srv, "/")
        gc.collect()
    assert r.status_code == 500 and b"secret" not in r.content
    errors = [rec for rec in caplog.records if rec.levelname == "ERROR" and rec.exc_info]
    assert errors, caplog.text
    message = str(errors[0].exc_info[1])
    assert "get_current_user() returned an awaitable" in message and "prepare()" in message
