"""Third-party login: OpenID, OAuth 1.0a and OAuth 2 mixins for request handlers.

Each mixin is combined with :class:`~tornadish.web.RequestHandler`; one handler serves
both legs of the dance -- without a ``code`` (or ``oauth_token``) argument it redirects
the user to the provider, with one it exchanges it for the user's identity::

    class GoogleLoginHandler(RequestHandler, GoogleOAuth2Mixin):
        async def get(self):
            redirect_uri = "https://example.com/auth/google"
            if self.get_argument("code", None):
                token = await self.get_authenticated_user(
                    redirect_uri=redirect_uri, code=self.get_argument("code"))
                user = await self.oauth2_request(
                    "https://www.googleapis.com/oauth2/v1/userinfo",
                    access_token=token["access_token"])
                self.set_signed_cookie("user", user["email"])
                self.redirect("/")
            else:
                self.authorize_redirect(
                    redirect_uri=redirect_uri,
                    client_id=self.get_google_oauth_settings()["key"],
                    scope=["profile", "email"], response_type="code",
                    extra_params={"approval_prompt": "auto"})

Provider endpoints are class attributes (``_OAUTH_AUTHORIZE_URL``,
``_OAUTH_ACCESS_TOKEN_URL``, ...) as in Tornado: override them for another provider or
to point a test at a fake one. Every request to a provider goes through
:meth:`get_auth_http_client` (the shared :class:`~tornadish.httpclient.AsyncHTTPClient`
unless overridden); a provider error surfaces as the client's ``HTTPClientError`` or as
:class:`AuthError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import urllib.parse
import uuid
from typing import TYPE_CHECKING, Any

from tornadish import escape
from tornadish._auth.oauth2 import AuthError, OAuth2Mixin, _AuthBase, pkce_challenge
from tornadish._auth.oidc import OpenIDConnectMixin
from tornadish._http.parse import url_concat
from tornadish.httpclient import AsyncHTTPClient, HTTPResponse

if TYPE_CHECKING:
    pass

__all__ = [
    "AuthError",
    "FacebookGraphMixin",
    "GitHubOAuth2Mixin",
    "GoogleOAuth2Mixin",
    "OAuth2Mixin",
    "OAuthMixin",
    "OpenIDConnectMixin",
    "OpenIdMixin",
    "TwitterMixin",
    "pkce_challenge",
]

_AX = "http://openid.net/srv/ax/1.0"
_AX_TYPES = {
    "email": "http://axschema.org/contact/email",
    "language": "http://axschema.org/pref/language",
    "username": "http://axschema.org/namePerson/friendly",
    "firstname": "http://axschema.org/namePerson/first",
    "fullname": "http://axschema.org/namePerson",
    "lastname": "http://axschema.org/namePerson/last",
}
_IDENTIFIER_SELECT = "http://specs.openid.net/auth/2.0/identifier_select"


# -- OpenID 2.0 ---------------------------------------------------------------------------


class OpenIdMixin(_AuthBase):
    """OpenID 2.0 with Attribute Exchange. Set ``_OPENID_ENDPOINT`` on the subclass."""

    _OPENID_ENDPOINT: str = ""

    def authenticate_redirect(
        self,
        callback_uri: str | None = None,
        ax_attrs: list[str] | tuple[str, ...] = ("name", "email", "language", "username"),
    ) -> None:
        """Send the user to the OpenID provider; it comes back to ``callback_uri``
        (default: this URL). ``ax_attrs`` are the attributes asked for."""
        handler = self._auth_handler
        args = self._openid_args(callback_uri or handler.request.uri, ax_attrs=ax_attrs)
        handler.redirect(self._OPENID_ENDPOINT + "?" + urllib.parse.urlencode(args))

    async def get_authenticated_user(self, http_client: AsyncHTTPClient | None = None) -> Any:
        """The user from the provider's redirect back, verified with the provider
        (``check_authentication``): a dict with ``name``, ``email``, ``locale``,
        ``username``, ``first_name``, ``last_name`` and ``claimed_id`` where given.
        Raises :class:`AuthError` when the provider says the response is not valid."""
        handler = self._auth_handler
        # The assertion is sent back verbatim; only the mode changes.
        args: dict[str, Any] = {k: v[-1] for k, v in handler.request.arguments.items()}
        args["openid.mode"] = "check_authentication"
        client = http_client or self.get_auth_http_client()
        response = await client.fetch(
            self._OPENID_ENDPOINT, method="POST", body=urllib.parse.urlencode(args)
        )
        return self._on_authentication_verified(response)

    def _openid_args(
        self,
        callback_uri: str,
        ax_attrs: list[str] | tuple[str, ...] = (),
        oauth_scope: str | None = None,
    ) -> dict[str, str]:
        handler = self._auth_handler
        url = urllib.parse.urljoin(handler.request.full_url(), callback_uri)
        args = {
            "openid.ns": "http://specs.openid.net/auth/2.0",
            "openid.claimed_id": _IDENTIFIER_SELECT,
            "openid.identity": _IDENTIFIER_SELECT,
            "openid.return_to": url,
            "openid.realm": urllib.parse.urljoin(url, "/"),
            "openid.mode": "checkid_setup",
        }
        if ax_attrs:
            args["openid.ns.ax"] = _AX
            args["openid.ax.mode"] = "fetch_request"
            wanted = set(ax_attrs)
            required: list[str] = []
            if "name" in wanted:
                # "name" is asked for as its three AX parts.
                wanted -= {"name", "firstname", "fullname", "lastname"}
                required += ["firstname", "fullname", "lastname"]
            for name in sorted(wanted):
                if name not in _AX_TYPES:
                    raise ValueError(f"Unknown OpenID attribute {name!r}")
                required.append(name)
            for name in required:
                args["openid.ax.type." + name] = _AX_TYPES[name]
            args["openid.ax.required"] = ",".join(required)
        if oauth_scope:
            args["openid.ns.oauth"] = "http://specs.openid.net/extensions/oauth/1.0"
            args["openid.oauth.consumer"] = handler.request.host.split(":")[0]
            args["openid.oauth.scope"] = oauth_scope
        return args

    def _on_authentication_verified(self, response: HTTPResponse) -> dict[str, Any]:
        handler = self._auth_handler
        if b"is_valid:true" not in response.body:
            raise AuthError(f"Invalid OpenID response: {response.body!r}")
        arguments = handler.request.arguments
        # The provider picks the AX alias; find it by its namespace value.
        ax_ns = next(
            (
                key[len("openid.ns.") :]
                for key in arguments
                if key.startswith("openid.ns.") and handler.get_argument(key) == _AX
            ),
            None,
        )

        def ax_value(uri: str) -> str:
            if ax_ns is None:
                return ""
            prefix = f"openid.{ax_ns}.type."
            for key in arguments:
                if key.startswith(prefix) and handler.get_argument(key) == uri:
                    value: str = handler.get_argument(
                        f"openid.{ax_ns}.value.{key[len(prefix) :]}", ""
                    )
                    return value
            return ""

        email = ax_value(_AX_TYPES["email"])
        name = ax_value(_AX_TYPES["fullname"])
        first_name = ax_value(_AX_TYPES["firstname"])
        last_name = ax_value(_AX_TYPES["lastname"])
        username = ax_value(_AX_TYPES["username"])
        locale = ax_value(_AX_TYPES["language"]).lower()
        user: dict[str, Any] = {}
        if first_name:
            user["first_name"] = first_name
        if last_name:
            user["last_name"] = last_name
        if name:
            user["name"] = name
        elif first_name or last_name:
            user["name"] = " ".join(p for p in (first_name, last_name) if p)
        elif email:
            user["name"] = email.split("@")[0]
        if email:
            user["email"] = email
        if locale:
            user["locale"] = locale
        if username:
            user["username"] = username
        claimed_id = handler.get_argument("openid.claimed_id", None)
        if claimed_id:
            user["claimed_id"] = claimed_id
        return user


# -- OAuth 1.0a ----------------------------------------------------------------------------


def _oauth_escape(value: str | bytes) -> str:
    return urllib.parse.quote(value, safe="~")


def _oauth_signature(
    consumer_token: dict[str, Any],
    method: str,
    url: str,
    parameters: dict[str, Any],
    token: dict[str, Any] | None = None,
    version: str = "1.0a",
) -> bytes:
    """HMAC-SHA1 signature of a request (RFC 5849 §3.4), base64-encoded.

    Version ``"1.0a"`` percent-encodes the secrets in the key as the RFC says; ``"1.0"``
    uses them raw, as the first OAuth services did.
    """
    parts = urllib.parse.urlsplit(url)
    normalized_url = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"
    # RFC 5849 §3.4.1.3.2: encode first, then sort (by name, then value).
    pairs = sorted((_oauth_escape(str(k)), _oauth_escape(str(v))) for k, v in parameters.items())
    base_elems = [method.upper(), normalized_url, "&".join(f"{k}={v}" for k, v in pairs)]
    base_string = "&".join(_oauth_escape(e) for e in base_elems)
    token_secret = token["secret"] if token else ""
    if version == "1.0a":
        key = (_oauth_escape(consumer_token["secret"]) + "&" + _oauth_escape(token_secret)).encode()
    else:
        key = escape.utf8(consumer_token["secret"]) + b"&" + escape.utf8(token_secret)
    digest = hmac.new(key, base_string.encode("utf-8"), hashlib.sha1).digest()
    return binascii.b2a_base64(digest)[:-1]


def _oauth_parse_response(body: bytes) -> dict[str, Any]:
    """A token from a provider's ``oauth_token=...&oauth_token_secret=...`` answer."""
    p = urllib.parse.parse_qs(escape.native_str(body), keep_blank_values=False)
    try:
        token: dict[str, Any] = {"key": p["oauth_token"][0], "secret": p["oauth_token_secret"][0]}
    except KeyError:
        raise AuthError(f"Invalid OAuth token response: {body[:200]!r}") from None
    token.update((k, v[0]) for k, v in p.items() if k not in ("oauth_token", "oauth_token_secret"))
    return token


