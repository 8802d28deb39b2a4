"""The blog example (examples/blog) over real sockets, with a cookie-keeping client."""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.blog.app import USER_COOKIE, make_app
from examples.blog.store import Store, check_password, hash_password, slugify
from tornadish import locale

BLOG = Path(__file__).resolve().parents[2] / "examples" / "blog"
PASSWORD = "correct horse battery"
LANGS = ("en_US", "de", "fr")


@contextlib.asynccontextmanager
async def browser(base: str, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, like a browser (redirects are checked by hand)."""
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        yield client


async def form(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """POST a form with the XSRF token from the client's cookie, as the pages do."""
    if "_xsrf" not in client.cookies:
        await client.get("/blog/")
    return await client.post(path, data={"_xsrf": client.cookies["_xsrf"], **fields})


async def sign_up(client: httpx.AsyncClient, name: str = "ann") -> None:
    r = await form(client, "/blog/auth/signup", name=name, password=PASSWORD)
    assert (r.status_code, r.headers["location"]) == (303, "/blog/compose")


async def start(serve: Any, store: Store) -> str:
    srv = await serve(make_app(store=store, prefix="/blog"))
    return str(srv.base_url)


@pytest.mark.timeout_async(60)
async def test_sign_up_sign_in_write_and_read_a_post(serve: Any, store: Store) -> None:
    base = await start(serve, store)
    async with browser(base) as ann:
        r = await ann.get("/blog/")
        assert r.status_code == 200 and "No posts yet." in r.text
        r = await ann.get("/blog/compose")  # @authenticated: off to the login page
        assert r.status_code == 302
        assert r.headers["location"] == "/blog/auth/login?next=%2Fblog%2Fcompose"

        await sign_up(ann)
        cookie = ann.cookies[USER_COOKIE]
        assert cookie.startswith("2|") and "ann" not in cookie  # signed, value encoded
        r = await ann.post("/blog/auth/logout", data={"_xsrf": ann.cookies["_xsrf"]})
        assert r.status_code == 303 and USER_COOKIE not in ann.cookies

        r = await form(ann, "/blog/auth/login", name="ann", password="wrong password")
        assert r.status_code == 403 and "Wrong name or password." in r.text
        r = await form(ann, "/blog/auth/login", name="nobody", password=PASSWORD)
        assert r.status_code == 403 and USER_COOKIE not in ann.cookies
        r = await form(ann, "/blog/auth/login", name="ann", password=PASSWORD, next="/blog/compose")
        assert (r.status_code, r.headers["location"]) == (303, "/blog/compose")
        set_cookie = r.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie

        body = "A link: https://example.com/x\n\n<script>alert(1)</script>\nsecond line"
        r = await form(ann, "/blog/compose", title="Hello, Wörld!", body=body)
        assert (r.status_code, r.headers["location"]) == (303, "/blog/entry/hello-world")
        page = (await ann.get("/blog/entry/hello-world")).text
        assert "<title>Hello, Wörld! · tornadish blog</title>" in page
        assert '<a href="https://example.com/x">https://example.com/x</a>' in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>" in page and "<script>alert" not in page
        assert "Edit this post" in page and "by ann" in page
        # The Entry module's CSS went into <head>, once.
        assert page.count(".entry{") == 1 and page.index(".entry{") < page.index("</head>")

        r = await form(ann, "/blog/compose", title="Hello, Wörld!", body="again")
        assert r.headers["location"] == "/blog/entry/hello-world-2"  # slugs stay unique
        r = await form(ann, "/blog/compose", id="2", title="Second", body="edited")
        assert r.headers["location"] == "/blog/entry/hello-world-2"
        assert "edited" in (await ann.get("/blog/entry/hello-world-2")).text

        home = (await ann.get("/blog/")).text
        assert home.count('<article class="entry">') == 2
        assert home.index("Second") < home.index("Hello, Wörld!")  # newest first
        assert "2 posts" in (await ann.get("/blog/archive")).text
        assert (await ann.get("/blog/entry/no-such-post")).status_code == 404

        feed = await ann.get("/blog/feed")
        assert feed.headers["content-type"].startswith("application/atom+xml")
        atom = "{http://www.w3.org/2005/Atom}"
        root = ET.fromstring(feed.content)
        titles = [e.findtext(atom + "title") for e in root.iter(atom + "entry")]
        assert titles == ["Second", "Hello, Wörld!"]
        content = [e.findtext(atom + "content") for e in root.iter(atom + "entry")][1]
        assert content is not None and content.startswith('<p>A link: <a href="https://')

    async with browser(base) as mallory:
        # Once an author exists, strangers cannot sign themselves up...
        await mallory.get("/blog/")
        r = await form(mallory, "/blog/auth/signup", name="mallory", password=PASSWORD)
        assert r.status_code == 403
        # ...nor forge the signed cookie (this one claims to be ann, unsigned).
        mallory.cookies.set(USER_COOKIE, '{"id": 1, "name": "ann"}')
        assert (await mallory.get("/blog/compose")).status_code == 302


@pytest.mark.timeout_async(60)
async def test_authors_edit_only_their_own_posts(serve: Any, store: Store) -> None:
    base = await start(serve, store)
    async with browser(base) as ann:
        await sign_up(ann)
        await form(ann, "/blog/compose", title="Ann's", body="mine")
        await sign_up(ann, "bob")  # a signed-in author adds a colleague
    async with browser(base) as bob:
        r = await form(bob, "/blog/auth/login", name="bob", password=PASSWORD)
        assert r.status_code == 303
        assert "Edit this post" not in (await bob.get("/blog/entry/ann-s")).text
        assert (await bob.get("/blog/compose?id=1")).status_code == 403
        r = await form(bob, "/blog/compose", id="1", title="Bob's now", body="x")
        assert r.status_code == 403
        r = await form(bob, "/blog/auth/signup", name="bob", password=PASSWORD)
        assert r.status_code == 409  # the name is taken


async def test_forms_without_the_xsrf_token_are_refused(serve: Any, store: Store) -> None:
    base = await start(serve, store)
    async with browser(base) as client:
        await client.get("/blog/")
        token = client.cookies["_xsrf"]
        for data in ({}, {"_xsrf": "2|00000000|" + "0" * 32 + "|0"}, {"_xsrf": "junk"}):
            r = await client.post(
                "/blog/auth/signup", data={"name": "eve", "password": PASSWORD, **data}
            )
            assert r.status_code == 403, data
        # The token also works as a header, for scripts.
        r = await client.post("/blog/language", data={"lang": "de"}, headers={"X-XSRFToken": token})
        assert r.status_code == 303
    assert not await _author_exists(store, "eve")


async def _author_exists(store: Store, name: str) -> bool:
    from tornadish.ioloop import IOLoop

    found = await IOLoop.current().run_in_executor(store.executor, store.author_by_name, name)
    return found is not None


@pytest.mark.timeout_async(60)
async def test_pages_speak_german_and_french(serve: Any, store: Store) -> None:
    base = await start(serve, store)
    async with browser(base) as ann:
        await sign_up(ann)
        await form(ann, "/blog/compose", title="Hallo", body="Text")
    today = datetime.datetime.now(datetime.timezone.utc)
    month = today.strftime("%B")
    async with browser(base, **{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}) as de:
        page = (await de.get("/blog/")).text
        assert '<html lang="de">' in page and "Anmelden" in page and "Archiv" in page
        german_month = locale.get("de").translate(month)
        assert f"{today.day}. {german_month} {today.year} von ann" in page
        assert "Ein Beitrag" in (await de.get("/blog/archive")).text
        # The picker's choice beats Accept-Language, and is remembered.
        r = await form(de, "/blog/language", lang="fr", next="/blog/archive")
        assert (r.status_code, r.headers["location"]) == (303, "/blog/archive")
        page = (await de.get("/blog/archive")).text
        assert "Un article" in page and "Se connecter" in page
        french_month = locale.get("fr").translate(month)
        assert f"{today.day} {french_month} {today.year}" in page
        r = await form(de, "/blog/language", lang="xx")
        assert r.status_code == 400
    march = datetime.datetime(2024, 3, 5, 12, 0)
    dates = [locale.get(c).format_date(march, full_format=True, shorter=True) for c in LANGS]
    assert dates == ["March 5, 2024", "5. März 2024", "5 mars 2024"]
    async with browser(base, **{"Accept-Language": "fr"}) as fr:
        assert "Le blog tornadish" in (await fr.get("/blog/auth/login")).text
    async with browser(base, **{"Accept-Language": "es, ja;q=0.5"}) as other:
        assert "Sign in" in (await other.get("/blog/")).text  # English when none fits


async def test_static_files_have_versioned_urls(serve: Any, store: Store) -> None:
    base = await start(serve, store)
    async with browser(base) as client:
        page = (await client.get("/blog/")).text
        href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
        assert href is not None
        css = (BLOG / "static" / "blog.css").read_bytes()
        path, _, version = href.group(1).partition("?v=")
        assert path == "/blog/static/blog.css"
        assert version and version in hashlib.sha512(css).hexdigest()
        r = await client.get(href.group(1))
        assert r.status_code == 200 and r.content == css
        assert r.headers["content-type"].startswith("text/css")
        # Versioned: cacheable for years; the bare URL is not.
        assert int(r.headers["cache-control"].split("=")[1]) >= 86400 * 365
        bare = await client.get(path)
        assert "max-age=31" not in bare.headers.get("cache-control", "")


async def test_only_local_next_urls_are_followed(serve: Any, store: Store) -> None:
    base = await start(serve, store)
    async with browser(base) as client:
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            r = await form(client, "/blog/language", lang="de", next=target)
            assert r.headers["location"] == "/blog/", target


def _template_messages() -> set[str]:
    found: set[str] = set()
    for path in (BLOG / "templates").rglob("*"):
        if path.is_file():
            found.update(re.findall(r'_\("((?:[^"\\]|\\.)*)"', path.read_text()))
    found.update(re.findall(r'_\("((?:[^"\\]|\\.)*)"', (BLOG / "app.py").read_text()))
    return found


@pytest.mark.parametrize("language", ["de", "fr"])
def test_every_message_is_translated(language: str) -> None:
    with open(BLOG / "translations" / f"{language}.csv", encoding="utf-8") as f:
        translated = {row[0] for row in csv.reader(f) if row}
    messages = _template_messages()
    assert len(messages) > 20
    assert messages - translated == set()


def test_passwords_are_salted_and_checked() -> None:
    first, second = hash_password("secret pass"), hash_password("secret pass")
    assert first != second and first.startswith("scrypt$")
    assert check_password("secret pass", first) and check_password("secret pass", second)
    assert not check_password("secret pasS", first)
    assert not check_password("secret pass", "") and not check_password("x", "scrypt$1$2")
    assert slugify("  Ça va? Très bien!  ") == "ca-va-tres-bien" and slugify("!!!") == "post"


async def test_error_pages_keep_the_blog_layout(serve: Any, store: Store) -> None:
    base = await start(serve, store)
    async with browser(base, **{"Accept-Language": "de"}) as client:
        for path in ("/blog/no/such/page", "/blog/entry/no-such-post", "/blog/compose?id=x"):
            if path.startswith("/blog/compose"):
                await sign_up(client)
            r = await client.get(path)
            assert r.status_code == 404, path
            page = r.text
            assert "<title>404: Not Found · tornadish-Blog</title>" in page, path
            assert '<meta name="viewport"' in page and "/blog/static/blog.css?v=" in page
            assert '<form method="post" action="/blog/language"' in page  # the picker
            assert "Unter dieser Adresse gibt es keine Seite." in page  # in the reader's language
            assert page.count('f.querySelector("button").hidden = true') == 1  # module's JS
        r = await form(client, "/blog/language", lang="xx")
        assert r.status_code == 400
        assert "<h2>400: unknown language</h2>" in r.text and "Angemeldet als ann" in r.text


async def test_debug_mode_still_shows_the_traceback(serve: Any, store: Store) -> None:
    srv = await serve(make_app(store=store, prefix="/blog", debug=True))
    async with browser(str(srv.base_url)) as client:
        await client.get("/blog/")
        # An exception in a handler: the traceback page of debug mode, not the layout.
        r = await client.get("/blog/compose")  # not signed in: a redirect, not an error
        assert r.status_code == 302
        r = await client.post("/blog/language", data={"_xsrf": client.cookies["_xsrf"]})
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain")
        assert "MissingArgumentError" in r.text
