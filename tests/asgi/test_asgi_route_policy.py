"""The route policy under an ASGI server (uvicorn): a route's ``max_body_size`` answers
413, ``request_timeout`` 503, and ``cancel_on_disconnect`` cancels the handler when the
ASGI server reports the client gone, as on tornadish's own server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler, url

from tests.asgi.test_asgi import uvicorn_serving

pytest.importorskip("uvicorn")


class Echo(RequestHandler):
    def put(self) -> None:
        self.write(str(len(self.request.body)))


def make_app(state: dict[str, Any]) -> Application:
    class Stuck(RequestHandler):
        async def get(self) -> None:
            try:
                await asyncio.sleep(30)
            finally:
                state["finally"] = True

    class Watched(RequestHandler):
        cancel_on_disconnect = True

        async def get(self) -> None:
            state["started"].set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                state["cancelled"] = True
                raise

        def on_finish(self) -> None:
            state["finished"].set()

    return Application(
        [
            url(r"/limited", Echo, max_body_size=1024),
            (r"/other", Echo),
            url(r"/stuck", Stuck, request_timeout=0.2),
            (r"/watched", Watched),
        ]
    )


async def test_route_policy_under_uvicorn() -> None:
    state: dict[str, Any] = {"started": asyncio.Event(), "finished": asyncio.Event()}
    async with uvicorn_serving(make_app(state).asgi) as base:
        async with httpx.AsyncClient() as client:
            assert (await client.put(base + "/limited", content=b"a" * 1024)).text == "1024"
            assert (await client.put(base + "/limited", content=b"a" * 2000)).status_code == 413
            assert (await client.put(base + "/other", content=b"a" * 2000)).text == "2000"
            response = await client.get(base + "/stuck")
            assert response.status_code == 503
            assert state["finally"]
        port = int(base.rsplit(":", 1)[1])
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /watched HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(state["started"].wait(), 3)
        writer.close()
        await asyncio.wait_for(state["finished"].wait(), 3)
        assert state["cancelled"]
