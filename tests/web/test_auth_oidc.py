"""OpenID Connect sign-in and OAuth 2 PKCE, end to end over real sockets.

A local OpenID provider (a tornadish application written here, with its own RSA key:
discovery, JWKS, an authorization endpoint that signs the user in at once, a token
endpoint that checks the PKCE verifier) and a client application using
``OpenIDConnectMixin``; a browser is played by ``AsyncHTTPClient`` carrying cookies and
following redirects by hand. The provider can be told to misbehave (bad signature,
wrong audience, expired token, another nonce) and the sign-in must then fail.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest

from tornadish.auth import AuthError, GoogleOAuth2Mixin, OAuth2Mixin, OpenIDConnectMixin
from tornadish.httpclient import AsyncHTTPClient, HTTPResponse
from tornadish.web import Application, RequestHandler

jwt = pytest.importorskip("jwt", reason="OpenID Connect needs the oidc extra (PyJWT[crypto])")
rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")

CLIENT_ID, CLIENT_SECRET = "the-client", "the-secret"


def _rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY, OTHER_KEY = _rsa_key(), _rsa_key()


class Provider:
    """The provider's state: pending codes, and how it should misbehave."""

    def __init__(self) -> None:
        self.issuer = ""
        self.codes: dict[str, dict[str, str]] = {}
        self.fault: str | None = None
        self.token_requests: list[dict[str, str]] = []
        self.keys: list[tuple[str, Any]] = [("key-1", KEY)]  # the last one signs
        self.hidden: set[str] = set()  # kids left out of the published key set


