"""Building ``Set-Cookie`` values (plain cookies; signing lives in its own module)."""

from __future__ import annotations

import datetime
import http.cookies
import re
from typing import Any

from tornadish._http.parse import format_timestamp

__all__ = ["CookieAttributeError", "build_cookie"]

_UNSAFE = re.compile(r"[\x00-\x20;\x7f]")
# Values are quoted by http.cookies (a ``;`` becomes ``\073``); only controls and spaces
# are refused, as Tornado does.
_UNSAFE_VALUE = re.compile(r"[\x00-\x20\x7f]")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


class CookieAttributeError(http.cookies.CookieError, ValueError):
    """A cookie name or attribute holds a control character, a space or ``;``.

    A ``CookieError`` as in Tornado, and a ``ValueError`` like every other refusal of
    :func:`build_cookie`.
    """


def build_cookie(
    name: str,
    value: str,
    domain: str | None = None,
    expires: float | tuple[Any, ...] | datetime.datetime | None = None,
    path: str | None = "/",
    expires_days: float | None = None,
    *,
    max_age: int | None = None,
    httponly: bool = False,
    secure: bool = False,
    samesite: str | None = None,
    partitioned: bool = False,
    **kwargs: Any,
) -> http.cookies.Morsel[str]:
    """A ``Morsel`` for one ``Set-Cookie`` header, validated against header injection.

    Raises ``ValueError`` for values with control characters or spaces and for unknown
    ``samesite`` values; :class:`CookieAttributeError` (a ``ValueError`` too) for names
    and attributes (``domain``, ``path``, ``samesite``, extra keyword arguments) that
    also contain ``;`` (which would let them smuggle extra attributes or headers).
    """
    if _UNSAFE_VALUE.search(value):
        raise ValueError(f"Invalid cookie {name!r}: {value!r}")
    attributes = [("name", name), ("domain", domain), ("path", path), ("samesite", samesite)]
    for attr_name, attr_value in [*attributes, *kwargs.items()]:
        if attr_value is not None and _UNSAFE.search(str(attr_value)):
            raise CookieAttributeError(
                f"Invalid cookie attribute {attr_name}={attr_value!r} for cookie {name!r}"
            )
    morsel: http.cookies.Morsel[str] = http.cookies.Morsel()
    # Morsel.set validates the name against RFC 6265 token rules.
    try:
        cookie = http.cookies.SimpleCookie()
        cookie[name] = value
        morsel = cookie[name]
    except http.cookies.CookieError as e:
        raise ValueError(f"Invalid cookie {name!r}: {e}") from None
    if domain:
        morsel["domain"] = domain
    if expires_days is not None and not expires:
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            days=expires_days
        )
    if expires:
        morsel["expires"] = format_timestamp(expires)
    if path:
        morsel["path"] = path
    if max_age is not None:
        # int(): a string here could smuggle extra attributes into the header.
        morsel["max-age"] = str(int(max_age))
    if httponly:
        morsel["httponly"] = True
    if secure:
        morsel["secure"] = True
    if samesite:
        canonical = _SAMESITE.get(samesite.lower())
        if canonical is None:
            raise ValueError(f"Invalid SameSite value {samesite!r}")
        morsel["samesite"] = canonical
    if partitioned:
        # Partitioned (CHIPS) is newer than http.cookies; appended when serializing.
        morsel._tornadish_partitioned = True  # type: ignore[attr-defined]
    for k, v in kwargs.items():
        if k == "max_age":
            k = "max-age"
        if k in ("expires_days",):
            continue
        morsel[k] = v
    return morsel


def morsel_to_header(morsel: http.cookies.Morsel[str]) -> str:
    """The ``Set-Cookie`` header value for ``morsel``."""
    out = morsel.OutputString(None)
    if getattr(morsel, "_tornadish_partitioned", False):
        out += "; Partitioned"
    return out
