"""``python -m examples.chat [--port=8888]``: serve the chat room."""

from __future__ import annotations

from examples.chat.app import main

main()
