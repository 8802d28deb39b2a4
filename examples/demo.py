"""The demo behind ``make run``: the blog, chat, upload and live examples on one port.

    python -m examples.demo [--port=8888] [--data=demo-data]

``/`` is a short index page; ``/blog/``, ``/chat/`` and ``/upload/`` are the three example
applications, each a complete :class:`~tornadish.web.Application` with its own settings
(templates, XSRF, cookie secret...), mounted under its prefix by an outer application
whose rules point at them. ``/live/`` shows the blog's new posts and the chat's messages
as they happen, pushed over server-sent events (``examples/live``). The blog's SQLite
file, the uploaded files and the cookie secret (so sign-ins survive a restart) live in
the ``--data`` directory.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import tornadish
from examples.blog import app as blog
from examples.blog.store import Store
from examples.chat import app as chat
from examples.live import app as live
from examples.upload import app as upload
from tornadish.log import enable_pretty_logging
from tornadish.pubsub import Broadcast
from tornadish.web import Application, RedirectHandler, RequestHandler

INDEX = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tornadish demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;line-height:1.5}
li{margin:.6em 0}
</style></head>
<body>
<h1>Hello, world</h1>
<p>This is tornadish, a Tornado-shaped web framework on asyncio. Four example
applications are running in this one process:</p>
<ul>
<li><a href="/blog/">Blog</a>: templates with inheritance and UI modules, SQLite, sign-in
with signed cookies, XSRF protection, English, German and French.</li>
<li><a href="/chat/">Chat</a>: WebSockets, with a long-polling fallback
(<a href="/chat/?transport=poll">try it</a>); open it in two windows.</li>
<li><a href="/upload/">Uploads</a>: files streamed to disk, with a progress bar.</li>
<li><a href="/live/">Live</a>: new blog posts and chat messages as they happen, pushed
with server-sent events; the page resumes by itself when the server restarts.</li>
</ul>
<p>The code is in <code>examples/</code>.</p>
</body></html>
"""

WELCOME = """\
This blog is one of the tornadish examples. Its pages are Tornado templates that extend \
a base layout; each post on them is rendered by a UI module, and the posts live in SQLite.

To write here, sign in: as long as no author exists, the sign-in page offers to create \
the first account. Then try the language picker at the top, or your browser's language \
settings: the blog speaks English, German and French.

The source is in examples/blog/, and the Tornado documentation at \
https://www.tornadoweb.org/ describes the API it uses."""


NOT_FOUND = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>404: Not Found</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;line-height:1.5}
</style></head><body><h1>404: Not Found</h1>
<p>There is no page here. The examples are on the <a href="/">index page</a>.</p>
</body></html>
"""


class IndexHandler(RequestHandler):
    def get(self) -> None:
        self.write(INDEX)


class NotFoundHandler(RequestHandler):
    """What no rule of the demo matches: a 404 page that leads back to the index (the
    examples answer their own unknown paths, the blog in its layout)."""

    def prepare(self) -> None:
        self.set_status(404)
        self.finish(NOT_FOUND)


def _cookie_secret(data: Path) -> str:
    """A secret kept in the data directory, so sign-ins outlive a restart."""
    path = data / "cookie_secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _welcome(store: Store) -> None:
    """A first post, so the blog is not empty (its author cannot sign in)."""
    if store.recent_posts(1):
        return
    author = store.create_author("tornadish", "")
    if author is None:
        found = store.author_by_name("tornadish")
        assert found is not None
        author = found["id"]
    store.create_post(author, "Welcome to the tornadish blog", WELCOME)


def make_app(
    data_dir: str | os.PathLike[str] = "demo-data",
    *,
    store: Store | None = None,
    activity: live.Activity | None = None,
    broadcast: str | None = None,
    **settings: Any,
) -> Application:
    """The index page with the examples mounted under ``/blog/``, ``/chat/``,
    ``/upload/`` and ``/live/``, keeping their data in ``data_dir`` (the blog's in
    ``store`` if given; the live page's recent events in ``activity`` if given).

    ``broadcast`` (default ``TORNADISH_BROADCAST``, else ``memory://``): the pub/sub
    the chat and the live page share between processes; with ``redis://...`` several
    demo processes (``--workers``, or several machines on one database and Redis) make
    one site."""
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    if store is None:
        store = Store(str(data / "blog.sqlite3"))
    store.executor.submit(_welcome, store).result()  # start-up work: blocking is fine
    if broadcast is None:
        broadcast = os.environ.get("TORNADISH_BROADCAST") or "memory://"
    shared = not broadcast.startswith("memory://")
    if activity is None:
        activity = live.Activity(broadcast=Broadcast(broadcast) if shared else None)
    room = chat.ChatRoom(broadcast=broadcast)
    if activity.bus is not None:
        room.posted.append(activity.chat_message)  # published once, where posted
    else:
        room.listeners.append(activity.chat_message)
    mounted = {
        "blog": blog.make_app(
            store=store,
            prefix="/blog",
            cookie_secret=_cookie_secret(data),
            on_publish=activity.post_published,
        ),
        "chat": chat.make_app(room, prefix="/chat"),
        "upload": upload.make_app(data / "uploads", prefix="/upload"),
        "live": live.make_app(activity, prefix="/live"),
    }
    return Application(
        [
            (r"/", IndexHandler),
            (r"/(blog|chat|upload|live)", RedirectHandler, {"url": "/{0}/"}),
            *[(rf"/{name}/.*", app) for name, app in mounted.items()],
        ],
        **{"default_handler_class": NotFoundHandler, **settings},
    )


def main(port: int, data_dir: str) -> None:
    """Serve the demo until Ctrl-C or SIGTERM (then shut down gracefully).

    Its URL is logged once the port is bound (``Serving on http://127.0.0.1:8888/``);
    a port already taken ends the demo with one line on stderr and exit status 2."""
    app = make_app(data_dir)
    logging.getLogger("tornadish.general").info("data in %s", os.path.abspath(data_dir))
    try:
        tornadish.run(app, port=port, address="127.0.0.1")
    except OSError as e:
        if e.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        # tornadish.run's message names the address: "cannot listen on ...: address
        # already in use"; a traceback would say nothing more.
        sys.stderr.write(f"examples.demo: {e} (try --port=...)\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--data", default="demo-data", help="directory for the demo's data")
    ns = parser.parse_args()
    enable_pretty_logging()
    main(ns.port, ns.data)
