"""Seed 000, "COROUTINE PATTERNS", "LOOPING": ``while (yield cursor.fetch_next)``.

Verbatim but for the imports: ``tornado`` → ``tornadish`` and ``motor`` → the local
shim ``examples.seeds._compat.motor`` on the embedded mongomock-motor stand-in (no
MongoDB server can be installed here; Motor 3 also dropped ``fetch_next``). The slide
loops over ``db.collection`` (not its ``collection`` argument); ``seen`` records what the
loop read, for the test.
"""

from examples.seeds._compat import motor
from tornadish import gen

seen = []  # harness

db = motor.MotorClient().test

@gen.coroutine

def loop_example(collection):
    cursor = db.collection.find()
    while (yield cursor.fetch_next):
        doc = cursor.next_object()
        seen.append(doc)  # harness
