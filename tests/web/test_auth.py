"""Third-party login end to end against fake providers served by tornadish on 127.0.0.1.

A browser (httpx with a cookie jar, following redirects) starts at the application's
login handler, is sent to the fake provider's authorize page, comes back with a code or
token, and the application exchanges it over tornadish's own AsyncHTTPClient. The
fake providers check what real ones check (credentials, redirect_uri, signatures), and
OAuth 1.0a signatures are verified with Tornado's implementation, so ours is proven
against an independent one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.parse
from typing import Any

import httpx
import pytest
import tornado.auth

from tornadish import escape
from tornadish.auth import (
    AuthError,
    FacebookGraphMixin,
    GitHubOAuth2Mixin,
    GoogleOAuth2Mixin,
    OAuth2Mixin,
    OpenIdMixin,
    TwitterMixin,
    _oauth_signature,
)
from tornadish.web import Application, HTTPError, RequestHandler

CLIENT_ID, CLIENT_SECRET = "client-id", "client-secret"
CONSUMER = {"key": "consumer-key", "secret": "consumer&secret~"}
USER = {"id": "42", "name": "Ada Lovelace", "email": "ada@example.com"}


# -- the fake provider ----------------------------------------------------------------------


class Provider:
    """State shared by the fake provider's handlers: codes and tokens it issued."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}  # code -> redirect_uri it was issued for
        self.tokens: set[str] = set()
        self.oauth1_tokens: dict[str, str] = {}  # token key -> secret
        self.seen: list[tuple[str, str, dict[str, str]]] = []


class _ProviderHandler(RequestHandler):
    def initialize(self, provider: Provider) -> None:
        self.p = provider

    def args(self) -> dict[str, str]:
        return {k: self.get_argument(k) for k in self.request.arguments}

    def prepare(self) -> None:
        self.p.seen.append((self.request.method, self.request.path, self.args()))

    def check_token(self, token: str | None) -> None:
        if token not in self.p.tokens:
            raise HTTPError(401)


class AuthorizeHandler(_ProviderHandler):
    """The page where the user says yes: back to redirect_uri with a fresh code."""

    def get(self) -> None:
        if self.get_argument("client_id") != CLIENT_ID:
            raise HTTPError(400)
        code = secrets.token_hex(8)
        self.p.codes[code] = self.get_argument("redirect_uri")
        args = {"code": code}
        if state := self.get_argument("state", None):
            args["state"] = state
        self.redirect(self.get_argument("redirect_uri") + "?" + urllib.parse.urlencode(args))


class TokenHandler(_ProviderHandler):
    """Code -> access token; GET with query (Facebook) or POST form (Google, GitHub)."""

    def get(self) -> None:
        self.exchange()

    def post(self) -> None:
        if self.request.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            raise HTTPError(415)
        self.exchange()

    def exchange(self) -> None:
        code = self.get_argument("code")
        ok = (
            self.get_argument("client_id") == CLIENT_ID
            and self.get_argument("client_secret") == CLIENT_SECRET
            and self.p.codes.pop(code, None) == self.get_argument("redirect_uri")
        )
        if not ok:
            # GitHub style: 200 with an error field.
            self.write({"error": "bad_verification_code", "error_description": "bad code"})
            return
        token = secrets.token_hex(8)
        self.p.tokens.add(token)
        self.write({"access_token": token, "expires_in": 3600, "token_type": "bearer"})


class GoogleUserinfoHandler(_ProviderHandler):
    def get(self) -> None:
        self.check_token(self.get_argument("access_token"))
        self.write(USER)


