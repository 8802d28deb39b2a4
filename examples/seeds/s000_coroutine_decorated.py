"""Seed 000, "COROUTINES", the "Decorated" version.

Verbatim but for ``tornado`` → ``tornadish``; ``c()``, which the slide leaves out, is a
harness coroutine.
"""

from tornadish import gen


async def c():  # harness
    return 42  # harness


# Normal function declaration
# with decorator
@gen.coroutine
def a():
    # "yield" all async funcs
    b = yield c()
    # "return" and "yield"
    # cannot be mixed in
    # Python 2, so raise a
    # special exception.
    raise gen.Return(b)