class Discovery(RequestHandler):
    def initialize(self, provider: Provider) -> None:
        self.provider = provider

    def get(self) -> None:
        issuer = self.provider.issuer
        self.write(
            {
                "issuer": issuer,
                "authorization_endpoint": issuer + "/authorize",
                "token_endpoint": issuer + "/token",
                "jwks_uri": issuer + "/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )


class Keys(RequestHandler):
    def initialize(self, provider: Provider) -> None:
        self.provider = provider

    def get(self) -> None:
        keys = []
        for kid, key in self.provider.keys:
            if kid in self.provider.hidden:
                continue
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            public.update(kid=kid, use="sig", alg="RS256")
            keys.append(public)
        self.write({"keys": keys})


class Authorize(RequestHandler):
    """Signs the user in at once and sends the browser back with a code."""

    def initialize(self, provider: Provider) -> None:
        self.provider = provider

    def get(self) -> None:
        args = {k: self.get_argument(k) for k in self.request.arguments}
        assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
        assert args["code_challenge_method"] == "S256", args
        code = f"code-{len(self.provider.codes)}"
        self.provider.codes[code] = args
        back = {"code": code, "state": args.get("state", "")}
        self.redirect(args["redirect_uri"] + "?" + urllib.parse.urlencode(back))


class Token(RequestHandler):
    def initialize(self, provider: Provider) -> None:
        self.provider = provider

    def post(self) -> None:
        form = {k: self.get_body_argument(k) for k in self.request.body_arguments}
        self.provider.token_requests.append(form)
        asked = self.provider.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        if asked is None or form.get("client_secret") != CLIENT_SECRET:
            self.set_status(400)
            self.finish({"error": "invalid_grant"})
            return
        from tornadish.auth import pkce_challenge

        if pkce_challenge(verifier) != asked["code_challenge"]:
            self.set_status(400)
            self.finish({"error": "invalid_grant", "error_description": "PKCE"})
            return
        self.finish(self._tokens(asked))

    def _tokens(self, asked: dict[str, str]) -> dict[str, Any]:
        fault = self.provider.fault
        now = int(time.time())
        claims = {
            "iss": self.provider.issuer,
            "sub": "user-42",
            "aud": "someone-else" if fault == "audience" else CLIENT_ID,
            "iat": now - 7200 if fault == "expired" else now,
            "exp": now - 3600 if fault == "expired" else now + 300,
            "email": "ada@example.com",
        }
        if "nonce" in asked:
            claims["nonce"] = "another" if fault == "nonce" else asked["nonce"]
        kid, key = self.provider.keys[-1]
        if fault == "signature":
            key = OTHER_KEY if key is KEY else KEY
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
        return {"access_token": "at-1", "token_type": "Bearer", "id_token": id_token}


def provider_app(provider: Provider) -> Application:
    kw = {"provider": provider}
    return Application(
        [
            (r"/.well-known/openid-configuration", Discovery, kw),
            (r"/jwks", Keys, kw),
            (r"/authorize", Authorize, kw),
            (r"/token", Token, kw),
        ]
    )


class Login(RequestHandler, OpenIDConnectMixin):
    """The relying party's one handler for both legs."""

    issuer = ""

    @property
    def _OIDC_ISSUER(self) -> str:  # type: ignore[override]
        return self.issuer

    async def get(self) -> None:
        callback = f"{self.request.protocol}://{self.request.host}/login"
        if self.get_argument("code", None) or self.get_argument("error", None):
            try:
                user = await self.get_oidc_user(redirect_uri=callback)
            except AuthError as e:
                self.set_status(403)
                self.finish({"error": str(e)})
                return
            self.finish({"claims": user["id_token_claims"], "access": user["access_token"]})
        else:
            await self.oidc_authorize_redirect(redirect_uri=callback)


class PkceLogin(RequestHandler, OAuth2Mixin):
    """Tornado's OAuth 2 flow, with pkce=True: the verifier comes back once."""

    def get(self) -> None:
        if self.get_argument("code", None):
            self.finish({"verifier": self.get_pkce_verifier()})
        else:
            self.authorize_redirect(redirect_uri="/back", client_id=CLIENT_ID, pkce=True)


class Browser:
    """AsyncHTTPClient with a cookie jar, following redirects one hop at a time."""

    def __init__(self) -> None:
        self.client = AsyncHTTPClient(force_instance=True)
        self.cookies: dict[str, dict[str, str]] = {}  # host:port -> name -> value

    async def get(self, url: str) -> HTTPResponse:
        netloc = urllib.parse.urlsplit(url).netloc
        jar = self.cookies.setdefault(netloc, {})
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
        response = await self.client.fetch(
            url, headers=headers, follow_redirects=False, raise_error=False
        )
        for line in response.headers.get_list("Set-Cookie"):
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(line)
            for name, morsel in cookie.items():
                if (morsel["expires"] and "1970" in morsel["expires"]) or not morsel.value:
                    jar.pop(name, None)
                else:
                    jar[name] = morsel.value
        return response

    async def sign_in(self, start: str, hops: int = 4) -> HTTPResponse:
        url = start
        for _ in range(hops):
            response = await self.get(url)
            if response.code not in (301, 302, 303):
                return response
            url = urllib.parse.urljoin(url, response.headers["Location"])
        raise AssertionError("too many redirects")


@pytest.fixture
def browser(io_loop: Any) -> Iterator[Browser]:
    b = Browser()
    yield b
    b.client.close()


async def _setup(serve: Any, cookie_secret: str | None = "s3cret") -> tuple[Provider, str]:
    provider = Provider()
    idp = await serve(provider_app(provider))
    provider.issuer = f"http://127.0.0.1:{idp.port}"
    settings: dict[str, Any] = {"oidc": {"key": CLIENT_ID, "secret": CLIENT_SECRET}}
    if cookie_secret:
        settings["cookie_secret"] = cookie_secret
    login = type("ThisLogin", (Login,), {"issuer": provider.issuer})
    rp = await serve(Application([(r"/login", login), (r"/pkce", PkceLogin)], **settings))
    return provider, f"http://127.0.0.1:{rp.port}"


@pytest.mark.parametrize("cookie_secret", ["s3cret", None], ids=["signed", "plain"])
async def test_a_full_sign_in_with_pkce(serve, browser, cookie_secret) -> None:
    provider, site = await _setup(serve, cookie_secret)
    response = await browser.sign_in(site + "/login")
    assert response.code == 200, response.body
    body = json.loads(response.body)
    assert body["claims"]["sub"] == "user-42" and body["access"] == "at-1"
    assert body["claims"]["iss"] == provider.issuer
    # The token request carried the verifier whose challenge the provider got.
    [form] = provider.token_requests
    assert len(form["code_verifier"]) >= 43
    # The flow cookie is gone: the same callback replayed is refused (state, nonce and
    # verifier serve one sign-in).
    replay = await browser.get(site + "/login?code=code-0&state=x")
    assert replay.code == 403 and b"no sign-in in progress" in replay.body


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("signature", b"not valid"),
        ("audience", b"not valid"),
        ("expired", b"not valid"),
        ("nonce", b"nonce"),
    ],
)
async def test_a_bad_id_token_is_refused(serve, browser, fault, words) -> None:
    provider, site = await _setup(serve)
    provider.fault = fault
    response = await browser.sign_in(site + "/login")
    assert response.code == 403, response.body
    assert words in response.body, response.body