class FacebookMeHandler(_ProviderHandler):
    def get(self) -> None:
        token = self.get_argument("access_token")
        self.check_token(token)
        proof = hmac.new(CLIENT_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
        if self.get_argument("appsecret_proof") != proof:
            raise HTTPError(403)
        fields = self.get_argument("fields").split(",")
        self.write({k: v for k, v in {**USER, "locale": "en_GB"}.items() if k in fields})


class GitHubUserHandler(_ProviderHandler):
    def get(self) -> None:
        auth = self.request.headers.get("Authorization", "")
        self.check_token(auth.removeprefix("Bearer "))
        if not self.request.headers.get("User-Agent"):
            raise HTTPError(403)
        self.write({"login": "ada", **USER})


def verify_oauth1(handler: _ProviderHandler, token_secret: str | None) -> dict[str, str]:
    """Check an OAuth 1.0a signed request with Tornado's signing code."""
    args = handler.args()
    signature = args.pop("oauth_signature")
    url = f"{handler.request.protocol}://{handler.request.host}{handler.request.path}"
    token = {"key": args.get("oauth_token", ""), "secret": token_secret} if token_secret else None
    expected = tornado.auth._oauth10a_signature(
        CONSUMER, handler.request.method, url, args, token
    ).decode()
    if not hmac.compare_digest(signature, expected) or args["oauth_consumer_key"] != "consumer-key":
        raise HTTPError(401, "bad OAuth signature")
    return args


class RequestTokenHandler(_ProviderHandler):
    def get(self) -> None:
        verify_oauth1(self, None)
        key, secret = "rt-" + secrets.token_hex(4), "rs/" + secrets.token_hex(4)
        self.p.oauth1_tokens[key] = secret
        self.write(f"oauth_token={key}&oauth_token_secret={urllib.parse.quote(secret)}")


class OAuth1AuthorizeHandler(_ProviderHandler):
    def get(self) -> None:
        key = self.get_argument("oauth_token")
        back = self.get_argument("oauth_callback", None) or self.p.seen[-2][2]["oauth_callback"]
        self.redirect(url_with(back, oauth_token=key, oauth_verifier="verif"))


class AccessTokenHandler(_ProviderHandler):
    def get(self) -> None:
        key = self.get_argument("oauth_token")
        args = verify_oauth1(self, self.p.oauth1_tokens.get(key, "missing"))
        if args.get("oauth_verifier") != "verif":
            raise HTTPError(401)
        self.p.oauth1_tokens["at"] = "at-secret"
        self.write("oauth_token=at&oauth_token_secret=at-secret&user_id=42&screen_name=ada")


class VerifyCredentialsHandler(_ProviderHandler):
    def get(self) -> None:
        verify_oauth1(self, self.p.oauth1_tokens["at"])
        self.write({"id": 42, "screen_name": "ada", "name": USER["name"]})

    def post(self) -> None:
        args = verify_oauth1(self, self.p.oauth1_tokens["at"])
        self.write({"posted": args["status"]})


class OpenIdHandler(_ProviderHandler):
    def get(self) -> None:
        assert self.get_argument("openid.mode") == "checkid_setup"
        nonce = secrets.token_hex(4)
        self.p.tokens.add(nonce)
        args = {
            "openid.ns": "http://specs.openid.net/auth/2.0",
            "openid.mode": "id_res",
            "openid.claimed_id": "https://id.example/ada",
            "openid.response_nonce": nonce,
            "openid.ns.ext1": "http://openid.net/srv/ax/1.0",
            "openid.ext1.type.email": "http://axschema.org/contact/email",
            "openid.ext1.value.email": USER["email"],
            "openid.ext1.type.first": "http://axschema.org/namePerson/first",
            "openid.ext1.value.first": "Ada",
            "openid.ext1.type.last": "http://axschema.org/namePerson/last",
            "openid.ext1.value.last": "Lovelace",
            "openid.ext1.type.lang": "http://axschema.org/pref/language",
            "openid.ext1.value.lang": "EN-GB",
        }
        self.redirect(url_with(self.get_argument("openid.return_to"), **args))

    def post(self) -> None:
        valid = (
            self.get_argument("openid.mode") == "check_authentication"
            and self.get_argument("openid.response_nonce") in self.p.tokens
        )
        self.p.tokens.discard(self.get_argument("openid.response_nonce"))
        self.write("ns:http://specs.openid.net/auth/2.0\nis_valid:%s\n" % str(valid).lower())


def url_with(url: str, **args: str) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(args)


def provider_app(provider: Provider) -> Application:
    kw = {"provider": provider}
    return Application(
        [
            (r"/oauth2/authorize", AuthorizeHandler, kw),
            (r"/oauth2/token", TokenHandler, kw),
            (r"/oauth2/userinfo", GoogleUserinfoHandler, kw),
            (r"/graph/me", FacebookMeHandler, kw),
            (r"/api/user", GitHubUserHandler, kw),
            (r"/oauth1/request_token", RequestTokenHandler, kw),
            (r"/oauth1/authorize", OAuth1AuthorizeHandler, kw),
            (r"/oauth1/access_token", AccessTokenHandler, kw),
            (r"/1.1/account/verify_credentials.json", VerifyCredentialsHandler, kw),
            (r"/1.1/statuses/update.json", VerifyCredentialsHandler, kw),
            (r"/openid", OpenIdHandler, kw),
        ]
    )


# -- the application under test -------------------------------------------------------------


def login_app(base: str, consumer_secret: str = CONSUMER["secret"]) -> Application:
    """Login handlers of a real application, their endpoints pointed at ``base``."""

    class GoogleLogin(RequestHandler, GoogleOAuth2Mixin):
        _OAUTH_AUTHORIZE_URL = base + "/oauth2/authorize"
        _OAUTH_ACCESS_TOKEN_URL = base + "/oauth2/token"
        _OAUTH_USERINFO_URL = base + "/oauth2/userinfo"

        async def get(self) -> None:
            redirect_uri = self.request.protocol + "://" + self.request.host + "/google"
            if code := self.get_argument("code", None):
                token = await self.get_authenticated_user(redirect_uri=redirect_uri, code=code)
                user = await self.oauth2_request(
                    self._OAUTH_USERINFO_URL, access_token=token["access_token"]
                )
                self.set_signed_cookie("user", user["email"])
                self.write(user)
            else:
                self.authorize_redirect(
                    redirect_uri=redirect_uri,
                    client_id=self.get_google_oauth_settings()["key"],
                    scope=["profile", "email"],
                    extra_params={"approval_prompt": "auto"},
                )

    class FacebookLogin(RequestHandler, FacebookGraphMixin):
        _OAUTH_AUTHORIZE_URL = base + "/oauth2/authorize?"
        _OAUTH_ACCESS_TOKEN_URL = base + "/oauth2/token?"
        _FACEBOOK_BASE_URL = base + "/graph"

        async def get(self) -> None:
            redirect_uri = self.request.protocol + "://" + self.request.host + "/facebook"
            if code := self.get_argument("code", None):
                user = await self.get_authenticated_user(
                    redirect_uri=redirect_uri,
                    client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET,
                    code=code,
                    extra_fields=["email"],
                )
                self.write(json.dumps(user))
            else:
                self.authorize_redirect(
                    redirect_uri=redirect_uri, client_id=CLIENT_ID, extra_params={"scope": "email"}
                )

    class GitHubLogin(RequestHandler, GitHubOAuth2Mixin):
        _OAUTH_AUTHORIZE_URL = base + "/oauth2/authorize"
        _OAUTH_ACCESS_TOKEN_URL = base + "/oauth2/token"
        _GITHUB_API_URL = base + "/api"

        async def get(self) -> None:
            redirect_uri = self.request.protocol + "://" + self.request.host + "/github"
            if code := self.get_argument("code", None):
                try:
                    user = await self.get_authenticated_user(redirect_uri, code)
                except AuthError as e:
                    raise HTTPError(401, str(e)) from e
                self.write(user)
            else:
                self.authorize_redirect(
                    redirect_uri=redirect_uri,
                    client_id=self.get_github_oauth_settings()["key"],
                    scope=["read:user"],
                    extra_params={"state": "xyz"},
                )

    class TwitterLogin(RequestHandler, TwitterMixin):
        _OAUTH_REQUEST_TOKEN_URL = base + "/oauth1/request_token"
        _OAUTH_ACCESS_TOKEN_URL = base + "/oauth1/access_token"
        _OAUTH_AUTHORIZE_URL = base + "/oauth1/authorize"
        _OAUTH_AUTHENTICATE_URL = base + "/oauth1/authorize"
        _TWITTER_BASE_URL = base + "/1.1"

        async def get(self) -> None:
            if self.get_argument("oauth_token", None):
                user = await self.get_authenticated_user()
                posted = await self.twitter_request(
                    "/statuses/update",
                    access_token=user["access_token"],
                    post_args={"status": "Hello ~ world & all"},
                )
                self.write({"user": user, "posted": posted})
            elif self.get_argument("authenticate", None):
                await self.authenticate_redirect(callback_uri="/twitter")
            else:
                await self.authorize_redirect(callback_uri="/twitter")

    class OpenIdLogin(RequestHandler, OpenIdMixin):
        _OPENID_ENDPOINT = base + "/openid"

        async def get(self) -> None:
            if self.get_argument("openid.mode", None):
                try:
                    user = await self.get_authenticated_user()
                except AuthError as e:
                    raise HTTPError(401, str(e)) from e
                self.write(user)
            else:
                self.authenticate_redirect()

    return Application(
        [
            (r"/google", GoogleLogin),
            (r"/facebook", FacebookLogin),
            (r"/github", GitHubLogin),
            (r"/twitter", TwitterLogin),
            (r"/openid", OpenIdLogin),
        ],
        cookie_secret="secret",
        google_oauth={"key": CLIENT_ID, "secret": CLIENT_SECRET},
        github_oauth={"key": CLIENT_ID, "secret": CLIENT_SECRET},
        twitter_consumer_key=CONSUMER["key"],
        twitter_consumer_secret=consumer_secret,
    )


@pytest.fixture
def provider() -> Provider:
    return Provider()


async def start(serve: Any, provider: Provider) -> tuple[Any, Any]:
    fake = await serve(provider_app(provider))
    app = await serve(login_app(fake.base_url))
    return fake, app


def browser() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=True, timeout=10)


