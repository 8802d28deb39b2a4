"""Seed 001, "Deployment of an Application" and "PostgreSQL" (aiopg): connect with
``IOLoop.run_sync``, query in a handler, disconnect.

Verbatim but for ``tornado`` → ``tornadish``, reconstructed where the page flattened it:
``main()``'s ``db = ...run_sync(connect_to_db)`` is a keyword argument of
``Application`` (the page lost its comma), and ``disconnect_to_db``'s body is indented.
Harness: the ``define()`` of the options the seed reads, ``maybe_create_tables``, the
undefined ``args``/``obj``, and ``app.db`` (the handler reads ``self.application.db``).

As written, the seed's handler calls ``cur.fetchone()`` *after* the ``with`` block closed
the cursor, so it answers 500 ("cursor already closed") after running its query -- as it
would on Tornado. Tested against a real throwaway PostgreSQL server.

Run: ``python -m examples.seeds.s001_postgres --port=8888 --db_port=5432 ...``
"""

import logging
import os

import aiopg
import psycopg2
import tornadish.ioloop
import tornadish.options
import tornadish.web
from tornadish.httpserver import HTTPServer
from tornadish.options import define, options
from tornadish.web import Application

define("port", default=8888, help="port to listen on")  # harness
define("db_host", default="127.0.0.1")  # harness
define("db_port", default=5432, type=int)  # harness
define("db_user", default="postgres")  # harness
define("db_password", default="")  # harness
define("db_database", default="postgres")  # harness

args = None  # harness: the seed's query passes an undefined ``args``
obj = {}  # harness: ... and fills an undefined ``obj``


async def maybe_create_tables(db):  # harness
    async with db.acquire() as conn:  # harness
        async with conn.cursor() as cur:  # harness
            await cur.execute(  # harness
                "CREATE TABLE IF NOT EXISTS entries (id SERIAL PRIMARY KEY, title TEXT)")  # harness
            await cur.execute("INSERT INTO entries (title) VALUES ('hello')")  # harness


async def connect_to_db():
    tornadish.options.parse_command_line()

    # Create the global connection pool.
    try:
        db: object = await aiopg.create_pool(
            host=options.db_host,
            port=options.db_port,
            user=options.db_user,
            password=options.db_password,
            dbname=options.db_database,
            )
    except psycopg2.OperationalError as e:
        print("It was not possible to connect to PostgreSQL: " + str(e))
    else:
        try:
            await maybe_create_tables(db)
        except Exception as exc:
            print("It was not possible to create tables: " + str(exc))
        else:
            return db


class ExampleHandler(tornadish.web.RequestHandler):

    async def get(self):
        with (await self.application.db.cursor()) as cur:
            await cur.execute("SELECT COUNT(*) FROM entries LIMIT 1", args)

        row = await cur.fetchone()
        for val, desc in zip(row, cur.description):
            obj[desc.name] = val

        self.finish(row)


async def disconnect_to_db(db):
    tornadish.options.parse_command_line()

    # Create the global connection pool.
    try:
        await db.clear()
    except Exception as exc:
        print("It was not possible to disconnect from PostgreSQL: " + str(exc))


def main():
    app = Application(handlers=[
        (r"/", ExampleHandler),
    ],
        db = tornadish.ioloop.IOLoop.current().run_sync(connect_to_db),  # seed typo: the page lost this comma
        **options.group_dict('application'),
        static_path=os.path.join(os.path.dirname(__file__), "static"),
        template_path=os.path.join(os.path.dirname(__file__), "templates")
    )
    app.db = app.settings["db"]  # harness: the handler reads self.application.db

    http_server = HTTPServer(app)
    http_server.listen(options.port)
    logging.info('Listening on http://localhost:%d' % options.port)
    tornadish.ioloop.IOLoop.current().start()


if __name__ == "__main__":  # harness
    main()  # harness
