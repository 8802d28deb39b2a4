"""Every test here runs on both WebSocket engines (see ``ws_engine`` in tests/conftest.py),
with the default HTTP/1.1 engine; the tests of the handshake and the upgrade (where the
HTTP engine hands the socket over) also run on both HTTP/1.1 engines, marked with
``@pytest.mark.usefixtures("http_engine")`` (see ``http_engine`` there)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _each_ws_engine(ws_engine: str) -> None:
    """Parametrize the folder's tests over the WebSocket engines."""
