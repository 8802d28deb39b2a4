"""tornadish._http.headers.HTTPHeaders: Tornado's validation in add() and parse(), and
linear cost for a repeated header however it arrives (add, parse, an engine's pairs)."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable

import pytest
import tornado.httputil as th
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish._http.headers import HTTPHeaders, HTTPInputError

# -- add(): names and values Tornado refuses ------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "foo bar", "foo\tbar", "foo\nbar", "foo\x00bar", "foo ", " foo", "é", "a:b"]
)
def test_add_refuses_a_name_that_is_not_a_token(name: str) -> None:
    with pytest.raises(HTTPInputError, match="Invalid header name"):
        HTTPHeaders().add(name, "v")
    with pytest.raises(th.HTTPInputError):
        th.HTTPHeaders().add(name, "v")


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\x00b", "a\x7fb", " a", "a ", "a\t", "€"])
def test_add_refuses_a_value_tornado_refuses(value: str) -> None:
    with pytest.raises(HTTPInputError, match="Invalid header value"):
        HTTPHeaders().add("X", value)
    with pytest.raises(th.HTTPInputError):
        th.HTTPHeaders().add("X", value)


@pytest.mark.parametrize("value", ["", "a", "a b\tc", "é\xa0ÿ", "!~", "x" * 1000])
def test_add_accepts_what_tornado_accepts(value: str) -> None:
    h = HTTPHeaders()
    h.add("X-Ok", value)
    assert h["x-ok"] == value
    th.HTTPHeaders().add("X-Ok", value)


def test_multipart_style_values_may_be_any_text_but_controls() -> None:
    h = HTTPHeaders()
    h.add("Content-Disposition", 'form-data; filename="测试.txt"', _chars_are_bytes=False)
    assert "测试" in h["Content-Disposition"]
    with pytest.raises(HTTPInputError):
        h.add("X", "a\x08b", _chars_are_bytes=False)


def test_setitem_checks_nothing_as_in_tornado() -> None:
    h = HTTPHeaders()
    h["X"] = " spaced "
    assert h["X"] == " spaced "


# -- parse() ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", range(256))
def test_parse_refuses_the_characters_tornado_refuses(code: int) -> None:
    text = f"Foo: bar{chr(code)}baz\r\n"
    try:
        theirs: dict[str, str] | None = dict(th.HTTPHeaders.parse(text))
    except th.HTTPInputError:
        theirs = None
    if theirs is None:
        with pytest.raises(HTTPInputError):
            HTTPHeaders.parse(text)
    else:
        assert dict(HTTPHeaders.parse(text)) == theirs


@pytest.mark.parametrize(
    "text",
    [
        "A: b\r\n\r\nC: d\r\n",  # an empty line in the middle is skipped
        "A: b\nC: d",  # LF only, no final line ending
        "A:b\r\n",
        "A: \tb \t\r\n",
        "",
    ],
)
def test_parse_line_endings_like_tornado(text: str) -> None:
    ours = list(HTTPHeaders.parse(text).get_all())
    assert ours == list(th.HTTPHeaders.parse(text).get_all())


@pytest.mark.parametrize("text", ["A: b\r", "A: b\rC: d\r\n", "A : b\r\n", "A\r\n"])
def test_parse_errors_like_tornado(text: str) -> None:
    with pytest.raises(HTTPInputError):
        HTTPHeaders.parse(text)
    with pytest.raises(th.HTTPInputError):
        th.HTTPHeaders.parse(text)


def test_parse_line_ignores_its_line_ending_and_empty_lines() -> None:
    h = HTTPHeaders()
    h.parse_line("A: b\r\n")
    h.parse_line("C: d\n")
    h.parse_line("")
    h.parse_line("\r\n")
    assert list(h.get_all()) == [("A", "b"), ("C", "d")]


def test_str_is_lf_terminated_and_parses_back() -> None:
    h = HTTPHeaders()
    h.add("Set-Cookie", "a=1")
    h.add("Set-Cookie", "b=2")
    h.add("X", "")
    assert str(h) == "Set-Cookie: a=1\nSet-Cookie: b=2\nX: \n"
    assert HTTPHeaders.parse(str(h)) == h
    assert HTTPHeaders.parse(str(h).replace("\n", "\r\n")) == h


# -- a repeated header: joined lazily, and right ----------------------------------------

_names = st.sampled_from(["A", "a", "B", "Set-Cookie"])
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _names, st.sampled_from(["1", "2", ""])),
        st.tuples(st.just("set"), _names, st.sampled_from(["s"])),
        st.tuples(st.just("del"), _names, st.just("")),
        st.tuples(st.just("read"), _names, st.just("")),
        st.tuples(st.just("copy"), _names, st.just("")),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.just("add"), _names, st.just("v")), min_size=9, max_size=30), _ops)
def test_joined_values_follow_every_change(
    warmup: list[tuple[str, str, str]], ops: list[tuple[str, str, str]]
) -> None:
    # The warm-up pushes some names past the values joined eagerly.
    h = HTTPHeaders()
    model: dict[str, list[str]] = {}
    for op, name, value in warmup + ops:
        key = name.title()
        if op == "add":
            h.add(name, value)
            model.setdefault(key, []).append(value)
        elif op == "set":
            h[name] = value
            model[key] = [value]
        elif op == "del":
            if key in model:
                del h[name]
                del model[key]
        elif op == "copy":
            h = h.copy()
        else:
            assert h.get(name) == (",".join(model[key]) if key in model else None)
        expected = {k: ",".join(v) for k, v in model.items()}
        assert h.joined == expected
        assert dict(h) == expected and len(h) == len(model)
        assert {k: h.get_list(k) for k in h} == model
    assert pickle.loads(pickle.dumps(h)) == h


def _assert_linear(f: Callable[[int], object], n: int, what: str) -> None:
    # Ten times the input must cost about ten times as much (a quadratic cost: a
    # hundred). Three attempts, so a busy machine does not fail it by chance.
    ratios = []
    for _ in range(3):
        t0 = time.perf_counter()
        f(n)
        t1 = time.perf_counter()
        f(10 * n)
        t2 = time.perf_counter()
        ratio = (t2 - t1) / max(t1 - t0, 1e-6)
        if ratio < 25:
            return
        ratios.append(ratio)
    pytest.fail(f"{what} is not linear: ratios {ratios}")


def test_add_of_a_repeated_header_is_linear() -> None:
    def f(n: int) -> None:
        h = HTTPHeaders()
        for _ in range(n):
            h.add("X-Foo", "bar")
        assert len(h["X-Foo"]) == 4 * n - 1

    _assert_linear(f, 10_000, "HTTPHeaders.add()")


def test_parse_of_a_repeated_header_is_linear() -> None:
    _assert_linear(lambda n: HTTPHeaders.parse("X: a\r\n" * n), 10_000, "HTTPHeaders.parse()")


def test_from_raw_with_a_repeated_header_is_linear_and_joins_once() -> None:
    h = HTTPHeaders.from_raw([(b"x", b"a"), (b"host", b"h"), (b"x", b"b")])
    assert h.joined == {"X": "a,b", "Host": "h"} and h.get_list("x") == ["a", "b"]
    _assert_linear(
        lambda n: HTTPHeaders.from_raw([(b"x", b"a")] * n), 20_000, "HTTPHeaders.from_raw()"
    )


def test_raw_items_has_every_value_in_order_however_the_headers_were_built() -> None:
    # raw_items reads the joined values while every name has one value, the lists
    # once one has had several: both must give the same pairs.
    h = HTTPHeaders()
    h["Server"] = "x"
    h.add("Set-Cookie", "a=1")
    assert h.raw_items() == [(b"Server", b"x"), (b"Set-Cookie", b"a=1")]
    h.add("Set-Cookie", "b=2")
    h["Date"] = "now"
    assert h.raw_items() == [
        (b"Server", b"x"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"Date", b"now"),
    ]
    h["Set-Cookie"] = "c=3"  # one value again
    assert h.raw_items() == [(b"Server", b"x"), (b"Set-Cookie", b"c=3"), (b"Date", b"now")]
    for _ in range(40):  # past the eager joins: the joined value goes stale
        h.add("Vary", "Accept")
    assert h.raw_items()[-40:] == [(b"Vary", b"Accept")] * 40
    raw = HTTPHeaders.from_raw([(b"a", b"1"), (b"b", b"2"), (b"a", b"3")])
    assert raw.raw_items() == [(b"A", b"1"), (b"A", b"3"), (b"B", b"2")]
    assert raw.copy().raw_items() == raw.raw_items()
    single = HTTPHeaders.from_raw([(b"a", b"1"), (b"b", b"2")])
    assert single.raw_items() == [(b"A", b"1"), (b"B", b"2")]
    assert single.copy().raw_items() == single.raw_items()