async def test_a_forged_state_is_refused(serve, browser) -> None:
    provider, site = await _setup(serve)
    first = await browser.get(site + "/login")
    assert first.code == 302
    location = first.headers["Location"]
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    params["state"] = "forged"
    provider_hop = await browser.get(
        location.split("?")[0] + "?" + urllib.parse.urlencode(params)
    )
    back = await browser.get(urllib.parse.urljoin(site, provider_hop.headers["Location"]))
    assert back.code == 403 and b"state" in back.body
    assert provider.token_requests == []  # refused before the code was spent


async def test_another_browsers_callback_is_refused(serve, browser) -> None:
    _, site = await _setup(serve)
    first = await browser.get(site + "/login")
    # Another browser's sign-in: its cookie (and verifier) does not go with this code.
    other = Browser()
    try:
        await other.get(site + "/login")
        provider_hop = await browser.get(first.headers["Location"])
        back_url = urllib.parse.urljoin(site, provider_hop.headers["Location"])
        stolen = await other.get(back_url)
        assert stolen.code == 403  # the state does not match the other browser's
    finally:
        other.client.close()


async def test_rotated_keys_are_fetched_again(serve, browser) -> None:
    provider, site = await _setup(serve)
    assert (await browser.sign_in(site + "/login")).code == 200  # key-1, now cached
    provider.keys.append(("key-2", OTHER_KEY))  # the provider rotates its signing key
    response = await browser.sign_in(site + "/login")
    assert response.code == 200, response.body
    # A kid missing from the key set even after a fresh look is refused.
    provider.keys.append(("key-3", KEY))
    provider.hidden.add("key-3")
    response = await browser.sign_in(site + "/login")
    assert response.code == 403 and b"no key 'key-3'" in response.body, response.body


async def test_pkce_in_tornados_oauth2_flow(serve, browser) -> None:
    _, site = await _setup(serve)
    first = await browser.get(site + "/pkce")
    assert first.code == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(first.headers["Location"]).query))
    assert query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT_ID
    back = await browser.get(site + "/pkce?code=abc")
    verifier = json.loads(back.body)["verifier"]
    from tornadish.auth import pkce_challenge

    assert pkce_challenge(verifier) == query["code_challenge"]
    again = await browser.get(site + "/pkce?code=abc")
    assert json.loads(again.body)["verifier"] is None  # used once


def test_google_is_an_openid_connect_provider() -> None:
    assert issubclass(GoogleOAuth2Mixin, OpenIDConnectMixin)
    assert GoogleOAuth2Mixin._OIDC_ISSUER == "https://accounts.google.com"
    assert GoogleOAuth2Mixin._OIDC_SETTINGS_KEY == "google_oauth"
