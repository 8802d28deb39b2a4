"""Every test here runs on both HTTP/1.1 engines (see ``http_engine`` in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import each_http_engine


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    each_http_engine(metafunc)
