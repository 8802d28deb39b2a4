"""The ``security_headers`` application setting: the response headers that tell browsers
to be careful (HSTS, ``nosniff``, a referrer policy, a content security policy, ...).

Rules of this module:

1. Off by default. ``security_headers=True`` sends the defaults below;
   a dict picks headers by option name (``hsts``, ``content_type_options``,
   ``referrer_policy``, ``content_security_policy``, ``frame_options``,
   ``permissions_policy``, ``cross_origin_opener_policy``), each a value, ``True`` for
   its default or ``None``/``False`` for none; unknown names and unsafe values are
   refused when the application is made, not on a request.
2. The headers are worked out once, at start-up, into an output transform class (the
   hook ``compress_response`` uses too), so an application without the setting pays
   nothing and one with it pays a few dictionary writes per response.
3. A header the handler set itself wins (a page that needs its own
   ``Content-Security-Policy`` sets it). ``Strict-Transport-Security`` goes only on
   https responses: browsers ignore it over http (RFC 6797 §8.1), where it would only
   mislead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tornadish._web.compress import OutputTransform
from tornadish._web.response_head import header_value

if TYPE_CHECKING:
    from tornadish._http.headers import HTTPHeaders
    from tornadish._http.request import HTTPServerRequest

__all__ = ["DEFAULTS", "OPTIONS", "security_headers_transform"]

#: Option name -> header name.
OPTIONS = {
    "hsts": "Strict-Transport-Security",
    "content_type_options": "X-Content-Type-Options",
    "referrer_policy": "Referrer-Policy",
    "content_security_policy": "Content-Security-Policy",
    "frame_options": "X-Frame-Options",
    "permissions_policy": "Permissions-Policy",
    "cross_origin_opener_policy": "Cross-Origin-Opener-Policy",
}

#: What ``security_headers=True`` sends, and what ``True`` means for each option.
DEFAULTS = {
    "hsts": "max-age=63072000; includeSubDomains",  # two years, as hstspreload.org asks
    "content_type_options": "nosniff",
    "referrer_policy": "strict-origin-when-cross-origin",
    "content_security_policy": "default-src 'self'; frame-ancestors 'self'; base-uri 'self'",
    "frame_options": "SAMEORIGIN",
    "permissions_policy": "camera=(), microphone=(), geolocation=()",
    "cross_origin_opener_policy": "same-origin",
}
# The ones True turns on: safe for any site. A content security policy, framing and
# feature rules depend on the site's pages, so they are asked for by name.
_ON_BY_TRUE = ("hsts", "content_type_options", "referrer_policy")


def _resolve(setting: Any) -> list[tuple[str, str]]:
    if setting is True:
        chosen: dict[str, Any] = {name: True for name in _ON_BY_TRUE}
    elif isinstance(setting, dict):
        unknown = set(setting) - set(OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown security_headers option(s) {sorted(unknown)}; known: {sorted(OPTIONS)}"
            )
        chosen = setting
    else:
        raise TypeError("security_headers must be True or a dict of options")
    headers = []
    for option, value in chosen.items():
        if value is None or value is False:
            continue
        if value is True:
            value = DEFAULTS[option]
        headers.append((OPTIONS[option], header_value(value)))
    return headers


def security_headers_transform(setting: Any) -> type[OutputTransform]:
    """The output transform class that adds the headers ``setting`` asks for (see the
    module's rules); raises ``ValueError``/``TypeError`` for a bad setting."""
    resolved = _resolve(setting)
    always = [(name, value) for name, value in resolved if name != OPTIONS["hsts"]]
    hsts = [(name, value) for name, value in resolved if name == OPTIONS["hsts"]]

    class SecurityHeaders(OutputTransform):
        """Adds the ``security_headers`` setting's headers to every response."""

        #: The headers the setting asked for (HSTS included, sent on https only).
        configured = resolved

        def __init__(self, request: HTTPServerRequest) -> None:
            self._headers = always + hsts if request.protocol == "https" else always

        def transform_first_chunk(
            self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
        ) -> tuple[int, HTTPHeaders, bytes]:
            for name, value in self._headers:
                if name not in headers:
                    headers[name] = value
            return status_code, headers, chunk

    return SecurityHeaders
