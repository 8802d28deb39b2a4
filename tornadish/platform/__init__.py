"""Tornado's ``tornado.platform`` package: only :mod:`tornadish.platform.asyncio`, kept so
that code written for Tornado 4 and 5 (``AsyncIOMainLoop().install()``) keeps
importing. tornadish has no other platform layers: asyncio is the platform."""
