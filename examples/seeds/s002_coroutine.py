"""Seed 002, "asynchronous": ``from tornado.gen import coroutine`` and ``@coroutine``.

The two seed lines are verbatim (``tornado`` → ``tornadish``); the decorated handler
method, which the post leaves out, is harness.
"""

from tornadish.gen import coroutine
from tornadish import gen  # harness
import tornadish.web  # harness


class SlowHandler(tornadish.web.RequestHandler):  # harness
    #decorator to assign asynchronous property
    @coroutine
    def get(self):  # harness
        yield gen.sleep(0.01)  # harness
        self.write("done")  # harness


app = tornadish.web.Application([(r"/", SlowHandler)])  # harness
