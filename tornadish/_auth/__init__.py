"""What :mod:`tornadish.auth` is built of, beside its own mixins: OAuth 2 with PKCE
(``oauth2``) and OpenID Connect (``oidc``). A face-level folder: the mixins use the
HTTP client and are mixed into request handlers."""
