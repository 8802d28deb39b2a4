"""The blog's data: authors and posts in SQLite, and salted password hashes.

Every method of :class:`Store` blocks (SQLite is a library, not a server), so the
handlers call them through ``IOLoop.current().run_in_executor(store.executor, ...)``.
The store's executor has a single thread that owns the one SQLite connection: SQLite
objects must stay in the thread that made them, and writes are serialised anyway.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import os
import re
import sqlite3
import threading
import time
import unicodedata
from typing import Any

__all__ = ["Store", "check_password", "hash_password"]

# scrypt with n=2**14, r=8: about 16 MiB and tens of milliseconds per hash, which is
# what makes guessing slow. The parameters are stored with each hash, so they can be
# raised later without invalidating old passwords.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS authors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,  -- '' for an author who cannot sign in
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_published ON posts(published);
"""

_POST_COLUMNS = (
    "posts.id, posts.slug, posts.title, posts.body, posts.published, posts.updated, "
    "posts.author_id, authors.name AS author"
)


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, with its parameters, as one string."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (from :func:`hash_password`)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False  # '' (no password) or a damaged hash
    # Constant time: how much of a guess matched must not show in the timing.
    return hmac.compare_digest(computed, bytes.fromhex(digest))


def slugify(title: str) -> str:
    """``"Hello, Wörld!"`` → ``"hello-world"``: the URL name of a post."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80] or "post"


class Store:
    """Authors and posts in the SQLite file ``path`` (``":memory:"`` works too)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="blog-db")
        self._local = threading.local()
        self.executor.submit(self._setup).result()

    def close(self) -> None:
        """Close the connection and stop the executor's thread."""

        def close_connection() -> None:
            db = getattr(self._local, "db", None)
            if db is not None:
                db.close()
                self._local.db = None

        self.executor.submit(close_connection).result()
        self.executor.shutdown()

    @property
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            self._local.db = db
        return db

    def _setup(self) -> None:
        with self._db as db:
            db.executescript(_SCHEMA)

    # -- authors -------------------------------------------------------------------

    def can_sign_up(self) -> bool:
        """True until the first author with a password exists (that one may sign up
        without being signed in; later authors are added by a signed-in author)."""
        row = self._db.execute("SELECT 1 FROM authors WHERE password_hash != '' LIMIT 1")
        return row.fetchone() is None

    def create_author(self, name: str, password_hash: str) -> int | None:
        """The new author's id, or ``None`` if ``name`` is taken."""
        try:
            with self._db as db:
                cur = db.execute(
                    "INSERT INTO authors (name, password_hash, created) VALUES (?, ?, ?)",
                    (name, password_hash, time.time()),
                )
        except sqlite3.IntegrityError:
            return None
        return int(cur.lastrowid or 0)

    def author_by_name(self, name: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT id, name, password_hash FROM authors WHERE name = ?", (name,)
        ).fetchone()
        return dict(row) if row is not None else None

    # -- posts ---------------------------------------------------------------------

    def recent_posts(self, limit: int = 5) -> list[dict[str, Any]]:
        rows = self._db.execute(
            f"SELECT {_POST_COLUMNS} FROM posts JOIN authors ON authors.id = posts.author_id "
            "ORDER BY posts.published DESC, posts.id DESC LIMIT ?",
            (limit,),
        )
        return [dict(row) for row in rows]

    def post_by_slug(self, slug: str) -> dict[str, Any] | None:
        row = self._db.execute(
            f"SELECT {_POST_COLUMNS} FROM posts JOIN authors ON authors.id = posts.author_id "
            "WHERE posts.slug = ?",
            (slug,),
        ).fetchone()
        return dict(row) if row is not None else None

    def post_by_id(self, post_id: int) -> dict[str, Any] | None:
        row = self._db.execute(
            f"SELECT {_POST_COLUMNS} FROM posts JOIN authors ON authors.id = posts.author_id "
            "WHERE posts.id = ?",
            (post_id,),
        ).fetchone()
        return dict(row) if row is not None else None

    def create_post(self, author_id: int, title: str, body: str) -> str:
        """Publish a post; returns its slug (made unique with a number if needed)."""
        base = slugify(title)
        now = time.time()
        with self._db as db:
            slug, n = base, 1
            while db.execute("SELECT 1 FROM posts WHERE slug = ?", (slug,)).fetchone():
                n += 1
                slug = f"{base}-{n}"
            db.execute(
                "INSERT INTO posts (author_id, slug, title, body, published, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (author_id, slug, title, body, now, now),
            )
        return slug

    def update_post(self, post_id: int, title: str, body: str) -> None:
        """Change a post's title and text (its slug, hence its URL, stays)."""
        with self._db as db:
            db.execute(
                "UPDATE posts SET title = ?, body = ?, updated = ? WHERE id = ?",
                (title, body, time.time(), post_id),
            )
