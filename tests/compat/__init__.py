"""Tests of the Tornado compatibility harness (``compat/``, ``make compat``)."""
