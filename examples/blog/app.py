"""A small blog: the page-building kit of tornadish in one application.

    python -m examples.blog [--port=8888] [--db=blog.sqlite3]

- **Templates** in Tornado's syntax (``{% extends %}``, ``{% block %}...{% end %}``,
  ``{% module %}``), with **UI modules** (``uimodules.py``) that bring their own CSS and
  JavaScript into the page.
- **SQLite** through ``IOLoop.current().run_in_executor``: the database calls block, so
  they run on the store's own thread while the event loop serves other requests.
- **Sign-in** with a salted scrypt password hash and a **signed cookie**
  (``set_signed_cookie`` / ``get_current_user`` / ``@authenticated``).
- **XSRF** protection on every form (``xsrf_cookies=True``, ``xsrf_form_html()``).
- **Translations** from CSV files (``translations/de.csv``, ``fr.csv``; English is the
  source language), chosen from ``Accept-Language`` or the language picker's cookie.
- **Static files** with versioned URLs (``static_url("blog.css")`` → ``?v=<hash>``).
- An **Atom feed** at ``/feed``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import tornadish
from tornadish import locale
from tornadish.ioloop import IOLoop
from tornadish.log import enable_pretty_logging
from tornadish.web import Application, HTTPError, RequestHandler, authenticated, url

from .store import Store, check_password, hash_password
from .uimodules import LANGUAGES, Entry, LanguagePicker, body_html

HERE = Path(__file__).parent
USER_COOKIE = "blog_user"
LANGUAGE_COOKIE = "lang"
log = logging.getLogger("examples.blog")
_T = TypeVar("_T")


class BaseHandler(RequestHandler):
    """What every page shares: the store, the signed-in author, the language."""

    def initialize(self, store: Store) -> None:
        self.store = store

    def db(self, func: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """Run a blocking store method on the store's thread; await the result."""
        return IOLoop.current().run_in_executor(self.store.executor, func, *args)

    def get_current_user(self) -> dict[str, Any] | None:
        # The signed cookie holds the author's id and name: it cannot be forged without
        # the cookie_secret, so no database lookup is needed on every request.
        raw = self.get_signed_cookie(USER_COOKIE)
        if raw is None:
            return None
        try:
            user: dict[str, Any] = json.loads(raw)
        except ValueError:
            return None
        return user

    def get_user_locale(self) -> locale.Locale | None:
        # An explicit choice (the picker's cookie) wins over Accept-Language.
        code = self.get_cookie(LANGUAGE_COOKIE)
        if code is not None and code in locale.get_supported_locales():
            return locale.get(code)
        return None

    def safe_next(self, default: str) -> str:
        """The ``next`` argument if it is a path on this site, else ``default`` (an open
        redirect would let other sites borrow our login page)."""
        target: str = self.get_argument("next", "")
        if target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
        return default

    def sign_in(self, author_id: int, name: str) -> None:
        value = json.dumps({"id": author_id, "name": name})
        self.set_signed_cookie(USER_COOKIE, value, httponly=True, samesite="Lax")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Error pages in the blog's layout (its header, language picker and style),
        so a 404 or a 400 does not look like another site. In debug mode an exception
        shows Tornado's traceback page instead, as does a failure of the layout."""
        if self.settings.get("serve_traceback") and "exc_info" in kwargs:
            super().write_error(status_code, **kwargs)
            return
        _ = self.locale.translate
        if status_code == 404:
            message = _("There is no page at this address.")
        elif status_code == 403:
            message = _("You may not do that here.")
        elif status_code < 500:
            message = _("The request could not be understood.")
        else:
            message = _("Something went wrong on our side; please try again.")
        # The reason is the HTTP phrase ("Not Found") or what the handler gave to
        # HTTPError (reason="unknown language"): English, as the status line has it.
        reason = self._reason
        try:
            self.render("error.html", status_code=status_code, reason=reason, message=message)
        except Exception:  # raised while rendering, before anything was written
            log.exception("Could not render the error page")
            super().write_error(status_code, **kwargs)


