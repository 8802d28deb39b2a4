"""Fixtures of the example tests: a blog store in the test's own directory, and the
translations the blog loads process-wide put back after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.blog.store import Store
from tornadish import locale


@pytest.fixture(autouse=True)
def _restore_translations() -> Iterator[None]:
    # The blog loads its CSV translations process-wide (Tornado's API): put back what
    # the other tests expect.
    saved = (
        locale._translations,
        locale._supported_locales,
        locale._use_gettext,
        locale._default_locale,
    )
    yield
    (
        locale._translations,
        locale._supported_locales,
        locale._use_gettext,
        locale._default_locale,
    ) = saved
    locale.Locale._cache.clear()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "blog.sqlite3"))
    yield s
    s.close()