def hops(r: httpx.Response) -> list[str]:
    return [h.url.path for h in r.history] + [r.url.path]


# -- the flows ----------------------------------------------------------------------------


async def test_google_login(serve: Any, provider: Provider) -> None:
    _, app = await start(serve, provider)
    async with browser() as b:
        r = await b.get(app.base_url + "/google")
        assert r.status_code == 200, r.text
        assert hops(r) == ["/google", "/oauth2/authorize", "/google"]
        assert r.json() == USER
        assert "user" in b.cookies
    method, _, authorize = provider.seen[0]
    assert authorize == {
        "response_type": "code",
        "redirect_uri": app.base_url + "/google",
        "client_id": CLIENT_ID,
        "approval_prompt": "auto",
        "scope": "profile email",
    }
    method, path, exchange = provider.seen[1]
    assert (method, path, exchange["grant_type"]) == ("POST", "/oauth2/token", "authorization_code")
    assert not provider.codes  # the code was used up


async def test_facebook_login(serve: Any, provider: Provider) -> None:
    _, app = await start(serve, provider)
    async with browser() as b:
        r = await b.get(app.base_url + "/facebook")
    assert r.status_code == 200, r.text
    user = r.json()
    assert user["id"] == "42" and user["email"] == USER["email"] and user["locale"] == "en_GB"
    assert user["picture"] is None  # asked for, not given
    assert user["session_expires"] == "3600" and user["access_token"] in provider.tokens
    assert provider.seen[1][0:2] == ("GET", "/oauth2/token")


