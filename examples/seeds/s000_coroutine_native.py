"""Seed 000, "COROUTINES", the "Native" version.

Verbatim; ``c()``, which the slide leaves out, is a harness coroutine.
"""


async def c():  # harness
    return 42  # harness


# "async def" keywords
async def a():
    # "await" all async
    b = await c()

    # Return normally
    return b
