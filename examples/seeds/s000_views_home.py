"""Seed 000, "HOW TO MANAGE VIEWS ?": ``render("home.html", entries=entries)``.

Verbatim but for ``tornado`` → ``tornadish``; the template is
``templates/s000_home/home.html``, verbatim. The slide's ``self.db`` (a torndb-style
``query()``) is harness: an in-memory SQLite table ``entries``. Note the slide's template
loops over ``entry`` but prints ``item``: with an empty table it renders, with rows it
fails with a NameError (a 500) -- on Tornado as on tornadish.
"""

import os  # harness
import sqlite3  # harness

import tornadish.web


class HomeHandler(tornadish.web.RequestHandler):
    def get(self):
        entries = self.db.query("SELECT * FROM entries ORDER BY date DESC")
        self.render("home.html", entries=entries)


class Database:  # harness
    def __init__(self):  # harness
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)  # harness
        self.conn.execute("CREATE TABLE entries (title TEXT, date TEXT)")  # harness

    def query(self, sql):  # harness
        return self.conn.execute(sql).fetchall()  # harness


HomeHandler.db = Database()  # harness
TEMPLATES = os.path.join(os.path.dirname(__file__), "templates", "s000_home")  # harness
app = tornadish.web.Application([(r"/", HomeHandler)], template_path=TEMPLATES)  # harness