async def test_github_login(serve: Any, provider: Provider) -> None:
    _, app = await start(serve, provider)
    async with browser() as b:
        r = await b.get(app.base_url + "/github")
        assert r.status_code == 200, r.text
        assert r.json()["login"] == "ada" and r.json()["access_token"] in provider.tokens
        assert r.url.params["state"] == "xyz"
        # Replaying the used code: GitHub answers 200 with an error -> AuthError.
        r = await b.get(str(r.url))
        assert r.status_code == 401
    assert provider.seen[0][2]["scope"] == "read:user"


async def test_twitter_login_and_signed_api_call(serve: Any, provider: Provider) -> None:
    _, app = await start(serve, provider)
    async with browser() as b:
        r = await b.get(app.base_url + "/twitter")
        assert r.status_code == 200, r.text
        assert hops(r) == ["/twitter", "/oauth1/authorize", "/twitter"]
        body = r.json()
        assert "_oauth_request_token" not in b.cookies  # cleared after use
    assert body["user"]["username"] == "ada"
    assert body["user"]["access_token"]["key"] == "at"
    assert body["user"]["access_token"]["screen_name"] == "ada"
    assert body["posted"] == {"posted": "Hello ~ world & all"}
    request_token_args = provider.seen[0][2]
    assert request_token_args["oauth_callback"] == app.base_url + "/twitter"


async def test_twitter_authenticate_redirect(serve: Any, provider: Provider) -> None:
    _, app = await start(serve, provider)
    async with browser() as b:
        r = await b.get(app.base_url + "/twitter?authenticate=1")
    assert r.status_code == 200, r.text
    assert r.json()["user"]["screen_name"] == "ada"


