"""Seed 001, "Multiple operations in Parallel": ``gen.multi`` over MongoDB, Redis and
MySQL checks.

The ``await tornado.gen.multi([...])`` statement is verbatim (``tornado`` →
``tornadish``); the handler around it and ``check_mysql`` (no MySQL here) are harness.
MongoDB is the mongomock-motor stand-in (via ``examples.seeds._compat.motor``), Redis a
real server (via ``examples.seeds._compat.aioredis``).
"""

import tornadish.gen
import tornadish.web


class HealthHandler(tornadish.web.RequestHandler):  # harness
    async def check_mysql(self):  # harness
        return "mysql ok"  # harness: no MySQL server here

    async def get(self):  # harness
        await tornadish.gen.multi([
            self.settings["mongo_db"].command("ping"),
            self.settings["redis"].ping(),
            self.check_mysql()
        ])
        self.write("all up")  # harness
