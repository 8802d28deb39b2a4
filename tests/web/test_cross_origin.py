"""``cross_origin_protection`` / ``trusted_origins`` (Tornado 6.5+) and the WebSocket
origin check, over real sockets, side by side with Tornado where it has the feature."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tornadish.web import Application, ErrorHandler, RequestHandler
from tornadish.websocket import WebSocketHandler


class Form(RequestHandler):
    def get(self) -> None:
        self.write("read")

    def post(self) -> None:
        self.write("changed")


class OpenForm(Form):
    def check_trusted_origin(self, origin: str) -> bool:
        return True


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


SETTINGS: dict[str, Any] = {
    "cross_origin_protection": True,
    "trusted_origins": ["https://partner.example"],
}

# (headers, status on POST) -- the host is added by the client.
CASES: list[tuple[dict[str, str], int]] = [
    ({}, 200),  # not a browser
    ({"Sec-Fetch-Site": "same-origin"}, 200),
    ({"Sec-Fetch-Site": "none"}, 200),  # typed into the address bar
    ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403),
    ({"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example"}, 403),
    ({"Sec-Fetch-Site": "cross-site"}, 403),  # no Origin to trust
    ({"Sec-Fetch-Site": "cross-site", "Origin": "https://partner.example"}, 200),
    ({"Origin": "https://evil.example"}, 403),  # an old browser: Origin only
    ({"Origin": "https://partner.example"}, 200),
    ({"Origin": "http://HOST"}, 200),  # same host as the request
]


@pytest.mark.parametrize(("headers", "status"), CASES)
async def test_unsafe_methods_checked(serve: Any, headers: dict[str, str], status: int) -> None:
    srv = await serve(Application([(r"/form", Form), (r"/open", OpenForm)], **SETTINGS))
    host = f"127.0.0.1:{srv.port}"
    sent = {k: v.replace("HOST", host) for k, v in headers.items()}
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.post("/form", headers=sent)).status_code == status
        # Safe methods are never checked; a handler can trust every origin (a
        # cross-site request without one still has nothing to trust).
        assert (await c.get("/form", headers=sent)).status_code == 200
        opened = 403 if headers == {"Sec-Fetch-Site": "cross-site"} else 200
        assert (await c.post("/open", headers=sent)).status_code == opened


async def test_same_answers_as_tornado(serve: Any) -> None:
    tornado_web = pytest.importorskip("tornado.web")
    if not hasattr(tornado_web.RequestHandler, "check_trusted_origin"):
        pytest.skip("this Tornado has no cross_origin_protection")
    import tornado.httpserver
    import tornado.netutil

    class TForm(tornado_web.RequestHandler):  # type: ignore[misc,name-defined]
        def post(self) -> None:
            self.write("changed")

    tserver = tornado.httpserver.HTTPServer(
        tornado_web.Application([(r"/form", TForm)], **SETTINGS)
    )
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tserver.add_sockets(socks)
    srv = await serve(Application([(r"/form", Form)], **SETTINGS))
    try:
        async with httpx.AsyncClient() as c:
            for headers, _ in CASES:
                answers = []
                for port in (srv.port, socks[0].getsockname()[1]):
                    sent = {k: v.replace("HOST", f"127.0.0.1:{port}") for k, v in headers.items()}
                    r = await c.post(f"http://127.0.0.1:{port}/form", headers=sent)
                    answers.append(r.status_code)
                assert answers[0] == answers[1], headers
    finally:
        tserver.stop()
        await tserver.close_all_connections()


async def test_error_handler_answers_cross_origin_posts_with_its_own_status(serve: Any) -> None:
    # An ErrorHandler changes nothing: a cross-site POST to an unknown URL is a 404, not
    # a 403, and an explicit ErrorHandler keeps its status (as in Tornado).
    app = Application([(r"/error", ErrorHandler, {"status_code": 417})], **SETTINGS)
    srv = await serve(app)
    cross = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.post("/error", headers=cross)).status_code == 417
        assert (await c.post("/nowhere", headers=cross)).status_code == 404


async def test_off_by_default(serve: Any) -> None:
    srv = await serve(Application([(r"/form", Form)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        r = await c.post("/form", headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://x.y"})
        assert r.status_code == 200


async def test_websocket_origin_always_checked(serve: Any) -> None:
    # WebSockets are checked even without the setting: browsers let any page open one.
    srv = await serve(Application([(r"/ws", Echo)], trusted_origins=["https://partner.example"]))
    url = f"ws://127.0.0.1:{srv.port}/ws"
    for origin in (None, f"http://127.0.0.1:{srv.port}", "https://partner.example"):
        async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
            await ws.send("hi")
            assert await ws.recv() == "hi"
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        async with connect(
            url,
            origin="https://evil.example",  # type: ignore[arg-type]
            additional_headers={"Sec-Fetch-Site": "cross-site"},
        ):
            pass
