"""OpenID Connect sign-in for request handlers: discovery, PKCE, ``state``, ``nonce``
and ID-token validation against the provider's keys.

Rules of this module:

1. The provider is named by its issuer (``_OIDC_ISSUER``); everything else comes from its
   discovery document (``/.well-known/openid-configuration``, OpenID Connect Discovery
   1.0), fetched once per issuer and process and refused if its ``issuer`` differs.
2. A sign-in is two legs in one handler, as with Tornado's OAuth mixins:
   :meth:`~OpenIDConnectMixin.oidc_authorize_redirect` sends the user to the provider
   with a fresh ``state``, ``nonce`` and PKCE (S256) challenge, kept in one cookie
   (signed with ``cookie_secret`` when there is one; see :mod:`tornadish._auth.oauth2`);
   :meth:`~OpenIDConnectMixin.get_oidc_user` checks ``state`` (constant time), takes the
   cookie away (a flow is used once), exchanges the code with the verifier and
   validates the ID token. Every failure is :class:`~tornadish.auth.AuthError`.
3. The ID token is checked as OpenID Connect Core 1.0 §3.1.3.7 says: a signature by a
   key of the provider's JWKS (refetched once when a token names an unknown ``kid``:
   keys rotate) with an algorithm the provider announces (never ``none``, never HMAC),
   ``iss``, ``aud`` (and ``azp`` when there are several audiences), ``exp`` and ``iat``
   (a minute of clock skew), and ``nonce``. PyJWT does the cryptography (the ``oidc``
   extra: ``PyJWT[crypto]``).
4. Provider requests go through ``get_auth_http_client()``, like every mixin's.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import urllib.parse
from typing import Any

from tornadish import escape
from tornadish._auth.oauth2 import AuthError, OAuth2Mixin, pkce_challenge
from tornadish._http.parse import url_concat
from tornadish.httpclient import HTTPClientError

__all__ = ["OpenIDConnectMixin"]

#: The cookie carrying a sign-in's state, nonce and PKCE verifier between its legs.
FLOW_COOKIE = "_oidc_flow"
# How long a discovery document and a key set are trusted before being fetched again.
_CACHE_SECONDS = 3600.0
# Accepted clock skew for exp/iat, in seconds.
_LEEWAY = 60
# Asymmetric algorithms only: an HMAC ID token would be signed with the client secret.
_ASYMMETRIC = frozenset(
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
)

# url -> (fetched at, document); shared by every handler of the process.
_documents: dict[str, tuple[float, dict[str, Any]]] = {}


def _jwt() -> Any:
    try:
        import jwt
    except ImportError:
        raise AuthError(
            "OpenID Connect needs PyJWT with its crypto backend: pip install 'tornadish[oidc]'"
        ) from None
    return jwt


class OpenIDConnectMixin(OAuth2Mixin):
    """Sign-in with any OpenID Connect provider (see the module's rules).

    Set ``_OIDC_ISSUER`` on the subclass (``"https://accounts.google.com"``, a Keycloak
    realm's URL, ...) and the client's credentials in the setting named by
    ``_OIDC_SETTINGS_KEY`` (``"oidc"`` by default): ``{"key": CLIENT_ID, "secret":
    CLIENT_SECRET}`` (a public client leaves out ``secret``)::

        class Login(RequestHandler, OpenIDConnectMixin):
            _OIDC_ISSUER = "https://login.example.com"

            async def get(self):
                if self.get_argument("code", None):
                    user = await self.get_oidc_user(redirect_uri=CALLBACK)
                    self.set_signed_cookie("user", user["id_token_claims"]["sub"])
                    self.redirect("/")
                else:
                    await self.oidc_authorize_redirect(redirect_uri=CALLBACK)
    """

    _OIDC_ISSUER: str = ""
    _OIDC_SETTINGS_KEY: str = "oidc"
    _OIDC_SCOPE: tuple[str, ...] = ("openid", "email", "profile")

    def get_oidc_settings(self) -> dict[str, str]:
        """The client's credentials (override to get them elsewhere)."""
        value: dict[str, str] = self._auth_handler.settings[self._OIDC_SETTINGS_KEY]
        return value

    async def get_oidc_configuration(self) -> dict[str, Any]:
        """The provider's discovery document (cached; its ``issuer`` checked)."""
        issuer = self._OIDC_ISSUER.rstrip("/")
        if not issuer:
            raise AuthError("set _OIDC_ISSUER to the provider's issuer URL")
        document = await self._fetch_json(issuer + "/.well-known/openid-configuration")
        if document.get("issuer", "").rstrip("/") != issuer:
            raise AuthError(f"the discovery document names another issuer: {document!r:.200}")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(field), str):
                raise AuthError(f"the discovery document has no {field}")
        return document

    async def oidc_authorize_redirect(
        self,
        redirect_uri: str,
        client_id: str | None = None,
        scope: list[str] | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        """Send the user to the provider to sign in, with ``state``, ``nonce`` and PKCE;
        it comes back to ``redirect_uri`` with ``code`` and ``state``."""
        configuration = await self.get_oidc_configuration()
        if client_id is None:
            client_id = self.get_oidc_settings()["key"]
        flow = {
            "state": secrets.token_urlsafe(24),
            "nonce": secrets.token_urlsafe(24),
            "verifier": secrets.token_urlsafe(48),
        }
        # token_urlsafe's alphabet has no ".": the three join into one cookie value.
        self._set_flow_cookie(
            FLOW_COOKIE, ".".join((flow["state"], flow["nonce"], flow["verifier"]))
        )
        args: dict[str, Any] = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scope if scope is not None else self._OIDC_SCOPE),
            "state": flow["state"],
            "nonce": flow["nonce"],
            "code_challenge": pkce_challenge(flow["verifier"]),
            "code_challenge_method": "S256",
        }
        if extra_params:
            args.update(extra_params)
        self._auth_handler.redirect(url_concat(configuration["authorization_endpoint"], args))

    async def get_oidc_user(
        self,
        redirect_uri: str,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        """Finish the sign-in the provider sent back here: the token endpoint's answer
        (``access_token``, ``id_token``, ...) plus ``id_token_claims``, validated."""
        handler = self._auth_handler
        error = handler.get_argument("error", None)
        if error is not None:
            raise AuthError(f"the provider refused the sign-in: {error}")
        raw = self._take_flow_cookie(FLOW_COOKIE)
        if raw is None:
            raise AuthError("no sign-in in progress (its cookie is missing or was used)")
        try:
            expected_state, nonce, verifier = raw.split(".")
        except ValueError:
            raise AuthError("the sign-in cookie is malformed") from None
        state = handler.get_argument("state", "")
        if not hmac.compare_digest(state.encode(), str(expected_state).encode()):
            raise AuthError("the state does not match this sign-in")
        code = handler.get_argument("code", None)
        if not code:
            raise AuthError("the provider sent no code")
        if client_id is None or client_secret is None:
            settings = self.get_oidc_settings()
            client_id = settings["key"] if client_id is None else client_id
            client_secret = settings.get("secret") if client_secret is None else client_secret
        configuration = await self.get_oidc_configuration()
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        }
        if client_secret:
            fields["client_secret"] = client_secret  # client_secret_post
        try:
            response = await self.get_auth_http_client().fetch(
                configuration["token_endpoint"],
                method="POST",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                body=urllib.parse.urlencode(fields),
            )
        except HTTPClientError as e:
            body = e.response.body[:200] if e.response is not None else b""
            raise AuthError(f"the token request failed: {e} {body!r}") from None
        tokens: dict[str, Any] = escape.json_decode(response.body)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise AuthError("the provider sent no id_token")
        tokens["id_token_claims"] = await self._validate_id_token(
            id_token, configuration, client_id, nonce
        )
        return tokens

    async def _validate_id_token(
        self, token: str, configuration: dict[str, Any], client_id: str, nonce: str
    ) -> dict[str, Any]:
        jwt = _jwt()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise AuthError(f"the ID token is malformed: {e}") from None
        algorithm = header.get("alg")
        announced = configuration.get("id_token_signing_alg_values_supported") or ["RS256"]
        if algorithm not in _ASYMMETRIC or algorithm not in announced:
            raise AuthError(f"the ID token's algorithm {algorithm!r} is not accepted")
        key = await self._signing_key(configuration["jwks_uri"], header.get("kid"), algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=client_id,
                issuer=configuration["issuer"],
                leeway=_LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as e:
            raise AuthError(f"the ID token is not valid: {e}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise AuthError("the ID token has several audiences and another azp")
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise AuthError("the ID token's nonce does not match this sign-in")
        return claims

    async def _signing_key(self, jwks_uri: str, kid: str | None, algorithm: str) -> Any:
        jwt = _jwt()
        for refresh in (False, True):
            document = await self._fetch_json(jwks_uri, refresh=refresh)
            try:
                keys = jwt.PyJWKSet.from_dict(document).keys
            except jwt.PyJWTError as e:
                raise AuthError(f"the provider's key set is unusable: {e}") from None
            usable = [k for k in keys if k.public_key_use in (None, "sig")]
            if kid is not None:
                usable = [k for k in usable if k.key_id == kid]
            if len(usable) == 1:
                return usable[0].key
            if len(usable) > 1:
                raise AuthError("the ID token names no key and the provider has several")
        raise AuthError(f"no key {kid!r} in the provider's key set")

    async def _fetch_json(self, url: str, refresh: bool = False) -> dict[str, Any]:
        cached = _documents.get(url)
        now = time.monotonic()
        if cached is not None and not refresh and now - cached[0] < _CACHE_SECONDS:
            return cached[1]
        try:
            response = await self.get_auth_http_client().fetch(url)
            document = escape.json_decode(response.body)
        except (HTTPClientError, OSError, ValueError, asyncio.TimeoutError) as e:
            raise AuthError(f"could not read {url}: {e}") from None
        if not isinstance(document, dict):
            raise AuthError(f"{url} is not a JSON object")
        _documents[url] = (now, document)
        return document
