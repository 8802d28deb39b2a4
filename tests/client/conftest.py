"""Every client test runs on both HTTP/1.1 engines (see ``http_engine`` in
tests/conftest.py): the client reads responses, and the test servers parse requests,
with the engine ``TORNADISH_HTTP`` names."""

from __future__ import annotations

import pytest

from tests.conftest import each_http_engine


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    each_http_engine(metafunc)
