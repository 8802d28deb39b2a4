"""Streaming uploads to disk with a progress bar: ``python -m examples.upload``."""
