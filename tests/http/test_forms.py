"""tornadish._http.forms: multipart parts without a body, Tornado's part-header rules and
limits, and linear parameter parsing, checked against tornado.httputil."""

from __future__ import annotations

import time
from typing import Any

import pytest
import tornado.httputil as th
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish._http.forms import (
    HTTPFile,
    MultipartFormDataParser,
    ParseMultipartConfig,
    _parse_header,
    parse_multipart_form_data,
)
from tornadish._http.headers import HTTPInputError

DISPOSITION = b'Content-Disposition: form-data; name="%s"; filename="%s.txt"\r\n'


def _ours(body: bytes, chunk: int | None = None, **config: Any) -> Any:
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    if chunk is None:
        parse_multipart_form_data(b"1234", body, args, files, config=ParseMultipartConfig(**config))
    else:
        parser = MultipartFormDataParser(b"1234", args, files)
        for i in range(0, len(body), chunk):
            parser.feed(body[i : i + chunk])
        parser.close()
    return args, {k: [(f.filename, f.body) for f in v] for k, v in files.items()}


def _theirs(body: bytes) -> Any:
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[Any]] = {}
    th.parse_multipart_form_data(b"1234", body, args, files)
    return args, {k: [(f.filename, f.body) for f in v] for k, v in files.items()}


# -- a part whose header block ends at the next delimiter -----------------------------

BODILESS = [
    # RFC 2046: the CRLF ending the header block is also the one before the delimiter.
    b"--1234\r\n" + DISPOSITION % (b"f", b"ab") + b"\r\n--1234--",
    b"--1234\r\n" + DISPOSITION % (b"f", b"ab") + b"\r\n--1234--\r\n",
    # ... followed by an ordinary part, or by more of its kind.
    b"--1234\r\n"
    + DISPOSITION % (b"f", b"a")
    + b"\r\n--1234\r\n"
    + DISPOSITION % (b"f", b"b")
    + b"\r\nbody\r\n--1234--\r\n",
    b"--1234\r\n"
    + b"".join(DISPOSITION % (b"f", b"%d" % i) + b"\r\n--1234\r\n" for i in range(20))
    + b'Content-Disposition: form-data; name="a"\r\n\r\nv\r\n--1234--\r\n',
    # Data that only starts like a delimiter stays data.
    b"--1234\r\n" + DISPOSITION % (b"f", b"a") + b"\r\n--1234x\r\n--1234--\r\n",
    b"--1234\r\n" + DISPOSITION % (b"f", b"a") + b"\r\n--12\r\n--1234--\r\n",
]


@pytest.mark.parametrize("body", BODILESS)
def test_part_without_a_body_as_tornado_reads_it(body: bytes) -> None:
    expected = _theirs(body)
    assert _ours(body) == expected
    for chunk in (1, 2, 3, 5, 8, 64):
        assert _ours(body, chunk) == expected, chunk


def test_tornado_test_multipart_config_case() -> None:
    body = b"--1234\r\n" + DISPOSITION % (b"files", b"ab") + b"\r\n--1234--"
    assert _ours(body) == ({}, {"files": [("ab.txt", b"")]})


def test_many_bodiless_parts_in_one_large_chunk() -> None:
    # Each restart re-reads at most a window of the chunk, not all the rest of it.
    filler = b'Content-Disposition: form-data; name="big"\r\n\r\n' + b"x" * 300_000
    body = (
        b"--1234\r\n"
        + b"".join(DISPOSITION % (b"f", b"%d" % i) + b"\r\n--1234\r\n" for i in range(40))
        + filler
        + b"\r\n--1234\r\n"
        + DISPOSITION % (b"g", b"z")
        + b"\r\n--1234--\r\n"
    )
    expected = _theirs(body)
    assert _ours(body) == expected
    assert len(expected[1]["f"]) == 40 and expected[0]["big"] == [b"x" * 300_000]


def test_bodiless_parts_count_against_max_parts() -> None:
    body = (
        b"--1234\r\n"
        + b"".join(DISPOSITION % (b"f", b"%d" % i) + b"\r\n--1234\r\n" for i in range(5))
        + DISPOSITION % (b"f", b"last")
        + b"\r\n--1234--"
    )
    assert len(_ours(body, max_parts=7)[1]["f"]) == 6
    with pytest.raises(HTTPInputError, match="too many parts"):
        _ours(body, max_parts=6)


# -- a body that does not open with its delimiter --------------------------------------

OPENING = b'Content-Disposition: form-data; name="a"\r\n\r\n\xc3\xa1\r\n'
NO_OPENING_DELIMITER = [
    # Tornado reads the text before the first delimiter as a part (its own test
    # test_multipart_form sends such a body), here followed by a file part...
    OPENING + b"--1234\r\n" + DISPOSITION % (b"f", b"x") + b"\r\nfile\r\n--1234--\r\n",
    # ... or alone.
    OPENING + b"--1234--\r\n",
]


