"""Escaping and unescaping for HTML, URLs and JSON, plus the str/bytes helpers.

The names and results follow :mod:`tornado.escape` (Tornado 6), so templates and handlers
written against Tornado produce byte-for-byte the same output here. ``utf8`` and
``json_encode`` sit on the request path, so they stay as thin as the standard library
allows.
"""

from __future__ import annotations

import binascii
import html
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, overload

try:  # CPython's C encoder, made once per call instead of through json.dumps' layers
    from _json import encode_basestring_ascii as _c_encode_ascii
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - other interpreters
    _c_make_encoder = None  # type: ignore[misc,assignment]

__all__ = [
    "json_decode",
    "json_encode",
    "linkify",
    "native_str",
    "parse_qs_bytes",
    "recursive_unicode",
    "squeeze",
    "to_basestring",
    "to_unicode",
    "unicode_type",
    "url_escape",
    "url_unescape",
    "utf8",
    "xhtml_escape",
    "xhtml_unescape",
]

unicode_type = str
"""Alias of :class:`str`, kept for code written for Python 2 era Tornado."""


# -- str / bytes -----------------------------------------------------------------------


@overload
def utf8(value: bytes) -> bytes: ...


@overload
def utf8(value: str) -> bytes: ...


@overload
def utf8(value: None) -> None: ...


def utf8(value: str | bytes | None) -> bytes | None:
    """Encode ``value`` as UTF-8 bytes; bytes and ``None`` pass through unchanged.

    >>> utf8("café"), utf8(b"x"), utf8(None)
    (b'caf\\xc3\\xa9', b'x', None)

    Anything else raises :class:`TypeError`.
    """
    # str first: it is by far the most common argument on the response path.
    if isinstance(value, str):
        return value.encode("utf-8")
    if value is None or isinstance(value, bytes):
        return value
    raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")


@overload
def to_unicode(value: str) -> str: ...


@overload
def to_unicode(value: bytes) -> str: ...


@overload
def to_unicode(value: None) -> None: ...


def to_unicode(value: str | bytes | None) -> str | None:
    """Decode UTF-8 ``value`` to :class:`str`; str and ``None`` pass through unchanged.

    >>> to_unicode(b"caf\\xc3\\xa9")
    'café'

    Anything else raises :class:`TypeError`.
    """
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")


native_str = to_unicode
"""Same as :func:`to_unicode` (the native string type is :class:`str`)."""

to_basestring = to_unicode

_unicode = to_unicode
"""Tornado's private alias of :func:`to_unicode` (some Tornado code imports it)."""
"""Same as :func:`to_unicode`, kept for Tornado compatibility."""


