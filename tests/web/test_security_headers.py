"""The ``security_headers`` setting over real sockets: off by default, ``True`` for the
safe defaults, a dict of options, HSTS on https only, a handler's own header winning,
and bad settings refused when the application is made."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from tornadish.web import Application, HTTPError, RequestHandler

from tests.support.rawhttp import RawConn, request

SECURITY = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
    "X-Frame-Options",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
)


class Page(RequestHandler):
    def get(self) -> None:
        if self.get_argument("own", None):
            self.set_header("Content-Security-Policy", "default-src 'none'")
        if self.get_argument("fail", None):
            raise HTTPError(404)
        self.write("page")


async def headers_of(srv: Any, path: str = "/") -> dict[str, str | None]:
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", path))
    resp = await conn.response()
    conn.close()
    return {name: resp.header(name) for name in SECURITY}


async def test_off_by_default(serve: Any) -> None:
    srv = await serve(Application([(r"/", Page)]))
    assert set((await headers_of(srv)).values()) == {None}


async def test_true_sends_the_safe_defaults(serve: Any) -> None:
    srv = await serve(Application([(r"/", Page)], security_headers=True))
    got = await headers_of(srv)
    assert got["X-Content-Type-Options"] == "nosniff"
    assert got["Referrer-Policy"] == "strict-origin-when-cross-origin"
    # Over http a browser ignores HSTS (RFC 6797 §8.1): not sent.
    assert got["Strict-Transport-Security"] is None
    # Site-specific policies are asked for by name.
    assert got["Content-Security-Policy"] is None and got["X-Frame-Options"] is None
    # Error pages carry them too.
    assert (await headers_of(srv, "/?fail=1"))["X-Content-Type-Options"] == "nosniff"


async def test_options_and_a_handlers_own_header(serve: Any) -> None:
    settings = {
        "content_security_policy": "default-src 'self'",
        "frame_options": True,
        "referrer_policy": "no-referrer",
        "content_type_options": None,
    }
    srv = await serve(Application([(r"/", Page)], security_headers=settings))
    got = await headers_of(srv)
    assert got["Content-Security-Policy"] == "default-src 'self'"
    assert got["X-Frame-Options"] == "SAMEORIGIN"
    assert got["Referrer-Policy"] == "no-referrer"
    assert got["X-Content-Type-Options"] is None
    assert (await headers_of(srv, "/?own=1"))["Content-Security-Policy"] == "default-src 'none'"


async def test_hsts_over_https(serve: Any, self_signed_cert: tuple[str, str]) -> None:
    certfile, keyfile = self_signed_cert
    srv = await serve(
        Application([(r"/", Page)], security_headers=True),
        ssl_options={"certfile": certfile, "keyfile": keyfile},
    )
    context = ssl.create_default_context(cafile=certfile)
    async with httpx.AsyncClient(verify=context) as client:
        response = await client.get(f"https://127.0.0.1:{srv.port}/")
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_bad_settings_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="unknown security_headers option"):
        Application([(r"/", Page)], security_headers={"hsts": True, "xss": True})
    with pytest.raises(ValueError, match="Unsafe header value"):
        Application([(r"/", Page)], security_headers={"content_security_policy": "a\r\nb"})
    with pytest.raises(TypeError):
        Application([(r"/", Page)], security_headers="yes")
