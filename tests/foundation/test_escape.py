"""tornadish.escape: fixed cases, round-trip properties, and agreement with tornado.escape."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tornado.escape as tesc
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish import escape
from tornadish.escape import (
    json_decode,
    json_encode,
    linkify,
    native_str,
    parse_qs_bytes,
    recursive_unicode,
    squeeze,
    to_basestring,
    to_unicode,
    url_escape,
    url_unescape,
    utf8,
    xhtml_escape,
    xhtml_unescape,
)

# -- str / bytes ---------------------------------------------------------------------


def test_utf8() -> None:
    assert utf8("café") == b"caf\xc3\xa9"
    assert utf8(b"\xff") == b"\xff"
    assert utf8(None) is None
    for bad in (1, 1.5, bytearray(b"x"), ["x"]):
        with pytest.raises(TypeError, match="Expected bytes, unicode, or None"):
            utf8(bad)  # type: ignore[call-overload]


def test_to_unicode_and_aliases() -> None:
    assert to_unicode(b"caf\xc3\xa9") == "café"
    assert to_unicode("x") == "x"
    assert to_unicode(None) is None
    assert native_str is to_unicode and to_basestring is to_unicode
    with pytest.raises(TypeError):
        to_unicode(3)  # type: ignore[call-overload]
    with pytest.raises(UnicodeDecodeError):
        to_unicode(b"\xff")


def test_recursive_unicode() -> None:
    value = {b"a": [b"b", (b"c", 1)], "x": b"\xc3\xa9", b"n": None}
    assert recursive_unicode(value) == {"a": ["b", ("c", 1)], "x": "é", "n": None}
    assert recursive_unicode(value) == tesc.recursive_unicode(value)
    assert isinstance(recursive_unicode((b"a",)), tuple)


# -- HTML ----------------------------------------------------------------------------


def test_xhtml_escape_exact() -> None:
    # Tornado 6 writes the single quote as &#x27; (not &#39;).
    assert xhtml_escape("<>&\"'") == "&lt;&gt;&amp;&quot;&#x27;"
    assert xhtml_escape(b"<a>") == "&lt;a&gt;"
    assert xhtml_escape("plain é") == "plain é"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("&amp;&lt;&gt;&quot;&#39;&#x27;&apos;", "&<>\"'''"),
        ("&#65;&#x41;&#X41;", "AAA"),
        ("&eacute;&copy;&nbsp;", "é©\xa0"),
        ("&foo; &#xZZ; &#;", "&foo; &#xZZ; &#;"),  # unknown entities stay
        ("&amp &nbsp", "& \xa0"),  # HTML5: some names work without ';'
        ("&#0;&#x110000;", "\ufffd\ufffd"),
        ("no entities", "no entities"),
    ],
)
def test_xhtml_unescape(text: str, expected: str) -> None:
    assert xhtml_unescape(text) == expected
    assert xhtml_unescape(text.encode()) == expected
    assert tesc.xhtml_unescape(text) == expected


@given(st.text())
def test_xhtml_roundtrip(s: str) -> None:
    assert xhtml_unescape(xhtml_escape(s)) == s


@given(st.text())
def test_xhtml_matches_tornado(s: str) -> None:
    assert xhtml_escape(s) == tesc.xhtml_escape(s)
    assert xhtml_unescape(s) == tesc.xhtml_unescape(s)


@given(st.text(alphabet="&#;xX0123456789abcdefgAmpltNBSP "))
def test_xhtml_unescape_entity_soup_matches_tornado(s: str) -> None:
    assert xhtml_unescape(s) == tesc.xhtml_unescape(s)


# -- URLs ----------------------------------------------------------------------------


def test_url_escape() -> None:
    assert url_escape("a b/c+d?é") == "a+b%2Fc%2Bd%3F%C3%A9"
    assert url_escape("a b/c", plus=False) == "a%20b/c"
    assert url_escape(b"a b~") == "a+b~"
    assert url_escape("~-_.!*()'") == "~-_.%21%2A%28%29%27"


def test_url_unescape() -> None:
    assert url_unescape("a+b%20c") == "a b c"
    assert url_unescape("a+b%20c", plus=False) == "a+b c"
    assert url_unescape(b"a+b%C3%A9") == "a bé"
    assert url_unescape("%E9", encoding="latin-1") == "é"
    assert url_unescape("%E9") == "\ufffd"  # invalid UTF-8 is replaced, not an error
    assert url_unescape("%zz%") == "%zz%"


def test_url_unescape_to_bytes() -> None:
    assert url_unescape("a+b%20c%E9", encoding=None) == b"a b c\xe9"
    assert url_unescape("a+b", encoding=None, plus=False) == b"a+b"
    assert url_unescape(b"\xff+", encoding=None, plus=False) == b"\xff+"
    assert url_unescape("é", encoding=None) == b"\xc3\xa9"


@given(st.text(), st.booleans())
def test_url_roundtrip(s: str, plus: bool) -> None:
    escaped = url_escape(s, plus=plus)
    assert url_unescape(escaped, plus=plus) == s
    assert url_unescape(escaped, encoding=None, plus=plus) == s.encode("utf-8")


@given(st.text(alphabet="ab %+/=?&é2FfE9C3A"), st.booleans())
def test_url_matches_tornado(s: str, plus: bool) -> None:
    assert url_escape(s, plus=plus) == tesc.url_escape(s, plus=plus)
    assert url_unescape(s, plus=plus) == tesc.url_unescape(s, plus=plus)
    assert url_unescape(s, encoding=None, plus=plus) == tesc.url_unescape(
        s, encoding=None, plus=plus
    )
    assert url_unescape(s, encoding="latin-1", plus=plus) == tesc.url_unescape(
        s, encoding="latin-1", plus=plus
    )


def test_parse_qs_bytes() -> None:
    assert parse_qs_bytes("a=1&b=&c=%E9&a=2") == {"a": [b"1", b"2"], "c": [b"\xe9"]}
    assert parse_qs_bytes(b"a=1&b=&c", keep_blank_values=True) == {
        "a": [b"1"],
        "b": [b""],
        "c": [b""],
    }
    # Names are latin-1 text, values raw bytes.
    assert parse_qs_bytes("%C3%A9=%C3%A9") == {"Ã©": [b"\xc3\xa9"]}
    assert parse_qs_bytes("a+b=c+d") == {"a b": [b"c d"]}
    with pytest.raises(ValueError):
        parse_qs_bytes("a", strict_parsing=True)
    with pytest.raises(ValueError, match="Max number of fields"):
        parse_qs_bytes("a=1&b=2", max_num_fields=1)


@given(st.text(alphabet="ab=&;+%3DC9é\xff"), st.booleans())
def test_parse_qs_bytes_matches_tornado(qs: str, blank: bool) -> None:
    assert parse_qs_bytes(qs, blank) == tesc.parse_qs_bytes(qs, blank)
    raw = qs.encode("latin-1")
    assert parse_qs_bytes(raw, blank) == tesc.parse_qs_bytes(raw, blank)


# -- JSON ----------------------------------------------------------------------------


def test_json_encode_is_script_safe() -> None:
    assert json_encode("</script>") == '"<\\/script>"'
    assert json_encode({"a": [1, "é"]}) == '{"a": [1, "\\u00e9"]}'
    assert json.loads(json_encode("</a></b>")) == "</a></b>"
    with pytest.raises(TypeError):
        json_encode(b"bytes are not JSON")


def test_json_decode() -> None:
    assert json_decode(b'{"a": 1}') == {"a": 1}
    assert json_decode('["\\u00e9"]') == ["é"]
    with pytest.raises(ValueError):
        json_decode("{")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_json)
def test_json_roundtrip_and_matches_tornado(x: Any) -> None:
    encoded = json_encode(x)
    assert json_decode(encoded) == x
    assert json_decode(encoded.encode()) == x
    assert encoded == tesc.json_encode(x)
    assert "</" not in encoded


# -- squeeze -------------------------------------------------------------------------


def test_squeeze() -> None:
    assert squeeze("  a  \t\n b  ") == "a b"
    assert squeeze("\x00a\x01\x1fb") == "a b"
    assert squeeze("a\xa0\xa0b") == "a\xa0\xa0b"  # only ASCII space/control collapse


@given(st.text(alphabet=" \t\n\x00\x1f\x7f\xa0\u2003ab"))
def test_squeeze_matches_tornado(s: str) -> None:
    assert squeeze(s) == tesc.squeeze(s)


# -- linkify -------------------------------------------------------------------------

LINKIFY_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "hello http://world.com/!",
        {},
        'hello <a href="http://world.com/">http://world.com/</a>!',
    ),
    (
        "hello http://world.com/with?param=true&stuff=yes",
        {"shorten": True},
        'hello <a href="http://world.com/with?param=true&amp;stuff=yes" '
        'title="http://world.com/with?param=true&amp;stuff=yes">http://world.com/with...</a>',
    ),
    (
        "http://url.com/w(aaa)...",
        {},
        '<a href="http://url.com/w(aaa)">http://url.com/w(aaa)</a>...',
    ),
    (
        "http://url.com/w(a(a)a)",
        {},
        '<a href="http://url.com/w">http://url.com/w</a>(a(a)a)',
    ),
    (
        "(http://example.com/foo)",
        {},
        '(<a href="http://example.com/foo">http://example.com/foo</a>)',
    ),
    ("www.example.com", {}, '<a href="http://www.example.com">www.example.com</a>'),
    ("www.example.com", {"require_protocol": True}, "www.example.com"),
    ("example.com", {}, "example.com"),
    ("javascript:alert(1)", {"permitted_protocols": ["javascript"]}, "javascript:alert(1)"),
    ("ftp://foo.com", {}, "ftp://foo.com"),
    (
        "ftp://foo.com",
        {"permitted_protocols": ["ftp"]},
        '<a href="ftp://foo.com">ftp://foo.com</a>',
    ),
    ("HTTP://A.COM", {}, "HTTP://A.COM"),  # scheme match is case-sensitive
    (
        "<b>http://a.com</b>",
        {},
        '&lt;b&gt;<a href="http://a.com">http://a.com</a>&lt;/b&gt;',
    ),
    (
        'http://a.com/"onmouseover="',
        {},
        '<a href="http://a.com/&quot;onmouseover">http://a.com/&quot;onmouseover</a>=&quot;',
    ),
    (
        "http://a.com",
        {"extra_params": 'rel="nofollow"'},
        '<a href="http://a.com" rel="nofollow">http://a.com</a>',
    ),
    (
        "http://a.com",
        {"extra_params": "  x  "},
        '<a href="http://a.com" x>http://a.com</a>',
    ),
    # Link texts over 30 characters are shortened, 30 are not.
    (
        "http://example.com/abcdefghijkl",
        {"shorten": True},
        '<a href="http://example.com/abcdefghijkl" title="http://example.com/abcdefghijkl">'
        "http://example.com/abcdefgh...</a>",
    ),
    (
        "http://example.com/abcdefghijk",
        {"shorten": True},
        '<a href="http://example.com/abcdefghijk">http://example.com/abcdefghijk</a>',
    ),
    (
        "http://" + "a" * 20 + "&" + "b" * 30,
        {"shorten": True},
        '<a href="http://aaaaaaaaaaaaaaaaaaaa&amp;bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" '
        'title="http://aaaaaaaaaaaaaaaaaaaa&amp;bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb">'
        "http://aaaaaaaaaaaaaaaaaaaa...</a>",
    ),
]


@pytest.mark.parametrize(("text", "kwargs", "expected"), LINKIFY_CASES)
def test_linkify(text: str, kwargs: dict[str, Any], expected: str) -> None:
    assert linkify(text, **kwargs) == expected
    assert tesc.linkify(text, **kwargs) == expected


def test_linkify_callable_extra_params() -> None:
    def params(url: str) -> str:
        return ' class="int" ' if url.startswith("http://a") else 'class="ext"'

    out = linkify("http://a.com www.b.com", extra_params=params)
    assert out == (
        '<a href="http://a.com" class="int">http://a.com</a> '
        '<a href="http://www.b.com" class="ext">www.b.com</a>'
    )
    # An empty callable result still gets its leading space, as in Tornado.
    assert linkify("http://a.com", extra_params=lambda u: "") == (
        '<a href="http://a.com" >http://a.com</a>'
    )


def test_linkify_bytes() -> None:
    assert linkify(b"http://a.com") == '<a href="http://a.com">http://a.com</a>'


_LINKIFY_KWARGS: list[dict[str, Any]] = [
    {},
    {"shorten": True},
    {"require_protocol": True},
    {"extra_params": 'rel="nofollow"'},
    {"permitted_protocols": ["http", "ftp", "mailto"]},
]
_URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "ftp://",
        "www.",
        "a.com",
        "/",
        "x",
        "verylongsegment",
        "?q=1",
        "&",
        "&amp;",
        "#",
        "(",
        ")",
        ".",
        ",",
        "!",
        " ",
        '"',
        "'",
        "<",
        ">",
        ":",
        ";",
        "é",
        "\n",
        "_",
        "-",
        "9",
        "mailto:",
    ]
)


@settings(max_examples=300)
@given(st.lists(_URL_PIECES, max_size=25).map("".join), st.sampled_from(_LINKIFY_KWARGS))
def test_linkify_matches_tornado(text: str, kwargs: dict[str, Any]) -> None:
    assert linkify(text, **kwargs) == tesc.linkify(text, **kwargs)


def test_all_names_exported() -> None:
    for name in escape.__all__:
        assert hasattr(tesc, name), name


# -- hostile input -------------------------------------------------------------------------


def test_json_decode_of_deep_nesting_is_a_value_error() -> None:
    """Bug: ``[[[[...`` raised RecursionError, which handlers catching ValueError (the
    documented failure) turned into a 500."""
    with pytest.raises(ValueError):
        escape.json_decode(b"[" * 200_000)


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON_VALUES)
def test_json_encode_is_json_dumps_with_slashes_escaped(value: Any) -> None:
    # The C encoder is called directly; the text must be json.dumps' to the byte.
    assert json_encode(value) == json.dumps(value).replace("</", "<\\/")


def test_json_encode_refuses_what_json_dumps_refuses() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular reference"):
        json_encode(cyclic)
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_encode({"a": object()})
    assert json_encode("</script>") == '"<\\/script>"'
    assert json_encode((1, 2)) == "[1, 2]"
