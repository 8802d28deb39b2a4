"""``python -m examples.blog [--port=8888] [--db=blog.sqlite3]``: serve the blog."""

from __future__ import annotations

from examples.blog.app import main

main()
