"""The HTTP/2 tests need the h2 library (the ``http2`` extra); without it they skip."""

from __future__ import annotations

import pytest

pytest.importorskip("h2", reason="HTTP/2 needs h2: pip install 'tornadish[http2]'")
