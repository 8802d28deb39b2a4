"""A live page fed by server-sent events: part of the demo (``make run``), under ``/live/``."""
