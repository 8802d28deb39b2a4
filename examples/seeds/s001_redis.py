"""Seed 001, "REDIS" (aioredis): connect with ``run_sync``, GET/POST records.

Verbatim but for the imports (``tornado`` → ``tornadish``; ``aioredis`` → the local shim
``examples.seeds._compat.aioredis`` on redis-py's ``redis.asyncio``), and one typo fixed:
the page's ``await.self.settings`` is ``await self.settings``. ``main()`` assembles the
seed's numbered steps (harness glue around them). Tested on a real throwaway
redis-server.

Run: ``REDIS_HOST=127.0.0.1 REDIS_PORT=6379 PORT=8888 python -m examples.seeds.s001_redis``
"""

import functools
from os import environ

import tornadish.ioloop
import tornadish.web
from examples.seeds._compat import aioredis


async def connect_redis(environ):
    return await aioredis.create_redis(
        (
            environ["REDIS_HOST"], environ["REDIS_PORT"]
        ))


class RedisHandler(tornadish.web.RequestHandler):

    async def get(self, name):
        record = await self.settings["redis"].get(name)  # seed typo: await.self

        if record is None:
            raise tornadish.web.HTTPError(
                404, f"Missing record for key:{name}")

        self.finish(record)

    async def post(self, name):
        await self.settings["redis"].set(name, self.request.body)

        self.set_status(204)
        self.finish()


def main():  # harness
    import tornadish.platform.asyncio  # harness

    tornadish.platform.asyncio.AsyncIOMainLoop().install()
    ioloop = tornadish.ioloop.IOLoop.current()  # harness
    redis = ioloop.run_sync(functools.partial(connect_redis, environ))
    app = tornadish.web.Application([(r"/records/(\w+)", RedisHandler)], redis=redis)  # harness
    app.listen(int(environ["PORT"]), "127.0.0.1")  # harness
    ioloop.start()  # harness


if __name__ == "__main__":  # harness
    main()  # harness
