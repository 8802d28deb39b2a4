"""Seed 001, "MongoDB" (Motor): a handler reading (GET) and upserting (POST) documents.

Verbatim but for the imports: ``tornado`` → ``tornadish`` and ``motor`` → the local shim
``examples.seeds._compat.motor`` over the embedded mongomock-motor stand-in (MongoDB is
not in Debian). ``make_app(environ)`` wraps the seed's ``main()`` lines (harness).
"""

import json
from os import environ

import tornadish.web
from examples.seeds._compat import motor


class ExampleHandler(tornadish.web.RequestHandler):

    async def get(self, name):
        collection = await self.settings["mongo_db"].my_collection.find_one({"name": name})

        if collection is None:
            raise tornadish.web.HTTPError(404, f"Missing collection: {name}")

        self.finish(collection["content"])

    async def post(self, name):
        await self.settings["mongo_db"].my_collection.replace_one(
            {"name": name},
            {
                "name": name,
                "content": json.loads(self.request.body)
            },
            upsert=True)
        self.set_status(204)
        self.finish()


def make_app(environ=environ):  # harness
    motor_client = motor.motor_tornado.MotorClient(
    environ["MONGODB_URI"])

    # In this example we use the default database
    mongo_db = motor_client.get_default_database()
    return tornadish.web.Application(  # harness
        [(r"/collections/(\w+)", ExampleHandler)], mongo_db=mongo_db)  # harness
