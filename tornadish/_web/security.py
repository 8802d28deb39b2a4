"""Signed cookies, XSRF protection, the current user and ``@authenticated``, as a mixin
of RequestHandler.

The signing itself lives in :mod:`tornadish._web.signing` (pure functions); this module
only connects it to a handler: where the secret comes from (``cookie_secret`` and
``key_version`` settings), which cookie is read, what a forged request is answered with.

XSRF tokens follow Tornado's scheme so that pages, JavaScript and cookies written for a
Tornado application keep working:

- the *cookie* (``_xsrf``) holds a random 16-byte token;
- the *token put into pages* is that same token XOR-masked with 4 fresh random bytes,
  new for every request (``2|mask|masked_token|timestamp``), so that a compressed
  response does not leak it through its length (BREACH);
- a POST is accepted when its ``_xsrf`` argument or ``X-XSRFToken``/``X-CSRFToken``
  header unmasks to the cookie's token.
"""

from __future__ import annotations

import binascii
import functools
import hmac
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tornadish import escape
from tornadish._web.errors import HTTPError
from tornadish._web.signing import (
    _VERSION_PREFIX,
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)
from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._http.request import HTTPServerRequest
    from tornadish._web.application import Application

__all__ = ["SecurityMixin", "authenticated", "is_protocol_relative"]

_F = TypeVar("_F", bound=Callable[..., Any])
# Tornado used "_xsrf" before the cookie name became a setting; keep that default.
_DEFAULT_XSRF_COOKIE = "_xsrf"


# What browsers (the WHATWG URL parser) drop before reading a URL: leading and trailing
# C0 controls and spaces; tabs and newlines anywhere.
_URL_STRIP = "".join(chr(i) for i in range(0x21))
_URL_DROP = str.maketrans("", "", "\t\n\r")


def is_protocol_relative(url: str) -> bool:
    """True if a browser would read ``url`` as ``//host/...``: another site.

    Browsers clean a URL up before parsing it (controls and spaces trimmed, tabs and
    newlines removed) and treat ``\\`` as ``/`` in http(s) URLs, so ``/\\evil.com``
    and ``" //evil.com"`` name a host just as ``//evil.com`` does. A redirect to such
    a URL built from the request is an open redirect.

    >>> is_protocol_relative("/\\\\evil.com"), is_protocol_relative("/a//b")
    (True, False)
    """
    cleaned = url.strip(_URL_STRIP).translate(_URL_DROP).replace("\\", "/")
    return cleaned.startswith("//")


def _same_site_path(uri: str) -> str:
    """``uri`` (a request target) as a path a browser cannot read as another host."""
    if not is_protocol_relative(uri):
        return uri
    return "/" + uri.strip(_URL_STRIP).translate(_URL_DROP).lstrip("/\\")