def _nonce() -> str:
    return uuid.uuid4().hex


class OAuthMixin(_AuthBase):
    """OAuth 1.0 and 1.0a.

    Subclasses set ``_OAUTH_REQUEST_TOKEN_URL``, ``_OAUTH_ACCESS_TOKEN_URL`` and
    ``_OAUTH_AUTHORIZE_URL`` (and ``_OAUTH_VERSION = "1.0"`` for old services), and
    implement :meth:`_oauth_consumer_token` and :meth:`_oauth_get_user_future`. The
    request token travels between the two legs in the ``_oauth_request_token`` cookie.
    """

    _OAUTH_REQUEST_TOKEN_URL: str = ""
    _OAUTH_ACCESS_TOKEN_URL: str = ""
    _OAUTH_AUTHORIZE_URL: str = ""
    _OAUTH_VERSION: str = "1.0a"
    _OAUTH_NO_CALLBACKS: bool = False

    async def authorize_redirect(
        self,
        callback_uri: str | None = None,
        extra_params: dict[str, Any] | None = None,
        http_client: AsyncHTTPClient | None = None,
    ) -> None:
        """Get a request token and send the user to the provider to authorize it.

        ``callback_uri`` is where the provider sends the user back (``"oob"`` for
        out-of-band: the authorize URL is written as the response instead).
        ``extra_params`` go to the request-token call (1.0a only).
        """
        if callback_uri and self._OAUTH_NO_CALLBACKS:
            raise Exception("This service does not support oauth_callback")
        client = http_client or self.get_auth_http_client()
        if self._OAUTH_VERSION == "1.0a":
            url = self._oauth_request_token_url(
                callback_uri=callback_uri, extra_params=extra_params
            )
        else:
            url = self._oauth_request_token_url()
        response = await client.fetch(url)
        self._on_request_token(self._OAUTH_AUTHORIZE_URL, callback_uri, response)

    async def get_authenticated_user(self, http_client: AsyncHTTPClient | None = None) -> Any:
        """On the provider's redirect back: exchange the authorized request token for an
        access token and return the user, with its ``access_token`` dict included
        (keep it to make API calls for the user). :class:`AuthError` when the
        token does not match the one this browser was sent off with."""
        handler = self._auth_handler
        request_key = escape.utf8(handler.get_argument("oauth_token"))
        oauth_verifier = handler.get_argument("oauth_verifier", None)
        request_cookie = handler.get_cookie("_oauth_request_token")
        if not request_cookie:
            raise AuthError("Missing OAuth request token cookie")
        handler.clear_cookie("_oauth_request_token")
        try:
            cookie_key, cookie_secret = (
                base64.b64decode(escape.utf8(part)) for part in request_cookie.split("|")
            )
        except (ValueError, binascii.Error):
            raise AuthError("Malformed OAuth request token cookie") from None
        # The token in the URL must be the one we obtained for this browser, or anyone
        # could complete a login started by someone else.
        if not hmac.compare_digest(cookie_key, request_key):
            raise AuthError("Request token does not match cookie")
        token: dict[str, Any] = {"key": cookie_key, "secret": cookie_secret}
        if oauth_verifier:
            token["verifier"] = oauth_verifier
        client = http_client or self.get_auth_http_client()
        response = await client.fetch(self._oauth_access_token_url(token))
        access_token = _oauth_parse_response(response.body)
        user = await self._oauth_get_user_future(access_token)
        if not user:
            raise AuthError("Error getting user")
        user["access_token"] = access_token
        return user

    def _oauth_base_args(self, consumer_token: dict[str, Any]) -> dict[str, str]:
        return {
            "oauth_consumer_key": escape.to_unicode(consumer_token["key"]),
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": str(int(time.time())),
            "oauth_nonce": _nonce(),
            "oauth_version": "1.0",
        }

    def _oauth_request_token_url(
        self, callback_uri: str | None = None, extra_params: dict[str, Any] | None = None
    ) -> str:
        consumer_token = self._oauth_consumer_token()
        url = self._OAUTH_REQUEST_TOKEN_URL
        args: dict[str, Any] = self._oauth_base_args(consumer_token)
        if self._OAUTH_VERSION == "1.0a":
            if callback_uri == "oob":
                args["oauth_callback"] = "oob"
            elif callback_uri:
                args["oauth_callback"] = urllib.parse.urljoin(
                    self._auth_handler.request.full_url(), callback_uri
                )
            if extra_params:
                args.update(extra_params)
        args["oauth_signature"] = _oauth_signature(
            consumer_token, "GET", url, args, version=self._OAUTH_VERSION
        )
        return url + "?" + urllib.parse.urlencode(args)

    def _on_request_token(
        self, authorize_url: str, callback_uri: str | None, response: HTTPResponse
    ) -> None:
        handler = self._auth_handler
        request_token = _oauth_parse_response(response.body)
        data = (
            base64.b64encode(escape.utf8(request_token["key"]))
            + b"|"
            + base64.b64encode(escape.utf8(request_token["secret"]))
        )
        handler.set_cookie("_oauth_request_token", data)
        args = {"oauth_token": request_token["key"]}
        if callback_uri == "oob":
            handler.finish(authorize_url + "?" + urllib.parse.urlencode(args))
            return
        if callback_uri:
            args["oauth_callback"] = urllib.parse.urljoin(handler.request.full_url(), callback_uri)
        handler.redirect(authorize_url + "?" + urllib.parse.urlencode(args))

    def _oauth_access_token_url(self, request_token: dict[str, Any]) -> str:
        consumer_token = self._oauth_consumer_token()
        url = self._OAUTH_ACCESS_TOKEN_URL
        args: dict[str, Any] = self._oauth_base_args(consumer_token)
        args["oauth_token"] = escape.to_unicode(request_token["key"])
        if "verifier" in request_token:
            args["oauth_verifier"] = request_token["verifier"]
        args["oauth_signature"] = _oauth_signature(
            consumer_token, "GET", url, args, request_token, version=self._OAUTH_VERSION
        )
        return url + "?" + urllib.parse.urlencode(args)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        """The application's ``{"key": ..., "secret": ...}`` (subclasses implement)."""
        raise NotImplementedError()

    async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> dict[str, Any]:
        """Fetch the user for ``access_token`` (subclasses implement)."""
        raise NotImplementedError()

    def _oauth_request_parameters(
        self,
        url: str,
        access_token: dict[str, Any],
        parameters: dict[str, Any] | None = None,
        method: str = "GET",
    ) -> dict[str, Any]:
        """The ``oauth_*`` arguments that sign a call to ``url`` with ``parameters``."""
        consumer_token = self._oauth_consumer_token()
        base_args: dict[str, Any] = self._oauth_base_args(consumer_token)
        base_args["oauth_token"] = escape.to_unicode(access_token["key"])
        args = {**base_args, **(parameters or {})}
        signature = _oauth_signature(
            consumer_token, method, url, args, access_token, version=self._OAUTH_VERSION
        )
        base_args["oauth_signature"] = escape.to_unicode(signature)
        return base_args