async def test_twitter_token_not_matching_cookie(
    serve: Any, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    _, app = await start(serve, provider)
    async with httpx.AsyncClient(follow_redirects=False) as b:
        r = await b.get(app.base_url + "/twitter")
        assert r.status_code == 302
        r = await b.get(app.base_url + "/twitter?oauth_token=someone-elses&oauth_verifier=v")
        assert r.status_code == 500  # AuthError, nothing fetched
        b.cookies.clear()
        r = await b.get(app.base_url + "/twitter?oauth_token=x")
        assert r.status_code == 500
    assert [p for _, p, _ in provider.seen] == ["/oauth1/request_token"]
    assert "Request token does not match cookie" in caplog.text
    assert "Missing OAuth request token cookie" in caplog.text


async def test_twitter_wrong_consumer_secret_is_refused(serve: Any, provider: Provider) -> None:
    fake = await serve(provider_app(provider))
    app = await serve(login_app(fake.base_url, consumer_secret="wrong"))
    async with browser() as b:
        r = await b.get(app.base_url + "/twitter")
    assert r.status_code == 500  # the provider answered 401 to the request-token call
    assert not provider.oauth1_tokens


async def test_openid_login(serve: Any, provider: Provider) -> None:
    _, app = await start(serve, provider)
    async with browser() as b:
        r = await b.get(app.base_url + "/openid")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "name": "Ada Lovelace",
            "email": USER["email"],
            "locale": "en-gb",
            "claimed_id": "https://id.example/ada",
        }
        # The same assertion again: the provider says it is no longer valid.
        r = await b.get(str(r.url))
        assert r.status_code == 401
    checkid = provider.seen[0][2]
    assert checkid["openid.return_to"] == app.base_url + "/openid"
    assert checkid["openid.realm"] == app.base_url + "/"
    assert checkid["openid.ax.required"] == "firstname,fullname,lastname,email,language,username"
    assert provider.seen[1][2]["openid.mode"] == "check_authentication"


async def test_oauth2_request_post_and_provider_errors(serve: Any, provider: Provider) -> None:
    from tornadish.httpclient import HTTPClientError

    fake, _ = await start(serve, provider)

    class Api(RequestHandler, OAuth2Mixin):
        async def get(self) -> None:
            with pytest.raises(HTTPClientError) as info:
                await self.oauth2_request(fake.base_url + "/oauth2/userinfo", access_token="bad")
            assert info.value.code == 401
            provider.tokens.add("good")
            user = await self.oauth2_request(
                fake.base_url + "/oauth2/userinfo", access_token="good"
            )
            self.write(user)

    srv = await serve(Application([("/", Api)]))
    async with browser() as b:
        r = await b.get(srv.base_url + "/")
    assert r.json() == USER


# -- signatures, pure ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("token", [None, {"key": "t", "secret": "s&/~é"}])
def test_oauth1_signature_matches_tornado(method: str, token: dict[str, str] | None) -> None:
    params = {"oauth_nonce": "abc", "status": "Hello ~ wörld & all!", "b": "2", "a": "1"}
    url = "HTTPS://API.Example.com/1.1/statuses/update.json"
    ours = _oauth_signature(CONSUMER, method, url, params, token)
    assert ours == tornado.auth._oauth10a_signature(CONSUMER, method, url, params, token)
    old = _oauth_signature(CONSUMER, method, url, params, token, version="1.0")
    assert old == tornado.auth._oauth_signature(CONSUMER, method, url, params, token)


def test_oauth1_signature_rfc5849_example() -> None:
    # RFC 5849 §1.2 (the printer/photos example), access-token request.
    consumer = {"key": "dpf43f3p2l4k3l03", "secret": "kd94hf93k423kf44"}
    token = {"key": "hh5s93j4hdidpola", "secret": "hdhd0244k9j7ao03"}
    params = {
        "oauth_consumer_key": "dpf43f3p2l4k3l03",
        "oauth_token": "hh5s93j4hdidpola",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "137131201",
        "oauth_nonce": "walatlh",
        "oauth_verifier": "hfdp7dh39dks9884",
    }
    sig = _oauth_signature(consumer, "POST", "https://photos.example.net/token", params, token)
    assert escape.to_unicode(sig) == "gKgrFCywp7rO0OXSjdot/IHF7IU="
