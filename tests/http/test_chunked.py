"""``tornadish._http.chunked.ChunkedReader`` on its own: RFC 9112 §7.1 exactly, whatever
the split into reads (the engines' sessions are checked in test_http1_session.py, and
over sockets in tests/server/test_strict_validation.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish._http.chunked import MAX_CHUNK_LINE, ChunkedReader
from tornadish._http.session import ProtocolError


def read(pieces: list[bytes], max_trailer: int = 4096) -> tuple[bytes, bytes | ProtocolError]:
    """The data read from ``pieces``, then the rest past the body or the refusal."""
    reader = ChunkedReader(max_trailer)
    data = b""
    for i, piece in enumerate(pieces):
        data += reader.feed(piece)
        if reader.error is not None:
            return data, reader.error
        if reader.done:
            return data, reader.rest + b"".join(pieces[i + 1 :])
    raise AssertionError(f"the body did not end: {data!r}")


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = zip([0, *points], [*points, len(data)], strict=True)
    return [data[a:b] for a, b in bounds if b > a]


@pytest.mark.parametrize(
    "line",
    [
        b"5",
        b"05",
        b"0" * 40 + b"5",
        b"5;a",
        b"5;a=b",
        b"5 ;a=b",
        b"5\t;a=b",
        b"5 \t ; \t a \t = \t b",
        b"5;a=b;c;d=e",
        b'5;a="b;c"',
        b'5;a=""',
        b'5;a="\\"\\\\"',
        b'5;a="\xff\t "',
        b"5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
        b"5;a=" + b"x" * (MAX_CHUNK_LINE - 4),
    ],
)
def test_chunk_lines_read(line: bytes) -> None:
    body = line + b"\r\nhello\r\n0\r\n\r\nNEXT"
    assert read([body]) == read([bytes([b]) for b in body]) == (b"hello", b"NEXT")


@pytest.mark.parametrize(
    ("line", "status", "words"),
    [
        (b"", 400, "invalid chunk size"),
        (b" 5", 400, "invalid chunk size"),
        (b"5 ", 400, "invalid chunk size"),
        (b"5\t", 400, "invalid chunk size"),
        (b"5 0", 400, "invalid chunk size"),
        (b"+5", 400, "invalid chunk size"),
        (b"-5", 400, "invalid chunk size"),
        (b"0x5", 400, "invalid chunk size"),
        (b"5\r", 400, "invalid chunk size"),  # CR CR LF
        (b"5;", 400, "invalid chunk extension"),
        (b"5;a=", 400, "invalid chunk extension"),
        (b"5;a=b ", 400, "invalid chunk extension"),
        (b"5;=b", 400, "invalid chunk extension"),
        (b"5;a b", 400, "invalid chunk extension"),
        (b"5;a@b", 400, "invalid chunk extension"),
        (b"5;a=b,c", 400, "invalid chunk extension"),
        (b'5;a="b', 400, "invalid chunk extension"),
        (b'5;a="b\\', 400, "invalid chunk extension"),
        (b'5;a="\x01"', 400, "invalid chunk extension"),
        (b"5;a=\x01", 400, "invalid chunk extension"),
        (b"5;a=\x7f", 400, "invalid chunk extension"),
        (b"5;a\rb", 400, "invalid chunk extension"),
        (b"8000000000000000", 400, "chunk size too large"),
        (b"10000000000000000", 400, "chunk size too large"),
        (b"f" * 40, 400, "chunk size too large"),
        (b"5;a=" + b"x" * (MAX_CHUNK_LINE - 3), 400, "chunk line too long"),
    ],
)
def test_chunk_lines_refused(line: bytes, status: int, words: str) -> None:
    for pieces in ([line + b"\r\nhello\r\n0\r\n\r\n"], [bytes([b]) for b in line + b"\r\n"]):
        _, error = read(pieces)
        assert isinstance(error, ProtocolError)
        assert (error.status, error.message) == (status, words)


def test_the_largest_size_is_read() -> None:
    reader = ChunkedReader(4096)
    assert reader.feed(b"7fffffffffffffff\r\nabc") == b"abc"
    assert reader.error is None and not reader.done


@pytest.mark.parametrize(
    "body",
    [
        b"5\nhello\r\n0\r\n\r\n",  # a chunk line ending in LF
        b"5\r\nhello\n0\r\n\r\n",  # chunk-data ending in LF
        b"5\r\nhello\r0\r\n\r\n",  # ... in CR
        b"5\r\nhelloXX0\r\n\r\n",  # ... in nothing
        b"3\r\nhello\r\n0\r\n\r\n",  # data longer than its size
        b"5\r\nhello\r\n0\n\r\n",  # the last chunk's line ending in LF
        b"2;\nxx\r\n0\r\n\r\n",  # an LF inside an extension ("funky chunks")
    ],
)
def test_chunk_framing_takes_crlf_only(body: bytes) -> None:
    for pieces in ([body], [bytes([b]) for b in body]):
        _, error = read(pieces)
        assert isinstance(error, ProtocolError) and error.status == 400, pieces


@pytest.mark.parametrize(
    ("trailer", "outcome"),
    [
        (b"\r\n", None),
        (b"X: 1\r\n\r\n", None),
        (b"X:1\r\nY:  two words \r\n\r\n", None),
        (b"X: 1\n\n", None),  # a single LF, as in the head (RFC 9112 §2.2)
        (b"\n", None),
        (b"X: caf\xe9\r\n\r\n", None),
        (b"X 1\r\n\r\n", 400),
        (b"X : 1\r\n\r\n", 400),
        (b": 1\r\n\r\n", 400),
        (b"X: 1\r\n 2\r\n\r\n", 400),  # obs-fold
        (b"X: \x00\r\n\r\n", 400),
        (b"X: 1\r2\r\n\r\n", 400),
        (b"X: " + b"a" * 5000 + b"\r\n\r\n", 431),
    ],
)
def test_trailer_sections(trailer: bytes, outcome: int | None) -> None:
    body = b"3\r\nabc\r\n0\r\n" + trailer + b"NEXT"
    for pieces in ([body], [bytes([b]) for b in body]):
        data, rest = read(pieces)
        assert data == b"abc"
        if outcome is None:
            assert rest == b"NEXT"
        else:
            assert isinstance(rest, ProtocolError) and rest.status == outcome


def test_framing_may_not_outgrow_its_data() -> None:
    """Long extensions on one-byte chunks: refused once framing passes 16 KiB more than
    16 bytes a chunk and twice the data allow (as Go's net/http); the same extensions on
    chunks of real size are fine."""
    ext = b";a=" + b"x" * 4000
    data, error = read([(b"1" + ext + b"\r\nX\r\n") * 5 + b"0\r\n\r\n"])
    assert data == b"XXXX" and isinstance(error, ProtocolError) and error.status == 400
    big = b"a" * 4000
    data, rest = read([(b"fa0" + ext + b"\r\n" + big + b"\r\n") * 50 + b"0\r\n\r\n"])
    assert data == big * 50 and rest == b""
    # Plain one-byte chunks are framing five times their data: fine, however many.
    data, rest = read([b"1\r\nX\r\n" * 10000 + b"0\r\n\r\n"])
    assert data == b"X" * 10000 and rest == b""


def test_nothing_is_read_once_done_or_refused() -> None:
    reader = ChunkedReader(4096)
    assert reader.feed(b"0\r\n\r\nGET / HTTP/1.1\r\n") == b""
    assert reader.done and reader.rest == b"GET / HTTP/1.1\r\n"
    reader = ChunkedReader(4096)
    assert reader.feed(b"2\r\nab\r\nzz\r\n") == b"ab"
    assert reader.error is not None and not reader.done
    assert reader.feed(b"2\r\nab\r\n0\r\n\r\n") == b""


def test_a_read_of_data_alone_is_not_copied() -> None:
    reader = ChunkedReader(4096)
    reader.feed(b"10000\r\n")
    piece = b"x" * 4096
    assert reader.feed(piece) is piece


ext_st = st.lists(
    st.tuples(
        st.sampled_from([b"", b" ", b"\t", b" \t "]),
        st.sampled_from([b"", b" "]),
        st.sampled_from([b"a", b"long-name", b"!#$%&'*+-.^_`|~"]),
        st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from([b"", b" "]),
                st.sampled_from([b"", b"\t"]),
                st.sampled_from([b"v", b'""', b'"a;b=c \\" d"', b"tok-en"]),
            ),
        ),
    ),
    max_size=3,
)


@st.composite
def chunked_st(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A valid chunked body (any extensions, BWS, leading zeros, trailers) and its data."""
    parts = [*draw(st.lists(st.binary(min_size=1, max_size=30), max_size=4)), b""]
    wire = b""
    for part in parts:
        size = draw(st.sampled_from([b"%x", b"%X", b"000%x"])) % len(part)
        for bws1, bws2, name, value in draw(ext_st):
            size += bws1 + b";" + bws2 + name
            if value is not None:
                size += value[0] + b"=" + value[1] + value[2]
        wire += size + b"\r\n" + (part + b"\r\n" if part else b"")
    wire += draw(st.sampled_from([b"", b"T: 1\r\n", b"T: 1\nU:2\r\n"]))
    wire += draw(st.sampled_from([b"\r\n", b"\n"]))  # (a single LF, as in a head)
    return wire, b"".join(parts)


@settings(max_examples=200, deadline=None)
@given(chunked_st(), st.binary(max_size=20), st.lists(st.integers(0, 1 << 12), max_size=8))
def test_any_split_reads_the_same(body: tuple[bytes, bytes], after: bytes, cuts: list[int]) -> None:
    wire, data = body
    assert read([wire + after]) == (data, after)
    assert read(split(wire + after, cuts)) == (data, after)
