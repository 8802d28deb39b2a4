"""Seed 002, "simple example": a factorial service cached in Redis (redis-py, sync).

Verbatim but for ``tornado`` → ``tornadish`` (the seed computes ``(n-1)!``: its loop is
``range(1, n)``). It hard-codes Redis at ``localhost:6379`` and port 8888; the test runs
it unchanged as ``__main__`` against a real throwaway redis-server, pointing those two at
free ports.

Run: ``python -m examples.seeds.s002_factorial``
"""

import json
import redis
import tornadish.ioloop
import tornadish.web

class FactorialService(object):
    def __init__(self):
        self.cache = redis.StrictRedis("localhost", 6379)
        self.key = "factorials"

    def calc(self, n):
        s = self.cache.hget(self.key, str(n))
        if s:
            return int(s), True
        s = 1
        for i in range(1, n):
            s *= i
        self.cache.hset(self.key, str(n), str(s))
        return s, False

class FactorialHandler(tornadish.web.RequestHandler):
    service = FactorialService()

    def get(self):
        n = int(self.get_argument("n") or 1)
        fact, cached = self.service.calc(n)
        result = {
            "n": n,
            "fact": fact,
            "cached": cached
        }
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.write(json.dumps(result))

def make_app():
    return tornadish.web.Application([
        (r"/fact", FactorialHandler),
    ])

if __name__ == "__main__":
    app = make_app()
    app.listen(8888)
    tornadish.ioloop.IOLoop.current().start()
