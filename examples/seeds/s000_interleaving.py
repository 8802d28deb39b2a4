"""Seed 000, "COROUTINE PATTERNS", "INTERLEAVING".

Verbatim but for ``tornado`` → ``tornadish``. The slide's method is ``async def`` but
uses ``yield`` (Tornado's docs have ``@gen.coroutine``): that makes it an *async
generator*, which neither Tornado nor tornadish can await, so the request fails with a
500 on both. The handler class, ``fetch_next_chunk`` and the app are harness.
"""

from tornadish.gen import convert_yielded
from tornadish.web import Application, RequestHandler


class InterleavingHandler(RequestHandler):  # harness
    chunks = [b"one ", b"two ", b"three"]  # harness

    async def fetch_next_chunk(self):  # harness
        return self.chunks.pop(0) if self.chunks else None  # harness

    async def get(self):
        # convert_yielded() starts the native coroutine in the background.
        # This is equivalent to asyncio.ensure_future() (both work in Tornado).
        fetch_future = convert_yielded(self.fetch_next_chunk())
        while True:
            chunk = yield fetch_future
            if chunk is None: break
            self.write(chunk)
            fetch_future = convert_yielded(self.fetch_next_chunk())
            yield self.flush()


app = Application([(r"/", InterleavingHandler)])  # harness
