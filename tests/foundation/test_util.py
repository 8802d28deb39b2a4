"""tornadish.util, checked against tornado.util where the two can be compared."""

from __future__ import annotations

import asyncio
import copy
import datetime
import errno
import gzip
import os.path
import pickle
import re
import sys
import warnings
import zlib

import pytest
import tornado.util as tutil
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish import util
from tornadish.util import (
    GzipDecompressor,
    ObjectDict,
    TimeoutError,
    errno_from_exception,
    import_object,
    raise_exc_info,
    re_unescape,
    timedelta_to_seconds,
)


def test_aliases() -> None:
    assert TimeoutError is asyncio.TimeoutError is tutil.TimeoutError
    assert util.unicode_type is str and util.basestring_type is str
    assert util.bytes_type is bytes


# -- ObjectDict ----------------------------------------------------------------------


def test_object_dict_access() -> None:
    d = ObjectDict(a=1)
    d.b = 2
    assert d.a == 1 and d["b"] == 2
    assert d == {"a": 1, "b": 2}
    assert isinstance(d, dict)
    with pytest.raises(AttributeError):
        _ = d.missing
    assert not hasattr(d, "missing")
    assert getattr(d, "missing", "default") == "default"


def test_object_dict_copy_and_pickle() -> None:
    d = ObjectDict(a=[1])
    c = copy.copy(d)
    assert type(c) is ObjectDict and c == d
    deep = copy.deepcopy(d)
    assert deep == d and deep.a is not d.a
    restored = pickle.loads(pickle.dumps(d))
    assert type(restored) is ObjectDict and restored.a == [1]


# -- import_object -------------------------------------------------------------------


def test_import_object() -> None:
    assert import_object("os.path") is os.path
    assert import_object("os.path.join") is os.path.join
    assert import_object("os") is os
    # A submodule nobody has imported yet is found too.
    sys.modules.pop("json.tool", None)
    assert import_object("json.tool").__name__ == "json.tool"


@pytest.mark.parametrize("name", ["os.missing", "os.path.missing", "tornado.missing_sub"])
def test_import_object_missing_attribute(name: str) -> None:
    with pytest.raises(ImportError) as ours:
        import_object(name)
    with pytest.raises(ImportError) as theirs:
        tutil.import_object(name)
    assert str(ours.value) == str(theirs.value)


def test_import_object_missing_module() -> None:
    with pytest.raises(ModuleNotFoundError):
        import_object("no_such_module_xyz")
    with pytest.raises(ModuleNotFoundError):
        import_object("no_such_module_xyz.attr")


# -- errno_from_exception ------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EPIPE, "Broken pipe"),
        OSError(),
        Exception(7),
        Exception(),
        Exception("a", "b"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
    ],
)
def test_errno_from_exception(exc: BaseException) -> None:
    assert errno_from_exception(exc) == tutil.errno_from_exception(exc)


def test_errno_from_exception_values() -> None:
    assert errno_from_exception(OSError(errno.EPIPE, "x")) == errno.EPIPE
    assert errno_from_exception(Exception()) is None


# -- re_unescape ---------------------------------------------------------------------


def test_re_unescape() -> None:
    assert re_unescape(r"/a\.b\-c\(\)") == "/a.b-c()"
    assert re_unescape("a\\\\b") == "a\\b"
    assert re_unescape("a\\\nb") == "a\nb"
    for bad in (r"\d", r"\1", r"\w"):
        with pytest.raises(ValueError, match="cannot unescape"):
            re_unescape(bad)


@given(st.text())
def test_re_unescape_inverts_re_escape(s: str) -> None:
    # re.escape never escapes letters or digits, so this always works.
    assert re_unescape(re.escape(s)) == s


@given(st.text(alphabet="\\ab1.-\né"))
def test_re_unescape_matches_tornado(s: str) -> None:
    try:
        expected = tutil.re_unescape(s)
    except ValueError:
        with pytest.raises(ValueError):
            re_unescape(s)
    else:
        assert re_unescape(s) == expected


