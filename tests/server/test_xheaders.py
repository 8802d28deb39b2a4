"""``xheaders``: X-Real-Ip, X-Forwarded-For/-Proto and ``trusted_downstream``, invalid
values, no setting, no leak between requests."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.rawhttp import RawConn, request
from tests.support.server_app import app


async def _info(srv, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/info", headers=headers)
    return r.json()  # type: ignore[no-any-return]


async def test_xheaders_real_ip_and_proto(serve) -> None:
    srv = await serve(app(), xheaders=True)
    info = await _info(srv, {"X-Real-Ip": "4.4.4.4", "X-Forwarded-Proto": "https"})
    assert info["remote_ip"] == "4.4.4.4" and info["protocol"] == "https"
    info = await _info(srv, {"X-Real-Ip": "2001:db8::1", "X-Scheme": "https"})
    assert info["remote_ip"] == "2001:db8::1" and info["protocol"] == "https"
    info = await _info(srv, {})
    assert info["remote_ip"] == "127.0.0.1" and info["protocol"] == "http"


async def test_xheaders_forwarded_for_and_trusted_downstream(serve) -> None:
    srv = await serve(app(), xheaders=True)
    info = await _info(srv, {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"})
    assert info["remote_ip"] == "2.2.2.2"  # the last hop is what the proxy saw
    srv2 = await serve(app(), xheaders=True, trusted_downstream=["2.2.2.2"])
    info = await _info(srv2, {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"})
    assert info["remote_ip"] == "1.1.1.1"
    # X-Real-Ip wins over X-Forwarded-For
    info = await _info(srv2, {"X-Forwarded-For": "1.1.1.1", "X-Real-Ip": "3.3.3.3"})
    assert info["remote_ip"] == "3.3.3.3"


async def test_xheaders_invalid_values_ignored(serve) -> None:
    srv = await serve(app(), xheaders=True)
    for bad in ("not-an-ip", "1.2.3.4.5", "", "evil.example.com"):
        info = await _info(srv, {"X-Real-Ip": bad})
        assert info["remote_ip"] == "127.0.0.1", bad
    info = await _info(srv, {"X-Forwarded-For": "garbage"})
    assert info["remote_ip"] == "127.0.0.1"
    info = await _info(srv, {"X-Forwarded-Proto": "ftp"})
    assert info["protocol"] == "http"
    info = await _info(srv, {"X-Forwarded-Proto": "http, HTTPS"})
    assert info["protocol"] == "https"


async def test_xheaders_ignored_without_setting(serve) -> None:
    srv = await serve(app())
    info = await _info(
        srv, {"X-Real-Ip": "4.4.4.4", "X-Forwarded-For": "5.5.5.5", "X-Forwarded-Proto": "https"}
    )
    assert info["remote_ip"] == "127.0.0.1" and info["protocol"] == "http"


async def test_xheaders_do_not_leak_between_requests(serve) -> None:
    srv = await serve(app(), xheaders=True)
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/info", {"X-Real-Ip": "4.4.4.4", "X-Forwarded-Proto": "https"}))
    first = json.loads((await conn.response()).body)
    conn.send(request("GET", "/info"))
    second = json.loads((await conn.response()).body)
    conn.close()
    assert (first["remote_ip"], first["protocol"]) == ("4.4.4.4", "https")
    assert (second["remote_ip"], second["protocol"]) == ("127.0.0.1", "http")
