"""Close notification: ``on_connection_close`` when a long-poll client leaves, and not after
a complete response."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, request


def long_poll_app(state: dict[str, Any]) -> Application:
    class LongPoll(RequestHandler):
        async def get(self) -> None:
            state["started"].set()
            await state["wake"].wait()
            state["resumed"] = True

        def on_connection_close(self) -> None:
            state["closed"].set()
            state["wake"].set()

    class Quick(RequestHandler):
        def get(self) -> None:
            self.write("quick")

        def on_connection_close(self) -> None:
            state["quick_closed"] = True

    return Application([(r"/poll", LongPoll), (r"/quick", Quick)])


def _poll_state() -> dict[str, Any]:
    return {
        "started": asyncio.Event(),
        "wake": asyncio.Event(),
        "closed": asyncio.Event(),
        "resumed": False,
        "quick_closed": False,
    }


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_on_connection_close_long_poll(serve, loop_factory, caplog, how) -> None:
    state = _poll_state()
    srv = await serve(long_poll_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/poll"))
    await asyncio.wait_for(state["started"].wait(), 1)
    assert not state["closed"].is_set()
    if how == "close":
        conn.close()
    else:
        conn.half_close()
    await asyncio.wait_for(state["closed"].wait(), 1)
    await asyncio.sleep(0.02)
    assert state["resumed"]  # the handler finished writing to a gone client without fuss
    conn.close()
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_on_connection_close_not_called_after_complete_response(serve) -> None:
    state = _poll_state()
    srv = await serve(long_poll_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/quick"))
    assert (await conn.response()).body == b"quick"
    conn.close()
    await asyncio.sleep(0.05)
    assert not state["quick_closed"]


# -- a long poll whose client leaves must not leave its socket open ---------------------


def count_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("style", ["parked", "cancelled"])
async def test_abandoned_long_poll_closes_its_connection(serve: Any, style: str) -> None:
    """Bug: a handler waiting for a client that then went away (FIN) ran on_finish but
    kept the half-closed socket open for good (CLOSE_WAIT, one fd per abandoned poll)."""
    events: list[str] = []

    class Poll(RequestHandler):
        async def get(self) -> None:
            if style == "parked":
                self._auto_finish = False  # finished by some callback, later
                return
            self.waiting = asyncio.get_running_loop().create_future()
            await self.waiting

        def on_connection_close(self) -> None:
            events.append("closed")
            if style == "cancelled":
                self.waiting.cancel()

        def on_finish(self) -> None:
            events.append("finished")

    srv = await serve(Application([(r"/", Poll)]))
    before = count_fds()
    conn = await RawConn.open(srv.port)
    conn.send(request())
    await asyncio.sleep(0.1)
    conn.close()
    for _ in range(200):
        if count_fds() <= before and events == ["closed", "finished"]:
            break
        await asyncio.sleep(0.02)
    assert events == ["closed", "finished"]
    assert count_fds() <= before, "the server kept the connection"
