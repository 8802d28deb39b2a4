"""OAuth 2's authorization code flow for request handlers, with PKCE (RFC 7636).

Rules of this module:

1. :class:`OAuth2Mixin` is Tornado's, argument for argument; ``pkce=True`` on
   :meth:`~OAuth2Mixin.authorize_redirect` adds what RFC 7636 asks of a client (an S256
   ``code_challenge`` made from a fresh random ``code_verifier``), and
   :meth:`~OAuth2Mixin.get_pkce_verifier` hands the verifier back, once, for the token
   request. The mixins in :mod:`tornadish.auth` send it themselves.
2. The verifier lives in a cookie between the two legs (the user's browser is the only
   place that follows the user from our redirect to the provider's): signed with
   ``cookie_secret`` where the application has one, always ``HttpOnly`` and
   ``SameSite=Lax`` (the provider's redirect back is a top-level GET), ``Secure`` over
   https. It is cleared when read: a code comes with one verifier, used once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from typing import TYPE_CHECKING, Any, cast

from tornadish import escape
from tornadish._http.parse import url_concat
from tornadish.httpclient import AsyncHTTPClient

if TYPE_CHECKING:
    from tornadish._web.handler import RequestHandler

__all__ = ["AuthError", "OAuth2Mixin", "pkce_challenge"]

#: The cookie that carries the PKCE verifier from the redirect to the callback.
PKCE_COOKIE = "_oauth2_pkce"


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of ``verifier``: BASE64URL(SHA256(verifier)), unpadded
    (RFC 7636 §4.2).

    >>> pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    """
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthError(Exception):
    """The provider refused the login or answered something unusable."""


class _AuthBase:
    """What every mixin shares: the HTTP client and the handler it is mixed into."""

    def get_auth_http_client(self) -> AsyncHTTPClient:
        """The client used for requests to the provider (override to use another, e.g.
        one with a proxy or a longer timeout)."""
        return AsyncHTTPClient()

    async def _provider_json(self, url: str, post_args: dict[str, Any] | None) -> Any:
        """GET ``url`` (a form POST of ``post_args`` when given) with
        :meth:`get_auth_http_client`; the decoded JSON answer."""
        client = self.get_auth_http_client()
        if post_args is not None:
            body = urllib.parse.urlencode(post_args)
            response = await client.fetch(url, method="POST", body=body)
        else:
            response = await client.fetch(url)
        return escape.json_decode(response.body)

    @property
    def _auth_handler(self) -> RequestHandler:
        # The mixins only make sense on a RequestHandler; this keeps them typed.
        return cast("RequestHandler", self)


class OAuth2Mixin(_AuthBase):
    """OAuth 2 (authorization code flow). Set ``_OAUTH_AUTHORIZE_URL`` and
    ``_OAUTH_ACCESS_TOKEN_URL`` on the subclass."""

    _OAUTH_AUTHORIZE_URL: str = ""
    _OAUTH_ACCESS_TOKEN_URL: str = ""

    def authorize_redirect(
        self,
        redirect_uri: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        extra_params: dict[str, Any] | None = None,
        scope: list[str] | None = None,
        response_type: str = "code",
        *,
        pkce: bool = False,
    ) -> None:
        """Send the user to the provider's authorization page; it comes back to
        ``redirect_uri`` with a ``code``. ``client_secret`` is accepted and ignored
        (it must never travel through the browser).

        ``pkce=True`` adds an S256 ``code_challenge`` (RFC 7636) and keeps its verifier
        in a cookie for :meth:`get_pkce_verifier` (see the module's rules)."""
        args: dict[str, Any] = {"response_type": response_type}
        if pkce:
            args["code_challenge"] = pkce_challenge(self._start_pkce())
            args["code_challenge_method"] = "S256"
        if redirect_uri is not None:
            args["redirect_uri"] = redirect_uri
        if client_id is not None:
            args["client_id"] = client_id
        if extra_params:
            args.update(extra_params)
        if scope:
            args["scope"] = " ".join(scope)
        self._auth_handler.redirect(url_concat(self._OAUTH_AUTHORIZE_URL, args))

    def _start_pkce(self) -> str:
        verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43-128
        self._set_flow_cookie(PKCE_COOKIE, verifier)
        return verifier

    def get_pkce_verifier(self) -> str | None:
        """The ``code_verifier`` that :meth:`authorize_redirect` (``pkce=True``) kept for
        this browser, or None; the cookie is cleared (a verifier serves one code)."""
        return self._take_flow_cookie(PKCE_COOKIE)

    # The cookies that carry a login flow's secrets between its two legs.

    def _set_flow_cookie(self, name: str, value: str) -> None:
        handler = self._auth_handler
        secure = handler.request.protocol == "https"
        options: dict[str, Any] = {"httponly": True, "samesite": "Lax", "secure": secure}
        if handler.settings.get("cookie_secret"):
            handler.set_signed_cookie(name, value, expires_days=None, **options)
        else:
            handler.set_cookie(name, value, **options)

    def _take_flow_cookie(self, name: str) -> str | None:
        handler = self._auth_handler
        if handler.settings.get("cookie_secret"):
            raw = handler.get_signed_cookie(name, max_age_days=1)
            value = raw.decode("utf-8") if raw is not None else None
        else:
            value = handler.get_cookie(name)
        if value is not None:
            handler.clear_cookie(name)
        return value

    def _oauth_request_token_url(
        self,
        redirect_uri: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        code: str | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> str:
        args: dict[str, Any] = {}
        for name, value in (
            ("redirect_uri", redirect_uri),
            ("code", code),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ):
            if value is not None:
                args[name] = value
        if extra_params:
            args.update(extra_params)
        return url_concat(self._OAUTH_ACCESS_TOKEN_URL, args)

    async def oauth2_request(
        self,
        url: str,
        access_token: str | None = None,
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> Any:
        """Call a provider API with ``access_token`` (and ``args``) in the query; a
        POST when ``post_args`` is given. Returns the decoded JSON.

        >>> user = await self.oauth2_request(                      # doctest: +SKIP
        ...     "https://graph.facebook.com/me/feed",
        ...     post_args={"message": "Hello"}, access_token=token)
        """
        all_args: dict[str, Any] = {}
        if access_token:
            all_args["access_token"] = access_token
        # Tornado drops ``args`` when there is no token; they are sent either way here.
        all_args.update(args)
        if all_args:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(all_args)
        return await self._provider_json(url, post_args)
