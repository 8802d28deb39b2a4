"""Every test here runs on both HTTP/1.1 engines (see ``http_engine`` in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _each_http_engine(http_engine: str) -> None:
    """Parametrize the folder's tests over the engines."""
