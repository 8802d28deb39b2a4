"""Seed 000, "HOW TO CALL COROUTINE": the bad way, the good way, fire and forget.

Verbatim but for ``tornado`` → ``tornadish``; the slide's one-line fire-and-forget
statement is wrapped in a harness function so that it runs when called.
"""

from tornadish.ioloop import IOLoop

async def divide(x, y):
    return x / y

def bad_call():
    # This should raise a ZeroDivisionError, but it won't because
    # the coroutine is called incorrectly.
    divide(1, 0)

async def good_call():
    # await will unwrap the object returned by divide() and raise
    # the exception.
    await divide(1, 0)


def fire_and_forget():  # harness
    IOLoop.current().spawn_callback(divide, 1, 0)
