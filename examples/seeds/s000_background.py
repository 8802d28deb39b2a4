"""Seed 000, "COROUTINE PATTERNS", "RUNNING IN THE BACKGROUND".

Verbatim but for ``tornado`` → ``tornadish``; ``do_something`` is harness, and the
slide's ``spawn_callback`` statement is wrapped in a harness function.
"""

from tornadish import gen
from tornadish.ioloop import IOLoop

ticks = []  # harness


async def do_something():  # harness
    ticks.append(IOLoop.current().time())  # harness


async def minute_loop():
    while True:
        await do_something()
        await gen.sleep(60)


def start():  # harness
    # Coroutines that loop forever are generally started with
    # spawn_callback().
    IOLoop.current().spawn_callback(minute_loop)
