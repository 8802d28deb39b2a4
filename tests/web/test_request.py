"""HTTPServerRequest over real sockets: its attributes, HTTP/1.0 without Host, repr, and a
JSON body round trip."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, request
from tests.support.web import get, parse_raw, self_consistent_content_length

# -- the request object -------------------------------------------------------------------------


async def test_request_attributes(serve: Any) -> None:
    seen: dict[str, Any] = {}

    class Inspect(RequestHandler):
        def post(self, *args: str) -> None:
            req = self.request
            seen["request"] = req
            seen["time_during"] = req.request_time()
            self.write(
                {
                    "method": req.method,
                    "uri": req.uri,
                    "path": req.path,
                    "query": req.query,
                    "version": req.version,
                    "x": req.headers.get("X-Custom"),
                    "xs": req.headers.get_list("X-Multi"),
                    "body": req.body.decode(),
                    "remote_ip": req.remote_ip,
                    "protocol": req.protocol,
                    "host": req.host,
                    "host_name": req.host_name,
                    "arguments": {k: [v.decode() for v in vs] for k, vs in req.arguments.items()},
                    "query_arguments": {
                        k: [v.decode() for v in vs] for k, vs in req.query_arguments.items()
                    },
                    "body_arguments": {
                        k: [v.decode() for v in vs] for k, vs in req.body_arguments.items()
                    },
                    "cookies": {k: m.value for k, m in req.cookies.items()},
                    "full_url": req.full_url(),
                    "files": list(req.files),
                    "path_args": list(args),
                }
            )

    srv = await serve(Application([(r"/in(.*)", Inspect)]))
    async with httpx.AsyncClient() as c:
        r = await c.post(
            srv.base_url + "/inspect/%C3%A9?q=1&q=2&z=%20",
            data={"f": "v", "q": "body"},
            headers=[
                ("X-Custom", "yes"),
                ("X-Multi", "1"),
                ("X-Multi", "2"),
                ("Cookie", "c1=v1; c2=v2"),
                ("Host", "Example.COM:8080"),
            ],
        )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "method": "POST",
        "uri": "/inspect/%C3%A9?q=1&q=2&z=%20",
        "path": "/inspect/%C3%A9",
        "query": "q=1&q=2&z=%20",
        "version": "HTTP/1.1",
        "x": "yes",
        "xs": ["1", "2"],
        "body": "f=v&q=body",
        "remote_ip": "127.0.0.1",
        "protocol": "http",
        "host": "Example.COM:8080",
        "host_name": "example.com",
        "arguments": {"q": ["1", "2", "body"], "z": [" "], "f": ["v"]},
        "query_arguments": {"q": ["1", "2"], "z": [" "]},
        "body_arguments": {"f": ["v"], "q": ["body"]},
        "cookies": {"c1": "v1", "c2": "v2"},
        "full_url": "http://Example.COM:8080/inspect/%C3%A9?q=1&q=2&z=%20",
        "files": [],
        "path_args": ["spect/é"],
    }
    req = seen["request"]
    assert 0 <= seen["time_during"] < 5
    t1 = req.request_time()
    await asyncio.sleep(0.02)
    assert req.request_time() == t1  # frozen once the request finished


async def test_request_without_host_header_http10(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write(f"{self.request.version}|{self.request.host}|{self.request.host_name}")

    srv = await serve(Application([(r"/", H)]))
    raw = await srv.raw(b"GET / HTTP/1.0\r\n\r\n")
    status, _, body = parse_raw(raw)
    assert status.startswith("HTTP/1.1 200")
    assert body == b"HTTP/1.0|127.0.0.1|127.0.0.1"


async def test_request_repr_and_settings(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write({"repr": repr(self.request), "setting": self.settings.get("custom")})

    srv = await serve(Application([(r"/", H)], custom="value"))
    r = await get(srv, "/")
    assert r.json()["setting"] == "value"
    assert "method='GET'" in r.json()["repr"] and "uri='/'" in r.json()["repr"]


async def test_json_body_round_trip(serve: Any) -> None:
    class Echo(RequestHandler):
        def post(self) -> None:
            data = json.loads(self.request.body)
            data["seen"] = True
            self.write(data)

    srv = await serve(Application([(r"/", Echo)]))
    r = await get(srv, "/", "POST", json={"x": 1})
    assert r.json() == {"x": 1, "seen": True}
    assert self_consistent_content_length(r)


async def test_server_answers_400_to_a_query_with_too_many_fields(serve: Any) -> None:
    seen = []

    class Echo(RequestHandler):
        def get(self) -> None:
            seen.append(len(self.request.arguments.get("a", [])))

    srv = await serve(Application([("/", Echo)]))
    conn = await RawConn.open(srv.port)
    try:
        conn.send(request("GET", _many_fields(1000)))
        assert (await conn.response()).status == 200
        conn.send(request("GET", _many_fields(1001)))
        assert (await conn.response()).status == 400
    finally:
        conn.close()
    assert seen == [1000]


def _many_fields(n: int) -> str:
    return "/?" + "&".join(f"a={i}" for i in range(n))