# -- small helpers -------------------------------------------------------------------


def test_timedelta_to_seconds() -> None:
    td = datetime.timedelta(days=1, microseconds=5)
    assert timedelta_to_seconds(td) == 86400.000005 == tutil.timedelta_to_seconds(td)


def test_raise_exc_info() -> None:
    try:
        raise KeyError("boom")
    except KeyError:
        info = sys.exc_info()
    with pytest.raises(KeyError, match="boom") as caught:
        raise_exc_info(info)
    assert caught.value.__traceback__ is not None


# -- GzipDecompressor ----------------------------------------------------------------

_A = gzip.compress(b"A" * 300)
_B = gzip.compress(b"B" * 10)


def _drain(dec: object, chunks: list[bytes], max_length: int) -> tuple[bytes, bool]:
    """Feed every chunk (and its tails) through, then flush: (output, whether it failed)."""
    out = b""
    try:
        for chunk in chunks:
            tail = chunk
            while tail:
                out += dec.decompress(tail, max_length)  # type: ignore[attr-defined]
                tail = dec.unconsumed_tail  # type: ignore[attr-defined]
        out += dec.flush()  # type: ignore[attr-defined]
    except zlib.error:
        return out, True
    return out, False


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([_A], b"A" * 300),
        ([_A + _B], b"A" * 300 + b"B" * 10),  # several members make one stream
        ([_A, _B], b"A" * 300 + b"B" * 10),
        ([], b""),
    ],
)
def test_gzip_decompressor_valid(chunks: list[bytes], expected: bytes) -> None:
    assert _drain(GzipDecompressor(), chunks, 100) == (expected, False)


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([_A[:10]], "truncated"),
        ([_A[:-1]], "truncated"),
        ([_A + _B[:1]], "truncated"),
        ([_A + b"\x00\x00"], "expected a gzip member"),
        ([_A + b"x"], "expected a gzip member"),
        ([b"not gzip"], "expected a gzip member"),
    ],
)
def test_gzip_decompressor_invalid(chunks: list[bytes], message: str) -> None:
    with pytest.raises(zlib.error, match=message):
        dec = GzipDecompressor()
        for chunk in chunks:
            tail = chunk
            while tail:
                dec.decompress(tail, 100)
                tail = dec.unconsumed_tail
        dec.flush()


def test_gzip_decompressor_max_length_and_tail() -> None:
    dec = GzipDecompressor()
    assert dec.decompress(_A, 10) == b"A" * 10
    assert dec.unconsumed_tail
    with pytest.raises(ValueError, match="unconsumed_tail"):
        dec.flush()
    # A member boundary hands the next member back as the tail.
    dec = GzipDecompressor()
    assert dec.decompress(_A + _B, 1000) == b"A" * 300
    assert dec.unconsumed_tail == _B


def test_gzip_decompressor_unbounded_is_deprecated() -> None:
    dec = GzipDecompressor()
    with pytest.warns(DeprecationWarning):
        assert dec.decompress(_A + _B) == b"A" * 300 + b"B" * 10
    assert dec.unconsumed_tail == b""
    assert dec.flush() == b""


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=200), min_size=1, max_size=3),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=1, max_value=64),
    st.sampled_from([b"", b"x", b"\x1f", b"\x1f\x8b"]),
    st.integers(min_value=0, max_value=5),
)
def test_gzip_decompressor_matches_tornado(
    payloads: list[bytes], cut: int, max_length: int, trailer: bytes, step_seed: int
) -> None:
    stream = b"".join(gzip.compress(p) for p in payloads) + trailer
    stream = stream[: max(cut, len(stream) - cut)]  # sometimes cut off, mostly whole
    step = 7 + step_seed * 13
    chunks = [stream[i : i + step] for i in range(0, len(stream), step)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ours = _drain(GzipDecompressor(), chunks, max_length)
        theirs = _drain(tutil.GzipDecompressor(), chunks, max_length)
    assert ours == theirs
