"""A chat room on WebSockets: ``python -m examples.chat``."""