class NotFoundHandler(BaseHandler):
    """Every path the blog has no route for: its 404 page, in its layout."""

    def prepare(self) -> None:
        raise HTTPError(404)


class HomeHandler(BaseHandler):
    async def get(self) -> None:
        posts = await self.db(self.store.recent_posts, 5)
        await self.render("home.html", posts=posts)


class ArchiveHandler(BaseHandler):
    async def get(self) -> None:
        posts = await self.db(self.store.recent_posts, 1000)
        await self.render("archive.html", posts=posts)


class EntryHandler(BaseHandler):
    async def get(self, slug: str) -> None:
        post = await self.db(self.store.post_by_slug, slug)
        if post is None:
            raise HTTPError(404)
        await self.render("entry.html", post=post)


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()


class FeedHandler(BaseHandler):
    async def get(self) -> None:
        posts = await self.db(self.store.recent_posts, 10)
        self.set_header("Content-Type", "application/atom+xml; charset=UTF-8")
        home = f"{self.request.protocol}://{self.request.host}{self.reverse_url('home')}"
        updated = max((p["updated"] for p in posts), default=0.0)
        await self.render("feed.xml", posts=posts, home=home, updated=_iso(updated), iso=_iso)


class ComposeHandler(BaseHandler):
    """Write a new post, or edit one of your own (``?id=``)."""

    async def _own_post(self) -> dict[str, Any] | None:
        post_id = self.get_argument("id", None)
        if not post_id:
            return None
        if not post_id.isdigit():
            raise HTTPError(404)
        post = await self.db(self.store.post_by_id, int(post_id))
        if post is None:
            raise HTTPError(404)
        if post["author_id"] != self.current_user["id"]:
            raise HTTPError(403, reason="not your post")
        return post

    @authenticated
    async def get(self) -> None:
        await self.render("compose.html", post=await self._own_post())

    @authenticated
    async def post(self) -> None:
        existing = await self._own_post()
        title = self.get_argument("title")[:200]
        body = self.get_argument("body", strip=False).strip()
        if not title or not body:
            raise HTTPError(400, reason="a post needs a title and a text")
        if existing is not None:
            await self.db(self.store.update_post, existing["id"], title, body)
            slug = existing["slug"]
        else:
            slug = await self.db(self.store.create_post, self.current_user["id"], title, body)
            self._published(title, slug)
        self.redirect(self.reverse_url("entry", slug), status=303)

    def _published(self, title: str, slug: str) -> None:
        # The demo's live page hears of new posts through the ``on_publish`` setting.
        on_publish = self.settings.get("on_publish")
        if on_publish is not None:
            url = self.reverse_url("entry", slug)
            on_publish({"title": title, "author": self.current_user["name"], "url": url})


class LoginHandler(BaseHandler):
    async def get(self) -> None:
        await self._form(error=False)

    async def _form(self, error: bool) -> None:
        can_sign_up = await self.db(self.store.can_sign_up)
        next_url = self.safe_next(self.reverse_url("home"))
        if error:
            self.set_status(403)
        await self.render("login.html", error=error, next_url=next_url, can_sign_up=can_sign_up)

    async def post(self) -> None:
        name = self.get_argument("name")
        password = self.get_argument("password", strip=False)
        author = await self.db(self.store.author_by_name, name)
        # Hashing is slow on purpose: do it on the default executor, so it neither holds
        # up the event loop nor the database thread. An unknown name is checked against
        # an empty hash, which fails without telling that the name does not exist.
        stored = author["password_hash"] if author else ""
        ok = await IOLoop.current().run_in_executor(None, check_password, password, stored)
        if not ok or author is None:
            await self._form(error=True)
            return
        self.sign_in(author["id"], author["name"])
        self.redirect(self.safe_next(self.reverse_url("home")), status=303)


class LogoutHandler(BaseHandler):
    def post(self) -> None:
        self.clear_cookie(USER_COOKIE)
        self.redirect(self.reverse_url("home"), status=303)


