"""Signed cookies, XSRF and ``@authenticated`` over real sockets (httpx with a cookie jar).

Where Tornado is the reference, a Tornado twin of the application runs in the same loop
and the two exchange cookies and tokens: the cookie jar is per host, not per port, so a
cookie one server sets is sent to the other.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tornadish.web import Application, HTTPError, RequestHandler, authenticated

GEN = "tornadish.general"
SECRET = "a very secret cookie secret"


def make_handlers(base: Any, auth: Any) -> list[tuple[str, Any]]:
    """The test application's handlers, built on ``base`` (ours or Tornado's)."""

    class SetHandler(base):  # type: ignore[misc]
        def get(self) -> None:
            version = self.get_argument("version", None)
            self.set_signed_cookie(
                "user", self.get_argument("v"), version=int(version) if version else None
            )

    class GetHandler(base):  # type: ignore[misc]
        def get(self) -> None:
            value = self.get_signed_cookie("user")
            self.write({"value": value.decode() if value is not None else None})

    class KeyVersionHandler(base):  # type: ignore[misc]
        def get(self) -> None:
            self.write({"kv": self.get_signed_cookie_key_version("user")})

    class FormHandler(base):  # type: ignore[misc]
        def get(self) -> None:
            self.write('<form method="post">' + self.xsrf_form_html() + "</form>")

        def post(self) -> None:
            self.write("posted")

        def put(self) -> None:
            self.write("put")

    class LoginHandler(base):  # type: ignore[misc]
        def get(self) -> None:
            self.write(
                '<form method="post" action="/login">'
                + self.xsrf_form_html()
                + '<input name="name"></form>'
            )

        def post(self) -> None:
            name = self.get_argument("name")
            if name == "mallory":
                raise (HTTPError if base is RequestHandler else _tornado_http_error())(403)
            self.set_signed_cookie("user", name, httponly=True)
            self.redirect(self.get_argument("next", "/private"))

    class PrivateHandler(base):  # type: ignore[misc]
        def get_current_user(self) -> Any:
            value = self.get_signed_cookie("user")
            return value.decode() if value else None

        @auth
        def get(self) -> None:
            self.write("hello " + self.current_user)

        @auth
        def head(self) -> None:
            pass

        @auth
        def post(self) -> None:
            self.write("posted by " + self.current_user)

    return [
        (r"/set", SetHandler),
        (r"/get", GetHandler),
        (r"/kv", KeyVersionHandler),
        (r"/form", FormHandler),
        (r"/login", LoginHandler),
        (r"/private", PrivateHandler),
    ]


def _tornado_http_error() -> Any:
    import tornado.web

    return tornado.web.HTTPError


def ours(**settings: Any) -> Application:
    settings.setdefault("cookie_secret", SECRET)
    return Application(make_handlers(RequestHandler, authenticated), **settings)


class _Tornado:
    def __init__(self, server: Any, port: int) -> None:
        self.server = server
        self.base_url = f"http://127.0.0.1:{port}"


@pytest.fixture
def tornado_app(io_loop: Any) -> Iterator[Callable[..., _Tornado]]:
    """``tornado_app(**settings)``: the same handlers on real Tornado, in this loop."""
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    started: list[Any] = []

    def start(**settings: Any) -> _Tornado:
        settings.setdefault("cookie_secret", SECRET)
        app = tornado.web.Application(
            make_handlers(tornado.web.RequestHandler, tornado.web.authenticated), **settings
        )
        server = tornado.httpserver.HTTPServer(app)
        socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(socks)
        started.append(server)
        return _Tornado(server, socks[0].getsockname()[1])

    yield start

    async def stop() -> None:
        for server in started:
            server.stop()
            await server.close_all_connections()

    io_loop.asyncio_loop.run_until_complete(stop())


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=False, timeout=5)


def form_token(html: str) -> str:
    m = re.search(r'name="_xsrf" value="([^"]*)"', html)
    assert m is not None, html
    return m.group(1)


# -- signed cookies -------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, 1, 2])
async def test_signed_cookie_round_trip(serve: Any, version: int | None) -> None:
    srv = await serve(ours())
    async with client() as c:
        q = f"&version={version}" if version else ""
        r = await c.get(srv.base_url + "/set?v=alice" + q)
        assert r.status_code == 200
        raw = c.cookies["user"]
        assert raw.startswith('"2|1:0|') or version == 1
        r = await c.get(srv.base_url + "/get")
        assert r.json() == {"value": "alice"}


async def test_signed_cookie_set_cookie_attributes(serve: Any) -> None:
    srv = await serve(ours())
    async with client() as c:
        r = await c.get(srv.base_url + "/set?v=x")
    header = r.headers["set-cookie"]
    assert "expires=" in header.lower() and "Path=/" in header


async def test_signed_cookies_move_between_tornado_and_tornadish(
    serve: Any, tornado_app: Callable[..., _Tornado]
) -> None:
    srv = await serve(ours())
    tsrv = tornado_app()
    async with client() as c:
        await c.get(tsrv.base_url + "/set?v=from-tornado")
        assert (await c.get(srv.base_url + "/get")).json() == {"value": "from-tornado"}
        await c.get(srv.base_url + "/set?v=from-tornadish")
        assert (await c.get(tsrv.base_url + "/get")).json() == {"value": "from-tornadish"}


async def test_tampered_cookie_is_none_and_logged(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await serve(ours())
    async with client() as c:
        await c.get(srv.base_url + "/set?v=alice")
        good = c.cookies["user"].strip('"')
        bad = good.replace("YWxpY2U=", "bWFsbG9yeQ==").replace("8:", "12:")
        c.cookies.clear()
        with caplog.at_level(logging.DEBUG, logger=GEN):
            r = await c.get(srv.base_url + "/get", headers={"Cookie": f"user={bad}"})
    assert r.status_code == 200 and r.json() == {"value": None}
    # Logged with its reason, at DEBUG only: Tornado says nothing about a refused v2 value.
    logged = [rec for rec in caplog.records if rec.name == GEN]
    assert any("signature" in rec.getMessage() for rec in logged)
    assert all(rec.levelno == logging.DEBUG for rec in logged)


async def test_cookie_signed_with_other_secret_is_none(serve: Any) -> None:
    srv = await serve(ours())
    other = await serve(ours(cookie_secret="another secret"))
    async with client() as c:
        await c.get(other.base_url + "/set?v=alice")
        assert (await c.get(srv.base_url + "/get")).json() == {"value": None}


async def test_key_rotation(serve: Any) -> None:
    old = await serve(ours(cookie_secret={1: "one", 2: "two"}, key_version=1))
    new = await serve(ours(cookie_secret={1: "one", 2: "two"}, key_version=2))
    dropped = await serve(ours(cookie_secret={2: "two"}, key_version=2))
    async with client() as c:
        await c.get(old.base_url + "/set?v=alice")
        assert (await c.get(new.base_url + "/kv")).json() == {"kv": 1}
        assert (await c.get(new.base_url + "/get")).json() == {"value": "alice"}
        assert (await c.get(dropped.base_url + "/get")).json() == {"value": None}
        await c.get(new.base_url + "/set?v=alice")
        assert (await c.get(dropped.base_url + "/kv")).json() == {"kv": 2}
        assert (await c.get(dropped.base_url + "/get")).json() == {"value": "alice"}


async def test_secret_dict_without_key_version_is_an_error(serve: Any) -> None:
    srv = await serve(ours(cookie_secret={1: "one"}))
    async with client() as c:
        assert (await c.get(srv.base_url + "/set?v=x")).status_code == 500


async def test_missing_cookie_secret_is_an_error(serve: Any) -> None:
    srv = await serve(Application(make_handlers(RequestHandler, authenticated)))
    async with client() as c:
        assert (await c.get(srv.base_url + "/get")).status_code == 500


async def test_deprecated_aliases(serve: Any) -> None:
    class Old(RequestHandler):
        def get(self) -> None:
            self.set_secure_cookie("s", "v")
            value = self.get_secure_cookie("s", self.create_signed_value("s", "w"))
            assert value == b"w"
            assert self.get_secure_cookie_key_version("s", "2|1:7|1:0|1:s|1:v|sig") == 7
            self.write("ok")

    srv = await serve(Application([("/", Old)], cookie_secret=SECRET))
    async with client() as c:
        r = await c.get(srv.base_url + "/")
    assert r.text == "ok" and r.headers["set-cookie"].startswith("s=")


# -- XSRF -----------------------------------------------------------------------------


async def test_xsrf_form_and_post(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    srv = await serve(ours(xsrf_cookies=True))
    async with client() as c:
        with caplog.at_level(logging.WARNING, logger=GEN):
            r = await c.post(srv.base_url + "/form", data={"a": "b"})
        assert r.status_code == 403
        assert "'_xsrf' argument missing from POST" in caplog.text
        r = await c.get(srv.base_url + "/form")
        token = form_token(r.text)
        assert "_xsrf" in c.cookies
        r = await c.post(srv.base_url + "/form", data={"_xsrf": token})
        assert (r.status_code, r.text) == (200, "posted")
        for header in ("X-XSRFToken", "X-CSRFToken"):
            r = await c.put(srv.base_url + "/form", headers={header: token})
            assert (r.status_code, r.text) == (200, "put"), header
        # GET, HEAD and OPTIONS are never checked.
        assert (await c.get(srv.base_url + "/form")).status_code == 200


async def test_xsrf_mask_changes_per_request_cookie_does_not(serve: Any) -> None:
    srv = await serve(ours(xsrf_cookies=True))
    async with client() as c:
        first = form_token((await c.get(srv.base_url + "/form")).text)
        cookie = c.cookies["_xsrf"]
        second = form_token((await c.get(srv.base_url + "/form")).text)
        assert c.cookies["_xsrf"] == cookie
    assert first != second
    assert re.fullmatch(r"2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+", first)
    assert first.split("|")[1] != second.split("|")[1]
    async with client() as c:
        c.cookies["_xsrf"] = cookie
        for token in (first, second):
            r = await c.post(srv.base_url + "/form", data={"_xsrf": token})
            assert r.status_code == 200


async def test_xsrf_token_without_matching_cookie(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await serve(ours(xsrf_cookies=True))
    async with client() as c:
        token = form_token((await c.get(srv.base_url + "/form")).text)
    async with client() as c:  # a fresh jar: the attacker's page has no cookie
        with caplog.at_level(logging.WARNING, logger=GEN):
            r = await c.post(srv.base_url + "/form", data={"_xsrf": token})
            assert r.status_code == 403
            c.cookies["_xsrf"] = "2|00000000|" + "ab" * 16 + "|1"
            r = await c.post(srv.base_url + "/form", data={"_xsrf": token})
            assert r.status_code == 403
            r = await c.post(srv.base_url + "/form", data={"_xsrf": "2|zz|zz|x"})
            assert r.status_code == 403
    assert caplog.text.count("XSRF cookie does not match POST argument") == 2
    assert "'_xsrf' argument has invalid format" in caplog.text


async def test_xsrf_cookie_version_1_and_unmasked_cookie(serve: Any) -> None:
    srv = await serve(ours(xsrf_cookies=True, xsrf_cookie_version=1))
    async with client() as c:
        token = form_token((await c.get(srv.base_url + "/form")).text)
        assert re.fullmatch(r"[0-9a-f]{32}", token)
        r = await c.post(srv.base_url + "/form", data={"_xsrf": token})
        assert r.status_code == 200
    # A pre-masking cookie (any string) still works when the form echoes it.
    async with client() as c:
        c.cookies["_xsrf"] = "legacy-token"
        r = await c.post(srv.base_url + "/form", data={"_xsrf": "legacy-token"})
        assert r.status_code == 200


async def test_xsrf_cookie_kwargs_and_name(serve: Any) -> None:
    srv = await serve(
        ours(
            xsrf_cookies=True,
            xsrf_cookie_name="__Host-xsrf",
            xsrf_cookie_kwargs={"httponly": True, "samesite": "Strict"},
        )
    )
    async with client() as c:
        r = await c.get(srv.base_url + "/form")
        header = r.headers["set-cookie"]
        assert header.startswith("__Host-xsrf=") and "HttpOnly" in header
        assert "SameSite=Strict" in header and "expires" not in header.lower()
        token = form_token(r.text)
        assert (await c.post(srv.base_url + "/form", data={"_xsrf": token})).status_code == 200


async def test_xsrf_tokens_interchange_with_tornado(
    serve: Any, tornado_app: Callable[..., _Tornado]
) -> None:
    srv = await serve(ours(xsrf_cookies=True))
    tsrv = tornado_app(xsrf_cookies=True)
    async with client() as c:  # Tornado's cookie and token, posted to us
        token = form_token((await c.get(tsrv.base_url + "/form")).text)
        assert (await c.post(srv.base_url + "/form", data={"_xsrf": token})).status_code == 200
    async with client() as c:  # ours, posted to Tornado
        token = form_token((await c.get(srv.base_url + "/form")).text)
        assert (await c.post(tsrv.base_url + "/form", data={"_xsrf": token})).status_code == 200


# -- @authenticated and login -----------------------------------------------------------


@pytest.mark.parametrize(
    ("login_url", "expected"),
    [
        ("/login", "/login?next=%2Fprivate%3Fa%3D1%26b%3D%25C3%25A9"),
        ("/login?from=app", "/login?from=app"),
        ("https://sso.example/auth", "https://sso.example/auth?next=http%3A%2F%2F{host}"),
    ],
)
async def test_authenticated_redirects_get_like_tornado(
    serve: Any, tornado_app: Callable[..., _Tornado], login_url: str, expected: str
) -> None:
    srv = await serve(ours(login_url=login_url))
    tsrv = tornado_app(login_url=login_url)
    locations = []
    for s in (srv, tsrv):
        async with client() as c:
            r = await c.get(s.base_url + "/private?a=1&b=%C3%A9")
            assert r.status_code == 302
            locations.append(r.headers["location"])
            assert (await c.head(s.base_url + "/private")).status_code == 302
    host = urllib.parse.quote(srv.base_url.removeprefix("http://"))
    assert locations[0].startswith(expected.format(host=host))
    if "{host}" in expected:
        assert locations[0].endswith("%2Fprivate%3Fa%3D1%26b%3D%25C3%25A9")
        thost = urllib.parse.quote(tsrv.base_url.removeprefix("http://"))
        assert locations[1] == locations[0].replace(host, thost)
    else:
        assert locations[0] == locations[1]


async def test_authenticated_post_is_403(serve: Any) -> None:
    srv = await serve(ours(login_url="/login"))
    async with client() as c:
        assert (await c.post(srv.base_url + "/private")).status_code == 403


async def test_authenticated_without_login_url_is_an_error(serve: Any) -> None:
    srv = await serve(ours())
    async with client() as c:
        assert (await c.get(srv.base_url + "/private")).status_code == 500


async def test_login_round_trip(serve: Any) -> None:
    srv = await serve(ours(login_url="/login", xsrf_cookies=True))
    async with client() as c:
        r = await c.get(srv.base_url + "/private")
        assert r.headers["location"] == "/login?next=%2Fprivate"
        r = await c.get(srv.base_url + r.headers["location"])
        token = form_token(r.text)
        r = await c.post(srv.base_url + "/login?next=%2Fprivate", data={"name": "alice"})
        assert r.status_code == 403  # no XSRF token
        r = await c.post(
            srv.base_url + "/login?next=%2Fprivate", data={"name": "alice", "_xsrf": token}
        )
        assert (r.status_code, r.headers["location"]) == (302, "/private")
        assert "HttpOnly" in r.headers["set-cookie"]
        r = await c.get(srv.base_url + "/private")
        assert (r.status_code, r.text) == (200, "hello alice")
        r = await c.post(srv.base_url + "/private", headers={"X-XSRFToken": token})
        assert (r.status_code, r.text) == (200, "posted by alice")
        r = await c.post(srv.base_url + "/login", data={"name": "mallory", "_xsrf": token})
        assert r.status_code == 403


async def test_xsrf_cookie_of_logged_in_user_persists_and_async_authenticated(serve: Any) -> None:
    class Page(RequestHandler):
        def get_current_user(self) -> Any:
            return self.get_query_argument("user", None)

        @authenticated
        async def get(self) -> None:
            self.write(self.xsrf_form_html())

    srv = await serve(Application([("/", Page)], login_url="/login"))
    async with client() as c:
        r = await c.get(srv.base_url + "/")
        assert (r.status_code, r.headers["location"]) == (302, "/login?next=%2F")
        r = await c.get(srv.base_url + "/?user=ada")
    assert r.status_code == 200 and form_token(r.text)
    # A logged-in user's XSRF cookie lasts 30 days instead of the browser session.
    assert "expires=" in r.headers["set-cookie"].lower()
