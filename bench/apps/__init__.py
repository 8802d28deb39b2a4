"""Benchmark apps: the same two routes on tornadish, Tornado, aiohttp, uvicorn and bare h11.

Each module is run as ``python -m bench.apps.<name> --port N`` by :mod:`bench.run`.
"""
