"""What a request handler reads from the request: arguments and cookies, or the raw
stream under them (``detach()``).

``InputMixin`` is one of :class:`~tornadish.web.RequestHandler`'s bases; it also sets
and clears response cookies (collected in ``_new_cookie``, written with the headers).
"""

from __future__ import annotations

import datetime
import http.cookies
import re
from typing import TYPE_CHECKING, Any, cast

from tornadish import escape
from tornadish._web.cookies import build_cookie
from tornadish._web.errors import HTTPError, MissingArgumentError

if TYPE_CHECKING:
    from tornadish._http.request import HTTPServerRequest
    from tornadish._io.iostream import IOStream

__all__ = ["InputMixin"]

_ARG_DEFAULT: Any = object()
_REMOVE_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")


class InputMixin:
    """Arguments (query, body, both) and cookies of the request."""

    if TYPE_CHECKING:
        request: HTTPServerRequest
        _new_cookie: dict[str, http.cookies.Morsel[str]] | None
        _finished: bool

    # -- arguments ------------------------------------------------------------------

    def get_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """The last value of argument ``name`` from the query or the body.

        Without a ``default``, a missing argument answers 400 (``MissingArgumentError``).
        """
        return self._get_argument(name, default, self.request.arguments, strip)

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Every value of ``name`` from the query and the body (maybe empty)."""
        return self._get_arguments(name, self.request.arguments, strip)

    def get_body_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """Like :meth:`get_argument`, from the request body only."""
        return self._get_argument(name, default, self.request.body_arguments, strip)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Like :meth:`get_arguments`, from the request body only."""
        return self._get_arguments(name, self.request.body_arguments, strip)

    def get_query_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """Like :meth:`get_argument`, from the query string only."""
        return self._get_argument(name, default, self.request.query_arguments, strip)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Like :meth:`get_arguments`, from the query string only."""
        return self._get_arguments(name, self.request.query_arguments, strip)

    def _get_argument(
        self, name: str, default: Any, source: dict[str, list[bytes]], strip: bool
    ) -> Any:
        args = self._get_arguments(name, source, strip=strip)
        if not args:
            if default is _ARG_DEFAULT:
                raise MissingArgumentError(name)
            return default
        return args[-1]

    def _get_arguments(
        self, name: str, source: dict[str, list[bytes]], strip: bool = True
    ) -> list[str]:
        values = []
        for v in source.get(name, ()):
            s = self.decode_argument(v, name=name)
            if isinstance(s, str) and not s.isprintable():
                # Control characters have no business in a form value and make log
                # lines and templates lie. (A printable string has none of them.)
                s = _REMOVE_CONTROL_CHARS.sub(" ", s)
            if strip:
                s = s.strip()
            values.append(s)
        return values

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Decode a raw argument (UTF-8; override for other encodings). Bad bytes → 400."""
        try:
            return value.decode("utf-8") if isinstance(value, bytes) else value
        except UnicodeDecodeError:
            raise HTTPError(
                400, "Invalid unicode in %s: %r" % (name or "url", value[:40])
            ) from None

    # -- cookies ----------------------------------------------------------------------

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel[str]]:
        """``self.request.cookies``."""
        return self.request.cookies

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """The value of the request cookie ``name``, or ``default``."""
        morsel = self.request.cookies.get(name)
        return morsel.value if morsel is not None else default

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | tuple[Any, ...] | datetime.datetime | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
        **kwargs: Any,
    ) -> None:
        """Set a cookie on the response (``Set-Cookie``).

        Every standard attribute is supported: ``domain``, ``expires`` (timestamp, time
        tuple or datetime) or ``expires_days``, ``path``, ``max_age``, ``httponly``,
        ``secure``, ``samesite`` (``"Strict"``, ``"Lax"``, ``"None"``), ``partitioned``.
        """
        value = escape.to_unicode(value)
        morsel = build_cookie(
            name,
            value,
            domain,
            expires,
            path,
            expires_days,
            max_age=max_age,
            httponly=httponly,
            secure=secure,
            samesite=samesite,
            partitioned=partitioned,
            **kwargs,
        )
        if self._new_cookie is None:
            self._new_cookie = {}
        self._new_cookie[name] = morsel

    def clear_cookie(
        self, name: str, path: str = "/", domain: str | None = None, **kwargs: Any
    ) -> None:
        """Delete cookie ``name`` in the browser (same ``path``/``domain`` it was set with)."""
        expires = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=365)
        for k in ("expires", "expires_days", "max_age"):
            kwargs.pop(k, None)
        self.set_cookie(name, "", path=path, domain=domain, expires=expires, max_age=0, **kwargs)

    def clear_all_cookies(self, **kwargs: Any) -> None:
        """Delete every cookie the request carried."""
        for name in self.request.cookies:
            self.clear_cookie(name, **kwargs)

    # -- the raw stream -----------------------------------------------------------------

    def detach(self) -> IOStream:
        """Take control of the underlying stream: returns the connection's
        :class:`~tornadish.iostream.IOStream` and stops all further HTTP processing
        (nothing more is written or finished for this request: the rest is raw bytes).

        For protocols tunnelled over an HTTP request, or a response written by hand.
        Only HTTP/1.x connections of tornadish's own server can be detached.

        >>> class Raw(RequestHandler):  # doctest: +SKIP
        ...     async def get(self):
        ...         stream = self.detach()
        ...         await stream.write(b"HTTP/1.0 200 OK\\r\\n\\r\\nhello")
        ...         stream.close()
        """
        self._finished = True
        conn = self.request.connection
        if conn is None:
            raise NotImplementedError("this request has no connection to detach")
        return cast("IOStream", conn.detach())