class TwitterMixin(OAuthMixin):
    """Twitter (X) login and API with OAuth 1.0a.

    Settings: ``twitter_consumer_key`` and ``twitter_consumer_secret``. Use
    :meth:`authenticate_redirect` (users who authorized the app before are sent straight
    back) and, on the way back, :meth:`get_authenticated_user`.
    """

    _OAUTH_REQUEST_TOKEN_URL = "https://api.twitter.com/oauth/request_token"
    _OAUTH_ACCESS_TOKEN_URL = "https://api.twitter.com/oauth/access_token"
    _OAUTH_AUTHORIZE_URL = "https://api.twitter.com/oauth/authorize"
    _OAUTH_AUTHENTICATE_URL = "https://api.twitter.com/oauth/authenticate"
    _OAUTH_NO_CALLBACKS = False
    _TWITTER_BASE_URL = "https://api.twitter.com/1.1"

    async def authenticate_redirect(self, callback_uri: str | None = None) -> None:
        """Like ``authorize_redirect`` but through ``/oauth/authenticate``."""
        client = self.get_auth_http_client()
        response = await client.fetch(self._oauth_request_token_url(callback_uri=callback_uri))
        self._on_request_token(self._OAUTH_AUTHENTICATE_URL, None, response)

    async def twitter_request(
        self,
        path: str,
        access_token: dict[str, Any] | None,
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> Any:
        """Call the API: ``path`` like ``"/statuses/user_timeline"`` (``.json`` is
        appended) or a full URL; a POST when ``post_args`` is given. Returns the
        decoded JSON."""
        if path.startswith(("http:", "https:")):
            url = path
        else:
            url = self._TWITTER_BASE_URL + path + ".json"
        if access_token:
            all_args = {**args, **(post_args or {})}
            method = "POST" if post_args is not None else "GET"
            args.update(self._oauth_request_parameters(url, access_token, all_args, method))
        if args:
            url += "?" + urllib.parse.urlencode(args)
        return await self._provider_json(url, post_args)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        handler = self._auth_handler
        handler.require_setting("twitter_consumer_key", "Twitter OAuth")
        handler.require_setting("twitter_consumer_secret", "Twitter OAuth")
        return {
            "key": handler.settings["twitter_consumer_key"],
            "secret": handler.settings["twitter_consumer_secret"],
        }

    async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> dict[str, Any]:
        user: dict[str, Any] = await self.twitter_request(
            "/account/verify_credentials", access_token=access_token
        )
        if user:
            user["username"] = user["screen_name"]
        return user


# -- OAuth 2 ----------------------------------------------------------------------------------


class GoogleOAuth2Mixin(OpenIDConnectMixin):
    """Google login with OAuth 2, and with OpenID Connect.

    Register the application in the Google Cloud console and put its credentials in
    the ``google_oauth`` setting: ``{"key": CLIENT_ID, "secret": CLIENT_SECRET}``.
    Tornado's flow (:meth:`~OAuth2Mixin.authorize_redirect` then
    :meth:`get_authenticated_user`) works as in Tornado, with PKCE when
    ``authorize_redirect(..., pkce=True)``; the OpenID Connect flow
    (:meth:`~OpenIDConnectMixin.oidc_authorize_redirect` then
    :meth:`~OpenIDConnectMixin.get_oidc_user`) also validates Google's ID token.
    """

    _OIDC_ISSUER = "https://accounts.google.com"
    _OIDC_SETTINGS_KEY = "google_oauth"

    _OAUTH_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
    _OAUTH_ACCESS_TOKEN_URL = "https://www.googleapis.com/oauth2/v4/token"
    _OAUTH_USERINFO_URL = "https://www.googleapis.com/oauth2/v1/userinfo"
    _OAUTH_NO_CALLBACKS = False
    _OAUTH_SETTINGS_KEY = "google_oauth"

    def get_google_oauth_settings(self) -> dict[str, str]:
        """The ``google_oauth`` setting (override to get the credentials elsewhere)."""
        value: dict[str, str] = self._auth_handler.settings[self._OAUTH_SETTINGS_KEY]
        return value

    async def get_authenticated_user(
        self,
        redirect_uri: str,
        code: str,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        """Exchange ``code`` for tokens: the provider's JSON answer (``access_token``,
        ``expires_in``, ``id_token``...). Fetch the profile with :meth:`oauth2_request`
        on ``_OAUTH_USERINFO_URL``. Credentials default to the settings."""
        if client_id is None or client_secret is None:
            credentials = self.get_google_oauth_settings()
            client_id = credentials["key"] if client_id is None else client_id
            client_secret = credentials["secret"] if client_secret is None else client_secret
        fields = {
            "redirect_uri": redirect_uri,
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
            "grant_type": "authorization_code",
        }
        verifier = self.get_pkce_verifier()
        if verifier is not None:  # authorize_redirect(..., pkce=True) started this login
            fields["code_verifier"] = verifier
        body = urllib.parse.urlencode(fields)
        response = await self.get_auth_http_client().fetch(
            self._OAUTH_ACCESS_TOKEN_URL,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=body,
        )
        result: dict[str, Any] = escape.json_decode(response.body)
        return result


class FacebookGraphMixin(OAuth2Mixin):
    """Facebook login and Graph API with OAuth 2."""

    _OAUTH_ACCESS_TOKEN_URL = "https://graph.facebook.com/oauth/access_token?"
    _OAUTH_AUTHORIZE_URL = "https://www.facebook.com/dialog/oauth?"
    _OAUTH_NO_CALLBACKS = False
    _FACEBOOK_BASE_URL = "https://graph.facebook.com"

    async def get_authenticated_user(
        self,
        redirect_uri: str,
        client_id: str,
        client_secret: str,
        code: str,
        extra_fields: dict[str, Any] | list[str] | set[str] | None = None,
    ) -> dict[str, Any] | None:
        """Exchange ``code`` for an access token and fetch ``/me``: a dict with ``id``,
        ``name``, ``first_name``, ``last_name``, ``locale``, ``picture``, ``link``, the
        ``extra_fields`` asked for, ``access_token`` and ``session_expires``."""
        fields = {"id", "name", "first_name", "last_name", "locale", "picture", "link"}
        if extra_fields:
            fields.update(extra_fields)
        response = await self.get_auth_http_client().fetch(
            self._oauth_request_token_url(
                redirect_uri=redirect_uri,
                client_id=client_id,
                client_secret=client_secret,
                code=code,
            )
        )
        session = escape.json_decode(response.body)
        access_token = session.get("access_token")
        if not access_token:
            raise AuthError(f"Facebook gave no access token: {response.body[:200]!r}")
        # appsecret_proof proves the call comes from the app's server, not a stolen token.
        proof = hmac.new(client_secret.encode(), access_token.encode(), hashlib.sha256)
        user = await self.facebook_request(
            path="/me",
            access_token=access_token,
            appsecret_proof=proof.hexdigest(),
            fields=",".join(sorted(fields)),
        )
        if user is None:
            return None
        result = {field: user.get(field) for field in fields}
        result["access_token"] = access_token
        result["session_expires"] = str(session.get("expires_in"))
        return result

    async def facebook_request(
        self,
        path: str,
        access_token: str | None = None,
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> Any:
        """Call the Graph API at ``path`` (e.g. ``"/me/feed"``); see
        :meth:`oauth2_request`."""
        return await self.oauth2_request(
            self._FACEBOOK_BASE_URL + path, access_token=access_token, post_args=post_args, **args
        )


class GitHubOAuth2Mixin(OAuth2Mixin):
    """GitHub login with OAuth 2 (not in Tornado).

    Credentials in the ``github_oauth`` setting: ``{"key": CLIENT_ID, "secret":
    CLIENT_SECRET}``. :meth:`get_authenticated_user` returns the ``/user`` profile (with
    ``login``, ``id``, ``name``, ``email``...) plus the ``access_token``::

        class GitHubLoginHandler(RequestHandler, GitHubOAuth2Mixin):
            async def get(self):
                if code := self.get_argument("code", None):
                    user = await self.get_authenticated_user(REDIRECT_URI, code)
                    self.set_signed_cookie("user", user["login"])
                    self.redirect("/")
                else:
                    self.authorize_redirect(
                        redirect_uri=REDIRECT_URI,
                        client_id=self.get_github_oauth_settings()["key"],
                        scope=["read:user", "user:email"])
    """

    _OAUTH_AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
    _OAUTH_ACCESS_TOKEN_URL = "https://github.com/login/oauth/access_token"
    _GITHUB_API_URL = "https://api.github.com"
    _OAUTH_SETTINGS_KEY = "github_oauth"

    def get_github_oauth_settings(self) -> dict[str, str]:
        """The ``github_oauth`` setting (override to get the credentials elsewhere)."""
        value: dict[str, str] = self._auth_handler.settings[self._OAUTH_SETTINGS_KEY]
        return value

    async def get_authenticated_user(
        self,
        redirect_uri: str,
        code: str,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        """Exchange ``code`` for an access token and return the user's profile with
        ``access_token`` added. :class:`AuthError` if GitHub refuses the code (it
        answers 200 with an ``error`` field)."""
        if client_id is None or client_secret is None:
            credentials = self.get_github_oauth_settings()
            client_id = credentials["key"] if client_id is None else client_id
            client_secret = credentials["secret"] if client_secret is None else client_secret
        response = await self.get_auth_http_client().fetch(
            self._OAUTH_ACCESS_TOKEN_URL,
            method="POST",
            # Without Accept, GitHub answers form-encoded.
            headers={
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body=urllib.parse.urlencode(
                {
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "code": code,
                    "redirect_uri": redirect_uri,
                }
            ),
        )
        session = escape.json_decode(response.body)
        access_token = session.get("access_token")
        if not access_token:
            raise AuthError(
                "GitHub refused the code: %s" % (session.get("error_description") or session)
            )
        user: dict[str, Any] = await self.github_request("/user", access_token)
        user["access_token"] = access_token
        return user

    async def github_request(
        self,
        path: str,
        access_token: str,
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> Any:
        """Call the REST API at ``path`` (e.g. ``"/user/emails"``) as the user; JSON in
        and out. The token goes in the ``Authorization`` header (GitHub no longer
        accepts it in the query)."""
        url = url_concat(self._GITHUB_API_URL + path, args) if args else self._GITHUB_API_URL + path
        headers = {
            "Authorization": "Bearer " + access_token,
            "Accept": "application/vnd.github+json",
            "User-Agent": "tornadish",  # GitHub refuses requests without one
        }
        client = self.get_auth_http_client()
        if post_args is not None:
            headers["Content-Type"] = "application/json"
            response = await client.fetch(
                url, method="POST", headers=headers, body=escape.json_encode(post_args)
            )
        else:
            response = await client.fetch(url, headers=headers)
        return escape.json_decode(response.body)