def recursive_unicode(obj: Any) -> Any:
    """Decode every byte string inside nested dicts, lists and tuples.

    >>> recursive_unicode({b"k": [b"v", (b"w", 1)]})
    {'k': ['v', ('w', 1)]}
    """
    if isinstance(obj, dict):
        return {recursive_unicode(k): recursive_unicode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [recursive_unicode(i) for i in obj]
    if isinstance(obj, tuple):
        return tuple(recursive_unicode(i) for i in obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    return obj


# -- HTML ------------------------------------------------------------------------------


def xhtml_escape(value: str | bytes) -> str:
    """Escape ``&``, ``<``, ``>``, ``"`` and ``'`` for use in HTML text or attributes.

    >>> xhtml_escape("<a href='x'>Tom & \\"Jerry\\"</a>")
    '&lt;a href=&#x27;x&#x27;&gt;Tom &amp; &quot;Jerry&quot;&lt;/a&gt;'
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return html.escape(value, quote=True)


def xhtml_unescape(value: str | bytes) -> str:
    """Decode HTML entities: named (``&amp;``), decimal (``&#39;``) and hex (``&#x27;``).

    Follows the HTML5 rules, so ``&amp`` without its semicolon is decoded too and
    references to invalid code points become U+FFFD.

    >>> xhtml_unescape("&lt;b&gt; &#39;&#x41;&eacute;")
    "<b> 'Aé"
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return html.unescape(value)


# -- URLs ------------------------------------------------------------------------------


def url_escape(value: str | bytes, plus: bool = True) -> str:
    """Percent-encode ``value`` (str is encoded as UTF-8 first).

    With ``plus=True`` (the default, right for query strings) spaces become ``+`` and
    ``/`` is escaped; with ``plus=False`` (right for paths) spaces become ``%20`` and
    ``/`` is kept.

    >>> url_escape("a b/c"), url_escape("a b/c", plus=False)
    ('a+b%2Fc', 'a%20b/c')
    """
    if plus:
        return urllib.parse.quote_plus(utf8(value))
    return urllib.parse.quote(utf8(value))


@overload
def url_unescape(value: str | bytes, encoding: None, plus: bool = True) -> bytes: ...


@overload
def url_unescape(value: str | bytes, encoding: str = "utf-8", plus: bool = True) -> str: ...


def url_unescape(
    value: str | bytes, encoding: str | None = "utf-8", plus: bool = True
) -> str | bytes:
    """Decode a percent-encoded ``value``.

    The result is text decoded with ``encoding`` (invalid sequences become U+FFFD), or
    bytes when ``encoding`` is ``None``. With ``plus=True`` (the default) ``+`` means a
    space, as in query strings; literal pluses must then be written ``%2B``.

    >>> url_unescape("a+b%20c%C3%A9"), url_unescape("a+b", plus=False)
    ('a b cé', 'a+b')
    >>> url_unescape("%E9", encoding=None)
    b'\\xe9'
    """
    if encoding is None:
        if plus:
            text = value.decode("utf-8") if isinstance(value, bytes) else value
            return urllib.parse.unquote_to_bytes(text.replace("+", " "))
        return urllib.parse.unquote_to_bytes(value)
    # unquote() only accepts str; bytes are taken as UTF-8 (the wire form of URLs).
    text = value.decode("utf-8") if isinstance(value, bytes) else value
    if plus:
        return urllib.parse.unquote_plus(text, encoding=encoding)
    return urllib.parse.unquote(text, encoding=encoding)


_PERCENT_EQUALS_SWAP = bytes.maketrans(b"%=", b"=%")


def _unquote_to_bytes(data: bytes) -> bytes:
    """:func:`urllib.parse.unquote_to_bytes` for bytes, in a few C passes (as Tornado 6.6).

    The standard library allocates an object per ``%``; this swaps ``%`` and ``=`` so that
    :func:`binascii.a2b_qp` (quoted-printable) does the decoding, after neutralising the
    quoted-printable constructs that are not percent-escapes (``==``, soft line breaks, a
    trailing ``=``). Invalid escapes pass through unchanged, as with ``unquote_to_bytes``.

    >>> _unquote_to_bytes(b"a%20b%3d%25%zz=")
    b'a b=%%zz='
    """
    if b"%" not in data:
        return data
    data = data.translate(_PERCENT_EQUALS_SWAP)
    # Escapes of % or = (now =25 and =3D) would be swapped back: exchange them first,
    # with lowercase =3d as the placeholder once everything is normalised to =3D.
    data = (
        data.replace(b"=3d", b"=3D")
        .replace(b"=25", b"=3d")
        .replace(b"=3D", b"=25")
        .replace(b"=3d", b"=3D")
    )
    # a2b_qp reads "==" as "=": the first = of a pair is an invalid escape, so make it
    # explicit (twice: replace() misses pairs formed where two matches meet).
    data = data.replace(b"==", b"=3D=").replace(b"==", b"=3D=")
    # A = before a line break or at the end is a soft line break to a2b_qp.
    data = data.replace(b"=\n", b"=3D\n").replace(b"=\r", b"=3D\r")
    if data.endswith(b"="):
        data += b"3D"
    return binascii.a2b_qp(data).translate(_PERCENT_EQUALS_SWAP)


def parse_qs_bytes(
    qs: str | bytes,
    keep_blank_values: bool = False,
    strict_parsing: bool = False,
    *,
    max_num_fields: int | None = None,
) -> dict[str, list[bytes]]:
    """Parse a query string like :func:`urllib.parse.parse_qs`, keeping values as bytes.

    Names become :class:`str` decoded as latin-1 (so every byte maps to one character);
    values stay raw bytes so the caller can pick their encoding. ``max_num_fields``
    makes an over-long query raise :class:`ValueError`.

    >>> parse_qs_bytes("a=1&a=%C3%A9&b=", keep_blank_values=True)
    {'a': [b'1', b'\\xc3\\xa9'], 'b': [b'']}
    """
    text = qs.decode("latin-1") if isinstance(qs, bytes) else qs
    if not strict_parsing and max_num_fields is None and "%" not in text and "+" not in text:
        # Nothing to unquote (the usual ``?page=2&q=x``): split it here, exactly as
        # parse_qs would, without its per-field unquoting.
        out: dict[str, list[bytes]] = {}
        for field in text.split("&"):
            name, eq, value = field.partition("=")
            if (value or (eq and keep_blank_values)) or (not eq and field and keep_blank_values):
                if name in out:
                    out[name].append(value.encode("latin-1"))
                else:
                    out[name] = [value.encode("latin-1")]
        return out
    # parse_qsl's rules, with an unquote that costs no object per escape (as Tornado).
    data = qs.encode("latin-1") if isinstance(qs, str) else qs
    result: dict[str, list[bytes]] = {}
    if not data:
        return result
    if max_num_fields is not None and 1 + data.count(b"&") > max_num_fields:
        raise ValueError("Max number of fields exceeded")
    for raw in data.split(b"&"):
        if not raw and not strict_parsing:
            continue
        raw_name, has_eq, raw_value = raw.partition(b"=")
        if not has_eq and strict_parsing:
            raise ValueError(f"bad query field: {raw!r}")
        if raw_value or keep_blank_values:
            key = _unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("latin-1")
            result.setdefault(key, []).append(_unquote_to_bytes(raw_value.replace(b"+", b" ")))
    return result


# -- JSON ------------------------------------------------------------------------------


def json_encode(value: Any) -> str:
    """Serialize ``value`` to JSON that is safe to embed in an HTML ``<script>`` block.

    ``</`` is written ``<\\/`` (still valid JSON) so a string value cannot close the
    surrounding script element.

    >>> json_encode({"html": "</script>"})
    '{"html": "<\\\\/script>"}'
    """
    if _c_make_encoder is None or isinstance(value, str):
        return json.dumps(value).replace("</", "<\\/")
    # Exactly json.dumps(value) with its defaults (ASCII, ", " and ": ", circular
    # references and NaN checked as it does), less the Python layers it goes through.
    encode = _c_make_encoder(
        {}, _JSON_DEFAULT, _c_encode_ascii, None, ": ", ", ", False, False, True
    )
    return "".join(encode(value, 0)).replace("</", "<\\/")


# What json.dumps does with a value it cannot serialize: TypeError, its wording.
_JSON_DEFAULT = json.JSONEncoder().default


def json_decode(value: str | bytes) -> Any:
    """Parse a JSON document given as str or UTF-8 bytes.

    >>> json_decode(b'{"a": [1, 2]}')
    {'a': [1, 2]}

    Malformed input, including bytes that are not UTF-8 and nesting too deep to parse,
    raises :class:`ValueError`.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    try:
        return json.loads(value)
    except RecursionError:
        # "[[[[..." nested deeper than the interpreter's stack: bad input like any
        # other (a ValueError a handler turns into 400), not a crash.
        raise json.JSONDecodeError("JSON nested too deeply", value, 0) from None


# -- text ------------------------------------------------------------------------------

_CONTROL_AND_SPACE_RUN = re.compile(r"[\x00-\x20]+")


def squeeze(value: str) -> str:
    """Collapse runs of whitespace (and other ASCII control characters) to one space.

    >>> squeeze("  hello \\t\\n  world  ")
    'hello world'
    """
    return _CONTROL_AND_SPACE_RUN.sub(" ", value).strip()


# linkify works on already-escaped text, so the only entities a URL may contain are the
# ones xhtml_escape produces for characters that are legal in URLs: &amp; and &quot;.
_URL_CHAR = r"(?:[^\s&()]|&amp;|&quot;)"
_URL_RE = re.compile(
    rf"""
    \b
    (?P<url>
        (?: (?P<proto>[\w-]+) : (?P<slashes>/{{1,3}}) | www\. )
        (?:
            # a run that does not end on punctuation, so "see http://x.com." keeps the dot
            {_URL_CHAR}* [^!"#$%&'()*+,.:;<=>?@\[\]^`{{|}}~\s]
            # or a parenthesised run, as in Wikipedia links: .../Foo_(bar)
          | \( {_URL_CHAR}* \)
        )+
    )
    """,
    re.VERBOSE,
)
_SHORTEN_TO = 30


def linkify(
    text: str | bytes,
    shorten: bool = False,
    extra_params: str | Callable[[str], str] = "",
    require_protocol: bool = False,
    permitted_protocols: list[str] = ["http", "https"],  # noqa: B006 (Tornado's signature)
) -> str:
    """Escape ``text`` as HTML and turn the URLs in it into links.

    - ``shorten``: abbreviate long link texts (the full URL goes in ``title``).
    - ``extra_params``: attributes for every ``<a>`` (``'rel="nofollow"'``), or a callable
      taking the URL and returning them.
    - ``require_protocol``: only link URLs with a scheme (``www.x.com`` stays text).
    - ``permitted_protocols``: schemes that may be linked; others are left as text, which
      keeps ``javascript:`` and friends out.

    >>> linkify("see http://example.com/a?b=1&c=2.")
    'see <a href="http://example.com/a?b=1&amp;c=2">http://example.com/a?b=1&amp;c=2</a>.'
    >>> linkify("www.example.com", extra_params='rel="nofollow"')
    '<a href="http://www.example.com" rel="nofollow">www.example.com</a>'
    """
    if extra_params and not callable(extra_params):
        extra_params = " " + extra_params.strip()

    def make_link(m: re.Match[str]) -> str:
        url = m.group("url")
        proto = m.group("proto")
        if require_protocol and not proto:
            return url
        if proto and proto not in permitted_protocols:
            return url

        href = url if proto else "http://" + url
        params = " " + extra_params(href).strip() if callable(extra_params) else extra_params

        if shorten and len(url) > _SHORTEN_TO:
            full = url
            prefix_len = len(proto) + 1 + len(m.group("slashes")) if proto else 0
            pieces = url[prefix_len:].split("/")
            if len(pieces) > 1:
                # Keep the host and a hint of the first path segment (at most 8 chars,
                # cut before any query or extension).
                first = pieces[1][:8].split("?")[0].split(".")[0]
                url = url[:prefix_len] + pieces[0] + "/" + first
            if len(url) > _SHORTEN_TO * 1.5:
                url = url[:_SHORTEN_TO]
            if url != full:
                # Do not leave half an entity (&am...) dangling at the end.
                amp = url.rfind("&")
                if amp > _SHORTEN_TO - 5:
                    url = url[:amp]
                url += "..."
                if len(url) >= len(full):
                    url = full
                else:
                    params += f' title="{href}"'

        return f'<a href="{href}"{params}>{url}</a>'

    return _URL_RE.sub(make_link, xhtml_escape(text))