def _mask(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with ``mask`` repeated (its own inverse)."""
    n = len(mask)
    return bytes(b ^ mask[i % n] for i, b in enumerate(data))


class SecurityMixin:
    """Signed cookies and XSRF protection for :class:`~tornadish.web.RequestHandler`.

    Settings read: ``cookie_secret`` (a string, or ``{key_version: secret}`` with the
    ``key_version`` setting naming the one to sign with), ``xsrf_cookies``,
    ``xsrf_cookie_version`` (2, or 1 for old clients), ``xsrf_cookie_kwargs`` (extra
    ``set_cookie`` arguments such as ``secure=True``), ``xsrf_cookie_name``,
    ``cross_origin_protection`` and ``trusted_origins`` (see
    :meth:`check_trusted_origin`) and ``login_url``.
    """

    if TYPE_CHECKING:
        application: Application
        request: HTTPServerRequest

        def get_cookie(self, name: str, default: str | None = None) -> str | None: ...

        def set_cookie(self, name: str, value: str | bytes, **kwargs: Any) -> None: ...

        def require_setting(self, name: str, feature: str = "this feature") -> None: ...

        def get_argument(self, name: str, default: Any = ..., strip: bool = True) -> Any: ...

        def redirect(
            self, url: str, permanent: bool = False, status: int | None = None
        ) -> None: ...

    # -- signed cookies ----------------------------------------------------------------

    def create_signed_value(
        self, name: str, value: str | bytes, version: int | None = None
    ) -> bytes:
        """Sign ``value`` for a cookie named ``name`` with the application's secret.

        Use it for values sent in other places than cookies (a URL, a form field); read
        them back with :meth:`get_signed_cookie`'s ``value`` argument.
        """
        self.require_setting("cookie_secret", "secure cookies")
        settings = self.application.settings
        secret = settings["cookie_secret"]
        key_version = None
        if isinstance(secret, dict):
            if settings.get("key_version") is None:
                raise Exception("key_version setting must be used for secret_key dicts")
            key_version = settings["key_version"]
        return create_signed_value(secret, name, value, version=version, key_version=key_version)

    def set_signed_cookie(
        self,
        name: str,
        value: str | bytes,
        expires_days: float | None = 30,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Sign and timestamp a cookie so it cannot be forged.

        Requires the ``cookie_secret`` setting. Read it back with
        :meth:`get_signed_cookie`. The value is signed, not encrypted: the client can
        read it. Other arguments go to ``set_cookie`` (``httponly=True`` is a good
        idea for session cookies).

        >>> self.set_signed_cookie("user", user_id, httponly=True)  # doctest: +SKIP
        """
        self.set_cookie(
            name,
            self.create_signed_value(name, value, version=version),
            expires_days=expires_days,
            **kwargs,
        )

    def get_signed_cookie(
        self,
        name: str,
        value: str | bytes | None = None,
        max_age_days: float = 31,
        min_version: int | None = None,
    ) -> bytes | None:
        """The value of the signed cookie ``name`` as bytes, or ``None``.

        ``None`` when the cookie is missing, tampered with, signed with an unknown key,
        or older than ``max_age_days`` (checked independently of the cookie's own
        expiry, which the client controls). A bad cookie is logged, never raised.
        ``value`` checks a signed value that came from elsewhere instead of the cookie.
        """
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        return decode_signed_value(
            self.application.settings["cookie_secret"],
            name,
            value,
            max_age_days=max_age_days,
            min_version=min_version,
        )

    def get_signed_cookie_key_version(
        self, name: str, value: str | bytes | None = None
    ) -> int | None:
        """The key version the signed cookie ``name`` was signed with (``None`` when
        missing or version 1): lets an application re-sign cookies after a rotation."""
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        if value is None:
            return None
        return get_signature_key_version(value)

    # The pre-6.3 names, kept as aliases (deprecated in Tornado, not removed).
    set_secure_cookie = set_signed_cookie
    get_secure_cookie = get_signed_cookie
    get_secure_cookie_key_version = get_signed_cookie_key_version

    # -- XSRF ---------------------------------------------------------------------------

    @property
    def xsrf_token(self) -> bytes:
        """The XSRF token for this request, masked afresh for every request.

        Sets the XSRF cookie when the request did not bring one. Put it in every form
        (:meth:`xsrf_form_html` does) or send it as an ``X-XSRFToken`` header.
        """
        cached: bytes | None = getattr(self, "_xsrf_token", None)
        if cached is not None:
            return cached
        version, token, timestamp = self._get_raw_xsrf_token()
        settings = self.application.settings
        output_version = settings.get("xsrf_cookie_version", 2)
        if output_version == 1:
            result = binascii.b2a_hex(token)
        elif output_version == 2:
            mask = os.urandom(4)
            result = b"|".join(
                [
                    b"2",
                    binascii.b2a_hex(mask),
                    binascii.b2a_hex(_mask(mask, token)),
                    str(int(timestamp)).encode("ascii"),
                ]
            )
        else:
            raise ValueError("unknown xsrf cookie version %d" % output_version)
        self._xsrf_token = result
        if version is None:
            # A copy: the settings dict is shared by every request.
            cookie_kwargs = dict(settings.get("xsrf_cookie_kwargs", {}))
            if self.current_user and "expires_days" not in cookie_kwargs:
                # A logged-in user's token outlives the browser session, like theirs.
                cookie_kwargs["expires_days"] = 30
            cookie_name = settings.get("xsrf_cookie_name", _DEFAULT_XSRF_COOKIE)
            self.set_cookie(cookie_name, result, **cookie_kwargs)
        return result

    def _get_raw_xsrf_token(self) -> tuple[int | None, bytes, float]:
        """(cookie version or ``None`` if there was no valid cookie, token, timestamp)."""
        raw: tuple[int | None, bytes, float] | None = getattr(self, "_raw_xsrf_token", None)
        if raw is not None:
            return raw
        cookie_name = self.application.settings.get("xsrf_cookie_name", _DEFAULT_XSRF_COOKIE)
        cookie = self.get_cookie(cookie_name)
        version: int | None = None
        token: bytes | None = None
        timestamp: float | None = None
        if cookie:
            version, token, timestamp = self._decode_xsrf_token(cookie)
        if token is None or timestamp is None:
            version, token, timestamp = None, os.urandom(16), time.time()
        raw = (version, token, timestamp)
        self._raw_xsrf_token = raw
        return raw

    def _decode_xsrf_token(self, cookie: str) -> tuple[int | None, bytes | None, float | None]:
        """Parse a token in either format; (None, None, None) when it is garbage."""
        try:
            m = _VERSION_PREFIX.match(cookie.encode("utf-8"))
            if m is not None:
                version = int(m.group(1))
                if version != 2:
                    raise ValueError("Unknown xsrf cookie version")
                _, mask_hex, masked_hex, timestamp_str = cookie.split("|")
                mask = binascii.a2b_hex(mask_hex.encode("ascii"))
                token = _mask(mask, binascii.a2b_hex(masked_hex.encode("ascii")))
                return 2, token, int(timestamp_str)
            # Version 1: the bare hex token; older still, any unmasked string.
            try:
                token = binascii.a2b_hex(cookie.encode("utf-8"))
            except (binascii.Error, ValueError):
                token = cookie.encode("utf-8")
            return 1, token, int(time.time())
        except Exception:
            gen_log.debug("Uncaught exception in _decode_xsrf_token", exc_info=True)
            return None, None, None

    def check_xsrf_cookie(self) -> None:
        """Raise 403 unless the request's XSRF token matches the XSRF cookie.

        Run automatically for every non-GET/HEAD/OPTIONS request when the
        ``xsrf_cookies`` setting is on. The token comes from the ``_xsrf`` argument or
        the ``X-XSRFToken`` / ``X-CSRFToken`` header. Override to exempt a handler
        (an API authenticated some other way).
        """
        headers = self.request.headers
        token = (
            self.get_argument("_xsrf", None)
            or headers.get("X-Xsrftoken")
            or headers.get("X-Csrftoken")
        )
        if not token:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        _, presented, _ = self._decode_xsrf_token(token)
        _, expected, _ = self._get_raw_xsrf_token()
        if not presented:
            raise HTTPError(403, "'_xsrf' argument has invalid format")
        if not hmac.compare_digest(presented, expected):
            raise HTTPError(403, "XSRF cookie does not match POST argument")

    # -- cross-origin protection (Tornado 6.5's ``cross_origin_protection``) -----------

    def _check_unsafe_request(self) -> None:
        # Run before prepare() for every method but GET/HEAD/OPTIONS when either
        # protection is on.
        settings = self.application.settings
        if settings.get("xsrf_cookies"):
            self.check_xsrf_cookie()
        if settings.get("cross_origin_protection"):
            error = self._cross_origin_error(self.check_trusted_origin)
            if error is not None:
                raise HTTPError(403, error)

    def _cross_origin_error(self, trusted: Callable[[str], bool]) -> str | None:
        """Why the request looks like a forbidden cross-origin one, or None.

        Browsers say where a request comes from with ``Sec-Fetch-Site``; older ones (or
        plain-HTTP pages) only with ``Origin``. Requests with neither are not from a
        browser, so no other site can have made a user's browser send them.
        """
        headers = self.request.headers
        site = headers.get("Sec-Fetch-Site")
        origin = headers.get("Origin")
        if site in ("same-origin", "none"):
            return None
        if site is None:
            if origin is None:
                return None
            host = headers.get("Host", "").lower()
            if urllib.parse.urlsplit(origin).netloc.lower() == host or trusted(origin):
                return None
            return f"Origin {origin!r} not allowed"
        if origin and trusted(origin):
            return None
        return f"Sec-Fetch-Site {site} and Origin {origin!r} not allowed"

    def check_trusted_origin(self, origin: str) -> bool:
        """Whether a cross-origin, state-changing request from ``origin`` (such as
        ``"https://example.com"``) may go ahead.

        Called only with the ``cross_origin_protection`` setting on, for POST, PUT,
        PATCH, DELETE... requests that look cross-origin, before :meth:`prepare` (so it
        must judge the request alone, not the user). By default, ``origin`` must be in
        the ``trusted_origins`` setting. Override to return True for endpoints meant to
        be called from anywhere, which then must not rely on cookies for authentication.
        """
        return origin in self.application.settings.get("trusted_origins", ())

    def xsrf_form_html(self) -> str:
        """A hidden ``<input>`` carrying the XSRF token, for every POST form.

        In a template: ``{% module xsrf_form_html() %}``.
        """
        token = escape.xhtml_escape(self.xsrf_token)
        return '<input type="hidden" name="_xsrf" value="' + token + '"/>'

    # -- users and login -------------------------------------------------------------------

    @property
    def current_user(self) -> Any:
        """The authenticated user: ``get_current_user()``'s result, computed once; may
        also be assigned (for example in an ``async prepare``)."""
        if not hasattr(self, "_current_user"):
            user = self.get_current_user()
            if hasattr(user, "__await__"):
                # An "async def get_current_user": its coroutine object is truthy, so
                # taking it for a user would let anyone past @authenticated.
                close = getattr(user, "close", None)
                if close is not None:
                    close()  # no "never awaited" warning on top of this error
                raise TypeError(
                    f"{type(self).__name__}.get_current_user() returned an awaitable; it "
                    "cannot be async. Look the user up in an async prepare() and assign "
                    "self.current_user there (docs/security.md, Authentication)."
                )
            self._current_user = user
        return self._current_user

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self._current_user = value

    def get_current_user(self) -> Any:
        """Override to determine the current user (from a cookie, say)."""
        return None

    def get_login_url(self) -> str:
        """Where :func:`authenticated` sends anonymous users (the ``login_url``
        setting; override to compute it)."""
        self.require_setting("login_url", "@tornadish.web.authenticated")
        url: str = self.application.settings["login_url"]
        return url


def authenticated(method: _F) -> _F:
    """Decorate a handler method to require a logged-in user (``current_user``).

    Anonymous GET and HEAD requests are redirected to ``get_login_url()`` with the page
    they wanted in ``next`` (the full URL when the login URL is absolute, the path and
    query otherwise, with leading slashes collapsed so that ``//evil.com`` becomes
    ``/evil.com``); other methods get 403, as a redirect would lose their body. A
    login URL that already has a query string is used as it is. The login handler
    must still check ``next`` before redirecting to it: anyone can link to
    ``/login?next=https://evil.com`` (see ``docs/deployment.md``, "Hostile input").

    >>> from tornadish.web import RequestHandler
    >>> class ProfileHandler(RequestHandler):
    ...     @authenticated
    ...     def get(self):
    ...         self.write(self.current_user)
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if not self.current_user:
            if self.request.method in ("GET", "HEAD"):
                url: str = self.get_login_url()
                if "?" not in url:
                    if urllib.parse.urlsplit(url).scheme:
                        # Another host: it needs our full URL to send the user back.
                        next_url = self.request.full_url()
                    else:
                        # GET //evil.com/ reaches a catch-all route; a login page that
                        # redirects to ``next`` must not be sent to another site.
                        next_url = _same_site_path(self.request.uri)
                    url += "?" + urllib.parse.urlencode({"next": next_url})
                self.redirect(url)
                return None
            raise HTTPError(403)
        return method(self, *args, **kwargs)  # type: ignore[no-any-return]

    return wrapper  # type: ignore[return-value]
