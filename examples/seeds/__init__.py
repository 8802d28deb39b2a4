"""Tornado examples from the project's seed material, ported with only the module name
changed from ``tornado`` to ``tornadish`` (see tests/examples/test_seeds_foundation.py)."""
