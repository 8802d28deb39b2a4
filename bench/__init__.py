"""Benchmark harness for tornadish (``make bench`` / ``python -m bench.run``)."""
