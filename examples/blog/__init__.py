"""A small blog showing templates, UI modules, SQLite, sign-in, XSRF and translations:
``python -m examples.blog``."""
