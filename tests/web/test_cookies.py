"""Cookies: ``get_cookie``, ``set_cookie`` with every attribute, invalid values, ``clear_cookie``,
quoting like Tornado, and a round trip with httpx."""

from __future__ import annotations

import datetime
import email.utils
import http.cookies
import time
from typing import Any

import httpx
import pytest

from tornadish._web.cookies import build_cookie
from tornadish.web import Application, RequestHandler

from tests.support.web import compare, get


async def test_get_cookie(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.write(
                    {
                        "a": self.get_cookie("a"),
                        "b": self.get_cookie("b"),
                        "q": self.get_cookie("q"),
                        "none": self.get_cookie("nope"),
                        "dflt": self.get_cookie("nope", "d"),
                        "names": sorted(self.cookies),
                    }
                )

        return H

    ours, _ = await compare(
        serve, make, "/", headers={"Cookie": 'a=1; b=two%20words; q="quoted \\"x\\""'}
    )
    assert ours.json()["a"] == "1"
    assert ours.json()["none"] is None and ours.json()["dflt"] == "d"


async def test_set_cookie_every_attribute(serve: Any) -> None:
    when = datetime.datetime(2030, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)

    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.set_cookie("plain", "v")
                self.set_cookie(
                    "full",
                    "value",
                    domain="example.com",
                    expires=when,
                    path="/p",
                    max_age=3600,
                    httponly=True,
                    secure=True,
                    samesite="Strict",
                )
                self.set_cookie("lax", "1", samesite="Lax")
                self.set_cookie("none", "1", samesite="None", secure=True)
                self.set_cookie("ts", "1", expires=when.timestamp())
                self.set_cookie("tup", "1", expires=when.utctimetuple())
                self.set_cookie("nopath", "1", path=None)
                self.write("ok")

        return H

    ours, theirs = await compare(serve, make, "/")
    ours_cookies = ours.headers.get_list("set-cookie")
    assert ours_cookies == theirs.headers.get_list("set-cookie")
    by_name = {c.split("=", 1)[0]: c for c in ours_cookies}
    assert by_name["plain"] == "plain=v; Path=/"
    full = by_name["full"]
    for attr in (
        "full=value",
        "Domain=example.com",
        "expires=Mon, 06 May 2030 07:08:09 GMT",
        "Path=/p",
        "Max-Age=3600",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ):
        assert attr in full.split("; "), (attr, full)
    assert "SameSite=Lax" in by_name["lax"]
    assert "SameSite=None" in by_name["none"] and "Secure" in by_name["none"]
    assert "expires=Mon, 06 May 2030 07:08:09 GMT" in by_name["ts"]
    assert "expires=Mon, 06 May 2030 07:08:09 GMT" in by_name["tup"]
    assert "Path" not in by_name["nopath"]


async def test_set_cookie_expires_days_and_latest_value_wins(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_cookie("c", "first")
            self.set_cookie("c", "second", expires_days=2)

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 1
    assert cookies[0].startswith("c=second; ")
    exp = cookies[0].split("expires=")[1].split(";")[0]
    when = email.utils.parsedate_to_datetime(exp).timestamp()
    assert abs(when - (time.time() + 2 * 86400)) < 60


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "c", "value": "a\r\nb"},
        {"name": "c", "value": "a b"},
        {"name": "c d", "value": "v"},
        {"name": "c;d", "value": "v"},
        {"name": "c", "value": "v", "samesite": "bogus"},
        {"name": "c", "value": "v", "samesite": "Lax; Secure"},
        {"name": "c", "value": "v", "path": "/a;Domain=evil.com"},
        {"name": "c", "value": "v", "path": "/a\r\nX-Injected: 1"},
        {"name": "c", "value": "v", "domain": "a.com; HttpOnly"},
        {"name": "c", "value": "v", "max_age": "1; Domain=evil.com"},
        {"name": "c", "value": "v", "comment": "x;y"},
    ],
    ids=[
        "crlf",
        "space",
        "name-space",
        "name-semicolon",
        "samesite",
        "samesite-smuggle",
        "path-semicolon",
        "path-crlf",
        "domain-semicolon",
        "max-age-smuggle",
        "kwarg-semicolon",
    ],
)
async def test_set_cookie_invalid_values_rejected(serve: Any, kwargs: dict[str, Any]) -> None:
    errors: list[BaseException] = []

    class H(RequestHandler):
        def get(self) -> None:
            try:
                self.set_cookie(**kwargs)
            except (ValueError, TypeError) as e:
                errors.append(e)
                raise
            self.write("not reached")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.status_code == 500
    assert "set-cookie" not in r.headers
    assert errors


@pytest.mark.parametrize("attr", ["name", "domain", "path", "samesite", "DoMaIn"])
@pytest.mark.parametrize("char", ["\x00", "\n", " ", ";", "\x7f"])
def test_forbidden_char_in_name_or_attribute_is_a_cookie_error(attr: str, char: str) -> None:
    # Tornado raises http.cookies.CookieError naming the attribute; applications catch it.
    kwargs: dict[str, Any] = {"name": "c", "value": "v"}
    kwargs[attr] = ("a" if attr != "path" else "/") + char + "b"
    with pytest.raises(http.cookies.CookieError, match=f"Invalid cookie attribute {attr}="):
        build_cookie(**kwargs)
    with pytest.raises(ValueError):
        build_cookie(**kwargs)


async def test_clear_cookie(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.clear_cookie("gone")
                self.clear_cookie("scoped", path="/p", domain="example.com")

        return H

    ours, theirs = await compare(serve, make, "/")
    for r in (ours, theirs):
        cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
        gone = cookies["gone"]
        assert gone.startswith('gone=""; ')
        exp = gone.split("expires=")[1].split(";")[0]
        assert email.utils.parsedate_to_datetime(exp).timestamp() < time.time()
        assert "Path=/p" in cookies["scoped"] and "Domain=example.com" in cookies["scoped"]
    # Tornado leaves Max-Age out (it only sets a truthy one); a Max-Age=0 as well makes
    # browsers that prefer Max-Age to Expires drop the cookie too.
    assert "Max-Age=0" in ours.headers["set-cookie"]


async def test_cookie_value_with_semicolon_is_quoted_like_tornado(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.set_cookie("c", 'a;b"c\\')

        return H

    ours, theirs = await compare(serve, make, "/")
    assert ours.headers["set-cookie"] == theirs.headers["set-cookie"]
    assert ours.headers["set-cookie"].startswith('c="a\\073b\\"c\\\\"; ')


async def test_cookie_round_trip_with_httpx(serve: Any) -> None:
    class Setter(RequestHandler):
        def get(self) -> None:
            self.set_cookie("session", "abc123")
            self.write("set")

    class Reader(RequestHandler):
        def get(self) -> None:
            self.write(self.get_cookie("session") or "none")

    srv = await serve(Application([(r"/set", Setter), (r"/read", Reader)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.get("/read")).text == "none"
        await c.get("/set")
        assert (await c.get("/read")).text == "abc123"
