"""Tornado compatibility measured by Tornado's own test suite (``make compat``).

The harness fetches the Tornado 6.6.1 sdist, copies its ``tornado/test/`` package twice,
and runs every test module (less the few in :mod:`compat.exclusions`) in its own pytest
process, side by side:

1. the *identity pass*: the suite as it is, against Tornado 6.6.1 itself. The tests that
   pass here are the denominator: what the harness can expect of a perfect
   reimplementation on this machine.
2. the *tornadish pass*: the same suite rewritten (:mod:`compat.rewrite`) to import
   ``tornadish`` instead.

It prints one row per module (Tornado's passing tests, and how many of them pass, fail,
error or skip on tornadish), writes ``build/compat/results.json``, and with ``--min N``
exits non-zero when the total falls below N % — the ratchet ``make compat`` applies
with the Makefile's ``COMPAT_MIN``.

The modules: :mod:`compat.suite` (the sdist, the rewritten trees, the interpreters),
:mod:`compat.runner` (one module, one pytest process, its JUnit report),
:mod:`compat.report` (the comparison and its table) and ``python -m compat`` (the CLI)::

    python -m compat                          # everything, as make compat does
    python -m compat --module web --show-failures
"""
