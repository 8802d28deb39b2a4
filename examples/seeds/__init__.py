"""Tornado examples from the project's seed material, ported with only the module name
changed from ``tornado`` to ``tornadish`` (see tests/test_seeds_foundation.py)."""
