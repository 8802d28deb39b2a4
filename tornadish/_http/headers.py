"""HTTPHeaders: the case-insensitive multi-dict Tornado applications know.

Keys are stored in Tornado's normalized form (``Content-Type``) so iteration shows the
names users expect; every lookup normalizes through a bounded cache, which makes the
common case (a handful of well-known names) a single dict hit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, overload

__all__ = ["HTTPHeaders", "normalize_header"]

_NORMALIZED: dict[str, str] = {}
_NORMALIZED_BYTES: dict[bytes, str] = {}
_CACHE_LIMIT = 1000


def normalize_header(name: str) -> str:
    """Return ``name`` in ``Title-Case-With-Dashes`` form.

    >>> normalize_header("content-TYPE")
    'Content-Type'
    """
    try:
        return _NORMALIZED[name]
    except KeyError:
        pass
    norm = "-".join(w.capitalize() for w in name.split("-"))
    if len(_NORMALIZED) < _CACHE_LIMIT:
        _NORMALIZED[name] = norm
    return norm


def _normalize_bytes(name: bytes) -> str:
    try:
        return _NORMALIZED_BYTES[name]
    except KeyError:
        pass
    norm = normalize_header(name.decode("latin-1"))
    if len(_NORMALIZED_BYTES) < _CACHE_LIMIT:
        _NORMALIZED_BYTES[name] = norm
    return norm


_NAME_BYTES: dict[str, bytes] = {}


def _name_bytes(name: str) -> bytes:
    # The inverse of _normalize_bytes, for the names a server sends again and again.
    try:
        return _NAME_BYTES[name]
    except KeyError:
        pass
    bname = name.encode("latin-1")
    if len(_NAME_BYTES) < _CACHE_LIMIT:
        _NAME_BYTES[name] = bname
    return bname


# RFC 9110 §5.1: a field name is a token.
_FIELD_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5, over latin-1 characters (one per byte): visible characters, obs-text,
# spaces and tabs; the value must not start or end with whitespace either.
_BAD_VALUE_CHARS_RE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
# Multipart part headers are UTF-8 text, so only the ASCII controls are refused there.
_CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A name's first few values are joined as they are added (cheap, and keeps `joined`
# fresh); past that, joining waits until the next read.
_EAGER_JOINS = 8
# Names add() has already checked, normalized; bounded like the caches above.
_VALID_NAMES: dict[str, str] = {}


def _checked_name(name: str) -> str:
    try:
        return _VALID_NAMES[name]
    except KeyError:
        pass
    if not _FIELD_NAME_RE.fullmatch(name):
        raise HTTPInputError(f"Invalid header name {name!r}")
    norm = normalize_header(name)
    if len(_VALID_NAMES) < _CACHE_LIMIT:
        _VALID_NAMES[name] = norm
    return norm


class HTTPHeaders(MutableMapping[str, str]):
    """A dictionary of HTTP headers that keeps every value of repeated names.

    ``headers["Set-Cookie"]`` gives the values joined by commas; ``get_list`` gives them
    one by one; ``add`` appends a value; ``headers[name] = v`` replaces all values.

    >>> h = HTTPHeaders({"content-type": "text/html"})
    >>> h.add("Set-Cookie", "A=B")
    >>> h.add("Set-Cookie", "C=D")
    >>> h["content-type"], h.get_list("set-cookie")
    ('text/html', ['A=B', 'C=D'])

    ``joined`` is the mapping behind ``headers[name]``: normalized name -> its values
    joined by commas. Read it (never write it) to look up a well-known name already in
    normalized form (``headers.joined.get("Content-Length")``) without normalizing —
    the request path does, several times per request.
    """

    # _as_list is the truth (name -> values, in order). _joined holds each name's values
    # joined by commas, except for the names in _stale, add()ed to since: joining on
    # every add would copy the whole value each time (quadratic in a repeated header,
    # CVE-2025-67725), so past _EAGER_JOINS values they are joined when next read.
    # _multi: some name may have had several values (then _joined alone cannot give
    # every pair); False is a promise that each list holds one value.
    __slots__ = ("_as_list", "_joined", "_multi", "_stale")

    @overload
    def __init__(self, __arg: Mapping[str, list[str]]) -> None: ...

    @overload
    def __init__(self, __arg: Mapping[str, str]) -> None: ...

    @overload
    def __init__(self, *args: tuple[str, str]) -> None: ...

    @overload
    def __init__(self, **kwargs: str) -> None: ...

    def __init__(self, *args: Any, **kwargs: str) -> None:
        self._joined: dict[str, str] = {}
        self._as_list: dict[str, list[str]] = {}
        self._stale: set[str] | None = None
        self._multi = False
        if len(args) == 1 and not kwargs and isinstance(args[0], HTTPHeaders):
            for k, v in args[0].get_all():
                self.add(k, v)
        elif args or kwargs:
            self.update(*args, **kwargs)

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> HTTPHeaders:
        """Headers from (lower-case name, value) byte pairs, as an engine's parser hands
        them over (names are normalized here, values decoded as latin-1). The engine
        has validated them: nothing is checked again."""
        self = cls.__new__(cls)
        d: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        repeated = False
        cached = _NORMALIZED_BYTES.get  # the common names: one dict hit, no call
        for bname, bvalue in raw:
            name = cached(bname) or _normalize_bytes(bname)
            value = bvalue.decode("latin-1")
            if name in d:
                lists[name].append(value)
                repeated = True
            else:
                d[name] = value
                lists[name] = [value]
        if repeated:
            # Joined once at the end: linear however often a name repeats.
            for name, values in lists.items():
                if len(values) > 1:
                    d[name] = ",".join(values)
        self._joined = d
        self._as_list = lists
        self._stale = None
        self._multi = repeated
        return self

    @classmethod
    def from_normalized(
        cls, values: dict[str, str], value_lists: dict[str, list[str]], single: bool = False
    ) -> HTTPHeaders:
        """Headers from names already in normalized form (not checked): ``values``
        maps each name to its value (repeated values joined by commas), ``value_lists``
        to the list of its values (``single``: one each). Both dicts become the new
        object's own. The fast path for the default headers every response starts
        with."""
        self = cls.__new__(cls)
        self._joined = values
        self._as_list = value_lists
        self._stale = None
        self._multi = not single
        return self

    @property
    def joined(self) -> dict[str, str]:
        """Normalized name -> its values joined by commas (see the class docstring)."""
        if self._stale is not None:
            self._rejoin()
        return self._joined

    def _rejoin(self) -> None:
        stale = self._stale
        if stale is not None:
            joined, lists = self._joined, self._as_list
            for name in stale:
                joined[name] = ",".join(lists[name])
            self._stale = None

    def _unstale(self, norm: str) -> None:
        # `norm` was just replaced or deleted: its joined value is current again.
        stale = self._stale
        if stale is not None:
            stale.discard(norm)
            if not stale:
                self._stale = None

    @property
    def _dict(self) -> dict[str, str]:
        # Tornado's name for the joined values; kept for code that reached for it.
        return self.joined

    def raw_items(self) -> list[tuple[bytes, bytes]]:
        """Every (name, value) pair as latin-1 bytes, names in normalized form: what a
        connection sends (one pair per value of a repeated header)."""
        cached = _NAME_BYTES.get  # the usual names: one dict hit, no call
        if not self._multi:  # one value per name: _joined has them all, in order
            return [
                (cached(n) or _name_bytes(n), v.encode("latin-1")) for n, v in self._joined.items()
            ]
        out = []
        for name, values in self._as_list.items():
            bname = cached(name) or _name_bytes(name)
            for value in values:
                out.append((bname, value.encode("latin-1")))
        return out

    # -- multi-value API ------------------------------------------------------------

    def add(self, name: str, value: str, *, _chars_are_bytes: bool = True) -> None:
        """Add a value for ``name``, keeping the ones already there.

        As in Tornado, :class:`HTTPInputError` refuses a name that is not an HTTP token
        and a value HTTP does not allow: control characters (tab aside), leading or
        trailing whitespace, characters beyond latin-1. (``_chars_are_bytes=False``,
        Tornado's switch for multipart part headers, which are UTF-8 text, refuses only
        the control characters.) ``headers[name] = value`` checks nothing.
        """
        norm = _checked_name(name)
        if _chars_are_bytes:
            # Plain printable ASCII, the usual value, needs no regex.
            if not (value.isascii() and value.isprintable()) and _BAD_VALUE_CHARS_RE.search(value):
                raise HTTPInputError(f"Invalid header value {value!r}")
            if value and (value[0] in " \t" or value[-1] in " \t"):
                raise HTTPInputError(f"Invalid header value {value!r}")
        elif not value.isprintable() and _CONTROL_CHARS_RE.search(value):
            raise HTTPInputError(f"Invalid header value {value!r}")
        values = self._as_list.get(norm)
        if values is None:
            self._as_list[norm] = [value]
            self._joined[norm] = value
        elif len(values) < _EAGER_JOINS:
            # A name not stale yet (it goes stale only with more values): join at once.
            self._multi = True
            values.append(value)
            self._joined[norm] = self._joined[norm] + "," + value
        else:
            values.append(value)
            stale = self._stale
            if stale is None:
                self._stale = {norm}
            else:
                stale.add(norm)

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name`` as a list (empty when absent)."""
        return list(self._as_list.get(normalize_header(name), ()))

    def get_all(self) -> Iterator[tuple[str, str]]:
        """Every (name, value) pair; a repeated header yields one pair per value."""
        for name, values in self._as_list.items():
            for value in values:
                yield (name, value)

    def parse_line(self, line: str, *, _chars_are_bytes: bool = True) -> None:
        """Add one ``Name: value`` line (a trailing CRLF or LF is ignored, and so is an
        empty line).

        Raises :class:`HTTPInputError` for a line without a colon, an invalid name or
        value (see :meth:`add`), or a line starting with whitespace: obsolete line
        folding (RFC 9112 §5.2) is refused, as in Tornado 6.6.
        """
        if line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        if not line:
            return
        if line[0] in " \t":
            raise HTTPInputError("header line cannot start with whitespace, folding not supported")
        name, sep, value = line.partition(":")
        if not sep:
            raise HTTPInputError("no colon in header line")
        self.add(name, value.strip(" \t"), _chars_are_bytes=_chars_are_bytes)

    @classmethod
    def parse(cls, headers: str, *, _chars_are_bytes: bool = True) -> HTTPHeaders:
        """Parse a header block (``Name: value`` lines, CRLF or LF separated) with the
        rules of :meth:`parse_line`.

        >>> h = HTTPHeaders.parse("Content-Type: text/html\\r\\nContent-Length: 42\\r\\n")
        >>> sorted(h.items())
        [('Content-Length', '42'), ('Content-Type', 'text/html')]
        """
        h = cls()
        lines = headers.split("\n")
        last = lines.pop()
        for line in lines:
            # Each of these ended with LF; a CR before it belongs to the line ending.
            h.parse_line(
                line[:-1] if line.endswith("\r") else line, _chars_are_bytes=_chars_are_bytes
            )
        # The last line had no LF: a CR left at its end is a bare CR, refused as such.
        h.parse_line(last, _chars_are_bytes=_chars_are_bytes)
        return h

    # -- MutableMapping -------------------------------------------------------------

    def __setitem__(self, name: str, value: str) -> None:
        norm = normalize_header(name)
        self._joined[norm] = value
        self._as_list[norm] = [value]
        if self._stale is not None:
            self._unstale(norm)

    def put(self, norm: str, value: str) -> None:
        """``headers[norm] = value`` for a name already in normalized form (the
        framework's own headers: no normalizing, no checks)."""
        self._joined[norm] = value
        self._as_list[norm] = [value]
        if self._stale is not None:
            self._unstale(norm)

    # The lookups below read the normalization cache inline: they run several times
    # per request.

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return (_NORMALIZED.get(name) or normalize_header(name)) in self._as_list

    def __getitem__(self, name: str) -> str:
        if self._stale is not None:
            self._rejoin()
        return self._joined[_NORMALIZED.get(name) or normalize_header(name)]

    def get(self, name: str, default: Any = None) -> Any:
        if self._stale is not None:
            self._rejoin()
        return self._joined.get(_NORMALIZED.get(name) or normalize_header(name), default)

    def __delitem__(self, name: str) -> None:
        norm = normalize_header(name)
        del self._as_list[norm]
        del self._joined[norm]
        if self._stale is not None:
            self._unstale(norm)

    def __len__(self) -> int:
        return len(self._as_list)

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_list)

    def copy(self) -> HTTPHeaders:
        """A deep enough copy: the value lists are not shared."""
        new = HTTPHeaders.__new__(HTTPHeaders)
        new._joined = dict(self.joined)
        new._as_list = {k: list(v) for k, v in self._as_list.items()}
        new._stale = None
        new._multi = self._multi
        return new

    __copy__ = copy

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HTTPHeaders):
            return self._as_list == other._as_list
        if isinstance(other, Mapping):
            return dict(self.items()) == {normalize_header(k): v for k, v in other.items()}
        return NotImplemented

    def __str__(self) -> str:
        # LF-terminated lines, as Tornado's (parse() reads them back).
        return "".join(f"{name}: {value}\n" for name, value in self.get_all())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.joined)!r})"

    __hash__ = None  # type: ignore[assignment]


class HTTPInputError(Exception):
    """Malformed input from the peer (a bad request line, header or body)."""


class HTTPOutputError(Exception):
    """The application tried to send something HTTP does not allow."""