@pytest.mark.parametrize("body", NO_OPENING_DELIMITER)
def test_text_before_the_first_delimiter_is_a_part_as_in_tornado(body: bytes) -> None:
    expected = _theirs(body)
    assert expected[0] == {"a": ["\u00e1".encode()]}
    assert _ours(body) == expected
    for chunk in (1, 2, 3, 5, 64):
        assert _ours(body, chunk) == expected, chunk


@pytest.mark.parametrize(
    "opening",
    [b"a preamble\r\n", b"\r\n", b"-", b"--12\r\n"],
    ids=["text", "crlf", "dash", "short-delimiter"],
)
def test_an_opening_that_is_no_part_is_refused_as_in_tornado(opening: bytes) -> None:
    body = opening + b"--1234\r\n" + DISPOSITION % (b"f", b"x") + b"\r\nfile\r\n--1234--\r\n"
    with pytest.raises(th.HTTPInputError):
        _theirs(body)
    for chunk in (None, 1, 4):
        with pytest.raises(HTTPInputError):
            _ours(body, chunk)


def test_an_opening_part_counts_once_against_max_parts() -> None:
    # Tornado counts the pieces between delimiters; the opening is one of them.
    body = OPENING + b"".join(
        b"--1234\r\n" + DISPOSITION % (b"f", b"%d" % i) + b"\r\nv\r\n" for i in range(4)
    ) + b"--1234--\r\n"
    assert len(_ours(body, max_parts=5)[1]["f"]) == 4
    with pytest.raises(HTTPInputError, match="too many parts"):
        _ours(body, max_parts=4)
    config = th.ParseMultipartConfig(max_parts=5)
    th.parse_multipart_form_data(b"1234", body, {}, {}, config=config)
    with pytest.raises(th.HTTPInputError):
        th.parse_multipart_form_data(
            b"1234", body, {}, {}, config=th.ParseMultipartConfig(max_parts=4)
        )


# -- part headers: Tornado's rules ----------------------------------------------------


@pytest.mark.parametrize("filename", ["a\rb.txt", "a\0b.txt", "a\x08b.txt", "a\x1fb"])
def test_control_characters_in_a_part_header(filename: str) -> None:
    body = (
        b'--1234\r\nContent-Disposition: form-data; name="f"; filename="'
        + filename.encode()
        + b'"\r\n\r\nFoo\r\n--1234--\r\n'
    )
    with pytest.raises(HTTPInputError, match="Invalid header value"):
        _ours(body)
    with pytest.raises(th.HTTPInputError, match="Invalid header value"):
        _theirs(body)


@pytest.mark.parametrize("filename", ["测试.txt", "a\tb.txt", "é", "a\xa0b"])
def test_any_other_text_in_a_filename(filename: str) -> None:
    body = (
        b'--1234\r\nContent-Disposition: form-data; name="f"; filename="'
        + filename.encode()
        + b'"\r\n\r\nFoo\r\n--1234--\r\n'
    )
    assert _ours(body) == _theirs(body) == ({}, {"f": [(filename, b"Foo")]})


def test_part_header_limits_and_switch_in_tornados_words() -> None:
    body = b"--1234\r\n" + DISPOSITION % (b"f", b"ab") + b"\r\nv\r\n--1234--"
    with pytest.raises(HTTPInputError, match="too many parts"):
        _ours(body, max_parts=0)
    # One line longer than the whole block may be: the engine's limit, our words.
    with pytest.raises(HTTPInputError, match="header too large"):
        _ours(body, max_part_header_size=10)
    with pytest.raises(HTTPInputError, match="multipart/form-data parsing is disabled"):
        _ours(body, enabled=False)


# -- Content-Disposition parameters -----------------------------------------------------


def test_semicolons_in_a_quoted_parameter_cost_linear_time() -> None:
    def f(n: int) -> None:
        body = (
            b'--1234\r\nContent-Disposition: form-data; x="'
            + b";" * n
            + b'"; name="files"; filename="a.txt"\r\n\r\nFoo\r\n--1234--\r\n'
        )
        assert _ours(body)[1]["files"] == [("a.txt", b"Foo")]

    ratios = []
    for _ in range(3):
        t0 = time.perf_counter()
        f(1_000)
        t1 = time.perf_counter()
        f(10_000)
        t2 = time.perf_counter()
        ratio = (t2 - t1) / max(t1 - t0, 1e-6)
        if ratio < 25:
            return
        ratios.append(ratio)
    pytest.fail(f"not linear: ratios {ratios}")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="a=;\"\\ *'%", max_size=40))
def test_parameter_splitting_matches_tornado(line: str) -> None:
    assert _parse_header(line) == th._parse_header(line)
