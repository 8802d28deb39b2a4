"""``python -m examples.upload [--port=8888] [--dir=uploads]``: serve the upload page."""

from __future__ import annotations

from examples.upload.app import main

main()
