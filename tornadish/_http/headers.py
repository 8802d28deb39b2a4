"""HTTPHeaders: the case-insensitive multi-dict Tornado applications know.

Keys are stored in Tornado's normalized form (``Content-Type``) so iteration shows the
names users expect; every lookup normalizes through a bounded cache, which makes the
common case (a handful of well-known names) a single dict hit.
"""

from __future__ import annotations

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

    __slots__ = ("_as_list", "joined")

    @overload
    def __init__(self, __arg: Mapping[str, list[str]]) -> None: ...

    @overload
    def __init__(self, __arg: Mapping[str, str]) -> None: ...

    @overload
    def __init__(self, *args: tuple[str, str]) -> None: ...

    @overload
    def __init__(self, **kwargs: str) -> None: ...

    def __init__(self, *args: Any, **kwargs: str) -> None:
        self.joined: dict[str, str] = {}
        self._as_list: dict[str, list[str]] = {}
        if len(args) == 1 and not kwargs and isinstance(args[0], HTTPHeaders):
            for k, v in args[0].get_all():
                self.add(k, v)
        elif args or kwargs:
            self.update(*args, **kwargs)

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> HTTPHeaders:
        """Headers from (lower-case name, value) byte pairs, as an engine's parser hands
        them over (names are normalized here, values decoded as latin-1)."""
        self = cls.__new__(cls)
        d: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        for bname, bvalue in raw:
            name = _normalize_bytes(bname)
            value = bvalue.decode("latin-1")
            existing = lists.get(name)
            if existing is None:
                lists[name] = [value]
                d[name] = value
            else:
                existing.append(value)
                d[name] = d[name] + "," + value
        self.joined = d
        self._as_list = lists
        return self

    @classmethod
    def from_normalized(
        cls, values: dict[str, str], value_lists: dict[str, list[str]]
    ) -> HTTPHeaders:
        """Headers from names already in normalized form (not checked): ``values``
        maps each name to its value (repeated values joined by commas), ``value_lists``
        to the list of its values. Both dicts become the new object's own. The fast
        path for the default headers every response starts with."""
        self = cls.__new__(cls)
        self.joined = values
        self._as_list = value_lists
        return self

    @property
    def _dict(self) -> dict[str, str]:
        # Tornado's name for the joined values; kept for code that reached for it.
        return self.joined

    def raw_items(self) -> list[tuple[bytes, bytes]]:
        """Every (name, value) pair as latin-1 bytes, names in normalized form: what a
        connection sends (one pair per value of a repeated header)."""
        out = []
        for name, values in self._as_list.items():
            bname = _name_bytes(name)
            for value in values:
                out.append((bname, value.encode("latin-1")))
        return out

    # -- multi-value API ------------------------------------------------------------

    def add(self, name: str, value: str) -> None:
        """Add a value for ``name``, keeping the ones already there."""
        norm = normalize_header(name)
        if norm in self.joined:
            self.joined[norm] = self.joined[norm] + "," + value
            self._as_list[norm].append(value)
        else:
            self.joined[norm] = value
            self._as_list[norm] = [value]

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name`` as a list (empty when absent)."""
        return list(self._as_list.get(normalize_header(name), ()))

    def get_all(self) -> Iterator[tuple[str, str]]:
        """Every (name, value) pair; a repeated header yields one pair per value."""
        for name, values in self._as_list.items():
            for value in values:
                yield (name, value)

    def parse_line(self, line: str) -> None:
        """Add one ``Name: value`` line (a line starting with whitespace continues the last)."""
        if not line:
            raise HTTPInputError("empty header line")
        if "\x00" in line or "\r" in line:
            # A NUL or a bare CR inside a header is how smuggling and splitting start.
            raise HTTPInputError("illegal character in header line")
        if line[0] in " \t":
            if not self._as_list:
                raise HTTPInputError("first header line cannot start with whitespace")
            last = next(reversed(self._as_list))
            new_part = " " + line.strip(" \t")
            self._as_list[last][-1] += new_part
            self.joined[last] += new_part
            return
        name, sep, value = line.partition(":")
        if not sep:
            raise HTTPInputError("no colon in header line")
        name = name.strip()
        if not name or any(c in name for c in " \t\r\n\0"):
            raise HTTPInputError(f"invalid header name {name!r}")
        self.add(name, value.strip(" \t"))

    @classmethod
    def parse(cls, headers: str) -> HTTPHeaders:
        """Parse a header block (``Name: value`` lines, CRLF or LF separated).

        >>> h = HTTPHeaders.parse("Content-Type: text/html\\r\\nContent-Length: 42\\r\\n")
        >>> sorted(h.items())
        [('Content-Length', '42'), ('Content-Type', 'text/html')]
        """
        h = cls()
        for line in headers.split("\n"):
            if line.endswith("\r"):
                line = line[:-1]
            if line:
                h.parse_line(line)
        return h

    # -- MutableMapping -------------------------------------------------------------

    def __setitem__(self, name: str, value: str) -> None:
        norm = normalize_header(name)
        self.joined[norm] = value
        self._as_list[norm] = [value]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_header(name) in self.joined

    def __getitem__(self, name: str) -> str:
        return self.joined[normalize_header(name)]

    def get(self, name: str, default: Any = None) -> Any:
        return self.joined.get(normalize_header(name), default)

    def __delitem__(self, name: str) -> None:
        norm = normalize_header(name)
        del self.joined[norm]
        del self._as_list[norm]

    def __len__(self) -> int:
        return len(self.joined)

    def __iter__(self) -> Iterator[str]:
        return iter(self.joined)

    def copy(self) -> HTTPHeaders:
        """A deep enough copy: the value lists are not shared."""
        new = HTTPHeaders.__new__(HTTPHeaders)
        new.joined = dict(self.joined)
        new._as_list = {k: list(v) for k, v in self._as_list.items()}
        return new

    __copy__ = copy

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HTTPHeaders):
            return self._as_list == other._as_list
        if isinstance(other, Mapping):
            return dict(self.items()) == {normalize_header(k): v for k, v in other.items()}
        return NotImplemented

    def __str__(self) -> str:
        return "".join(f"{name}: {value}\r\n" for name, value in self.get_all())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.joined)!r})"

    __hash__ = None  # type: ignore[assignment]


class HTTPInputError(Exception):
    """Malformed input from the peer (a bad request line, header or body)."""


class HTTPOutputError(Exception):
    """The application tried to send something HTTP does not allow."""