class SignUpHandler(BaseHandler):
    """Create an author: open to anyone until the first author exists, then only to
    signed-in authors (who may add colleagues)."""

    async def prepare(self) -> None:
        if not self.current_user and not await self.db(self.store.can_sign_up):
            raise HTTPError(403, reason="ask an author to create your account")

    async def get(self) -> None:
        await self.render("signup.html", error=None)

    async def post(self) -> None:
        name = self.get_argument("name")[:40]
        password = self.get_argument("password", strip=False)
        _ = self.locale.translate
        if not name or len(password) < 8:
            self.set_status(400)
            await self.render("signup.html", error=_("Use a name and at least 8 characters."))
            return
        hashed = await IOLoop.current().run_in_executor(None, hash_password, password)
        author_id = await self.db(self.store.create_author, name, hashed)
        if author_id is None:
            self.set_status(409)
            await self.render("signup.html", error=_("That name is taken."))
            return
        if not self.current_user:
            self.sign_in(author_id, name)
        self.redirect(self.reverse_url("compose"), status=303)


class LanguageHandler(BaseHandler):
    """The language picker's form: remember the choice in a cookie for a year."""

    def post(self) -> None:
        code = self.get_argument("lang")
        if code not in locale.get_supported_locales():
            raise HTTPError(400, reason="unknown language")
        self.set_cookie(LANGUAGE_COOKIE, code, expires_days=365, samesite="Lax")
        self.redirect(self.safe_next(self.reverse_url("home")), status=303)


def make_app(
    db_path: str = "blog.sqlite3",
    *,
    prefix: str = "",
    cookie_secret: str | None = None,
    store: Store | None = None,
    on_publish: Callable[[dict[str, Any]], None] | None = None,
    **settings: Any,
) -> Application:
    """The blog on the SQLite file ``db_path`` (or an existing ``store``).

    ``prefix`` (``"/blog"``) mounts every route, the static files and the login page
    under that path. Without a ``cookie_secret`` a random one is made, so sign-ins do
    not survive a restart. ``on_publish`` is called with each new post (a dict:
    ``title``, ``author``, ``url``). Loads the CSV translations (process-wide, as in
    Tornado).
    """
    locale.load_translations(str(HERE / "translations"))
    args = {"store": store if store is not None else Store(db_path)}
    return Application(
        [
            url(prefix + r"/", HomeHandler, args, name="home"),
            url(prefix + r"/archive", ArchiveHandler, args, name="archive"),
            url(prefix + r"/entry/([a-z0-9-]+)", EntryHandler, args, name="entry"),
            url(prefix + r"/feed", FeedHandler, args, name="feed"),
            url(prefix + r"/compose", ComposeHandler, args, name="compose"),
            url(prefix + r"/auth/login", LoginHandler, args, name="login"),
            url(prefix + r"/auth/logout", LogoutHandler, args, name="logout"),
            url(prefix + r"/auth/signup", SignUpHandler, args, name="signup"),
            url(prefix + r"/language", LanguageHandler, args, name="language"),
        ],
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_url_prefix=prefix + "/static/",
        default_handler_class=NotFoundHandler,
        default_handler_args=args,
        ui_modules={"Entry": Entry, "LanguagePicker": LanguagePicker},
        ui_methods={"body_html": body_html},
        xsrf_cookies=True,
        cookie_secret=cookie_secret or secrets.token_hex(32),
        login_url=prefix + "/auth/login",
        on_publish=on_publish,
        **settings,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--db", default="blog.sqlite3")
    parser.add_argument("--debug", action="store_true", help="reload templates and code")
    args = parser.parse_args()
    enable_pretty_logging()
    languages = ", ".join(LANGUAGES)

    app = make_app(args.db, debug=args.debug)
    log.info("blog on http://127.0.0.1:%d/ (%s; data in %s)", args.port, languages, args.db)
    tornadish.run(app, port=args.port, address="127.0.0.1")  # until Ctrl-C or SIGTERM


if __name__ == "__main__":
    main()
