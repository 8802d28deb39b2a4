"""Redirects: ``RequestHandler.redirect`` (statuses, refused non-3xx codes), and no redirect
leaves the site (the slash decorators, RedirectHandler, ``@authenticated``'s ``next``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tornadish.web import (
    Application,
    RedirectHandler,
    RequestHandler,
    addslash,
    authenticated,
    removeslash,
)

from tests.support.rawhttp import RawConn, request
from tests.support.web import GEN, compare, get


async def test_redirect_statuses(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self, how: str) -> None:
                if how == "temp":
                    self.redirect("/target")
                elif how == "perm":
                    self.redirect("/target?x=1", permanent=True)
                elif how == "see":
                    self.redirect("http://example.com/abs", status=303)
                else:
                    self.redirect("/t", status=307)

        return H

    expected = {
        "temp": (302, "/target"),
        "perm": (301, "/target?x=1"),
        "see": (303, "http://example.com/abs"),
        "307": (307, "/t"),
    }
    for how, (status, location) in expected.items():
        ours, _ = await compare(serve, make, f"/{how}", r"/(\w+)", headers_to_compare=("location",))
        assert ours.status_code == status
        assert ours.headers["location"] == location


async def test_redirect_refuses_non_3xx_status(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.redirect("/x", status=200)

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.status_code == 500
    assert "location" not in r.headers


# -- open redirects ----------------------------------------------------------------------------


class Slashless(RequestHandler):
    @removeslash
    def get(self, path: str) -> None:
        self.write("x")


class Slashful(RequestHandler):
    @addslash
    def get(self, path: str) -> None:
        self.write("x")


class Private(RequestHandler):
    @authenticated
    def get(self, path: str) -> None:
        self.write("x")


@pytest.mark.parametrize(
    ("handler", "target", "status"),
    [
        (Slashless, "//evil.com/", 403),
        (Slashless, "/\\evil.com/", 403),
        (Slashful, "//evil.com", 403),
        (Slashful, "/\\evil.com", 403),
        (Slashful, "/fine", 301),
    ],
)
async def test_slash_decorators_do_not_redirect_off_site(
    serve: Any, handler: type, target: str, status: int
) -> None:
    """Bug: removeslash/addslash redirected ``//evil.com/`` to ``//evil.com``."""
    srv = await serve(Application([(r"(/.*)", handler)]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", target))
    resp = await conn.response()
    conn.close()
    assert resp.status == status
    if status == 301:
        assert resp.header("Location") == "/fine/"


@pytest.mark.parametrize(
    ("target", "status", "location"),
    [
        ("/go/page", 301, "/page"),
        ("/go//evil.com", 400, None),
        ("/go/%5Cevil.com", 400, None),
        ("/go/a%0d%0aSet-Cookie:x=1", 400, None),
        ("/go/a%00b", 400, None),
        # Non-ASCII goes out as UTF-8 bytes (read back here as latin-1), like Tornado.
        ("/go/%C3%A9", 301, "/\u00e9".encode().decode("latin-1")),
        (
            "/go/%EF%BC%8F%EF%BC%8Fexample.com",
            301,
            "/\uff0f\uff0fexample.com".encode().decode("latin-1"),
        ),
    ],
)
async def test_redirect_handler_cannot_be_sent_off_site(
    serve: Any, target: str, status: int, location: str | None
) -> None:
    """Bug: RedirectHandler with ``/{0}`` redirected to ``//evil.com``; CR/LF in a path
    group gave a 500; a non-ASCII target was sent as latin-1."""
    srv = await serve(Application([(r"/go/(.*)", RedirectHandler, {"url": "/{0}"})]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", target))
    resp = await conn.response()
    conn.close()
    assert resp.status == status
    assert resp.header("Location") == location


async def test_authenticated_next_stays_on_the_site(serve: Any) -> None:
    """Bug: ``GET //evil.com/x`` on a protected catch-all sent the user to the login
    page with ``next=//evil.com/x``, which login handlers then redirect to."""
    srv = await serve(Application([(r"(/.*)", Private)], login_url="/login"))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "//evil.com/x"))
    resp = await conn.response()
    conn.close()
    assert resp.status == 302
    assert resp.header("Location") == "/login?next=%2Fevil.com%2Fx"


async def test_redirect_handler_refusals_are_logged_like_tornado(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = Application(
        [
            (r"/go/(.*)", RedirectHandler, {"url": "/{0}"}),
            (r"/any/(.*)", RedirectHandler, {"url": "{0}"}),
        ]
    )
    srv = await serve(app)
    with caplog.at_level(logging.WARNING, logger=GEN):
        assert (await get(srv, "/go//evil.com")).status_code == 400
        # urlsplit refuses "//[" (bad IPv6 brackets): a 400, not a 500.
        assert (await get(srv, "/any/%2F%2F%5B?x=1")).status_code == 400
        assert (await get(srv, "/go/a%00b")).status_code == 400
    messages = [r.getMessage() for r in caplog.records if r.name == GEN]
    assert any("Redirect URL cannot change the scheme or netloc" in m for m in messages)
    assert any("Redirect URL contains invalid characters" in m for m in messages)
