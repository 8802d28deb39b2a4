"""The demo behind ``make run``: a small guestbook on SQLite, served on port 8888.

    python -m examples.demo [--port=8888] [--db=PATH]

Shows the everyday pieces: routing with path arguments, a form posted back, JSON output,
blocking database work moved off the event loop with ``run_in_executor``.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import sqlite3
import threading
import time
from typing import Any

from tornadish.log import enable_pretty_logging
from tornadish.web import Application, HTTPError, RequestHandler

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tornadish guestbook</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}li{{margin:.3em 0}}</style>
</head><body>
<h1>Hello, world</h1>
<p>This is the tornadish demo: a guestbook stored in SQLite.</p>
<form method="post" action="/">
  <input name="name" placeholder="Your name" required maxlength="40">
  <input name="message" placeholder="Say something" required maxlength="200">
  <button>Sign</button>
</form>
<ul>{entries}</ul>
<p><a href="/api/entries">JSON</a></p>
</body></html>
"""


class Guestbook:
    """A tiny SQLite store; every call blocks, so handlers run it in an executor."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS entries ("
                "id INTEGER PRIMARY KEY, name TEXT, message TEXT, created REAL)"
            )

    def _db(self) -> sqlite3.Connection:
        # One connection per executor thread: sqlite3 objects stay in their thread.
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self._path)
        return db

    def add(self, name: str, message: str) -> int:
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO entries (name, message, created) VALUES (?, ?, ?)",
                (name, message, time.time()),
            )
            return int(cur.lastrowid or 0)

    def latest(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT id, name, message, created FROM entries ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [dict(zip(("id", "name", "message", "created"), row, strict=True)) for row in rows]

    def get(self, entry_id: int) -> dict[str, Any] | None:
        row = (
            self._db()
            .execute("SELECT id, name, message, created FROM entries WHERE id = ?", (entry_id,))
            .fetchone()
        )
        return dict(zip(("id", "name", "message", "created"), row, strict=True)) if row else None


class BaseHandler(RequestHandler):
    def initialize(self, book: Guestbook) -> None:  # type: ignore[override]
        self.book = book

    async def blocking(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)


class HomeHandler(BaseHandler):
    async def get(self) -> None:
        entries = await self.blocking(self.book.latest)
        items = "".join(
            f"<li><b>{html.escape(e['name'])}</b>: {html.escape(e['message'])}</li>"
            for e in entries
        )
        self.write(PAGE.format(entries=items or "<li>No entries yet.</li>"))

    async def post(self) -> None:
        name = self.get_body_argument("name")[:40]
        message = self.get_body_argument("message")[:200]
        if not name or not message:
            raise HTTPError(400, reason="name and message are required")
        await self.blocking(self.book.add, name, message)
        self.redirect("/", status=303)


class EntriesHandler(BaseHandler):
    async def get(self) -> None:
        self.write({"entries": await self.blocking(self.book.latest)})


class EntryHandler(BaseHandler):
    async def get(self, entry_id: str) -> None:
        entry = await self.blocking(self.book.get, int(entry_id))
        if entry is None:
            raise HTTPError(404)
        self.write(entry)


def make_app(db_path: str = "demo.sqlite3", **settings: Any) -> Application:
    """The demo application on the SQLite file ``db_path``."""
    book = Guestbook(db_path)
    args = {"book": book}
    return Application(
        [
            (r"/", HomeHandler, args),
            (r"/api/entries", EntriesHandler, args),
            (r"/api/entries/(\d+)", EntryHandler, args, "entry"),
        ],
        **settings,
    )


async def main(port: int, db_path: str) -> None:
    app = make_app(db_path)
    app.listen(port, "127.0.0.1")
    logging.getLogger("tornadish.general").info("Listening on http://127.0.0.1:%d", port)
    print(f"tornadish demo on http://127.0.0.1:{port}/  (Ctrl-C to stop)", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--db", default="demo.sqlite3")
    ns = parser.parse_args()
    enable_pretty_logging()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(main(ns.port, ns.db))
    except KeyboardInterrupt:
        pass
